"""Run the candidate's code against a question's tests inside a bubblewrap sandbox.

The sandbox has no network, a read-only view of only the interpreter and system libraries, a
fresh pid namespace, no environment, a seccomp deny list, and resource limits (CPU seconds,
address space, file size, open files) applied with ``prlimit`` and a cap on threads.  Nothing
in it is writable, ``/proc`` included: a tmpfs, even a sized one, lets a loop of empty files
pin kernel memory (tmpfs caps bytes, and bubblewrap cannot cap its inodes), so candidates get
no scratch files.  It never runs as a privileged host user: a server running as root starts
bubblewrap as ``nobody`` (with ``setpriv``), so the sandbox's user namespace maps to an
unprivileged uid with no capabilities on the host.
A wall-clock timer kills it, and its output is read with a cap, so neither an endless loop
nor gigabytes of output can hurt the server.  Execution runs as an asyncio subprocess (never
on the event loop), several at once, with a per-interview concurrency cap.

Expected values of the tests never enter the sandbox: it returns what the function returned
for each input, and the comparison happens here.  Forging the output is then no easier than
solving the problem.

If bubblewrap cannot run, execution is refused with a clear reason and the analysis stays
static.  It is never silently run unsandboxed; the only exception is the loudly named
``INTERVIEW_SANDBOX=unsafe-rlimit-only`` development setting.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import copy
import hashlib
import marshal
import os
import pwd
import secrets
import shutil
import stat
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from . import seccomp

Mode = Literal["bwrap", "unsafe-rlimit-only", "off"]

# Limits per run.  CPU and wall time are per run, not per test.
CPU_SECONDS = 4
WALL_SECONDS = 8.0
ADDRESS_SPACE = 512 * 1024 * 1024
FILE_SIZE = 1024 * 1024
OPEN_FILES = 64
# Threads the candidate's program may start besides its main thread (RLIMIT_NPROC, which in
# the sandbox's own user namespace counts only its tasks: bubblewrap's init, the interpreter
# and its threads).
MAX_THREADS = 16
OUTPUT_CAP = 256 * 1024
GLOBAL_CONCURRENCY = max(2, (os.cpu_count() or 2) * 2)
PER_INTERVIEW = 2

# The harness avoids importing json (≈14 ms of start-up): the trusted spec arrives marshalled,
# results leave as repr() of plain values and are parsed here with ast.literal_eval, which
# evaluates literals only.  Untrusted output is never unmarshalled or executed on this side.
_HARNESS = r"""
import io, marshal, os, resource, sys
spec = marshal.loads(sys.stdin.buffer.read())
tasks, hard = spec.pop("tasks"), resource.getrlimit(resource.RLIMIT_NPROC)[1]
tasks = tasks if hard == resource.RLIM_INFINITY else min(tasks, hard)
resource.setrlimit(resource.RLIMIT_NPROC, (tasks, tasks))
nonce = spec.pop("nonce")
real_out = os.dup(1)
captured = io.StringIO()
sys.stdout = sys.stderr = captured

def plain(value, depth=0):
    if depth > 50:
        raise TypeError("value nested too deeply")
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [plain(v, depth + 1) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v, depth + 1) for k, v in value.items()}
    raise TypeError("%s is not a plain value" % type(value).__name__)

results = []
try:
    namespace = {"__name__": "candidate"}
    exec(compile(spec["code"], "solution.py", "exec"), namespace)
    fn = namespace.get(spec["function"])
    if not callable(fn):
        results = [{"error": "function %s is not defined" % spec["function"]}] * len(spec["cases"])
    else:
        for args in spec["cases"]:
            try:
                results.append({"got": plain(fn(*args))})
            except RecursionError:
                results.append({"error": "RecursionError: maximum recursion depth exceeded"})
            except Exception as exc:
                results.append({"error": "%s: %s" % (type(exc).__name__, str(exc)[:200])})
except BaseException as exc:
    results = [{"error": "%s: %s" % (type(exc).__name__, str(exc)[:200])}] * len(spec["cases"])
