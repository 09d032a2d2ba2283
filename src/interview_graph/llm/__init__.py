"""LLM mode: langchain-openai models behind the engine seam, prompts, usage accounting."""
