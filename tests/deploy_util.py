"""Helpers for tests/test_deploy.py: read the files in deploy/, render the nginx site for a test
prefix (loopback ports, a self-signed certificate), run nginx and the app as the units do."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
SITE = DEPLOY / "nginx" / "interview-graph.conf"
UNIT = DEPLOY / "interview-graph.service"
TEMPLATE = DEPLOY / "interview-graph@.service"
ENV_EXAMPLE = DEPLOY / "env.example"
LOGROTATE = DEPLOY / "logrotate" / "interview-graph"
HOST = "api.example.com"  # the placeholder host name the shipped files use


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, proc: subprocess.Popen[bytes], log: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}:\n{log.read_text()[-3000:]}")


def stop(proc: subprocess.Popen[bytes] | None, sig: int = signal.SIGTERM) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


# --- systemd unit files ---------------------------------------------------------------------


def parse_unit(text: str) -> dict[str, list[tuple[str, str]]]:
    """A strict reading of systemd's unit syntax: sections, ``Key=value`` (repeatable),
    ``#``/``;`` comments, a trailing backslash continues the line.  Raises on anything else."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] | None = None
    lines = iter(enumerate(text.splitlines(), 1))
    for number, raw in lines:
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        while line.endswith("\\"):
            number, more = next(lines)
            more = more.strip()
            if more and more[0] in "#;":
                continue  # systemd skips comment lines inside a continuation
            line = line[:-1].rstrip() + " " + more
        if line.startswith("["):
            if not re.fullmatch(r"\[[A-Za-z]+\]", line):
                raise ValueError(f"line {number}: bad section header {line!r}")
            name = line[1:-1]
            if name in sections:
                raise ValueError(f"line {number}: section [{name}] twice")
            current = sections[name] = []
            continue
        match = re.fullmatch(r"([A-Za-z][A-Za-z0-9]*)\s*=\s*(.*)", line)
        if match is None or current is None:
            raise ValueError(f"line {number}: not Key=value inside a section: {line!r}")
        current.append((match.group(1), match.group(2)))
    return sections


def values(unit: dict[str, list[tuple[str, str]]], section: str, key: str) -> list[str]:
    return [v for k, v in unit.get(section, []) if k == key]


def value(unit: dict[str, list[tuple[str, str]]], section: str, key: str) -> str:
    found = values(unit, section, key)
    assert len(found) == 1, f"[{section}] {key}= appears {len(found)} times"
    return found[0]


def exec_argv(unit: dict[str, list[tuple[str, str]]]) -> list[str]:
    """ExecStart split like systemd does (it follows shell quoting for these simple cases)."""
    return shlex.split(value(unit, "Service", "ExecStart"))


def uvicorn_flags(argv: list[str]) -> dict[str, str]:
    """``--flag value`` and ``--flag=value`` options after ``server:app`` (``""`` for switches)."""
    rest = argv[argv.index("server:app") + 1 :]
    flags: dict[str, str] = {}
    i = 0
    while i < len(rest):
        arg = rest[i]
        assert arg.startswith("--"), arg
        if "=" in arg:
            key, val = arg.split("=", 1)
            flags[key] = val
        elif i + 1 < len(rest) and not rest[i + 1].startswith("--"):
            flags[arg] = rest[i + 1]
            i += 1
        else:
            flags[arg] = ""
        i += 1
    return flags


# --- nginx ------------------------------------------------------------------------------------


def nginx_binary() -> str | None:
    return shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/sbin/nginx") if os.access(p, os.X_OK)), None
    )


def self_signed(directory: Path, ip: str = "127.0.0.1") -> tuple[Path, Path]:
    """A throwaway certificate for ``ip`` (openssl CLI, else the cryptography package)."""
    cert, key = directory / "fullchain.pem", directory / "privkey.pem"
    if shutil.which("openssl"):
        subprocess.run(
            [
                "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                "-subj", f"/CN={ip}", "-addext", f"subjectAltName=IP:{ip}",
                "-keyout", str(key), "-out", str(cert),
            ],
            check=True,
            capture_output=True,
        )  # fmt: skip
        return cert, key
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    private = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ip)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip))]), False
        )
        .sign(private, hashes.SHA256())
    )
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert, key