text = captured.getvalue()[-4000:]
payload = repr({"results": results, "output": text})
os.write(real_out, ("\n" + nonce + payload + nonce + "\n").encode())
"""


@dataclass
class TestOutcome:
    """One test: its input, whether it passed, and what the candidate may see of it."""

    name: str
    hidden: bool
    passed: bool
    args: list[Any]
    expected: Any
    got: Any = None
    error: str | None = None


@dataclass
class RunResult:
    """The outcome of one sandboxed run."""

    status: Literal["ok", "timeout", "output_limit", "crashed", "refused", "unsupported"]
    message: str
    tests: list[TestOutcome] = field(default_factory=list)
    output: str = ""
    duration_ms: float = 0.0
    sandbox: str = ""


def configured_mode() -> Mode:
    """The sandbox mode from ``INTERVIEW_SANDBOX`` (default ``bwrap``)."""
    value = os.environ.get("INTERVIEW_SANDBOX", "bwrap")
    if value not in ("bwrap", "unsafe-rlimit-only", "off"):
        raise ValueError(
            f"INTERVIEW_SANDBOX must be bwrap, unsafe-rlimit-only or off, not {value!r}"
        )
    return value  # type: ignore[return-value]


_PROBE: dict[str, str | None] = {}
# The probe checks what matters most, not just that a sandbox starts: that its user is not
# root and holds no capability.  (uid_map cannot tell the host uid from inside: bubblewrap's
# --disable-userns nests a second user namespace, whose parent maps the uid to 0.)
_PROBE_PROGRAM = """
import os
status = dict(line.split(':', 1) for line in open('/proc/self/status'))
unprivileged = os.getuid() != 0 and int(status['CapEff'], 16) == 0
print(6 * 7 if unprivileged else 'privileged')
"""


async def why_unavailable() -> str | None:
    """None when bubblewrap works here, else the reason (probed once per process)."""
    if "bwrap" in _PROBE:
        return _PROBE["bwrap"]
    reason: str | None = None
    if shutil.which("bwrap") is None:
        reason = "bubblewrap (bwrap) is not installed; install the Debian package 'bubblewrap'"
    elif shutil.which("prlimit") is None:
        reason = "prlimit (util-linux) is not installed"
    elif _sandbox_user() and shutil.which("setpriv") is None:
        reason = "setpriv (util-linux) is not installed; it is needed to drop root"
    elif _interpreter() is None:
        reason = (
            f"the unprivileged sandbox user cannot reach the interpreter under "
            f"{sys.base_prefix}, and there is no /usr/bin/python3.{sys.version_info.minor}"
        )
    else:
        result = await _execute("bwrap", _PROBE_PROGRAM, "", [], probe=True)
        if result.status != "ok" or "42" not in result.output:
            reason = f"bubblewrap cannot create a sandbox here: {result.message or result.output}"
            if "privileged" in result.output:
                reason = "the sandbox would run with host privileges; refusing to run code"
    _PROBE["bwrap"] = reason
    return reason


# Semaphores belong to the event loop that first waits on them, so they are kept per loop;
# an interview's own semaphore lives only while one of its runs holds or waits for it (a
# long-running server would otherwise keep one per interview it ever ran).
_GATES: dict[int, asyncio.Semaphore] = {}
_OWN: dict[tuple[int, str], tuple[asyncio.Semaphore, int]] = {}


@contextlib.asynccontextmanager
async def _limits(interview_id: str) -> AsyncIterator[None]:
    """Hold a run slot: one of the interview's own, then one of the process's."""
    loop = id(asyncio.get_running_loop())
    gate = _GATES.setdefault(loop, asyncio.Semaphore(GLOBAL_CONCURRENCY))
    key = (loop, interview_id)
    own, users = _OWN.get(key) or (asyncio.Semaphore(PER_INTERVIEW), 0)
    _OWN[key] = (own, users + 1)
    try:
        async with own, gate:
            yield
    finally:
        own, users = _OWN[key]
        if users == 1:
            del _OWN[key]
        else:
            _OWN[key] = (own, users - 1)


# Results of recent runs by their exact inputs: the service starts a run in the background
# as soon as code arrives, and the graph's execute_code then picks up the same result.
_RESULTS: dict[str, asyncio.Future[RunResult]] = {}
_RESULTS_KEPT = 256


async def run_tests(
    code: str,
    language: str,
    function: str,
    tests: list[tuple[str, bool, list[Any], Any]],
    *,
    interview_id: str = "local",
) -> RunResult:
    """Run ``code`` against ``tests`` (name, hidden, args, expected) in the sandbox.

    Identical concurrent or recent requests share one run.

    Returns:
        A :class:`RunResult`; ``status`` is ``refused`` (with the reason) when no sandbox can be
        used here, ``unsupported`` for a language this machine cannot run.
    """
    mode = configured_mode()
    key = hashlib.sha256(repr((mode, code, language, function, tests)).encode()).hexdigest()
    future = _RESULTS.get(key)
    if future is None or future.get_loop() is not asyncio.get_running_loop():
        future = asyncio.get_running_loop().create_future()
        _RESULTS[key] = future
        while len(_RESULTS) > _RESULTS_KEPT:
            _RESULTS.pop(next(iter(_RESULTS)))
        try:
            future.set_result(await _run_tests(code, language, function, tests, interview_id))
        except BaseException as exc:
            _RESULTS.pop(key, None)
            future.set_exception(exc)
            future.exception()  # retrieved here; the caller gets the raise below
            raise
    result = await asyncio.shield(future)
    return copy.deepcopy(result)


async def _run_tests(
    code: str,
    language: str,
    function: str,
    tests: list[tuple[str, bool, list[Any], Any]],
    interview_id: str,
) -> RunResult:
    if language != "python":
        return RunResult(
            status="unsupported", message=f"{language} cannot be run here; Python only"
        )
    mode = configured_mode()
    if mode == "off":
        return RunResult(
            status="refused", message="code execution is switched off (INTERVIEW_SANDBOX=off)"
        )
    if mode == "bwrap" and (reason := await why_unavailable()):
        return RunResult(status="refused", message=f"code was not run: {reason}")
    async with _limits(interview_id):
        result = await _execute(mode, code, function, [t[2] for t in tests])
    if result.status == "ok":
        raw = result.tests  # filled by _execute as placeholders with got/error
        result.tests = [
            TestOutcome(
                name=name,
                hidden=hidden,
                args=args,
                expected=expected,
                got=r.got,
                error=r.error,
                passed=r.error is None and r.got == expected,
            )
            for (name, hidden, args, expected), r in zip(tests, raw, strict=True)
        ]
    else:
        result.tests = [
            TestOutcome(name=n, hidden=h, args=a, expected=e, passed=False, error=result.status)
            for n, h, a, e in tests
        ]
    return result


def _sandbox_user() -> tuple[int, int] | None:
    """The host uid and gid to run bubblewrap as: ``nobody`` when root, else None (as is)."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam("nobody")
    except KeyError:
        return 65534, 65534
    return entry.pw_uid, entry.pw_gid


