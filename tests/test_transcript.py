"""The event log: append-only, gapless seq, idempotent by key."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from interview_graph.store import EventLog


async def test_append_is_idempotent_and_seq_is_per_interview(tmp_path: Path) -> None:
    log = await EventLog(tmp_path / "log.sqlite").open()
    a = await log.append("i1", "k1", "message", visibility="public", text="hello")
    b = await log.append("i1", "k2", "advice", visibility="private", text="psst")
    again = await log.append("i1", "k1", "message", visibility="public", text="changed?")
    other = await log.append("i2", "k1", "message", visibility="public", text="other interview")
    assert (a.seq, b.seq, again.seq, other.seq) == (1, 2, 1, 1)
    assert again.text == "hello" or again.seq == a.seq
    assert [e.text for e in await log.events("i1")] == ["hello", "psst"]
    assert [e.key for e in await log.events("i1", visibility="public")] == ["k1"]
    assert [e.seq for e in await log.events("i1", after=1)] == [2]
    await log.close()
    reopened = await EventLog(tmp_path / "log.sqlite").open()
    assert len(await reopened.events("i1")) == 2
    await reopened.close()


async def test_a_read_left_open_blocks_writes_so_reads_never_leave_one_open(
    tmp_path: Path,
) -> None:
    """The interview-end stall the concurrency benchmark found, and the rule that prevents it.

    A SELECT stepped but not finished pins its connection's read snapshot; once another
    connection (the checkpointer's) commits, ``BEGIN IMMEDIATE`` on the pinned connection
    fails at once with SQLITE_BUSY_SNAPSHOT, whatever the busy timeout, until the read ends.
    So the event log reads only with ``execute_fetchall`` (one call, run to completion).
    """
    path = tmp_path / "log.sqlite"
    log = await EventLog(path).open()
    await log.append("i1", "k1", "message", visibility="public", text="hello")
    other = sqlite3.connect(path)

    db = log._db()
    lingering = await db.execute("SELECT * FROM events")  # stepped once, left open
    other.execute("CREATE TABLE IF NOT EXISTS t (x)")
    other.execute("INSERT INTO t VALUES (1)")
    other.commit()
    with pytest.raises(sqlite3.OperationalError) as info:
        await db.execute("BEGIN IMMEDIATE")
    assert info.value.sqlite_errorname == "SQLITE_BUSY_SNAPSHOT"
    await lingering.close()

    # The event log itself: every SELECT it runs goes through execute_fetchall.
    executed: list[str] = []
    execute = db.execute

    def spy(sql: str, *args: Any) -> Any:
        executed.append(sql)
        return execute(sql, *args)

    db.execute = spy  # type: ignore[method-assign]
    await log.append("i1", "k2", "message", visibility="public", text="again")
    await log.record_input("i1", "k3", "message", text="answer", data={}, payload={"x": 1})
    await log.mark_consumed("i1", 3)
    await log.create_interview("i1", "u1", "plan")
    assert await log.interview("i1") == ("u1", "plan")
    assert await log.unconsumed_inputs("i1") == []
    assert len(await log.events("i1")) == 3
    assert await log.finished_before(0) == []
    await log.ping()
    assert executed and not [s for s in executed if s.lstrip().upper().startswith("SELECT")]
    other.execute("INSERT INTO t VALUES (2)")
    other.commit()
    await log.append("i1", "k4", "message", visibility="public", text="still writable")
    other.close()
    await log.close()