def _sub(pattern: str, repl: str, text: str, count: int) -> str:
    """re.subn that insists the shipped file still looks the way the test expects."""
    new, n = re.subn(pattern, repl, text, flags=re.M)
    assert n == count, f"{pattern!r} matched {n} times in {SITE.name}, expected {count}"
    return new


def render_site(
    *,
    host: str,
    http_port: int,
    https_port: int,
    upstream_ports: list[int],
    cert: Path,
    key: Path,
    webroot: Path,
) -> str:
    """The shipped site with only what a test prefix must change: host name, listen addresses
    (loopback, free ports, no IPv6), certificate files, ACME webroot and upstream ports."""
    text = SITE.read_text()
    text = _sub(
        rf"^(\s*)ssl_certificate\s+/etc/letsencrypt/live/{re.escape(HOST)}/fullchain\.pem;",
        rf"\1ssl_certificate {cert};",
        text,
        1,
    )
    text = _sub(
        rf"^(\s*)ssl_certificate_key\s+/etc/letsencrypt/live/{re.escape(HOST)}/privkey\.pem;",
        rf"\1ssl_certificate_key {key};",
        text,
        1,
    )
    text = _sub(rf"^(\s*)server_name {re.escape(HOST)};", rf"\1server_name {host};", text, 2)
    text = _sub(r"^(\s*)listen 80;", rf"\1listen 127.0.0.1:{http_port};", text, 1)
    text = _sub(
        r"^(\s*)listen 443 ssl http2;", rf"\1listen 127.0.0.1:{https_port} ssl http2;", text, 1
    )
    text = _sub(r"^\s*listen \[::\]:\d+.*\n", "", text, 2)
    text = _sub(r"^(\s*)root /var/www/letsencrypt;", rf"\1root {webroot};", text, 1)
    block = re.search(r"^upstream interview_graph \{\n(.*?)^\}", text, flags=re.M | re.S)
    assert block is not None, "no upstream interview_graph block"
    servers = re.findall(r"^(\s*)server 127\.0\.0\.1:(\d+)([^;]*);\n", block.group(1), re.M)
    assert len(servers) >= 2, "the upstream should list several instances"
    indent, _, params = servers[0]
    lines = "".join(f"{indent}server 127.0.0.1:{p}{params};\n" for p in upstream_ports)
    body = re.sub(r"^\s*server 127\.0\.0\.1:\d+[^;]*;\n", "", block.group(1), flags=re.M)
    text = text[: block.start(1)] + body + lines + text[block.end(1) :]
    assert HOST not in re.sub(r"#.*", "", text), "a placeholder host name is left"
    return text


def nginx_prefix(prefix: Path, site: str) -> Path:
    """A minimal nginx.conf in ``prefix`` that includes ``site`` in its http block, with every
    path nginx writes (pid, logs, temp files) inside the prefix."""
    (prefix / "logs").mkdir(parents=True, exist_ok=True)
    for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (prefix / "tmp" / sub).mkdir(parents=True, exist_ok=True)
    (prefix / "site.conf").write_text(site)
    # As root nginx would hand its workers to "nobody", who cannot read pytest's 0700 temp dirs.
    user = "user root;\n" if os.geteuid() == 0 else ""
    conf = prefix / "nginx.conf"
    conf.write_text(
        f"""{user}worker_processes 1;
daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/logs/error.log info;
events {{ worker_connections 256; }}
http {{
    access_log {prefix}/logs/access.log;
    client_body_temp_path {prefix}/tmp/body;
    proxy_temp_path {prefix}/tmp/proxy;
    fastcgi_temp_path {prefix}/tmp/fastcgi;
    uwsgi_temp_path {prefix}/tmp/uwsgi;
    scgi_temp_path {prefix}/tmp/scgi;
    include {prefix}/site.conf;
}}
"""
    )
    return conf


