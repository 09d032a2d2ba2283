"""The FastAPI application: the interview protocol, the reviewers' API and both web pages.

``/ws`` (the interview protocol), ``/api`` (the reviewers' REST API), ``/healthz``, ``/readyz``,
``/`` (the candidate's web client) and ``/review`` (the reviewer page).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

from fastapi import FastAPI, WebSocket
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from ..settings import Settings, get_settings
from . import protocol as p
from .connection import Connection
from .reviews import review_router
from .runner import Hub, Store
from .transport import ExposeTransport, install_log_filter
from .userlog import UserLogs

STATIC = Path(__file__).parent / "static"
log = logging.getLogger("interview_graph.api")


def origin_allowed(origin: str | None, host: str | None, allowed: list[str]) -> bool:
    """Browsers send Origin; it must be this server's own origin or on the allowlist.

    Non-browser clients send none and are not subject to cross-site request forgery.
    """
    if origin is None:
        return True
    if origin in allowed or "*" in allowed:
        return True
    return host is not None and urlsplit(origin).netloc == host


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; resources open in the lifespan (so import stays cheap)."""
    settings = settings or get_settings()
    if settings.auth == "jwt" and not settings.jwt_secret:
        raise RuntimeError(
            "INTERVIEW_AUTH=jwt needs INTERVIEW_JWT_SECRET; for local development set "
            "INTERVIEW_AUTH=dev (no authentication)"
        )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.auth == "dev":
            banner = (
                "AUTH IS OFF (INTERVIEW_AUTH=dev): any client can act as any user, "
                "reviewers included."
            )
            log.warning("*" * len(banner))
            log.warning(banner)
            log.warning("*" * len(banner))
        store = Store(settings.store)
        await store.open()
        logs = UserLogs(settings.log_dir)
        logs.start()
        app.state.hub = Hub(settings, store, logs)
        try:
            yield
        finally:
            await app.state.hub.close()
            await logs.stop()
            await store.close()

    app = FastAPI(title="interview_graph", lifespan=lifespan)
    app.state.settings = settings
    # A connection that cannot be closed politely (its peer never reads) is aborted; that
    # needs the socket, which only this middleware can reach (transport.py).
    app.add_middleware(ExposeTransport)
    # uvicorn logs each invalid UTF-8 frame with a traceback: one line a minute is enough.
    install_log_filter()

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        """Alive."""
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        """Ready when the store answers."""
        try:
            await app.state.hub.store.log.ping()
        except Exception as exc:  # any failure means not ready
            return JSONResponse({"status": "unavailable", "error": str(exc)[:200]}, status_code=503)
        return JSONResponse({"status": "ok"})

    @app.get("/")
    async def index() -> FileResponse:
        """The web client."""
        return FileResponse(STATIC / "index.html")

    @app.get("/review")
    async def review_page() -> FileResponse:
        """The reviewer page (reads ``/api``)."""
        return FileResponse(STATIC / "review.html")

    app.include_router(review_router())
    app.mount("/static", StaticFiles(directory=STATIC, check_dir=False), name="static")

    @app.websocket("/ws")
    async def ws(websocket: WebSocket) -> None:
        """The interview protocol (docs/protocol.md)."""
        origin = websocket.headers.get("origin")
        if not origin_allowed(origin, websocket.headers.get("host"), settings.allowed_origins):
            await websocket.close(code=p.CLOSE_ORIGIN, reason="origin not allowed")
            return
        await websocket.accept()
        await Connection(websocket, app.state.hub).serve()

    return app
