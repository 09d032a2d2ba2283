"""Wiring of the panelist subgraph (one structure; the persona and memory come in as input)."""

from __future__ import annotations

from langgraph.graph import END, START, StateGraph

from ..context import InterviewContext
from .nodes import consult_knowledge, evaluate, reason, reflect, respond
from .state import PanelistInput, PanelistOutput, PanelistState


def build_panelist_graph() -> StateGraph[
    PanelistState, InterviewContext, PanelistInput, PanelistOutput
]:
    """Return the uncompiled subgraph: reason → knowledge → respond → (reflect ∥ evaluate)."""
    builder = StateGraph(
        PanelistState,
        context_schema=InterviewContext,
        input_schema=PanelistInput,
        output_schema=PanelistOutput,
    )
    builder.add_node("reason", reason)
    builder.add_node("consult_knowledge", consult_knowledge)
    builder.add_node("respond", respond)
    builder.add_node("reflect", reflect)
    builder.add_node("evaluate", evaluate)
    builder.add_edge(START, "reason")
    builder.add_edge("reason", "consult_knowledge")
    builder.add_edge("consult_knowledge", "respond")
    # After the reply, reflection and evaluation are independent: run them side by side so
    # the next candidate input finds the panel ready sooner (they are LLM calls in LLM mode).
    builder.add_edge("respond", "reflect")
    builder.add_edge("respond", "evaluate")
    builder.add_edge("reflect", END)
    builder.add_edge("evaluate", END)
    return builder
