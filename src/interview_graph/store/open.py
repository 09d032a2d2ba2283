"""Opening a store: the event log and the LangGraph checkpointer for one ``database``.

``database`` is either a SQLite path (or ``:memory:``) or a ``postgresql://`` DSN
(``INTERVIEW_DATABASE_URL``).  This module picks the matching checkpointer (``AsyncSqliteSaver``
or the official ``AsyncPostgresSaver`` on a psycopg pool) and event log; psycopg is imported
only when PostgreSQL is used.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

from ..settings import get_settings
from .events import EventStore, is_postgres
from .sqlite import EventLog


def event_log_for(database: str | Path) -> EventStore:
    """An (unopened) event log for ``database``: a SQLite path or a ``postgresql://`` DSN."""
    if is_postgres(database):
        from .postgres import PostgresEventLog  # psycopg only when PostgreSQL is used

        return PostgresEventLog(str(database))
    return EventLog(database)


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

        from .postgres import pool_for, setup_lock, setup_unlock

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
        from .postgres import PostgresEventLog, pool_for

        pool = pool_for(str(database), max_size=get_settings().database_pool_size)
        await pool.open(wait=True)
        stack.push_async_callback(pool.close)
        pg_log = await PostgresEventLog(str(database), pool).open()
        return pg_log, await open_saver(stack, database, pool)
    event_log = await event_log_for(database).open()
    stack.push_async_callback(event_log.close)
    return event_log, await open_saver(stack, database)