def _reachable(path: str, ids: tuple[int, int]) -> bool:
    """Whether the user ``ids`` (uid, gid) may search every directory down to ``path``."""
    target = Path(path).absolute()
    for directory in [*reversed(target.parents), target]:
        try:
            info = directory.stat()
        except OSError:
            return False
        if info.st_uid == ids[0]:
            bit = stat.S_IXUSR
        else:
            bit = stat.S_IXGRP if info.st_gid == ids[1] else stat.S_IXOTH
        if not info.st_mode & bit:
            return False
    return True


def _interpreter() -> str | None:
    """The Python installation (prefix) the sandbox runs, or None when there is none.

    The server's own, unless the unprivileged sandbox user cannot reach it (pyenv's under a
    root-only /root); then the system's interpreter of the same minor version, if any.
    """
    ids = _sandbox_user()
    if ids is None or _reachable(sys.base_prefix, ids):
        return sys.base_prefix
    if os.path.exists(f"/usr/bin/python3.{sys.version_info.minor}"):
        return "/usr"
    return None


def _bwrap_argv(seccomp_fd: int | None, prefix: str) -> list[str]:
    argv = [
        "bwrap",
        "--unshare-all",
        "--unshare-user",
        "--die-with-parent",
        "--new-session",
        "--clearenv",
        "--ro-bind",
        "/usr",
        "/usr",
        "--symlink",
        "usr/lib",
        "/lib",
        "--symlink",
        "usr/lib64",
        "/lib64",
        "--symlink",
        "usr/bin",
        "/bin",
        "--proc",
        "/proc",
        # Read-only /proc: /proc/sys (core_pattern), /proc/self/* and the rest.
        "--remount-ro",
        "/proc",
        "--dev",
        "/dev",
        "--remount-ro",
        "/dev",
        "--dir",
        "/tmp",
        "--chdir",
        "/tmp",
        "--setenv",
        "HOME",
        "/tmp",
        "--setenv",
        "PATH",
        "/usr/bin",
        "--setenv",
        "PYTHONDONTWRITEBYTECODE",
        "1",
        "--setenv",
        "LANG",
        "C.UTF-8",
        "--disable-userns",
        "--hostname",
        "sandbox",
    ]
    if not prefix.startswith("/usr"):
        argv += ["--ro-bind", prefix, prefix]
    # Last: everything above is created in the root tmpfs, which then becomes read-only.
    argv += ["--remount-ro", "/"]
    if seccomp_fd is not None:
        argv += ["--seccomp", str(seccomp_fd)]
    return argv


