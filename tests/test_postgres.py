"""PostgreSQL store: the event-log contract on both stores, sessions on PostgreSQL, two server
processes sharing one database (resume elsewhere, SIGKILL and take over), and pruning."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest

from interview_graph.api.runner import Hub, Store
from interview_graph.api.userlog import UserLogs
from interview_graph.selfplay import run_selfplay
from interview_graph.settings import Settings
from interview_graph.store import (
    REVIEW_KIND,
    EventStore,
    InterviewQuery,
    Leases,
    event_log_for,
    open_store,
    prune,
)

from .pg_util import pg_schema
from .server_util import Client, Server, connect


@pytest.fixture
def dsn() -> Iterator[str]:
    with pg_schema() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield str(tmp_path / "log.sqlite")
    else:
        with pg_schema() as url:
            yield url


@pytest.fixture
async def log(database: str) -> AsyncIterator[EventStore]:
    opened = await event_log_for(database).open()
    yield opened
    await opened.close()


# --- the event log contract, on SQLite and PostgreSQL ------------------------------------


async def test_append_is_idempotent_and_seq_is_per_interview(database: str) -> None:
    log = await event_log_for(database).open()
    a = await log.append("i1", "k1", "message", visibility="public", text="hello")
    b = await log.append("i1", "k2", "advice", visibility="private", text="psst", data={"x": 1})
    again = await log.append("i1", "k1", "message", visibility="public", text="changed?")
    other = await log.append("i2", "k1", "message", visibility="public", text="other interview")
    assert (a.seq, b.seq, again.seq, other.seq) == (1, 2, 1, 1)
    assert [e.text for e in await log.events("i1")] == ["hello", "psst"]
    assert [e.key for e in await log.events("i1", visibility="public")] == ["k1"]
    assert [e.seq for e in await log.events("i1", after=1)] == [2]
    assert (await log.events("i1", kind="advice"))[0].data == {"x": 1}
    await log.close()
    reopened = await event_log_for(database).open()
    assert len(await reopened.events("i1")) == 2
    await reopened.close()


async def test_inputs_are_recorded_with_their_event_and_consumed_once(log: EventStore) -> None:
    await log.append("i1", "hello", "message", visibility="public")
    first = await log.record_input(
        "i1", "client:a", "candidate_message", text="one", data={"k": 1}, payload={"n": 1}
    )
    second = await log.record_input(
        "i1", "client:b", "candidate_message", text="two", data={}, payload={"n": 2}
    )
    assert (first.seq, second.seq) == (2, 3)
    assert first.visibility == "public" and first.speaker == "candidate"
    pending = await log.unconsumed_inputs("i1")
    assert pending == [(2, "client:a", {"n": 1}), (3, "client:b", {"n": 2})]
    await log.mark_consumed("i1", 2)
    assert await log.unconsumed_inputs("i1") == [(3, "client:b", {"n": 2})]
    # The graph logs the same input under its receipt key later: a no-op.
    again = await log.append("i1", "client:b", "candidate_message", visibility="public")
    assert again.seq == 3 and len(await log.events("i1")) == 3
    assert await log.unconsumed_inputs("other") == []


async def test_interviews_and_finished_before(log: EventStore) -> None:
    await log.create_interview("i1", "alice", "backend_engineer")
    assert await log.interview("i1") == ("alice", "backend_engineer")
    assert await log.interview("nope") is None
    await log.append("i1", "end", "interview_ended", visibility="public")
    ended = (await log.events("i1"))[0].ts
    assert await log.finished_before(ended + 1) == ["i1"]
    assert await log.finished_before(ended - 1) == []
    await log.ping()


async def test_list_interviews_filters_pages_and_summarises(log: EventStore) -> None:
    for i, (user, plan) in enumerate([("ann", "a"), ("ben", "b"), ("ann", "b"), ("cat", "a")]):
        await log.create_interview(f"i{i}", user, plan)
        await log.append(f"i{i}", "start", "interview_started", visibility="public")
        await asyncio.sleep(0.01)  # distinct created times
    report = {"overall": 3.5, "recommendation": {"decision": "hire", "rationale": "ok"}}
    await log.append("i1", "report", "report", visibility="private", data=report)
    await log.append("i1", "end", "interview_ended", visibility="public")
    await log.append("i2", "report", "report", visibility="private", data={"overall": "n/a"})
    await log.append("i2", "end", "interview_ended", visibility="public")
    await log.append("i2", "review:1", REVIEW_KIND, visibility="private", data={"after": 4})

    async def ids(**kw: Any) -> list[str]:
        return [s.interview_id for s in (await log.list_interviews(InterviewQuery(**kw))).items]

    assert await ids() == ["i3", "i2", "i1", "i0"]  # newest first
    assert await ids(plan="a") == ["i3", "i0"]
    assert await ids(user_id="ann") == ["i2", "i0"]
    assert await ids(status="finished") == ["i2", "i1"]
    assert await ids(status="running", plan="a") == ["i3", "i0"]
    page = await log.list_interviews(InterviewQuery(limit=2, offset=1))
    assert [s.interview_id for s in page.items] == ["i2", "i1"] and page.total == 4
    everything = (await log.list_interviews(InterviewQuery())).items
    created = {s.interview_id: s.created for s in everything}
    middle = (created["i1"] + created["i2"]) / 2
    assert await ids(created_from=middle) == ["i3", "i2"]
    assert await ids(created_to=middle) == ["i1", "i0"]
    one = await log.interview_summary("i1")
    assert one is not None
    assert (one.user_id, one.plan, one.status, one.has_report) == ("ben", "b", "finished", True)
    assert (one.overall, one.recommendation, one.reviews, one.last_seq) == (3.5, "hire", 0, 3)
    assert one.ended is not None and one.ended >= one.created
    two = await log.interview_summary("i2")
    assert two is not None and two.overall is None and two.recommendation is None
    assert two.reviews == 1
    running = await log.interview_summary("i0")
    assert running is not None and running.status == "running" and running.ended is None
    assert await log.interview_summary("nope") is None


async def test_concurrent_appends_from_two_logs_get_gapless_seqs(database: str) -> None:
    """Two independent connections (as two processes would have) append to one interview."""
    a = await event_log_for(database).open()
    b = await event_log_for(database).open()
    try:
        await asyncio.gather(
            *(
                (a if i % 2 else b).append("i1", f"k{i}", "message", visibility="public")
                for i in range(40)
            ),
            *(a.append("i1", f"k{i}", "message", visibility="public") for i in range(10)),
        )
        seqs = [e.seq for e in await a.events("i1")]
        assert seqs == list(range(1, 41))
        assert len({e.key for e in await b.events("i1")}) == 40
    finally:
        await a.close()
        await b.close()


# --- sessions and leases on PostgreSQL ----------------------------------------------------


async def test_selfplay_on_postgres_stops_and_resumes_to_the_report(dsn: str) -> None:
    first = await run_selfplay(plan="data_scientist", persona="average", database=dsn, stop_after=4)
    assert first.report is None
    rest = await run_selfplay(
        plan="data_scientist", persona="average", database=dsn, interview_id=first.interview_id
    )
    assert rest.report is not None
    async with AsyncExitStack() as stack:
        log, _ = await open_store(stack, dsn)
        events = await log.events(first.interview_id)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert events[-1].kind == "interview_ended"


async def test_a_lease_is_exclusive_and_dies_with_its_session(dsn: str) -> None:
    here, there = Leases(dsn), Leases(dsn)  # as two processes would have
    # Advisory locks are database-wide, not per schema: ids unique to this run.
    i1, i2 = f"i1-{uuid.uuid4().hex}", f"i2-{uuid.uuid4().hex}"
    try:
        held = await here.try_lease(i1)
        assert held is not None and await held.alive()
        assert await there.try_lease(i1) is None
        assert await here.try_lease(i1) is None, "not re-entrant within a process"
        other = await here.try_lease(i2)
        assert other is not None
        await held.release()
        moved = await there.try_lease(i1)
        assert moved is not None and await here.try_lease(i1) is None
        await moved.release()
        # The process's session dies (as with SIGKILL): every lock it held goes with it.
        await here.close()
        assert not await other.alive()
        taken = None
        for _ in range(100):  # the server releases a closed session's locks as its backend exits
            taken = await there.try_lease(i2)
            if taken is not None:
                break
            await asyncio.sleep(0.05)
        assert taken is not None
        await other.release()  # a stale lease's release is harmless
        assert await taken.alive()
        assert await here.try_lease(i2) is None
    finally:
        await here.close()
        await there.close()


# --- retention -----------------------------------------------------------------------------


async def test_prune_deletes_finished_checkpoints_and_keeps_the_transcript(
    database: str, tmp_path: Path
) -> None:
    done = await run_selfplay(plan="data_scientist", persona="weak", database=database)
    open_ = await run_selfplay(
        plan="data_scientist", persona="weak", database=database, stop_after=2
    )
    assert done.report is not None and open_.report is None
    # Finished "more than 1 day ago": nothing yet.
    assert await prune(database, older_than_days=1, dry_run=False) == []
    assert await prune(database, older_than_days=-1, dry_run=True) == [done.interview_id]
    assert await prune(database, older_than_days=-1, dry_run=False) == [done.interview_id]
    assert await prune(database, older_than_days=-1, dry_run=False) == []  # already pruned
    async with AsyncExitStack() as stack:
        log, saver = await open_store(stack, database)

        def config(i: str) -> Any:
            return {"configurable": {"thread_id": i, "checkpoint_ns": ""}}

        assert await saver.aget_tuple(config(done.interview_id)) is None
        assert await saver.aget_tuple(config(open_.interview_id)) is not None
        kinds = [e.kind for e in await log.events(done.interview_id)]
        assert "report" in kinds and "feedback" in kinds and kinds[-1] == "interview_ended"
        count = len(kinds)
        await log.create_interview(done.interview_id, "gail", "data_scientist")
    # A resume of the pruned interview finds it finished and never restarts its graph.
    store = Store(database)
    await store.open()
    hub = Hub(Settings(), store, UserLogs(tmp_path / "logs"))
    try:
        runner = await hub.get("gail", done.interview_id)
        await asyncio.wait_for(runner.task, 30)
        assert runner.finished
        assert len(await store.log.events(done.interview_id)) == count
    finally:
        await hub.close()
        await store.close()


def test_prune_cli(tmp_path: Path) -> None:
    import subprocess
    import sys

    db = tmp_path / "data" / "interviews.sqlite"
    done = asyncio.run(run_selfplay(plan="data_scientist", persona="weak", database=db))
    env = {"INTERVIEW_DATA_DIR": str(tmp_path / "data"), "PATH": "/usr/bin:/bin"}
    cmd = [sys.executable, "-m", "interview_graph.cli", "prune", "--finished-before", "-1"]
    dry = subprocess.run([*cmd, "--dry-run"], capture_output=True, text=True, env=env)
    assert dry.returncode == 0, dry.stderr
    assert done.interview_id in dry.stdout and "would prune 1" in dry.stdout
    real = subprocess.run(cmd, capture_output=True, text=True, env=env)
    assert real.returncode == 0 and "pruned 1" in real.stdout
    size = db.stat().st_size
    # Pruning leaves SQLite's freed pages in the file; --vacuum gives them back.
    again = subprocess.run([*cmd, "--vacuum"], capture_output=True, text=True, env=env)
    assert again.returncode == 0 and "pruned 0" in again.stdout, again.stderr
    assert db.stat().st_size < size


# --- two server processes on one PostgreSQL ---------------------------------------------


def _env(dsn: str) -> dict[str, str]:
    return {
        "INTERVIEW_DATABASE_URL": dsn,
        "INTERVIEW_RUNNER_IDLE_SECONDS": "1",
        "INTERVIEW_LEASE_WAIT_SECONDS": "20",
    }


async def _login(ws: Any, user: str) -> Client:
    client = Client(ws)
    await client.send({"type": "login", "user": user})
    await client.until(lambda e: e["type"] == "session")
    return client


def _persisted(events: list[dict[str, Any]]) -> list[tuple[int, str, str]]:
    from interview_graph.api import protocol

    return [
        (e["seq"], e["type"], e.get("text", "")) for e in events if e["type"] in protocol.PERSISTED
    ]


@pytest.mark.slow
async def test_disconnect_from_one_server_and_resume_on_another(dsn: str, tmp_path: Path) -> None:
    a = Server(tmp_path / "a", _env(dsn))
    b = Server(tmp_path / "b", _env(dsn))
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a.start()
    b.start()
    try:
        async with connect(a) as ws:
            client = await _login(ws, "dana")
            await client.send({"type": "start", "plan": "data_scientist"})
            interview = (await client.until(lambda e: e["type"] == "session"))[-1]["interview_id"]
            await client.question()
            await client.send({"type": "message", "text": "Bias is error from wrong assumptions."})
            ack = (await client.until(lambda e: e["type"] == "ack"))[-1]
            reply = await client.question()  # A answered
            seen = _persisted(client.events)
        async with connect(b) as ws2:
            again = await _login(ws2, "dana")
            await again.send({"type": "resume", "interview_id": interview, "last_seq": 0})
            # B waits for A's runner to go idle and release the lock, then replays everything.
            await again.until(lambda e: e["type"] == "message" and e["seq"] == reply["seq"], 30)
            assert _persisted(again.events) == seen, "nothing lost, nothing duplicated"
            await again.send({"type": "message", "text": "Regularisation shrinks the weights."})
            ack2 = (await again.until(lambda e: e["type"] == "ack"))[-1]
            assert ack2["input_seq"] > reply["seq"] > ack["input_seq"]
            follow = await again.question()  # B drives the interview onward
            assert follow["seq"] > ack2["input_seq"]
        # And back on A: the whole transcript, gapless in order, including what B added.
        async with connect(a) as ws3:
            full = await _login(ws3, "dana")
            await full.send({"type": "resume", "interview_id": interview, "last_seq": 0})
            await full.until(lambda e: e["type"] == "message" and e["seq"] == follow["seq"], 30)
            seqs = [s for s, _, _ in _persisted(full.events)]
            assert seqs == sorted(set(seqs))
    finally:
        a.stop()
        b.stop()


@pytest.mark.slow
async def test_sigkill_one_server_and_continue_on_another(dsn: str, tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = Server(tmp_path / "a", _env(dsn)).start()
    b = Server(tmp_path / "b", _env(dsn)).start()
    try:
        ws = await connect(a).__aenter__()
        client = await _login(ws, "erin")
        await client.send({"type": "start", "plan": "data_scientist"})
        interview = (await client.until(lambda e: e["type"] == "session"))[-1]["interview_id"]
        await client.question()
        texts = ["Bias comes from an overly simple model.", "Variance comes from overfitting."]
        acked = []
        for text in texts:
            await client.send({"type": "message", "text": text})
            acked.append((await client.until(lambda e: e["type"] == "ack"))[-1]["seq"])
        a.kill()  # right after the acks: the second input is acknowledged but not yet consumed
        async with connect(b) as ws2:
            again = await _login(ws2, "erin")
            await again.send({"type": "resume", "interview_id": interview, "last_seq": 0})
            events = await again.until(
                lambda e: e["type"] == "message" and e["seq"] > acked[-1] and e.get("question_id"),
                30,
            )
            inputs = [e for e in events if e["type"] == "candidate_input"]
            assert [e["text"] for e in inputs][-2:] == texts
            assert [e["seq"] for e in inputs][-2:] == acked
            await again.send({"type": "message", "text": "Cross-validation helps pick lambda."})
            await again.until(lambda e: e["type"] == "ack")
            await again.question()
            seqs = [s for s, _, _ in _persisted(again.events)]
            assert seqs == sorted(set(seqs))
    finally:
        a.stop()
        b.stop()


@pytest.mark.slow
async def test_resume_while_another_server_drives_answers_interview_busy(
    dsn: str, tmp_path: Path
) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    env = {**_env(dsn), "INTERVIEW_LEASE_WAIT_SECONDS": "1"}
    a = Server(tmp_path / "a", env).start()
    b = Server(tmp_path / "b", env).start()
    try:
        async with connect(a) as ws:
            client = await _login(ws, "finn")
            await client.send({"type": "start", "plan": "data_scientist"})
            interview = (await client.until(lambda e: e["type"] == "session"))[-1]["interview_id"]
            await client.question()
            async with connect(b) as ws2:
                other = await _login(ws2, "finn")
                await other.send({"type": "resume", "interview_id": interview, "last_seq": 0})
                error = (await other.until(lambda e: e["type"] == "error"))[-1]
                assert error["code"] == "interview_busy"
            # A keeps driving it meanwhile.
            await client.send({"type": "message", "text": "Bias is error from assumptions."})
            await client.until(lambda e: e["type"] == "ack")
            await client.question()
    finally:
        a.stop()
        b.stop()


class _Attached:
    """Stands in for a WebSocket connection attached to a runner."""

    def __init__(self) -> None:
        self.last_seq = 0
        self.offered: list[dict[str, Any]] = []
        self.closed: int | None = None

    def sync(self, upto: int | None = None) -> None:
        pass

    def offer(self, event: dict[str, Any]) -> None:
        self.offered.append(event)

    def close_later(self, code: int, reason: str) -> None:
        self.closed = code


async def test_a_runner_whose_lock_session_dies_stops_and_another_process_takes_over(
    dsn: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import psycopg

    settings = Settings(database_url=dsn, runner_idle_seconds=1, lease_wait_seconds=0.5)
    a_store, b_store = Store(dsn), Store(dsn)  # two processes' stores
    await a_store.open()
    await b_store.open()
    a = Hub(settings, a_store, UserLogs(tmp_path / "a"))
    b = Hub(settings, b_store, UserLogs(tmp_path / "b"))
    try:
        runner = await a.start("hal", "data_scientist")
        attached = _Attached()
        await runner.attach(attached)  # attached: it never retires for being idle
        for _ in range(400):
            if await runner.session.pending():
                break
            await asyncio.sleep(0.05)
        with pytest.raises(LookupError, match="interview_busy"):
            await b.get("hal", runner.interview_id)
        # A's lock session dies (a network partition, a PostgreSQL restart): A stops driving.
        pid = a_store.leases._conn.info.backend_pid
        with psycopg.connect(dsn, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        await asyncio.wait_for(runner.task, 10)
        # The lock goes when the backend has exited, a moment later: B retries meanwhile.
        b.settings = Settings(database_url=dsn, runner_idle_seconds=1, lease_wait_seconds=10)
        assert "lost its lock" in caplog.text and "runner failed" not in caplog.text
        assert runner.interview_id not in a.runners, "a resume on A would start a new runner"
        assert attached.closed == 1012, "the client is told to reconnect and resume"
        taken = await b.get("hal", runner.interview_id)
        assert taken is not runner and await taken.lease.alive()
        ack = await taken.submit({"kind": "message", "text": "Bias is systematic error."}, "c1")
        for _ in range(400):
            if not await b_store.log.unconsumed_inputs(runner.interview_id):
                break
            await asyncio.sleep(0.05)
        assert await b_store.log.unconsumed_inputs(runner.interview_id) == []
        events = await b_store.log.events(runner.interview_id, after=ack.seq, kind="message")
        assert events, "B answered the input"
    finally:
        await a.close()
        await b.close()
        await a_store.close()
        await b_store.close()
