"""Persistence: a stopped simulation resumes by id, and stored bytes per turn stay flat."""

from __future__ import annotations

import copy
import sqlite3
from pathlib import Path

import yaml

from interview_graph.selfplay import run_selfplay
from interview_graph.session import InterviewSession

from .conftest import ROOT


async def test_stopped_interview_resumes_to_the_same_report(tmp_path: Path) -> None:
    whole = await run_selfplay(
        plan="backend_engineer", persona="average", database=tmp_path / "a.sqlite"
    )
    first = await run_selfplay(
        plan="backend_engineer", persona="average", database=tmp_path / "b.sqlite", stop_after=9
    )
    assert first.report is None and first.inputs_sent >= 9
    rest = await run_selfplay(
        plan="backend_engineer",
        persona="average",
        database=tmp_path / "b.sqlite",
        interview_id=first.interview_id,
    )
    assert rest.report == whole.report
    assert first.inputs + rest.inputs == whole.inputs


async def test_transcript_survives_reopening_and_seq_is_gapless(tmp_path: Path) -> None:
    db = tmp_path / "c.sqlite"
    result = await run_selfplay(plan="frontend_engineer", persona="weak", database=db)
    async with await InterviewSession.open(
        plan="frontend_engineer", database=db, interview_id=result.interview_id
    ) as session:
        events = await session.transcript()
        assert await session.finished()
        assert await session.pending() is None
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert events[0].kind == "interview_started" and events[-1].kind == "interview_ended"


def _long_plan(tmp_path: Path, topics: int) -> Path:
    """The backend plan's first round with its topics repeated under new ids (a long round)."""
    data = yaml.safe_load((ROOT / "rounds" / "backend_engineer.yaml").read_text())
    round_ = data["rounds"][1]  # system design: no code inputs, pure conversation
    base = round_["topics"]
    round_["topics"] = []
    for i in range(topics):
        t = copy.deepcopy(base[i % len(base)])
        t["id"] = f"{t['id']}_{i}"
        t["question"] = f"({i + 1}) {t['question']}"
        t["follow_ups"] = [{**f, "question": f"({i + 1}) {f['question']}"} for f in t["follow_ups"]]
        round_["topics"].append(t)
    round_["rules"]["max_turns"] = 10_000
    data["rounds"] = [round_]
    data["id"] = "long_plan"
    path = tmp_path / "long_plan.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _bytes_per_step(db: Path, thread_id: str) -> list[int]:
    """Bytes each checkpoint of the interview's main graph stores (state + metadata)."""
    con = sqlite3.connect(db)
    rows = con.execute(
        "SELECT length(checkpoint) + length(metadata) FROM checkpoints "
        "WHERE checkpoint_ns = '' AND thread_id = ? ORDER BY rowid",
        (thread_id,),
    ).fetchall()
    con.close()
    return [int(r[0]) for r in rows]


async def test_checkpoint_bytes_per_step_stay_flat_as_the_interview_grows(tmp_path: Path) -> None:
    plan = _long_plan(tmp_path, topics=60)
    db = tmp_path / "long.sqlite"
    result = await run_selfplay(plan=str(plan), persona="average", database=db)
    assert result.report is not None and result.inputs_sent > 100
    sizes = _bytes_per_step(db, result.interview_id)
    # durability="exit": one checkpoint per resume (the interrupt after each input), not one
    # per graph step.
    assert result.inputs_sent <= len(sizes) <= result.inputs_sent + 3
    # Caps fill within the first topics; after that, a checkpoint stores the same amount
    # however long the interview has run (the transcript itself is in the event log).
    tenth = len(sizes) // 10
    early = sum(sizes[tenth : 2 * tenth]) / tenth
    late = sum(sizes[-2 * tenth : -tenth]) / tenth
    assert late <= early * 1.5, (early, late)
