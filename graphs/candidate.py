"""LangGraph Studio entry: the candidate agent."""

from interview_graph.candidate.graph import build_candidate_graph

graph = build_candidate_graph().compile()
