"""ASGI entry point: ``uvicorn server:app --host 0.0.0.0 --port 8000``."""

from interview_graph.api.app import create_app

app = create_app()
