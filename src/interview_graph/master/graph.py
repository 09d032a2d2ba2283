"""Wiring of the interview graph: the master supervises panelist and activity subgraphs."""

from __future__ import annotations

from langgraph.graph import START, StateGraph

from ..activity.graph import build_activity_graph
from ..context import InterviewContext
from ..panelist.graph import build_panelist_graph
from .nodes import (
    advise,
    await_candidate,
    check_rules,
    close_round,
    finish,
    make_activity_node,
    make_panel_node,
    open_round,
    pick_speaker,
)
from .state import InterviewState
from .topic import complete_topic
from .understand import understand


def build_interview_graph() -> StateGraph[
    InterviewState, InterviewContext, InterviewState, InterviewState
]:
    """Return the uncompiled interview graph (compile it with or without a checkpointer)."""
    builder = StateGraph(InterviewState, context_schema=InterviewContext)
    builder.add_node("open_round", open_round)
    builder.add_node("pick_speaker", pick_speaker)
    builder.add_node("advise", advise)
    builder.add_node("panelist", make_panel_node(build_panelist_graph().compile()))
    builder.add_node("await_candidate", await_candidate)
    builder.add_node("check_rules", check_rules)
    builder.add_node("analyse_activity", make_activity_node(build_activity_graph().compile()))
    builder.add_node("understand", understand)
    builder.add_node("complete_topic", complete_topic)
    builder.add_node("close_round", close_round)
    builder.add_node("finish", finish)
    builder.add_edge(START, "open_round")
    builder.add_edge("advise", "panelist")
    builder.add_edge("panelist", "pick_speaker")
    builder.add_edge("analyse_activity", "pick_speaker")
    builder.add_edge("complete_topic", "pick_speaker")
    builder.set_finish_point("finish")
    return builder
