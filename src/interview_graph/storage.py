"""Where interviews are stored: SQLite (one file, one process) or PostgreSQL (shared, scale-out).

``database`` is either a SQLite path (or ``:memory:``) or a ``postgresql://`` DSN
(``INTERVIEW_DATABASE_URL``).  This module picks the matching LangGraph checkpointer
(``AsyncSqliteSaver`` or the official ``AsyncPostgresSaver`` on a psycopg pool) and event log,
hands out per-interview *leases* (which process drives an interview), and prunes the
checkpoints of finished interviews.

Leases: on PostgreSQL a runner holds ``pg_try_advisory_lock(2, hashtext(interview_id))`` on a
dedicated connection for as long as it drives the interview.  The lock belongs to that
database session, so it is released when the runner stops (the connection is closed) or when
the process dies (the server ends the session when the socket goes away) — a process taking
over never needs manual cleanup.  On SQLite the store is one process's, so a lease is a no-op.
"""

from __future__ import annotations

import logging
import time
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

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
            pool = pool_for(str(database))
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
    return sqlite


async def open_store(
    stack: AsyncExitStack, database: str | Path
) -> tuple[EventStore, BaseCheckpointSaver[Any]]:
    """Open the event log and the checkpointer of ``database`` (one pool on PostgreSQL)."""
    if is_postgres(database):
        from .transcript_pg import PostgresEventLog, pool_for

        pool = pool_for(str(database))
        await pool.open(wait=True)
        stack.push_async_callback(pool.close)
        pg_log = await PostgresEventLog(str(database), pool).open()
        return pg_log, await open_saver(stack, database, pool)
    event_log = await event_log_for(database).open()
    stack.push_async_callback(event_log.close)
    return event_log, await open_saver(stack, database)


class Lease:
    """The right to drive one interview; :meth:`release` gives it up (no-op on SQLite)."""

    def __init__(self, conn: Any = None) -> None:
        self._conn = conn

    async def alive(self) -> bool:
        """Whether the lease is still held (its database session still answers)."""
        if self._conn is None:
            return True
        try:
            await self._conn.execute("SELECT 1")
        except Exception:  # any failure: the session, and with it the lock, is gone
            return False
        return True

    async def release(self) -> None:
        """Give the interview up: closing the session drops its advisory lock."""
        if self._conn is not None:
            conn, self._conn = self._conn, None
            try:
                await conn.close()
            except Exception:  # closing a dead connection: the lock is gone either way
                log.debug("closing a lease connection failed", exc_info=True)


async def try_lease(database: str | Path, interview_id: str) -> Lease | None:
    """Take the lease on ``interview_id`` if no other process holds it, else None."""
    if not is_postgres(database):
        return Lease()
    from psycopg import AsyncConnection

    from .transcript_pg import RUNNER_LOCK

    conn = await AsyncConnection.connect(str(database), autocommit=True)
    try:
        cur = await conn.execute(
            "SELECT pg_try_advisory_lock(%s, hashtext(%s))", (RUNNER_LOCK, interview_id)
        )
        row = await cur.fetchone()
    except BaseException:
        await conn.close()
        raise
    if row is None or not row[0]:
        await conn.close()
        return None
    return Lease(conn)


async def prune(database: str | Path, *, older_than_days: float, dry_run: bool) -> list[str]:
    """Delete the checkpoints of interviews that ended more than ``older_than_days`` ago.

    The event log (transcript, inputs, the report event) stays; a pruned interview can no
    longer continue, which a finished one never does anyway.

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
        return chosen
