"""Graph replay: recorded interviews (inputs + decisions) replay to the identical transcript
and report, with every recorded decision consumed in order."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from interview_graph.engine.recording import ReplayMismatch
from interview_graph.replay import replay

RECORDINGS = sorted((Path(__file__).parent / "recordings").glob("*.json"))


@pytest.mark.parametrize("path", RECORDINGS, ids=[p.stem for p in RECORDINGS])
async def test_recorded_interview_replays_identically(path: Path, tmp_path: Path) -> None:
    recording = json.loads(path.read_text())  # noqa: ASYNC240  # small local fixture
    transcript, report, exhausted = await replay(recording, tmp_path / "replay.sqlite")
    assert transcript == recording["transcript"]
    assert report == recording["report"]
    assert exhausted, "every recorded decision was asked for"


async def test_replay_detects_a_graph_that_asks_for_different_decisions(tmp_path: Path) -> None:
    recording = json.loads(RECORDINGS[0].read_text())
    decisions = recording["decisions"]
    # Swap two decisions of different kinds further apart than the window that tolerates
    # side-by-side nodes: the graph must notice, not silently diverge.
    i, j = next(
        (i, i + 6)
        for i in range(len(decisions) - 6)
        if decisions[i]["method"] not in {d["method"] for d in decisions[i + 1 : i + 7]}
    )
    decisions[i], decisions[j] = decisions[j], decisions[i]
    with pytest.raises(ReplayMismatch):
        await replay(recording, tmp_path / "replay.sqlite")


def test_recordings_exist_for_more_than_one_plan() -> None:
    plans = {json.loads(p.read_text())["plan"] for p in RECORDINGS}
    assert len(plans) >= 2
