"""The activity service pre-runs code in the background, bounded, and always calls back; the
transport (api/) hands code over to it and never touches the sandbox itself."""

from __future__ import annotations

import ast
import asyncio
import logging
import os
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from interview_graph.activity import sandbox
from interview_graph.activity.nodes import tests_for as sandbox_tests
from interview_graph.activity.service import ActivityService
from interview_graph.plans.loader import resolve_plan
from interview_graph.session import InterviewSession

needs_bwrap = pytest.mark.skipif(
    shutil.which("bwrap") is None and not os.environ.get("CI"),
    reason="bubblewrap is not installed (make test installs it when run as root; CI must have it)",
)

PLAN = "backend_engineer"
API = Path(__file__).resolve().parents[1] / "src" / "interview_graph" / "api"


def coding_topic() -> tuple[str, Any]:
    """The first coding question of the plan (looked up, so plan edits do not break this)."""
    plan = resolve_plan(PLAN)
    topic = next(t for r in plan.rounds for t in r.topics if t.coding is not None)
    return topic.id, topic.coding


def code_input(code: str, action: str = "run", question_id: str | None = None) -> dict[str, Any]:
    qid = question_id if question_id is not None else coding_topic()[0]
    return {"kind": "code", "action": action, "code": code, "question_id": qid}


def slow_code(seconds: float, tag: str = "") -> str:
    """Code that takes ``seconds`` to load; ``tag`` makes runs distinct (the sandbox dedupes)."""
    function = coding_topic()[1].function_name
    return (
        f"import time\ntime.sleep({seconds})\n# {tag or uuid.uuid4().hex}\n"
        f"def {function}(*args):\n    return None\n"
    )


def service(**kw: Any) -> ActivityService:
    return ActivityService(PLAN, f"test-{uuid.uuid4().hex[:8]}", **kw)


