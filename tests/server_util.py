"""Start the real server (uvicorn in a subprocess on a free loopback port) for protocol tests."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import websockets

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(
        self, data: Path, env: dict[str, str] | None = None, port: int | None = None
    ) -> None:
        self.data = data
        self.port = port or free_port()
        self.env = {
            **os.environ,
            "INTERVIEW_AUTH": "dev",
            "INTERVIEW_DATA_DIR": str(data / "data"),
            "INTERVIEW_LOG_DIR": str(data / "logs"),
            **(env or {}),
        }
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def start(self) -> Server:
        log = (self.data / f"server-{self.port}.log").open("ab")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "server:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--ws-max-size",
                "1048576",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError((self.data / f"server-{self.port}.log").read_text()[-3000:])
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("server did not start")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


@contextmanager
def running(data: Path, env: dict[str, str] | None = None) -> Iterator[Server]:
    server = Server(data, env).start()
    try:
        yield server
    finally:
        server.stop()


class Client:
    """A thin protocol client over the `websockets` library."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.events: list[dict[str, Any]] = []

    async def send(self, frame: dict[str, Any] | str) -> None:
        await self.ws.send(frame if isinstance(frame, str) else json.dumps(frame))

    # Default bounds only guard against hangs (a loaded CI machine is slow, not stuck); a test
    # that checks for silence passes its own short timeout.
    async def recv(self, timeout: float = 60) -> dict[str, Any]:
        import asyncio

        event = json.loads(await asyncio.wait_for(self.ws.recv(), timeout))
        self.events.append(event)
        return event

    async def until(self, predicate: Any, timeout: float = 60) -> list[dict[str, Any]]:
        import asyncio

        got = []
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            left = deadline - asyncio.get_running_loop().time()
            event = await self.recv(max(0.1, left))
            got.append(event)
            if predicate(event):
                return got

    async def question(self) -> dict[str, Any]:
        """Wait for the next complete panel message that asks or follows up."""
        events = await self.until(lambda e: e["type"] == "message" and e.get("question_id"))
        return events[-1]


def connect(server: Server, **kw: Any) -> Any:
    return websockets.connect(server.url, max_size=None, **kw)
