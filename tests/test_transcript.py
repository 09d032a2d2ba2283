"""The event log: append-only, gapless seq, idempotent by key."""

from __future__ import annotations

from pathlib import Path

from interview_graph.transcript import EventLog


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
