"""The code sandbox: the attack corpus is contained, each in its specific way; the server
stays responsive; execution is refused (never run unsandboxed) when no sandbox is possible."""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from typing import Any

import pytest

from interview_graph.activity import sandbox
from interview_graph.activity.sandbox import RunResult, run_tests

pytestmark = pytest.mark.skipif(
    shutil.which("bwrap") is None and not os.environ.get("CI"),
    reason="bubblewrap is not installed (make test installs it when run as root; CI must have it)",
)

CASE = [("case", False, [1, 2], 3)]
HERE = os.path.abspath(__file__)


async def attack(body: str, **kw: Any) -> RunResult:
    code = "import os, sys\n\ndef f(a, b):\n" + "\n".join(
        "    " + line for line in body.splitlines()
    )
    return await run_tests(code, "python", "f", CASE, **kw)


def error(result: RunResult) -> str:
    assert result.status == "ok", (result.status, result.message)
    return str(result.tests[0].error)


async def test_probe_finds_a_working_sandbox() -> None:
    sandbox._PROBE.clear()
    assert await sandbox.why_unavailable() is None


async def test_a_correct_solution_passes_and_a_wrong_one_fails() -> None:
    good = await run_tests(
        "def f(a, b):\n    return a + b\n",
        "python",
        "f",
        [("v", False, [1, 2], 3), ("h", True, [5, 5], 10)],
    )
    assert [t.passed for t in good.tests] == [True, True] and good.sandbox.startswith("bwrap")
    bad = await run_tests("def f(a, b):\n    return a - b\n", "python", "f", CASE)
    assert bad.tests[0].got == -1 and not bad.tests[0].passed


async def test_reading_files_outside_the_sandbox_fails() -> None:
    assert "FileNotFoundError" in error(await attack("return open('/etc/passwd').read()"))
    here = HERE
    assert "FileNotFoundError" in error(await attack(f"return open({here!r}).read()"))
    project = os.path.dirname(os.path.dirname(here))
    assert "FileNotFoundError" in error(await attack(f"return os.listdir({project!r})"))
    data = os.environ["INTERVIEW_DATA_DIR"]
    assert "FileNotFoundError" in error(await attack(f"return os.listdir({data!r})"))


async def test_sockets_are_refused() -> None:
    result = await attack(
        "import socket\ns = socket.socket()\ns.connect(('127.0.0.1', 5432))\nreturn 1"
    )
    assert "PermissionError" in error(result)


async def test_fork_bomb_cannot_fork() -> None:
    result = await attack("while True:\n    os.fork()")
    assert "PermissionError" in error(result)


async def test_infinite_loop_is_stopped_by_the_cpu_limit() -> None:
    start = time.perf_counter()
    result = await attack("while True:\n    pass")
    assert result.status == "timeout" and "CPU time limit" in result.message
    assert time.perf_counter() - start < sandbox.WALL_SECONDS + 2
    assert not result.tests[0].passed


async def test_memory_beyond_the_limit_fails() -> None:
    assert "MemoryError" in error(await attack("block = bytearray(2 * 1024 ** 3)\nreturn 1"))


async def test_gigabytes_of_output_are_cut_off() -> None:
    result = await attack("while True:\n    os.write(1, b'x' * 65536)")
    assert result.status == "output_limit"
    assert len(result.output) <= sandbox.OUTPUT_CAP


async def test_filling_the_disk_fails() -> None:
    big = "with open('/tmp/big', 'wb') as fh:\n    fh.write(b'x' * (5 * 1024 * 1024))\nreturn 1"
    assert "File too large" in error(await attack(big))
    many = (
        "for i in range(100):\n    with open(f'/tmp/f{i}', 'wb') as fh:\n"
        "        fh.write(b'x' * 1000000)\nreturn 1"
    )
    assert "No space left" in error(await attack(many))


