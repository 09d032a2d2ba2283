"""LangGraph Studio entry: the interview graph (Studio supplies its own checkpointer)."""

from interview_graph.master.graph import build_interview_graph

graph = build_interview_graph().compile()
