"""Where interviews are stored: SQLite (one file, one process) or PostgreSQL (shared, scale-out).

``database`` is either a SQLite path (or ``:memory:``) or a ``postgresql://`` DSN
(``INTERVIEW_DATABASE_URL``).  This module picks the matching LangGraph checkpointer
(``AsyncSqliteSaver`` or the official ``AsyncPostgresSaver`` on a psycopg pool) and event log,
hands out per-interview *leases* (which process drives an interview), and prunes the
checkpoints of finished interviews.

Leases: on PostgreSQL a runner holds ``pg_try_advisory_lock(2, hashtext(interview_id))`` for as
long as it drives the interview, on a connection dedicated to this process's locks.  The lock
belongs to that database session, so it is released when the runner stops (unlock) or when the
process dies (the server ends the session when the socket goes away) — a process taking over
never needs manual cleanup.  On SQLite the store is one process's, so a lease is a no-op.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import aiosqlite
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

from .settings import get_settings
from .transcript import EventStore, event_log_for, is_postgres

log = logging.getLogger("interview_graph.storage")


async def open_saver(
    stack: AsyncExitStack, database: str | Path, pool: Any = None
) -> BaseCheckpointSaver[Any]:
    """Open (and set up) the checkpointer for ``database``; ``stack`` closes it.

    Args:
        stack: owns the saver's connections.
        database: a SQLite path or a ``postgresql://`` DSN.
        pool: an open psycopg pool to share (PostgreSQL only); else the saver gets its own.
    """
    if is_postgres(database):
        from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

        from .transcript_pg import pool_for, setup_lock, setup_unlock

        if pool is None:
            pool = pool_for(str(database), max_size=get_settings().database_pool_size)
            await pool.open(wait=True)
            stack.push_async_callback(pool.close)
        saver = AsyncPostgresSaver(conn=pool)
        # Its migrations are not safe against two processes starting at once: serialise them.
        async with pool.connection() as conn:
            await setup_lock(conn)
            try:
                await saver.setup()
            finally:
                await setup_unlock(conn)
        return saver
    database = str(database)
    if database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    sqlite = await stack.enter_async_context(AsyncSqliteSaver.from_conn_string(database))
    await sqlite.setup()
    # WAL + synchronous=NORMAL, like the event log: a commit no longer waits for an fsync
    # (FULL, the default, syncs the WAL on every checkpoint write).  Durable across process
    # crashes; a power cut can lose the last moments, as it can for the event log.
    await sqlite.conn.execute_fetchall("PRAGMA synchronous=NORMAL")
    return sqlite


async def open_store(
    stack: AsyncExitStack, database: str | Path
) -> tuple[EventStore, BaseCheckpointSaver[Any]]:
    """Open the event log and the checkpointer of ``database`` (one pool on PostgreSQL)."""
    if is_postgres(database):
        from .transcript_pg import PostgresEventLog, pool_for

        pool = pool_for(str(database), max_size=get_settings().database_pool_size)
        await pool.open(wait=True)
        stack.push_async_callback(pool.close)
        pg_log = await PostgresEventLog(str(database), pool).open()
        return pg_log, await open_saver(stack, database, pool)
    event_log = await event_log_for(database).open()
    stack.push_async_callback(event_log.close)
    return event_log, await open_saver(stack, database)


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
        from .transcript_pg import RUNNER_LOCK

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
                from .transcript_pg import RUNNER_LOCK

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


async def prune(
    database: str | Path, *, older_than_days: float, dry_run: bool, vacuum: bool = False
) -> list[str]:
    """Delete the checkpoints of interviews that ended more than ``older_than_days`` ago.

    The event log (transcript, inputs, the report event) stays; a pruned interview can no
    longer continue, which a finished one never does anyway.  SQLite keeps the freed pages
    for reuse; ``vacuum`` then rewrites the file to give them back to the disk (it holds the
    write lock meanwhile, so interviews on a running server wait: run it off-hours).
    PostgreSQL's autovacuum does that job there, so ``vacuum`` is a no-op.

    Returns:
        The interviews whose checkpoints were (or, with ``dry_run``, would be) deleted.
    """
    async with AsyncExitStack() as stack:
        event_log, saver = await open_store(stack, database)
        cutoff = time.time() - older_than_days * 86_400
        chosen = []
        for interview_id in await event_log.finished_before(cutoff):
            config = {"configurable": {"thread_id": interview_id, "checkpoint_ns": ""}}
            if await saver.aget_tuple(config) is not None:  # type: ignore[arg-type]
                chosen.append(interview_id)
        if not dry_run:
            for interview_id in chosen:
                await saver.adelete_thread(interview_id)
    if vacuum and not dry_run and not is_postgres(database) and str(database) != ":memory:":
        async with aiosqlite.connect(str(database)) as db:
            # execute_fetchall: a PRAGMA returns a row, and a statement left unfinished on the
            # connection makes VACUUM fail ("SQL statements in progress").
            await db.execute_fetchall("PRAGMA busy_timeout=30000")
            await db.execute("VACUUM")
    return chosen