async def test_environment_secrets_are_invisible(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INTERVIEW_TEST_SECRET", "s3cr3t-canary")
    result = await attack("return sorted(os.environ.items())")
    assert result.status == "ok"
    assert "s3cr3t-canary" not in str(result.tests[0].got)
    assert dict(result.tests[0].got)["HOME"] == "/tmp"


async def test_signalling_the_parent_does_not_reach_the_server() -> None:
    result = await attack(f"os.kill({os.getpid()}, 9)\nreturn 1")
    assert "ProcessLookupError" in error(result)
    result = await attack("os.kill(os.getppid(), 9)\nreturn os.getppid()")
    assert result.status in ("ok", "crashed")  # it may only kill its own sandbox


async def test_proc_shows_only_the_sandbox(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INTERVIEW_TEST_SECRET", "s3cr3t-canary")
    body = (
        "pids = [p for p in os.listdir('/proc') if p.isdigit()]\n"
        "seen = ''\n"
        "for p in pids:\n"
        "    try:\n"
        "        seen += open(f'/proc/{p}/environ').read() + open(f'/proc/{p}/cmdline').read()\n"
        "    except OSError:\n"
        "        pass\n"
        "return [len(pids), 's3cr3t' in seen]"
    )
    result = await attack(body)
    assert result.status == "ok"
    count, leaked = result.tests[0].got
    assert count <= 3 and leaked is False


async def test_expected_values_never_enter_the_sandbox() -> None:
    result = await run_tests(
        "import sys\ndef f(a, b):\n    return open('/proc/self/fd/0').read()\n",
        "python",
        "f",
        [("h", True, [1, 2], "EXPECTED-CANARY")],
    )
    assert "EXPECTED-CANARY" not in str(result.tests[0].got)


async def test_the_event_loop_stays_responsive_during_attacks() -> None:
    lags: list[float] = []

    async def ticker() -> None:
        while True:
            start = time.perf_counter()
            await asyncio.sleep(0.05)
            lags.append(time.perf_counter() - start - 0.05)

    tick = asyncio.create_task(ticker())
    results = await asyncio.gather(
        attack("while True:\n    pass", interview_id="a"),
        attack("while True:\n    os.write(1, b'x' * 65536)", interview_id="b"),
        attack("block = bytearray(2 * 1024 ** 3)\nreturn 1", interview_id="c"),
    )
    tick.cancel()
    assert [r.status for r in results] == ["timeout", "output_limit", "ok"]
    assert max(lags) < 0.5, max(lags)


async def test_per_interview_concurrency_is_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    running = 0
    peak = 0
    real = sandbox._execute

    async def counting(*args: Any, **kw: Any) -> RunResult:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        try:
            return await real(*args, **kw)
        finally:
            running -= 1

    monkeypatch.setattr(sandbox, "_execute", counting)
    await asyncio.gather(*(attack(f"return a + b + {i}", interview_id="same") for i in range(6)))
    assert peak <= sandbox.PER_INTERVIEW


async def test_refused_when_no_sandbox_is_possible(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sandbox, "_PROBE", {})
    monkeypatch.setattr(sandbox.shutil, "which", lambda name: None)
    result = await attack("return a + b  # refused")
    assert result.status == "refused" and "bubblewrap" in result.message
    monkeypatch.setenv("INTERVIEW_SANDBOX", "off")
    assert (await attack("return a + b  # off")).status == "refused"


async def test_other_languages_are_reported_unsupported() -> None:
    result = await run_tests("function f(a, b) { return a + b }", "javascript", "f", CASE)
    assert result.status == "unsupported" and "Python only" in result.message


def _sandboxed_children() -> set[int]:
    """Live (not zombie) bwrap processes started by this test process."""
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:  # noqa: ASYNC230  # tiny procfs reads
                stat = f.read()
        except OSError:
            continue
        comm_end = stat.rindex(")")
        comm = stat[stat.index("(") + 1 : comm_end]
        state, ppid = stat[comm_end + 2 :].split()[:2]
        if comm == "bwrap" and int(ppid) == os.getpid() and state != "Z":
            found.add(int(entry))
    return found


async def test_a_cancelled_run_is_killed_not_left_running() -> None:
    before = _sandboxed_children()
    task = asyncio.create_task(attack("import time\ntime.sleep(30)\nreturn a + b"))
    deadline = time.monotonic() + 5
    while not (_sandboxed_children() - before) and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    started = _sandboxed_children() - before
    assert started, "the run started in the sandbox"
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    deadline = time.monotonic() + 3
    while _sandboxed_children() & started and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    assert not (_sandboxed_children() & started), "the sandbox outlived its cancelled run"


def test_run_slots_work_on_a_second_event_loop_and_are_not_kept_per_interview() -> None:
    # Semaphores bind to the first loop that waits on them: a later loop (a second test, a
    # restarted server in the same process) must get its own, and finished interviews none.
    async def busy() -> None:
        await asyncio.gather(
            *(attack(f"return a + b + {i}", interview_id="loops") for i in range(4))
        )

    asyncio.run(busy())
    asyncio.run(busy())
    assert not [key for key in sandbox._OWN if key[1] == "loops"]
