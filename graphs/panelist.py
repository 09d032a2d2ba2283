"""LangGraph Studio entry: the panelist subgraph, to debug one panelist turn in isolation."""

from interview_graph.panelist.graph import build_panelist_graph

graph = build_panelist_graph().compile()
