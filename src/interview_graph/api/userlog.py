"""Per-user logs: ``logs/<user_id>/latest.log`` and one file per interview.

One line per event: ``<UTC time> interview=<id> seq=<n> event=<kind> <text>``, easy to grep.
Writes go through a queue to one background task that writes in a worker thread, so file
I/O never blocks the event loop and lines keep their order.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from pathlib import Path

_SAFE = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")


def user_dir_name(user_id: str) -> str:
    """A filesystem-safe directory name for ``user_id`` (never a path traversal)."""
    if _SAFE.match(user_id) and user_id not in (".", ".."):
        return user_id
    return "u-" + hashlib.sha256(user_id.encode()).hexdigest()[:16]


class UserLogs:
    """Appends per-user log lines in order, off the event loop."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._queue: asyncio.Queue[tuple[str, str, str] | None] = asyncio.Queue(maxsize=100_000)
        self._task: asyncio.Task[None] | None = None
        # Folders made already (only the writer thread touches it), so a line costs no mkdir.
        self._folders: set[Path] = set()

    def start(self) -> None:
        """Start the writer task."""
        self._task = asyncio.create_task(self._writer())

    async def stop(self) -> None:
        """Flush and stop."""
        if self._task is not None:
            await self._queue.put(None)
            await self._task

    def write(
        self, user_id: str, interview_id: str | None, kind: str, seq: int, text: str = ""
    ) -> None:
        """Queue one line (dropped, not blocking, if the queue is full)."""
        stamp = (
            time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
            + f".{int(time.time() * 1000) % 1000:03d}Z"
        )
        clean = text.replace("\n", " ")[:300]
        line = f"{stamp} interview={interview_id or '-'} seq={seq} event={kind} {clean}".rstrip()
        try:
            self._queue.put_nowait((user_id, interview_id or "", line + "\n"))
        except asyncio.QueueFull:
            pass

    async def _writer(self) -> None:
        while (item := await self._queue.get()) is not None:
            batch = [item]
            while not self._queue.empty():
                nxt = self._queue.get_nowait()
                if nxt is None:
                    await asyncio.to_thread(self._flush, batch)
                    return
                batch.append(nxt)
            await asyncio.to_thread(self._flush, batch)

    def _flush(self, batch: list[tuple[str, str, str]]) -> None:
        # One open per file per batch, not two per line: a turn's dozen lines for one user
        # cost two appends.  Files are still opened per batch and closed again (never held),
        # which is what lets logrotate rename them without a reload (deploy/logrotate).
        files: dict[Path, list[str]] = {}
        for user_id, interview_id, line in batch:
            folder = self.root / user_dir_name(user_id)
            files.setdefault(folder / "latest.log", []).append(line)
            if interview_id:
                files.setdefault(folder / f"{user_dir_name(interview_id)}.log", []).append(line)
        for path, lines in files.items():
            if path.parent not in self._folders:
                path.parent.mkdir(parents=True, exist_ok=True)
                self._folders.add(path.parent)
            try:
                fh = path.open("a", encoding="utf-8")
            except FileNotFoundError:  # the folder was removed under us: make it again
                path.parent.mkdir(parents=True, exist_ok=True)
                fh = path.open("a", encoding="utf-8")
            with fh:
                fh.write("".join(lines))
