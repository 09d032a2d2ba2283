"""interview_graph: multi-agent job-interview simulations on LangGraph."""

__version__ = "0.1.0"
