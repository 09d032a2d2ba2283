"""Wiring of the activity-analysis subgraph."""

from __future__ import annotations

from langgraph.graph import END, START, StateGraph

from ..context import InterviewContext
from .nodes import brief_panel, compare_to_question, execute_code, interpret_code
from .state import ActivityInput, ActivityOutput, ActivityState


def build_activity_graph() -> StateGraph[
    ActivityState, InterviewContext, ActivityInput, ActivityOutput
]:
    """Return the uncompiled activity subgraph: interpret → execute → compare → brief."""
    builder = StateGraph(
        ActivityState,
        context_schema=InterviewContext,
        input_schema=ActivityInput,
        output_schema=ActivityOutput,
    )
    builder.add_node("interpret_code", interpret_code)
    builder.add_node("execute_code", execute_code)
    builder.add_node("compare_to_question", compare_to_question)
    builder.add_node("brief_panel", brief_panel)
    builder.add_edge(START, "interpret_code")
    builder.add_edge("interpret_code", "execute_code")
    builder.add_edge("execute_code", "compare_to_question")
    builder.add_edge("compare_to_question", "brief_panel")
    builder.add_edge("brief_panel", END)
    return builder
