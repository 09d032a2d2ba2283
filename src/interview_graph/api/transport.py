"""What ASGI does not give a WebSocket handler: its socket, and a quiet log for broken frames.

A peer that never reads cannot be closed politely: the close frame queues behind megabytes of
unsent data, and uvicorn's ``transport.close()`` waits for that buffer to drain, which it never
does (measured: the socket stayed ESTABLISHED with ~3 MB unsent until the client went away).
The only way to let go of it is ``transport.abort()``, and ASGI has no message for that.
:class:`ExposeTransport` finds the transport behind uvicorn's ``send`` (a bound method of its
protocol object, which holds the transport) and puts it in the WebSocket scope, where
:func:`release` reaches it.  Behind another server, or with uvicorn's trace-level message
logger wrapping ``send``, there is no transport to find and ``release`` does nothing more than
the polite close already did.

uvicorn also logs every text frame that is not valid UTF-8 with a full traceback (and closes
the connection with 1007): any client can fill the log by reconnecting and sending one.
:class:`QuietInvalidUtf8` keeps one line a minute of it, with a count of what it held back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Protocol

from fastapi import WebSocket

log = logging.getLogger("interview_graph.api")
SCOPE_KEY = "interview_graph.transport"
# After a close, a socket whose write buffer has not drained in this long is aborted.
DRAIN_GRACE = 2.0

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class _Transport(Protocol):
    def abort(self) -> None: ...
    def is_closing(self) -> bool: ...
    def get_write_buffer_size(self) -> int: ...


class ExposeTransport:
    """ASGI middleware: the server's transport of each WebSocket, in its scope (if found)."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass everything through; a WebSocket's scope gains :data:`SCOPE_KEY`."""
        if scope["type"] == "websocket":
            transport = getattr(getattr(send, "__self__", None), "transport", None)
            if all(hasattr(transport, m) for m in ("abort", "is_closing", "get_write_buffer_size")):
                scope = {**scope, SCOPE_KEY: transport}
        await self.app(scope, receive, send)


async def release(ws: WebSocket, grace: float = DRAIN_GRACE) -> bool:
    """After a close, make sure the socket goes: abort it if its data does not drain.

    A client that reads gets everything sent, the close frame included, within ``grace``
    seconds; one that does not is reset instead of being held open for as long as it likes.

    Returns:
        Whether the transport had to be aborted.
    """
    scope = getattr(ws, "scope", None) or {}  # test stand-ins for a socket have none
    transport: _Transport | None = scope.get(SCOPE_KEY)
    if transport is None:
        return False
    deadline = time.monotonic() + grace
    # A bounded poll: a transport has no "drained" event to wait on (only the protocol's
    # resume_writing, which is uvicorn's).
    while transport.get_write_buffer_size() and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    if not transport.get_write_buffer_size():
        return False
    log.info(
        "aborting a WebSocket whose peer does not read (%d bytes unsent)",
        transport.get_write_buffer_size(),
    )
    with contextlib.suppress(Exception):
        transport.abort()
    return True


class QuietInvalidUtf8(logging.Filter):
    """On ``uvicorn.error``: invalid UTF-8 frames as one warning line a minute, no traceback."""

    MESSAGE = "Invalid UTF-8 sequence received from client."

    def __init__(self, every: float = 60.0) -> None:
        super().__init__()
        self.every = every
        self._last = -every
        self._held = 0

    def filter(self, record: logging.LogRecord) -> bool:
        """Let every other record through unchanged."""
        if record.msg != self.MESSAGE:
            return True
        now = time.monotonic()
        if now - self._last < self.every:
            self._held += 1
            return False
        held, self._held, self._last = self._held, 0, now
        record.exc_info = record.exc_text = None
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        record.msg = "a client sent a text frame that is not UTF-8 (closed with 1007)"
        if held:
            record.msg += f"; {held} more since the last report"
        return True


def install_log_filter(logger: logging.Logger | None = None) -> None:
    """Put :class:`QuietInvalidUtf8` on uvicorn's error logger (once)."""
    logger = logger or logging.getLogger("uvicorn.error")
    if not any(isinstance(f, QuietInvalidUtf8) for f in logger.filters):
        logger.addFilter(QuietInvalidUtf8())
