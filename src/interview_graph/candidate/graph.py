"""Wiring of the candidate agent used for self-play, demos, tests and benchmarks."""

from __future__ import annotations

from langgraph.graph import END, START, StateGraph

from .nodes import act, plan_reply, read_panel
from .state import CandidateInput, CandidateOutput, CandidateState


def build_candidate_graph() -> StateGraph[CandidateState, None, CandidateInput, CandidateOutput]:
    """Return the uncompiled candidate graph: read_panel → plan_reply → act."""
    builder = StateGraph(CandidateState, input_schema=CandidateInput, output_schema=CandidateOutput)
    builder.add_node("read_panel", read_panel)
    builder.add_node("plan_reply", plan_reply)
    builder.add_node("act", act)
    builder.add_edge(START, "read_panel")
    builder.add_edge("read_panel", "plan_reply")
    builder.add_edge("plan_reply", "act")
    builder.add_edge("act", END)
    return builder
