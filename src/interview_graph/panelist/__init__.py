"""The panelist agent: a subgraph with its own personality and memory."""
