"""The event log on PostgreSQL (psycopg 3, async, with a connection pool), shared by processes.

Same contract as the SQLite :class:`~interview_graph.store.sqlite.EventLog`: seq per interview
(assigned under a transaction-scoped advisory lock on the interview, so concurrent appends from
several processes never collide or leave gaps), appends idempotent by key, inputs persisted with
their event in one transaction.  Tables live in the connection's ``search_path`` schema, so tests
can isolate themselves with ``?options=-csearch_path%3D<schema>`` in the DSN.
"""

from __future__ import annotations

import time
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from .events import (
    COLUMNS,
    ENDED_SQL,
    Event,
    InterviewClosed,
    InterviewPage,
    InterviewQuery,
    InterviewSummary,
    Visibility,
    events_query,
    interviews_query,
    summary_from_row,
    summary_query,
)

# Advisory-lock classes (first key of the two-int form), so our locks never meet each other's.
SEQ_LOCK = 1
RUNNER_LOCK = 2
SETUP_LOCK = 3

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    interview_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    key TEXT NOT NULL,
    kind TEXT NOT NULL,
    visibility TEXT NOT NULL,
    round_id TEXT,
    speaker TEXT,
    text TEXT NOT NULL DEFAULT '',
    data JSONB NOT NULL DEFAULT '{}',
    ts DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (interview_id, seq),
    UNIQUE (interview_id, key)
);
CREATE TABLE IF NOT EXISTS interviews (
    interview_id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    plan TEXT NOT NULL,
    created DOUBLE PRECISION NOT NULL
);
CREATE TABLE IF NOT EXISTS inputs (
    interview_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    payload JSONB NOT NULL,
    consumed BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (interview_id, seq)
);
CREATE INDEX IF NOT EXISTS interviews_created ON interviews (created);
"""

# report.overall and report.recommendation.decision of an events row ``e``.
_JSON = ("e.data->>'overall'", "e.data->'recommendation'->>'decision'")


def pool_for(url: str, *, max_size: int = 10) -> AsyncConnectionPool[AsyncConnection[Any]]:
    """A pool configured as ``AsyncPostgresSaver`` needs it (autocommit, dict rows, no prepare)."""
    return AsyncConnectionPool(
        url,
        min_size=1,
        max_size=max_size,
        open=False,
        kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
    )


async def setup_lock(conn: AsyncConnection[Any]) -> None:
    """Serialise schema creation between processes starting at the same time."""
    await conn.execute("SELECT pg_advisory_lock(%s, 0)", (SETUP_LOCK,))


async def setup_unlock(conn: AsyncConnection[Any]) -> None:
    """Release :func:`setup_lock`."""
    await conn.execute("SELECT pg_advisory_unlock(%s, 0)", (SETUP_LOCK,))


class PostgresEventLog:
    """Append-only per-interview event log in PostgreSQL; shares a pool or owns one."""

    def __init__(
        self, url: str, pool: AsyncConnectionPool[AsyncConnection[Any]] | None = None
    ) -> None:
        self.path = url
        self._pool = pool
        self._owns_pool = pool is None
        self._ready = False

    async def open(self) -> PostgresEventLog:
        """Open the pool (if owned) and create the tables if needed."""
        if self._pool is None:
            self._pool = pool_for(self.path, max_size=4)
        if self._owns_pool:
            await self._pool.open(wait=True)
        if not self._ready:
            async with self._db().connection() as conn:
                await setup_lock(conn)
                try:
                    for statement in _SCHEMA.split(";"):
                        if statement.strip():
                            await conn.execute(statement)
                finally:
                    await setup_unlock(conn)
            self._ready = True
        return self

    async def close(self) -> None:
        """Close the pool if this log owns it."""
        if self._pool is not None and self._owns_pool:
            await self._pool.close()
            self._pool = None
        self._ready = False

    def _db(self) -> AsyncConnectionPool[AsyncConnection[Any]]:
        if self._pool is None:
            raise RuntimeError("PostgresEventLog is not open")
        return self._pool

    @staticmethod
    async def _insert(conn: AsyncConnection[Any], event: Event) -> Event:
        """Insert at the next seq; call inside a transaction holding the interview's seq lock."""
        cur = await conn.execute(
            "SELECT COALESCE(MAX(seq), 0) AS last FROM events WHERE interview_id = %s",
            (event.interview_id,),
        )
        row = await cur.fetchone()
        last = int(row["last"]) if row else 0
        event = event.model_copy(update={"seq": last + 1, "ts": time.time()})
        await conn.execute(
            f"INSERT INTO events ({', '.join(COLUMNS)}) "
            f"VALUES ({', '.join(['%s'] * len(COLUMNS))})",
            event.row(Jsonb),
        )
        return event

    @staticmethod
    async def _lock_seq(conn: AsyncConnection[Any], interview_id: str) -> None:
        # Held until the transaction ends: appends to one interview are serialised across
        # processes; other interviews are not affected.
        await conn.execute(
            "SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (SEQ_LOCK, interview_id)
        )

    async def append(
        self,
        interview_id: str,
        key: str,
        kind: str,
        *,
        visibility: Visibility,
        round_id: str | None = None,
        speaker: str | None = None,
        text: str = "",
        data: dict[str, Any] | None = None,
    ) -> Event:
        """Append an event once; a second append with the same ``key`` returns the first."""
        event = Event.draft(
            interview_id,
            key,
            kind,
            visibility=visibility,
            round_id=round_id,
            speaker=speaker,
            text=text,
            data=data or {},
        )
        async with self._db().connection() as conn, conn.transaction():
            await self._lock_seq(conn, interview_id)
            cur = await conn.execute(
                "SELECT seq, ts FROM events WHERE interview_id = %s AND key = %s",
                (interview_id, key),
            )
            row = await cur.fetchone()
            if row is None:
                return await self._insert(conn, event)
            return event.model_copy(update={"seq": int(row["seq"]), "ts": float(row["ts"])})

    async def record_input(
        self,
        interview_id: str,
        key: str,
        kind: str,
        *,
        text: str,
        data: dict[str, Any],
        payload: dict[str, Any],
    ) -> Event:
        """Persist a candidate input (its transcript event and its full payload) atomically.

        Raises:
            InterviewClosed: the interview has ended (checked under the interview's seq lock,
                which its ``interview_ended`` append also takes).
        """
        async with self._db().connection() as conn, conn.transaction():
            await self._lock_seq(conn, interview_id)
            ended = await conn.execute(ENDED_SQL.format(p="%s"), (interview_id,))
            if await ended.fetchone():
                raise InterviewClosed(interview_id)
            event = await self._insert(
                conn,
                Event.draft(
                    interview_id,
                    key,
                    kind,
                    visibility="public",
                    speaker="candidate",
                    text=text,
                    data=data,
                ),
            )
            await conn.execute(
                "INSERT INTO inputs (interview_id, seq, payload, consumed) "
                "VALUES (%s, %s, %s, FALSE)",
                (interview_id, event.seq, Jsonb(payload)),
            )
        return event

    async def unconsumed_inputs(self, interview_id: str) -> list[tuple[int, str, dict[str, Any]]]:
        """Persisted inputs the interview has not consumed yet: (seq, receipt key, payload)."""
        async with self._db().connection() as conn:
            cur = await conn.execute(
                "SELECT i.seq, e.key, i.payload FROM inputs i JOIN events e "
                "ON e.interview_id = i.interview_id AND e.seq = i.seq "
                "WHERE i.interview_id = %s AND NOT i.consumed ORDER BY i.seq",
                (interview_id,),
            )
            rows = await cur.fetchall()
        return [(int(r["seq"]), str(r["key"]), dict(r["payload"])) for r in rows]

    async def mark_consumed(self, interview_id: str, seq: int) -> None:
        """Record that the interview has consumed the input at ``seq``."""
        async with self._db().connection() as conn:
            await conn.execute(
                "UPDATE inputs SET consumed = TRUE WHERE interview_id = %s AND seq = %s",
                (interview_id, seq),
            )

    async def create_interview(self, interview_id: str, user_id: str, plan: str) -> None:
        """Record who owns an interview."""
        async with self._db().connection() as conn:
            await conn.execute(
                "INSERT INTO interviews (interview_id, user_id, plan, created) "
                "VALUES (%s, %s, %s, %s)",
                (interview_id, user_id, plan, time.time()),
            )

    async def interview(self, interview_id: str) -> tuple[str, str] | None:
        """(owner user id, plan) of an interview, or None."""
        async with self._db().connection() as conn:
            cur = await conn.execute(
                "SELECT user_id, plan FROM interviews WHERE interview_id = %s", (interview_id,)
            )
            row = await cur.fetchone()
        return (str(row["user_id"]), str(row["plan"])) if row else None

    async def finished_before(self, cutoff: float) -> list[str]:
        """Interviews whose ``interview_ended`` event is older than ``cutoff`` (epoch seconds)."""
        async with self._db().connection() as conn:
            cur = await conn.execute(
                "SELECT interview_id FROM events WHERE kind = 'interview_ended' AND ts < %s "
                "ORDER BY interview_id",
                (cutoff,),
            )
            rows = await cur.fetchall()
        return [str(r["interview_id"]) for r in rows]

    async def list_interviews(self, query: InterviewQuery) -> InterviewPage:
        """A page of interviews matching ``query``, newest first, and how many match."""
        page, count, args = interviews_query(query, "%s", *_JSON)
        async with self._db().connection() as conn:
            cur = await conn.execute(page, [*args, query.limit, query.offset])
            rows = await cur.fetchall()
            cur = await conn.execute(count, args)
            total = await cur.fetchone()
        return InterviewPage(
            items=[summary_from_row(list(r.values())) for r in rows],
            total=int(total["n"]) if total else 0,
            limit=query.limit,
            offset=query.offset,
        )

    async def interview_summary(self, interview_id: str) -> InterviewSummary | None:
        """One interview's :class:`InterviewSummary`, or None."""
        async with self._db().connection() as conn:
            cur = await conn.execute(summary_query("%s", *_JSON), (interview_id,))
            row = await cur.fetchone()
        return summary_from_row(list(row.values())) if row else None

    async def ping(self) -> None:
        """Fail if the database is unreachable."""
        async with self._db().connection(timeout=5) as conn:
            await conn.execute("SELECT 1")

    async def events(
        self,
        interview_id: str,
        *,
        after: int = 0,
        visibility: Visibility | None = None,
        kind: str | None = None,
        round_id: str | None = None,
    ) -> list[Event]:
        """Events of ``interview_id`` with ``seq > after``, in order, optionally filtered."""
        filters = {"visibility": visibility, "kind": kind, "round_id": round_id}
        sql, args = events_query(interview_id, after, filters, "%s")
        async with self._db().connection() as conn:
            cur = await conn.execute(sql, args)
            rows = await cur.fetchall()
        return [Event.from_row(list(r.values())) for r in rows]