def _setpriv_argv(ids: tuple[int, int]) -> list[str]:
    # Leaving uid 0 clears the permitted and effective capabilities; the bounding and
    # inheritable sets and no_new_privs make sure no executed file can bring any back.
    return [
        "setpriv",
        f"--reuid={ids[0]}",
        f"--regid={ids[1]}",
        "--clear-groups",
        "--inh-caps=-all",
        "--bounding-set=-all",
        "--no-new-privs",
        "--",
    ]


def _prlimit_argv() -> list[str]:
    return [
        "prlimit",
        f"--cpu={CPU_SECONDS}",
        f"--as={ADDRESS_SPACE}",
        f"--fsize={FILE_SIZE}",
        f"--nofile={OPEN_FILES}",
        "--core=0",
        "--",
    ]


async def _execute(
    mode: str, code: str, function: str, cases: list[list[Any]], *, probe: bool = False
) -> RunResult:
    nonce = secrets.token_hex(16)
    prefix = _interpreter() or sys.base_prefix
    python = os.path.join(prefix, "bin", f"python3.{sys.version_info.minor}")
    if probe:
        program, stdin = [python, "-I", "-S", "-c", code], b""
    else:
        program = [python, "-I", "-S", "-c", _HARNESS]
        # bubblewrap's init and the interpreter, then the threads.
        tasks = MAX_THREADS + 2
        stdin = marshal.dumps(
            {"code": code, "function": function, "cases": cases, "nonce": nonce, "tasks": tasks}
        )
    seccomp_fd = None
    filter_file = None
    if mode == "bwrap":
        if seccomp.available():
            filter_file = tempfile.TemporaryFile()
            filter_file.write(seccomp.build_filter())
            filter_file.seek(0)
            seccomp_fd = filter_file.fileno()
        argv = _prlimit_argv() + _bwrap_argv(seccomp_fd, prefix) + ["--"] + program
        env = {"PATH": "/usr/bin:/bin"}
    else:
        argv = _prlimit_argv() + program
        env = {"PATH": "/usr/bin:/bin", "HOME": tempfile.gettempdir()}
    if ids := _sandbox_user():
        # In both modes: even the unsafe one never runs candidate code as root.  setpriv costs
        # an exec (≈1 ms); Popen's user= and group= would not, but they rule out vfork, and
        # fork copies the server's page tables: +40 ms per run for a server of 1 GiB.
        argv = _setpriv_argv(ids) + argv
    pass_fds = () if seccomp_fd is None else (seccomp_fd,)
    started = time.perf_counter()
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=env,
            pass_fds=pass_fds,
            start_new_session=True,
            cwd="/",
        )
    finally:
        if filter_file is not None:
            filter_file.close()
    status, out = await _collect(proc, stdin)
    duration = (time.perf_counter() - started) * 1000
    text = out.decode("utf-8", "replace")
    sandbox = mode + ("+seccomp" if seccomp_fd is not None else "")
    if status != "ok":
        message = {
            "timeout": f"stopped after {WALL_SECONDS:.0f} s (time limit)",
            "output_limit": f"stopped: more than {OUTPUT_CAP // 1024} KiB of output",
        }[status]
        return RunResult(
            status=status,
            message=message,
            output=text[-2000:],
            duration_ms=duration,
            sandbox=sandbox,
        )
    if probe:
        return RunResult(
            status="ok" if proc.returncode == 0 else "crashed",
            message=text[-500:],
            output=text,
            duration_ms=duration,
            sandbox=sandbox,
        )
    start, end = text.rfind("\n" + nonce), text.rfind(nonce + "\n")
    if start < 0 or end <= start:
        crash = _describe_crash(proc.returncode, text)
        # Killed after using its CPU budget: that is the endless-loop case, say so plainly.
        timed_out = "killed" in crash and duration >= CPU_SECONDS * 900
        return RunResult(
            status="timeout" if timed_out else "crashed",
            message=f"stopped: CPU time limit ({CPU_SECONDS} s)" if timed_out else crash,
            output=text[-2000:],
            duration_ms=duration,
            sandbox=sandbox,
        )
    try:
        payload = ast.literal_eval(text[start + len(nonce) + 1 : end])
        results = list(payload["results"])
    except (ValueError, SyntaxError, TypeError, KeyError, MemoryError, RecursionError):
        return RunResult(
            status="crashed",
            message="the program's results could not be read",
            output=text[-2000:],
            duration_ms=duration,
            sandbox=sandbox,
        )
    placeholders = [
        TestOutcome(
            name="",
            hidden=False,
            passed=False,
            args=[],
            expected=None,
            got=r.get("got"),
            error=r.get("error"),
        )
        for r in results
    ]
    return RunResult(
        status="ok",
        message="ran",
        tests=placeholders,
        output=payload["output"],
        duration_ms=duration,
        sandbox=sandbox,
    )