def nginx_argv(nginx: str, prefix: Path, conf: Path) -> list[str]:
    return [nginx, "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "logs" / "startup.log")]


@contextmanager
def running_nginx(nginx: str, prefix: Path, conf: Path, port: int) -> Iterator[None]:
    log = prefix / "logs" / "stderr.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(nginx_argv(nginx, prefix, conf), stdout=out, stderr=out)
    try:
        wait_for_port(port, proc, log)
        yield
    finally:
        stop(proc, signal.SIGQUIT)  # graceful: workers finish, then the master exits
        stop(proc)


# --- the app, started the way the units start it ------------------------------------------------


class Instance:
    """uvicorn with the unit's ExecStart flags on ``port`` (the venv's Python instead of
    /srv/interview-graph/.venv/bin/uvicorn), its own data dir, the shared logs dir."""

    def __init__(self, root: Path, port: int, env: dict[str, str]) -> None:
        self.port = port
        self.log = root / f"uvicorn-{port}.log"
        self.data = root / "data" / str(port)
        argv = exec_argv(parse_unit(UNIT.read_text()))
        flags = uvicorn_flags(argv)
        flags["--port"] = str(port)
        args: list[str] = []
        for key, val in flags.items():
            args += [key] if val == "" else [f"{key}={val}"]
        self.argv = [sys.executable, "-m", "uvicorn", "server:app", *args]
        self.env = {
            **os.environ,
            "INTERVIEW_DATA_DIR": str(self.data),
            "INTERVIEW_LOG_DIR": str(root / "logs"),
            **env,
        }
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Instance:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                self.argv, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(self.log.read_text()[-3000:])
            try:
                url = f"http://127.0.0.1:{self.port}/healthz"
                if httpx.get(url, timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("uvicorn did not start:\n" + self.log.read_text()[-3000:])

    def websocket_handshakes(self) -> int:
        """How many WebSocket handshakes this instance accepted (uvicorn's access log)."""
        return len(re.findall(r'"WebSocket /ws" \[accepted\]', self.log.read_text()))

    def stop(self) -> None:
        stop(self.proc)


# --- the units under a real systemd ---------------------------------------------------------
#
# The host's PID 1 is not systemd, so a systemd 252 is started as PID 1 of fresh pid, mount,
# uts, ipc, net and cgroup namespaces (as root).  Everything it sees is private to those
# namespaces: a copy of /etc with the service user and only our units, a minimal set of
# targets and no generators, /srv/interview-graph laid out as deploy/README.md describes
# (this checkout bind-mounted, a venv whose Python lives in /usr), and its own cgroup2
# sub-tree, removed afterwards.  Killing it ends the namespaces and everything in them.

BOOT = r"""#!/bin/bash
set -euo pipefail
E="$1"; CHECKOUT="$2"
ip link set lo up
mount -t tmpfs -o mode=755 tmpfs /run
mkdir -p /run/lock /run/systemd/system
cp -a /etc "$E/etc"
rm -rf "$E/etc/systemd/system" && mkdir -p "$E/etc/systemd/system"
grep -q '^interview:' "$E/etc/passwd" || {
  echo 'interview:x:990:990::/srv/interview-graph:/usr/sbin/nologin' >> "$E/etc/passwd"
  echo 'interview:x:990:' >> "$E/etc/group"; }
cp "$E"/units/*.service "$E/etc/systemd/system/"
printf '[Manager]\nDefaultStandardOutput=inherit\nDefaultStandardError=inherit\n' \
  > "$E/etc/systemd/system.conf"
mount --bind "$E/etc" /etc
mkdir -p /etc/interview-graph
install -m 0640 -g interview "$E/env" /etc/interview-graph/env
for t in sysinit basic sockets paths timers slices local-fs remote-fs swap network \
         network-online network-pre multi-user default shutdown umount final emergency \
         rescue nss-user-lookup; do
  printf '[Unit]\nDescription=%s\n' "$t" > "$E/targets/$t.target"
done
printf '[Unit]\nDescription=test\n' > "$E/targets/deploy-test.target"
cp /usr/lib/systemd/system/system.slice "$E/targets/" 2>/dev/null || true
mount --bind "$E/targets" /usr/lib/systemd/system
mount --bind "$E/empty" /usr/lib/systemd/system-generators
mount --bind "$E/empty" /usr/lib/systemd/system-environment-generators
mount -t tmpfs -o mode=755 tmpfs /srv
S=/srv/interview-graph
mkdir -p "$S/data" "$S/logs" "$S/src" "$S/rounds" "$S/prompts" "$S/.venv"
touch "$S/server.py"
mount --bind "$CHECKOUT/server.py" "$S/server.py"
for d in src rounds prompts; do mount --bind "$CHECKOUT/$d" "$S/$d"; done
mount --bind "$E/venv" "$S/.venv"
chown interview:interview "$S/data" "$S/logs"
chmod 0750 "$S/data" "$S/logs"
mount -t cgroup2 none /sys/fs/cgroup
export container=other
exec /usr/lib/systemd/systemd --system --unit=deploy-test.target --log-target=console \
  --show-status=no
"""

CLIENT = r"""
import asyncio, json, sys
import websockets
from interview_graph.api.auth import issue_token

port, secret = int(sys.argv[1]), sys.argv[2]
SOLVED = ("from collections import Counter\n\ndef top_k_frequent(nums, k):\n"
          "    return [v for v, _ in Counter(nums).most_common(k)]\n")
SNOOP = "def top_k_frequent(nums, k):\n    return open('/etc/interview-graph/env').read()\n"

async def main():
    async with websockets.connect(f"ws://127.0.0.1:{port}/ws", max_size=None) as ws:
        async def until(pred, timeout=40):
            while True:
                event = json.loads(await asyncio.wait_for(ws.recv(), timeout))
                if pred(event):
                    return event
        await ws.send(json.dumps({"type": "login", "token": issue_token(secret, "sam")}))
        await until(lambda e: e["type"] == "session")
        await ws.send(json.dumps({"type": "start", "plan": "backend_engineer"}))
        await until(lambda e: e["type"] == "message" and e.get("question_id"))
        out = []
        for code in (SOLVED, SNOOP):
            await ws.send(json.dumps({"type": "code", "action": "run", "code": code,
                                      "question_id": "top_k_frequent"}))
            result = await until(lambda e: e["type"] == "code_result")
            out.append({"status": result["status"], "message": result["message"],
                        "passed": [t["passed"] for t in result["tests"]],
                        "errors": [t.get("error") or "" for t in result["tests"]]})
        print(json.dumps(out))

asyncio.run(main())
"""


def systemd_unavailable() -> str | None:
    """Why the units cannot be run under a private systemd here (None when they can)."""
    if os.geteuid() != 0:
        return "needs root (systemd as PID 1 of private namespaces)"
    for tool in ("unshare", "nsenter", "ip", "bwrap"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    if not os.access("/usr/lib/systemd/systemd", os.X_OK):
        return "systemd is not installed"
    if Path("/tmp") in ROOT.parents:
        # Seen failing from a clone in /tmp (the service never answered) while passing from
        # /work: the unit's PrivateTmp=yes gives the service its own /tmp.
        return f"the checkout {ROOT} is under /tmp, which the unit's PrivateTmp hides"
    if usr_python() is None:
        return f"no /usr/bin/python3.{sys.version_info.minor} for a venv outside /home and /root"
    for path in (ROOT, Path(sys.prefix)):
        for parent in (path, *path.parents):
            if not parent.stat().st_mode & 0o001:
                return f"{parent} is not traversable by the service user (needs o+x)"
    probe = subprocess.run(
        ["unshare", "--mount", "--cgroup", "--propagation", "private", "sh", "-c",
         "mount -t cgroup2 none /sys/fs/cgroup"],
        capture_output=True,
    )  # fmt: skip
    if probe.returncode != 0:
        return "cgroup2 cannot be mounted here"
    return None


def usr_python() -> str | None:
    path = f"/usr/bin/python3.{sys.version_info.minor}"
    return path if os.access(path, os.X_OK) else None


def _site_packages() -> Path:
    import sysconfig

    return Path(sysconfig.get_paths()["purelib"])


class PrivateSystemd:
    """A systemd PID 1 in private namespaces running the shipped unit files unchanged."""

    def __init__(self, work: Path, env_file: str) -> None:
        self.work = work
        self.proc: subprocess.Popen[bytes] | None = None
        self.pid = 0
        self.cgroup = f"deploy-test-{os.getpid()}-{time.monotonic_ns()}"
        self.mnt = work / "cgroup2"  # where the cgroup2 tree is mounted (privately) to set up
        for sub in ("units", "targets", "empty", "out", "cgroup2"):
            (work / sub).mkdir(parents=True)
        for unit in (UNIT, TEMPLATE):
            shutil.copy(unit, work / "units" / unit.name)
        (work / "env").write_text(env_file)
        (work / "boot.sh").write_text(BOOT)
        (work / "boot.sh").chmod(0o755)
        (work / "client.py").write_text(CLIENT)
        python = usr_python()
        assert python is not None
        venv = work / "venv"
        subprocess.run([python, "-m", "venv", "--without-pip", str(venv)], check=True)
        purelib = next((venv / "lib").glob("python3.*")) / "site-packages"
        (purelib / "zz_checkout.pth").write_text(
            f"import site; site.addsitedir({str(_site_packages())!r})\n"
        )
        uvicorn = venv / "bin" / "uvicorn"
        uvicorn.write_text(
            "#!/srv/interview-graph/.venv/bin/python\n"
            "import sys\nfrom uvicorn.main import main\nsys.exit(main())\n"
        )
        uvicorn.chmod(0o755)
        work.chmod(0o755)

    def _cgroup_shell(self, script: str) -> None:
        subprocess.run(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c",
             f"mount -t cgroup2 none {self.mnt} && {script}"],
            check=True,
            capture_output=True,
        )  # fmt: skip

    def start(self) -> PrivateSystemd:
        # Its own cgroup2 sub-tree (joined before unsharing the cgroup namespace), so that
        # whatever systemd creates can be removed afterwards.
        log = (self.work / "out" / "systemd.log").open("ab")
        self.proc = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c",
             f'mount -t cgroup2 none {self.mnt} && mkdir {self.mnt}/{self.cgroup} && '
             f'echo $$ > {self.mnt}/{self.cgroup}/cgroup.procs && umount {self.mnt} && '
             'exec unshare --pid --fork --mount --uts --ipc --net --cgroup '
             '--propagation private --mount-proc "$0" "$1" "$2"',
             str(self.work / "boot.sh"), str(self.work), str(ROOT)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        log.close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(self.log()[-3000:])
            children = subprocess.run(
                ["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True
            ).stdout.split()
            if children and Path(f"/proc/{children[0]}/comm").read_text().strip() == "systemd":
                self.pid = int(children[0])
                if self.systemctl("is-system-running").stdout.strip() in (
                    "running",
                    "degraded",
                ):
                    return self
            time.sleep(0.2)
        raise RuntimeError("systemd did not come up:\n" + self.log()[-3000:])

    def log(self) -> str:
        return (self.work / "out" / "systemd.log").read_text(errors="replace")

    def systemctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.inside("systemctl", "--no-pager", *args)

    def inside(self, *argv: str) -> subprocess.CompletedProcess[str]:
        ns = ["nsenter", "-t", str(self.pid), "-m", "-p", "-u", "-i", "-n"]
        return subprocess.run([*ns, *argv], capture_output=True, text=True, timeout=120)

    def in_network(self, *argv: str) -> subprocess.CompletedProcess[str]:
        """Run a command of this host (this venv) in the private network namespace."""
        ns = ["nsenter", "-t", str(self.pid), "-n"]
        return subprocess.run([*ns, *argv], capture_output=True, text=True, timeout=120)

    def wait_healthy(self, port: int, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            probe = self.in_network(
                sys.executable, "-c",
                f"import httpx; print(httpx.get('http://127.0.0.1:{port}/healthz').status_code)",
            )  # fmt: skip
            if probe.stdout.strip() == "200":
                return
            time.sleep(0.3)
        raise RuntimeError(f"no /healthz on {port}:\n" + self.log()[-3000:])

    def stop(self) -> None:
        if self.pid:
            os.kill(self.pid, signal.SIGKILL)  # PID 1 of the namespace: it takes all with it
        if self.proc is not None:
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        # Empty cgroups only; processes are gone with the pid namespace.
        for _ in range(20):
            try:
                self._cgroup_shell(
                    f"find {self.mnt}/{self.cgroup} -depth -type d -exec rmdir {{}} +"
                )
                return
            except subprocess.CalledProcessError:
                time.sleep(0.25)
