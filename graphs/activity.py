"""LangGraph Studio entry: the activity-analysis subgraph."""

from interview_graph.activity.graph import build_activity_graph

graph = build_activity_graph().compile()