async def _collect(
    proc: asyncio.subprocess.Process, stdin: bytes
) -> tuple[Literal["ok", "timeout", "output_limit"], bytes]:
    """Feed stdin, read at most OUTPUT_CAP bytes, enforce the wall clock; kill on excess."""
    assert proc.stdin is not None and proc.stdout is not None
    chunks: list[bytes] = []
    size = 0

    async def read() -> Literal["ok", "output_limit"]:
        nonlocal size
        assert proc.stdout is not None
        while chunk := await proc.stdout.read(65536):
            chunks.append(chunk)
            size += len(chunk)
            if size > OUTPUT_CAP:
                return "output_limit"
        await proc.wait()
        return "ok"

    try:
        proc.stdin.write(stdin)
        await proc.stdin.drain()
        proc.stdin.close()
    except (BrokenPipeError, ConnectionResetError):
        pass
    status: Literal["ok", "timeout", "output_limit"]
    try:
        status = await asyncio.wait_for(read(), WALL_SECONDS)
    except TimeoutError:
        status = "timeout"
    except asyncio.CancelledError:
        # Nobody will read this run's result (its interview closed): stop it now rather than
        # let a sleeping program outlive the cancellation until the server exits.
        _kill(proc)
        raise
    if status != "ok":
        _kill(proc)
        # Drain what is left in the pipe: asyncio only reports the exit once the pipe is at EOF.
        try:
            async with asyncio.timeout(5):
                while await proc.stdout.read(65536):
                    pass
                await proc.wait()
        except TimeoutError:
            proc.kill()
    return status, b"".join(chunks)[:OUTPUT_CAP]


def _kill(proc: asyncio.subprocess.Process) -> None:
    try:
        os.killpg(proc.pid, 9)
    except ProcessLookupError:
        pass


def _describe_crash(returncode: int | None, text: str) -> str:
    # bwrap reports a child killed by signal N as exit status 128 + N.
    signal = (
        -returncode
        if returncode is not None and returncode < 0
        else (returncode - 128 if returncode is not None and returncode > 128 else 0)
    )
    if signal:
        if signal == 9:
            return "killed (CPU time or memory limit)"
        if signal == 24:
            return "stopped: CPU time limit"
        return f"killed by signal {signal}"
    tail = text.strip().splitlines()[-1:] or ["no output"]
    return f"the program exited with status {returncode}: {tail[0][:200]}"