class Calls:
    """An on_done callback that records when it was called."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.event = asyncio.Event()

    async def __call__(self) -> None:
        self.times.append(time.perf_counter())
        self.event.set()


@needs_bwrap
async def test_a_run_happens_in_the_background_and_the_graph_then_reuses_its_result(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    svc = service()
    done = Calls()
    code = slow_code(0.6)
    start = time.perf_counter()
    svc.schedule(code_input(code), done)
    # schedule did not wait for the run: it is still pending (no wall-clock bound; a loaded
    # CI machine can stall any call for longer than such a bound).
    assert svc.pending == 1 and not done.times
    await asyncio.wait_for(done.event.wait(), 20)
    assert done.times == [done.times[0]] and done.times[0] - start >= 0.6
    assert svc.pending == 0
    # What execute_code asks for next is served from the finished run, not run again.
    spec = coding_topic()[1]
    runs: list[Any] = []
    real_run = sandbox._run_tests

    async def counted(*args: Any, **kw: Any) -> sandbox.RunResult:
        runs.append(args)
        return await real_run(*args, **kw)

    monkeypatch.setattr(sandbox, "_run_tests", counted)
    result = await sandbox.run_tests(
        code,
        "python",
        spec.function_name,
        sandbox_tests(spec, "run"),
        interview_id=svc.interview_id,
    )
    assert not runs, "the finished run's result is reused, not run again"
    assert result.status == "ok" and result.duration_ms >= 600


@needs_bwrap
async def test_the_bounds_are_enforced() -> None:
    svc = service(concurrency=1, limit=2)
    first, second = Calls(), Calls()
    start = time.perf_counter()
    svc.schedule(code_input(slow_code(0.5)), first)
    svc.schedule(code_input(slow_code(0.5)), second)
    assert svc.pending == 2 and svc.full
    with pytest.raises(asyncio.QueueFull):
        svc.schedule(code_input(slow_code(0.5)), Calls())
    with pytest.raises(asyncio.QueueFull):
        svc.reserve()
    await asyncio.wait_for(asyncio.gather(first.event.wait(), second.event.wait()), 30)
    # One at a time: the second run started only after the first was over.
    assert max(first.times + second.times) - start >= 1.0
    assert svc.pending == 0 and not svc.full
    third = Calls()
    svc.schedule(code_input(slow_code(0)), third)
    await asyncio.wait_for(third.event.wait(), 20)


async def test_a_reserved_slot_counts_until_it_is_started_or_released() -> None:
    svc = service(limit=1)
    slot = svc.reserve()
    assert svc.pending == 1 and svc.full
    with pytest.raises(asyncio.QueueFull):
        svc.reserve()
    slot.release()
    slot.release()  # idempotent
    assert svc.pending == 0
    with pytest.raises(RuntimeError):
        slot.start(code_input("x = 1\n"), Calls())


@needs_bwrap
async def test_code_that_crashes_still_calls_back() -> None:
    svc = service()
    done = Calls()
    svc.schedule(code_input("import os\nos._exit(3)\n", action="submit"), done)
    await asyncio.wait_for(done.event.wait(), 20)
    assert svc.pending == 0


async def test_a_failing_run_still_calls_back(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(*args: Any, **kw: Any) -> sandbox.RunResult:
        raise RuntimeError("sandbox exploded")

    monkeypatch.setattr(sandbox, "run_tests", broken)
    svc = service()
    done = Calls()
    with caplog.at_level(logging.ERROR, "interview_graph.activity"):
        svc.schedule(code_input("x = 1\n"), done)
        await asyncio.wait_for(done.event.wait(), 5)
    assert "background run" in caplog.text and "sandbox exploded" in caplog.text
    # An unknown plan fails before the sandbox, and still calls back.
    lost = ActivityService("no_such_plan", "test-lost")
    done = Calls()
    lost.schedule(code_input("x = 1\n", question_id="q"), done)
    await asyncio.wait_for(done.event.wait(), 5)
    assert lost.pending == 0


async def test_no_coding_question_means_no_run_but_a_call_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ran: list[Any] = []

    async def record(*args: Any, **kw: Any) -> sandbox.RunResult:
        ran.append(args)
        return sandbox.RunResult(status="ok", message="ran")

    monkeypatch.setattr(sandbox, "run_tests", record)
    svc = service()
    done = Calls()
    svc.schedule(code_input("x = 1\n", question_id="not_a_question"), done)
    await asyncio.wait_for(done.event.wait(), 5)
    assert not ran


async def test_a_failing_callback_does_not_break_the_service(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def instant(*args: Any, **kw: Any) -> sandbox.RunResult:
        return sandbox.RunResult(status="ok", message="ran")

    called = asyncio.Event()

    async def boom() -> None:
        called.set()
        raise RuntimeError("the queue is gone")

    monkeypatch.setattr(sandbox, "run_tests", instant)
    svc = service(limit=1)
    svc.schedule(code_input("x = 1\n"), boom)
    await asyncio.wait_for(called.wait(), 5)
    await asyncio.sleep(0.05)  # the task finishes right after its callback raised
    assert svc.pending == 0
    done = Calls()
    svc.schedule(code_input("x = 2\n"), done)
    await asyncio.wait_for(done.event.wait(), 5)


async def test_aclose_cancels_outstanding_runs_without_calling_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A fake run that never ends: a cancelled real run's process would outlive the test.
    started, cancelled = asyncio.Event(), asyncio.Event()

    async def endless(*args: Any, **kw: Any) -> sandbox.RunResult:
        started.set()
        try:
            await asyncio.Event().wait()
        finally:
            cancelled.set()
        raise AssertionError("unreachable")

    monkeypatch.setattr(sandbox, "run_tests", endless)
    svc = service()
    done = Calls()
    svc.schedule(code_input("x = 1\n"), done)
    svc.schedule(code_input("x = 2\n"), done)  # waits for a slot in the service or sandbox
    await asyncio.wait_for(started.wait(), 5)
    await asyncio.wait_for(svc.aclose(), 5)
    assert cancelled.is_set() and svc.pending == 0 and not done.times
    with pytest.raises(RuntimeError):
        svc.schedule(code_input("x = 3\n"), done)


async def test_the_session_owns_its_activity_service_and_closes_it(
    database: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started, cancelled = asyncio.Event(), asyncio.Event()

    async def endless(*args: Any, **kw: Any) -> sandbox.RunResult:
        started.set()
        try:
            await asyncio.Event().wait()
        finally:
            cancelled.set()
        raise AssertionError("unreachable")

    monkeypatch.setattr(sandbox, "run_tests", endless)
    session = await InterviewSession.open(plan=PLAN, database=database, interview_id="owned")
    assert session.activity.interview_id == "owned" and session.activity.plan == PLAN
    session.activity.schedule(code_input("x = 1\n"), Calls())
    # Wait until the run is under way (a fixed sleep raced it on a loaded machine: a run
    # cancelled before it started never reaches its finally).
    await asyncio.wait_for(started.wait(), 30)
    await asyncio.wait_for(session.close(), 5)
    assert cancelled.is_set() and session.activity.pending == 0


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports, with relative imports resolved (names included)."""
    package = ["interview_graph", *path.relative_to(API.parent).parent.parts]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            found.add(module)
            # "from ..activity import sandbox" imports the module interview_graph.activity.sandbox.
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def test_the_transport_does_not_import_the_sandbox() -> None:
    modules = sorted(API.rglob("*.py"))
    assert modules and "interview_graph.session" in _imports(API / "runner.py")  # resolver works
    for path in modules:
        imported = _imports(path)
        for forbidden in ("interview_graph.activity.sandbox", "interview_graph.activity.nodes"):
            assert not any(m == forbidden or m.startswith(forbidden + ".") for m in imported), (
                f"{path.name} imports {forbidden}; hand code to session.activity instead"
            )
