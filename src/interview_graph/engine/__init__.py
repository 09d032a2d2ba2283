"""Decision engines behind the single seam the graphs call (offline and LLM)."""
