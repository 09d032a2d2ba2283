"""Per-interview leases: which process drives an interview.

On PostgreSQL a runner holds ``pg_try_advisory_lock(2, hashtext(interview_id))`` for as long as
it drives the interview, on a connection dedicated to this process's locks.  The lock belongs to
that database session, so it is released when the runner stops (unlock) or when the process
dies (the server ends the session when the socket goes away) — a process taking over never
needs manual cleanup.  On SQLite the store is one process's, so a lease is a no-op.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from pathlib import Path
from typing import Any

from .events import is_postgres

log = logging.getLogger("interview_graph.store")


class Lease:
    """The right to drive one interview; :meth:`release` gives it up (no-op on SQLite)."""

    def __init__(
        self, owner: Leases | None = None, interview_id: str = "", generation: int = 0
    ) -> None:
        self._owner = owner
        self._interview_id = interview_id
        self._generation = generation

    async def alive(self) -> bool:
        """Whether the lease is still held (its database session still answers)."""
        if self._owner is None:
            return True
        return await self._owner._alive(self._generation)

    async def release(self) -> None:
        """Give the interview up."""
        if self._owner is not None:
            owner, self._owner = self._owner, None
            await owner._release(self._interview_id, self._generation)


class Leases:
    """This process's leases: advisory locks held on one dedicated PostgreSQL session.

    One connection per process (not per interview) holds every lock this process has, so a
    process driving hundreds of interviews still uses one extra connection.  If that session
    dies, every lease on it is gone (``alive`` turns false and the runners stop); the next lease
    opens a new session.  Session-level advisory locks are re-entrant within a session, so this
    class refuses a second lease on an interview it already holds (a stopping runner's).
    """

    def __init__(self, database: str | Path) -> None:
        self.database = str(database)
        self.shared = is_postgres(self.database)
        self._conn: Any = None
        self._generation = 0
        self._held: set[str] = set()
        self._lock = asyncio.Lock()
        self._checked = 0.0

    async def _session(self) -> Any:
        if self._conn is None or self._conn.closed:
            from psycopg import AsyncConnection

            self._conn = await AsyncConnection.connect(self.database, autocommit=True)
            self._generation += 1
            self._held.clear()
        return self._conn

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        self._checked = 0.0
        self._held.clear()
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close()

    async def try_lease(self, interview_id: str) -> Lease | None:
        """Take the lease on ``interview_id`` if nobody (here or elsewhere) holds it, else None."""
        if not self.shared:
            return Lease()
        from .postgres import RUNNER_LOCK

        async with self._lock:
            if interview_id in self._held:
                return None
            for attempt in range(2):  # a session that died since the last lease: reconnect once
                conn = await self._session()
                try:
                    cur = await conn.execute(
                        "SELECT pg_try_advisory_lock(%s, hashtext(%s))",
                        (RUNNER_LOCK, interview_id),
                    )
                    row = await cur.fetchone()
                    break
                except Exception:
                    await self._drop()
                    if attempt:
                        raise
            if row is None or not row[0]:
                return None
            self._held.add(interview_id)
            return Lease(self, interview_id, self._generation)

    async def _alive(self, generation: int) -> bool:
        async with self._lock:
            if generation != self._generation or self._conn is None:
                return False
            if time.monotonic() - self._checked < 1.0:  # one probe a second serves every runner
                return True
            try:
                await self._conn.execute("SELECT 1")
            except Exception:  # the session, and with it every lock, is gone
                await self._drop()
                return False
            self._checked = time.monotonic()
            return True

    async def _release(self, interview_id: str, generation: int) -> None:
        async with self._lock:
            if generation != self._generation or interview_id not in self._held:
                return  # its session already died, taking the lock with it
            self._held.discard(interview_id)
            try:
                from .postgres import RUNNER_LOCK

                await self._conn.execute(
                    "SELECT pg_advisory_unlock(%s, hashtext(%s))", (RUNNER_LOCK, interview_id)
                )
            except Exception:  # a dead session released everything anyway
                log.debug("unlocking interview %s failed", interview_id, exc_info=True)
                await self._drop()

    async def close(self) -> None:
        """Close the session, releasing every lock of this process."""
        async with self._lock:
            await self._drop()
