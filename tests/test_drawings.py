"""Mermaid drawings of every graph are snapshot-tested (UPDATE_SNAPSHOTS=1 rewrites them)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from interview_graph.activity.graph import build_activity_graph
from interview_graph.candidate.graph import build_candidate_graph
from interview_graph.master.graph import build_interview_graph
from interview_graph.panelist.graph import build_panelist_graph

SNAPSHOTS = Path(__file__).parent / "snapshots"
BUILDERS = {
    "interview": build_interview_graph,
    "panelist": build_panelist_graph,
    "activity": build_activity_graph,
    "candidate": build_candidate_graph,
}


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_mermaid_drawing_matches_snapshot(name: str) -> None:
    drawing = BUILDERS[name]().compile().get_graph(xray=True).draw_mermaid()
    path = SNAPSHOTS / f"{name}.mmd"
    if os.environ.get("UPDATE_SNAPSHOTS") or not path.exists():
        path.write_text(drawing)
    assert drawing == path.read_text()


def test_interview_drawing_shows_master_and_both_subgraphs() -> None:
    drawing = (SNAPSHOTS / "interview.mmd").read_text()
    for node in (
        "check_rules",
        "pick_speaker",
        "advise",
        "complete_topic",
        "close_round",
        "finish",
        "await_candidate",
    ):
        assert f"{node}({node})" in drawing
    for sub in (
        "reason",
        "consult_knowledge",
        "respond",
        "reflect",
        "evaluate",
        "interpret_code",
        "compare_to_question",
        "brief_panel",
    ):
        assert f"({sub})" in drawing
