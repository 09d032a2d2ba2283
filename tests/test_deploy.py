"""The deployment files in deploy/: nginx accepts the site; a WebSocket interview runs over wss://
through it to two uvicorn instances started with the unit's flags; the systemd units parse and
agree with nginx and each other; env.example covers every setting with safe defaults; logrotate
rotates the logs the way the app writes them."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from dotenv import dotenv_values

from interview_graph.api.auth import issue_token
from interview_graph.settings import Settings

from .deploy_util import (
    ENV_EXAMPLE,
    LOGROTATE,
    SITE,
    TEMPLATE,
    UNIT,
    Instance,
    PrivateSystemd,
    exec_argv,
    free_port,
    nginx_argv,
    nginx_binary,
    nginx_prefix,
    parse_unit,
    render_site,
    running_nginx,
    self_signed,
    systemd_unavailable,
    uvicorn_flags,
    value,
)
from .server_util import Client

NGINX = nginx_binary()
needs_nginx = pytest.mark.skipif(
    NGINX is None and not os.environ.get("CI"),
    reason="nginx is not installed (make test installs it when run as root: apt-get install "
    "nginx-light; CI must have it)",
)
SECRET = "deploy-test-secret-" + "x" * 32
IP = "127.0.0.1"


@pytest.fixture
def prefix(tmp_path: Path) -> dict[str, Any]:
    """The site rendered for loopback with a fresh self-signed certificate."""
    assert NGINX is not None, "nginx is required in CI"
    certs = tmp_path / "certs"
    certs.mkdir()
    cert, key = self_signed(certs, IP)
    ports = {"http": free_port(), "https": free_port(), "up": [free_port(), free_port()]}
    webroot = tmp_path / "acme"
    site = render_site(
        host=IP,
        http_port=ports["http"],
        https_port=ports["https"],
        upstream_ports=ports["up"],
        cert=cert,
        key=key,
        webroot=webroot,
    )
    conf = nginx_prefix(tmp_path / "nginx", site)
    return {"conf": conf, "cert": cert, "webroot": webroot, "root": tmp_path, **ports}


# --- (1) nginx -t ------------------------------------------------------------------------------


@needs_nginx
def test_nginx_accepts_the_site(prefix: dict[str, Any]) -> None:
    assert NGINX is not None
    result = subprocess.run(
        [*nginx_argv(NGINX, prefix["conf"].parent, prefix["conf"]), "-t"],
        capture_output=True,
        text=True,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "test is successful" in output
    # Warnings are mistakes too (except the http2 spelling nginx >= 1.25.1 prefers).
    warnings = [line for line in output.splitlines() if "[warn]" in line and "http2" not in line]
    assert not warnings, warnings


# --- (2) an interview over wss:// through nginx to two instances -----------------------------


@pytest.fixture
def stack(prefix: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """nginx in front of two instances started as the units start them, with jwt auth."""
    assert NGINX is not None
    env = {"INTERVIEW_AUTH": "jwt", "INTERVIEW_JWT_SECRET": SECRET, "INTERVIEW_ENGINE": "offline"}
    instances = [Instance(prefix["root"], port, env) for port in prefix["up"]]
    try:
        for instance in instances:
            instance.start()
        with running_nginx(NGINX, prefix["conf"].parent, prefix["conf"], prefix["https"]):
            yield {**prefix, "instances": instances}
    finally:
        for instance in instances:
            instance.stop()


def _tls(cert: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(cert))


async def _login(url: str, ctx: ssl.SSLContext, user: str, **kw: Any) -> tuple[Any, Client]:
    ws = await websockets.connect(url, ssl=ctx, max_size=None, **kw)
    client = Client(ws)
    await client.send({"type": "login", "token": issue_token(SECRET, user)})
    session = await client.recv()
    assert session["type"] == "session" and session["user"] == user, session
    return ws, client


@needs_nginx
@pytest.mark.slow
async def test_an_interview_over_wss_through_nginx_to_two_instances(
    stack: dict[str, Any],
) -> None:
    ctx = _tls(stack["cert"])
    base = f"https://{IP}:{stack['https']}"
    url = f"wss://{IP}:{stack['https']}/ws"
    async with httpx.AsyncClient(verify=ctx) as http:
        health = await http.get(f"{base}/healthz")
        assert health.status_code == 200 and health.json() == {"status": "ok"}
        assert "max-age=" in health.headers["strict-transport-security"]
        assert (await http.get(f"{base}/readyz")).json() == {"status": "ok"}
        # The web client comes through the app.
        page = await http.get(f"{base}/")
        assert page.status_code == 200 and "<html" in page.text.lower()
        assert (await http.get(f"{base}/static/app.js")).status_code == 200

    # A browser on the API host's own origin is accepted: nginx passes Host unchanged (with
    # the port), which the app compares with Origin; a foreign origin is refused.
    ws, client = await _login(url, ctx, "alice", origin=f"https://{IP}:{stack['https']}")
    await client.send({"type": "start", "plan": "backend_engineer"})
    session = (await client.until(lambda e: e["type"] == "session"))[-1]
    interview = session["interview_id"]
    question = await client.question()
    assert question["text"] and question["panelist"]
    await client.send(
        {"type": "message", "text": "I would count with a hash map and keep a heap of size k."}
    )
    ack = (await client.until(lambda e: e["type"] == "ack"))[-1]
    reply = (await client.until(lambda e: e["type"] == "message"))[-1]
    assert reply["seq"] > ack["input_seq"] and reply["text"]
    await ws.close()
    with pytest.raises(websockets.InvalidStatus) as refused:
        await websockets.connect(url, ssl=ctx, origin="https://evil.example")
    assert refused.value.response.status_code == 403

    # Sticky routing: the reconnecting client reaches the instance that holds its interview
    # and resumes it (with round robin every other resume would be `not_found`).
    for _ in range(3):
        ws, client = await _login(url, ctx, "alice")
        await client.send({"type": "resume", "interview_id": interview, "last_seq": 0})
        resumed = (await client.until(lambda e: e["type"] in ("session", "error")))[-1]
        assert resumed["type"] == "session" and resumed["status"] == "resumed", resumed
        await client.until(lambda e: e["type"] == "candidate_input")
        await ws.close()
    handshakes = [i.websocket_handshakes() for i in stack["instances"]]
    assert sorted(handshakes) == [0, 4], f"every handshake on one instance: {handshakes}"

    # Both instances are in the upstream: with the sticky one stopped, nginx sends the client
    # to the other, which serves new interviews but cannot resume the old one (the limit the
    # site's comment documents until the store is shared).
    holder = stack["instances"][handshakes.index(4)]
    other = stack["instances"][1 - handshakes.index(4)]
    holder.stop()
    ws, client = await _login(url, ctx, "alice")
    await client.send({"type": "resume", "interview_id": interview, "last_seq": 0})
    assert (await client.until(lambda e: e["type"] == "error"))[-1]["code"] == "not_found"
    await client.send({"type": "start", "plan": "data_scientist"})
    await client.question()
    await ws.close()
    assert other.websocket_handshakes() == 1


@needs_nginx
@pytest.mark.slow
def test_port_80_redirects_to_https_but_serves_acme_challenges(stack: dict[str, Any]) -> None:
    http = f"http://{IP}:{stack['http']}"
    redirect = httpx.get(f"{http}/healthz?probe=1", follow_redirects=False)
    assert redirect.status_code == 301
    # $host has no port: in production 80 -> 443, here the test ports differ.
    assert redirect.headers["location"] == f"https://{IP}/healthz?probe=1"
    ws_redirect = httpx.get(f"{http}/ws", follow_redirects=False)
    assert ws_redirect.status_code == 301
    challenge = stack["webroot"] / ".well-known" / "acme-challenge"
    challenge.mkdir(parents=True)
    (challenge / "token-123").write_text("token-123.thumbprint")
    served = httpx.get(f"{http}/.well-known/acme-challenge/token-123", follow_redirects=False)
    assert served.status_code == 200 and served.text == "token-123.thumbprint"
    missing = httpx.get(f"{http}/.well-known/acme-challenge/nope", follow_redirects=False)
    assert missing.status_code == 404


# --- (3) systemd units, their agreement with nginx, env.example ------------------------------


REQUIRED_HARDENING = {
    "NoNewPrivileges": "yes",
    "ProtectSystem": "strict",
    "PrivateTmp": "yes",
    "ProtectHome": "yes",
    "PrivateDevices": "yes",
    "CapabilityBoundingSet": "",
}
# Verified to break the code sandbox (deploy/README.md, "Hardening and the code sandbox").
BREAKS_SANDBOX = {
    "ProtectKernelTunables",
    "ProtectHostname",
    "RestrictNamespaces",
    "ProcSubset",
}


@pytest.mark.parametrize("path", [UNIT, TEMPLATE], ids=lambda p: p.name)
def test_unit_files_parse_and_have_what_the_guide_needs(path: Path) -> None:
    unit = parse_unit(path.read_text())
    assert set(unit) == {"Unit", "Service", "Install"}
    assert value(unit, "Install", "WantedBy") == "multi-user.target"
    assert value(unit, "Service", "User") not in ("root", "0", "ubuntu")
    assert value(unit, "Service", "WorkingDirectory") == "/srv/interview-graph"
    assert value(unit, "Service", "EnvironmentFile") == "/etc/interview-graph/env"
    assert value(unit, "Service", "Restart") == "on-failure"
    assert int(value(unit, "Unit", "StartLimitBurst")) >= 1
    assert value(unit, "Unit", "StartLimitIntervalSec")
    argv = exec_argv(unit)
    assert "/srv/interview-graph/.venv/bin/uvicorn" in argv and "server:app" in argv
    flags = uvicorn_flags(argv)
    assert flags["--host"] == "127.0.0.1"
    assert "--proxy-headers" in flags and flags["--forwarded-allow-ips"] == "127.0.0.1"
    for key, expected in REQUIRED_HARDENING.items():
        assert value(unit, "Service", key) == expected, key
    writable = value(unit, "Service", "ReadWritePaths").split()
    assert writable == ["/srv/interview-graph/data", "/srv/interview-graph/logs"]
    assert not BREAKS_SANDBOX & {k for k, _ in unit["Service"]}
    assert "AF_NETLINK" in value(unit, "Service", "RestrictAddressFamilies")
    syscalls = value(unit, "Service", "SystemCallFilter").split()
    assert {"@mount", "sethostname"} <= set(syscalls)


def test_the_template_differs_from_the_single_unit_only_where_it_must() -> None:
    single, template = parse_unit(UNIT.read_text()), parse_unit(TEMPLATE.read_text())
    assert uvicorn_flags(exec_argv(single))["--port"] == "8000"
    t_argv = exec_argv(template)
    assert uvicorn_flags(t_argv)["--port"] == "%i"
    # Each instance has its own store, forced on the command line (the env file cannot undo it).
    assert t_argv[:2] == ["/usr/bin/env", "INTERVIEW_DATA_DIR=${INSTANCE_DATA_DIR}"]
    assert "INSTANCE_DATA_DIR=/srv/interview-graph/data/%i" in [
        v for k, v in template["Service"] if k == "Environment"
    ]
    assert "%i" in value(template, "Unit", "Description")
    s_flags = uvicorn_flags(exec_argv(single))
    t_flags = uvicorn_flags(t_argv)
    assert {k: v for k, v in s_flags.items() if k != "--port"} == {
        k: v for k, v in t_flags.items() if k != "--port"
    }
    ignore = {"Description", "ExecStart"}
    for section in ("Unit", "Service", "Install"):
        s_items = sorted((k, v) for k, v in single[section] if k not in ignore)
        t_items = sorted((k, v) for k, v in template[section] if k not in ignore)
        if section == "Service":
            s_items.remove(("Environment", "INTERVIEW_DATA_DIR=/srv/interview-graph/data"))
            t_items.remove(("Environment", "INSTANCE_DATA_DIR=/srv/interview-graph/data/%i"))
        assert s_items == t_items, section


def test_uvicorn_flags_agree_with_nginx_timeouts_and_limits() -> None:
    flags = uvicorn_flags(exec_argv(parse_unit(UNIT.read_text())))
    site = SITE.read_text()
    ws_location = re.search(r"location = /ws \{(.*?)\}", site, re.S)
    assert ws_location is not None
    timeouts = dict(re.findall(r"proxy_(read|send)_timeout (\d+)s;", ws_location.group(1)))
    ping, ping_timeout = float(flags["--ws-ping-interval"]), float(flags["--ws-ping-timeout"])
    # The connection carries a ping (and its pong) at least every ping interval, so nginx's
    # timeouts must be longer, with room for a slow pong.
    assert int(timeouts["read"]) >= 2 * ping and int(timeouts["send"]) >= 2 * ping
    assert int(timeouts["read"]) > ping + ping_timeout
    body = re.search(r"client_max_body_size (\d+)m;", site)
    assert body is not None and int(body.group(1)) * 1024 * 1024 == int(flags["--ws-max-size"])
    assert Settings().max_frame_bytes < int(flags["--ws-max-size"])
    assert "map $http_upgrade $connection_upgrade" in site
    assert "proxy_set_header Connection $connection_upgrade;" in site
    assert "proxy_set_header Upgrade $http_upgrade;" in site
    upstream = re.search(r"upstream interview_graph \{(.*?)\}", site, re.S)
    assert upstream is not None
    ports = re.findall(r"^\s*server 127\.0\.0\.1:(\d+)", upstream.group(1), re.M)
    assert ports == ["8001", "8002"], "the upstream lists the template's instances"
    assert "hash $binary_remote_addr consistent;" in upstream.group(1)


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
def test_systemd_analyze_verify_accepts_the_units(tmp_path: Path) -> None:
    for path in (UNIT, TEMPLATE):
        shutil.copy(path, tmp_path / path.name)
    (tmp_path / "interview-graph@8001.service").symlink_to("interview-graph@.service")
    result = subprocess.run(
        [
            "systemd-analyze", "verify", "--man=no",
            "interview-graph.service", "interview-graph@8001.service",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )  # fmt: skip
    # The venv does not exist on a test machine; anything else is a mistake in the files.
    noise = re.compile(r"Command /srv/interview-graph/\.venv/bin/uvicorn is not executable")
    problems = [
        line for line in (result.stdout + result.stderr).splitlines() if not noise.search(line)
    ]
    assert not problems, problems


def _env_lines() -> list[tuple[str, str, bool]]:
    """(NAME, value, active) for every ``NAME=value`` line, commented out or not."""
    found = []
    for line in ENV_EXAMPLE.read_text().splitlines():
        match = re.fullmatch(r"(# )?([A-Z][A-Z0-9_]*)=(.*)", line)
        if match:
            found.append((match.group(2), match.group(3), match.group(1) is None))
    return found


def _unquote(raw: str) -> str:
    return raw[1:-1] if len(raw) >= 2 and raw[0] == raw[-1] == "'" else raw


def _clear_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith(("INTERVIEW_", "OPENAI_")):
            monkeypatch.delenv(key)


def test_env_example_lists_every_setting_and_every_example_parses(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    names = {name for name, _, _ in _env_lines()}
    for name, field in Settings.model_fields.items():
        choices = getattr(field.validation_alias, "choices", None) or [f"INTERVIEW_{name.upper()}"]
        assert choices[0] in names, f"env.example does not list {choices[0]} ({name})"
    assert "INTERVIEW_SANDBOX" in names  # read by the sandbox, not a Settings field
    # Every example value, commented out or not, is accepted as it is written.
    _clear_env(monkeypatch)
    checked = 0
    for name, raw, _ in _env_lines():
        if not name.startswith("INTERVIEW_") or name == "INTERVIEW_SANDBOX":
            continue
        with monkeypatch.context() as m:
            m.setenv(name, _unquote(raw))
            if name == "INTERVIEW_LLM_MODELS":
                assert Settings(_env_file=None).llm_models["panelist"] == "gpt-4o"
            elif name == "INTERVIEW_LLM_PRICES":
                assert Settings(_env_file=None).llm_prices == Settings.model_fields[
                    "llm_prices"
                ].get_default(call_default_factory=True)
            else:
                Settings(_env_file=None)
        checked += 1
    assert checked >= len(Settings.model_fields)


def test_env_example_is_safe_as_shipped_and_read_alike_by_systemd_and_pydantic(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    active = {name: raw for name, raw, on in _env_lines() if on}
    assert active["INTERVIEW_AUTH"] == "jwt"
    assert active["INTERVIEW_JWT_SECRET"] == "", "no shared placeholder secret"
    assert "dev" not in active.values()
    assert not any(k.endswith("API_KEY") for k in active)
    # pydantic-settings reads the file (python-dotenv) as systemd does: quotes removed.
    parsed = dotenv_values(ENV_EXAMPLE)
    assert parsed == {k: _unquote(v) for k, v in active.items()}
    _clear_env(monkeypatch)
    settings = Settings(_env_file=ENV_EXAMPLE)
    assert settings.auth == "jwt" and settings.allowed_origins == []
    assert settings.engine_name == "offline"
    # As shipped the service refuses to start (no secret) instead of running unauthenticated.
    from interview_graph.api.app import create_app

    with pytest.raises(RuntimeError, match="INTERVIEW_JWT_SECRET"):
        create_app(settings)
    env = tmp_path / "env"
    text = ENV_EXAMPLE.read_text()
    env.write_text(text.replace("INTERVIEW_JWT_SECRET=\n", "INTERVIEW_JWT_SECRET=s3cret\n"))
    create_app(Settings(_env_file=env))


# --- (4) the hardening, applied by a real systemd, keeps the code sandbox working -----------


@pytest.mark.slow
def test_under_systemd_the_hardened_units_serve_and_the_code_sandbox_still_works(
    tmp_path: Path,
) -> None:
    if reason := systemd_unavailable():
        pytest.skip(f"cannot run the units under a private systemd: {reason}")
    env = ENV_EXAMPLE.read_text().replace(
        "INTERVIEW_JWT_SECRET=\n", f"INTERVIEW_JWT_SECRET={SECRET}\n"
    )
    systemd = PrivateSystemd(tmp_path / "systemd", env).start()
    try:
        units = [("interview-graph.service", 8000), ("interview-graph@8001.service", 8001)]
        for unit, port in units:
            started = systemd.systemctl("start", unit)
            assert started.returncode == 0, started.stderr + systemd.log()[-3000:]
            systemd.wait_healthy(port)
            main_pid = systemd.systemctl("show", "-p", "MainPID", "--value", unit).stdout.strip()
            status = systemd.inside("cat", f"/proc/{main_pid}/status").stdout
            assert re.search(r"^NoNewPrivs:\s+1$", status, re.M), "NoNewPrivileges applied"
            assert re.search(r"^CapEff:\s+0+$", status, re.M), "no capabilities"
            assert re.search(r"^Seccomp:\s+2$", status, re.M), "system call filter applied"
            user = systemd.inside("ps", "-o", "user=", "-p", main_pid).stdout.strip()
            assert user == "interview"
            # An interview over /ws with two code runs: a correct solution passes its tests in
            # the sandbox; a program reading the service's env file finds no such file.
            client = systemd.in_network(
                sys.executable, str(tmp_path / "systemd" / "client.py"), str(port), SECRET
            )
            assert client.returncode == 0, client.stderr[-3000:] + systemd.log()[-2000:]
            solved, snoop = json.loads(client.stdout.strip().splitlines()[-1])
            assert solved["status"] == "ok" and all(solved["passed"]), solved
            assert snoop["status"] == "ok", snoop
            assert all("FileNotFoundError" in error for error in snoop["errors"]), snoop
        data = systemd.inside("ls", "/srv/interview-graph/data").stdout.split()
        assert "interviews.sqlite" in data and "8001" in data, data
        written = systemd.inside(
            "sh", "-c", "find /srv/interview-graph/logs -name latest.log | head -1"
        ).stdout
        assert written.strip(), "per-user logs are written under ReadWritePaths"
        security = systemd.inside("systemd-analyze", "security", "--no-pager", "interview-graph")
        exposure = re.search(r"Overall exposure level for \S+: ([0-9.]+)", security.stdout)
        assert exposure is not None and float(exposure.group(1)) < 3.0, security.stdout[-500:]
    finally:
        systemd.stop()


# --- (5) logrotate against the app's log writer ------------------------------------------------


@pytest.mark.skipif(shutil.which("logrotate") is None, reason="logrotate is not installed")
async def test_logrotate_renames_and_the_app_starts_a_new_file(tmp_path: Path) -> None:
    from interview_graph.api.userlog import UserLogs

    logs = tmp_path / "logs"
    conf = LOGROTATE.read_text().replace("/srv/interview-graph/logs", str(logs))
    assert [line.split()[0] for line in conf.splitlines() if line.startswith("/")] == [
        f"{logs}/*/latest.log",
        f"{logs}/*/[0-9a-f]*.log",
    ]
    if os.geteuid() == 0:
        conf = conf.replace("su interview interview", "su root root")
    else:
        conf = conf.replace("    su interview interview\n", "")
    (tmp_path / "logrotate.conf").write_text(conf)

    def rotate(*extra: str) -> None:
        result = subprocess.run(
            ["logrotate", *extra, "-s", str(tmp_path / "state"), str(tmp_path / "logrotate.conf")],
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0, result.stdout + result.stderr

    rotate("-d")  # the syntax, with nothing to do
    writer = UserLogs(logs)
    writer.start()
    writer.write("alice", "0123456789abcdef", "message", 1, "before the rotation")
    await writer.stop()
    latest = logs / "alice" / "latest.log"
    per_interview = logs / "alice" / "0123456789abcdef.log"
    assert latest.exists() and per_interview.exists()
    rotate("-f")
    assert not latest.exists(), "renamed, not copied and truncated"
    assert "before the rotation" in (logs / "alice" / "latest.log.1").read_text()
    assert (logs / "alice" / "0123456789abcdef.log.1").exists()
    writer = UserLogs(logs)
    writer.start()
    writer.write("alice", "0123456789abcdef", "message", 2, "after the rotation")
    await writer.stop()
    assert latest.read_text().count("\n") == 1 and "after the rotation" in latest.read_text()
    rotate("-f")
    assert (logs / "alice" / "latest.log.2.gz").exists()  # compressed one cycle later
    assert (logs / "alice" / "latest.log.1").exists()


def test_user_logs_keep_order_across_users_and_a_removed_folder(tmp_path: Path) -> None:
    """A batch mixing users and interviews lands in order in every file, even after an
    operator removed a user's folder while the server ran."""
    from interview_graph.api.userlog import UserLogs

    async def run() -> None:
        logs = UserLogs(tmp_path)
        logs.start()
        for i in range(6):
            logs.write("alice" if i % 2 else "bob", "abc123", "message", i, f"line {i}")
        await logs.stop()
        shutil.rmtree(tmp_path / "alice")
        logs = UserLogs(tmp_path)
        logs._folders.add(tmp_path / "alice")  # as if it had made it before the removal
        logs.start()
        logs.write("alice", None, "message", 7, "after removal")
        await logs.stop()

    asyncio.run(run())
    bob = (tmp_path / "bob" / "latest.log").read_text().splitlines()
    assert [line.rsplit(" ", 1)[-1] for line in bob] == ["0", "2", "4"]
    assert (tmp_path / "bob" / "abc123.log").read_text().count("\n") == 3
    assert "after removal" in (tmp_path / "alice" / "latest.log").read_text()
