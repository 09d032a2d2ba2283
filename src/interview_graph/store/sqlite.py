"""The event log in SQLite (aiosqlite): one file beside the checkpoints, one process.

Seq is assigned inside the INSERT (``MAX(seq) + 1`` under SQLite's write lock), appends are
idempotent by key, and an input is persisted with its event in one transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import time
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any

import aiosqlite

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
    data TEXT NOT NULL DEFAULT '{}',
    ts REAL NOT NULL,
    PRIMARY KEY (interview_id, seq),
    UNIQUE (interview_id, key)
);
CREATE TABLE IF NOT EXISTS interviews (
    interview_id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    plan TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS inputs (
    interview_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    payload TEXT NOT NULL,
    consumed INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (interview_id, seq)
);
CREATE INDEX IF NOT EXISTS interviews_created ON interviews (created);
"""

# report.overall and report.recommendation.decision of an events row ``e``.
_JSON = ("json_extract(e.data, '$.overall')", "json_extract(e.data, '$.recommendation.decision')")


def _first(rows: Iterable[Any]) -> Any:
    """The first row of a fetched result, or None."""
    return next(iter(rows), None)


class EventLog:
    """Append-only per-interview event log in SQLite (a file, or ``:memory:`` for tests).

    Every read is one ``execute_fetchall`` (run to completion in one call on the connection's
    thread), never ``execute`` then ``fetch*`` in two: between those two calls the statement
    is open and pins a read snapshot, and a write transaction begun on this connection in
    that gap (by another task) cannot start from a stale snapshot: SQLite answers
    SQLITE_BUSY_SNAPSHOT ("database is locked") at once, busy timeout or not, for as long as
    the statement stays open.  The concurrency benchmark caught exactly that error on
    ``BEGIN IMMEDIATE`` for ~18 s at interviews' ends, failing every write meanwhile.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._conn: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()

    async def open(self) -> EventLog:
        """Open the database and create the table if needed."""
        if self._conn is None:
            if self.path != ":memory:":
                # Off the loop: LangGraph dev flags blocking filesystem calls in async code.
                await asyncio.to_thread(Path(self.path).parent.mkdir, parents=True, exist_ok=True)
            self._conn = await aiosqlite.connect(self.path)
            # The checkpointer writes to the same file from another connection: wait for its
            # lock instead of failing, and take write locks up front (BEGIN IMMEDIATE) so a
            # read-then-write never has to upgrade, which SQLite cannot always do.
            await self._conn.execute_fetchall("PRAGMA busy_timeout=10000")
            await self._conn.execute_fetchall("PRAGMA journal_mode=WAL")
            await self._conn.execute_fetchall("PRAGMA synchronous=NORMAL")
            await self._conn.executescript(_SCHEMA)
            await self._conn.commit()
        return self

    async def close(self) -> None:
        """Close the connection."""
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    @contextlib.asynccontextmanager
    async def _write(self) -> AsyncIterator[None]:
        """One write transaction at a time, locked up front, rolled back on any error."""
        async with self._lock:
            for attempt in range(100):
                try:
                    await self._db().execute("BEGIN IMMEDIATE")
                    break
                except sqlite3.OperationalError as exc:
                    # The checkpointer's connection can hold the write lock across awaits;
                    # SQLite then reports "locked" without waiting. Back off and retry.
                    if "locked" not in str(exc) or attempt == 99:
                        raise
                    await asyncio.sleep(min(0.2, 0.01 * (attempt + 1)))
            try:
                yield
            except BaseException:
                await self._db().rollback()
                raise

    def _db(self) -> aiosqlite.Connection:
        if self._conn is None:
            raise RuntimeError("EventLog is not open")
        return self._conn

    async def _insert(self, event: Event) -> Event | None:
        """Insert ``event`` at the interview's next seq, or None if its key is taken.

        One statement: SQLite takes the write lock before the statement reads ``MAX(seq)``,
        so it needs no transaction of its own, and an append costs two calls on the
        connection's thread (this and the commit) instead of five.  Call it holding
        :attr:`_lock` (inside :meth:`_write`, or alone followed by a commit).
        """
        event = event.model_copy(update={"ts": time.time()})
        row = event.row(lambda data: json.dumps(data, sort_keys=True))
        values = [v for c, v in zip(COLUMNS, row, strict=True) if c != "seq"]
        picks = ", ".join("COALESCE(MAX(seq), 0) + 1" if c == "seq" else "?" for c in COLUMNS)
        inserted = _first(
            await self._db().execute_fetchall(
                f"INSERT INTO events ({', '.join(COLUMNS)}) SELECT {picks} FROM events "
                "WHERE interview_id = ? ON CONFLICT (interview_id, key) DO NOTHING RETURNING seq",
                [*values, event.interview_id],
            )
        )
        return None if inserted is None else event.model_copy(update={"seq": int(inserted[0])})

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
        db = self._db()
        async with self._lock:
            try:
                inserted = await self._insert(event)
                await db.commit()
            except BaseException:
                await db.rollback()
                raise
        if inserted is not None:
            return inserted
        row = _first(
            await db.execute_fetchall(
                "SELECT seq, ts FROM events WHERE interview_id = ? AND key = ?",
                (interview_id, key),
            )
        )
        return event.model_copy(update={"seq": int(row[0]), "ts": float(row[1])})

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

        The graph later logs the same input under the same ``key``, which is then a no-op.

        Raises:
            InterviewClosed: the interview has ended (checked in the same transaction).
        """
        db = self._db()
        async with self._write():
            if _first(await db.execute_fetchall(ENDED_SQL.format(p="?"), (interview_id,))):
                raise InterviewClosed(interview_id)  # _write rolls the transaction back
            event = await self._insert(
                Event.draft(
                    interview_id,
                    key,
                    kind,
                    visibility="public",
                    speaker="candidate",
                    text=text,
                    data=data,
                )
            )
            if event is None:  # the same receipt twice: the caller's idempotency check failed
                raise sqlite3.IntegrityError(f"input {key!r} of {interview_id} already recorded")
            await db.execute(
                "INSERT INTO inputs VALUES (?, ?, ?, 0)",
                (interview_id, event.seq, json.dumps(payload)),
            )
            await db.commit()
        return event

    async def unconsumed_inputs(self, interview_id: str) -> list[tuple[int, str, dict[str, Any]]]:
        """Persisted inputs the interview has not consumed yet: (seq, receipt key, payload)."""
        rows = await self._db().execute_fetchall(
            "SELECT i.seq, e.key, i.payload FROM inputs i JOIN events e "
            "ON e.interview_id = i.interview_id AND e.seq = i.seq "
            "WHERE i.interview_id = ? AND i.consumed = 0 ORDER BY i.seq",
            (interview_id,),
        )
        return [(int(r[0]), str(r[1]), json.loads(r[2])) for r in rows]

    async def mark_consumed(self, interview_id: str, seq: int) -> None:
        """Record that the interview has consumed the input at ``seq``."""
        async with self._write():
            await self._db().execute(
                "UPDATE inputs SET consumed = 1 WHERE interview_id = ? AND seq = ?",
                (interview_id, seq),
            )
            await self._db().commit()

    async def create_interview(self, interview_id: str, user_id: str, plan: str) -> None:
        """Record who owns an interview."""
        async with self._write():
            await self._db().execute(
                "INSERT INTO interviews VALUES (?, ?, ?, ?)",
                (interview_id, user_id, plan, time.time()),
            )
            await self._db().commit()

    async def interview(self, interview_id: str) -> tuple[str, str] | None:
        """(owner user id, plan) of an interview, or None."""
        row = _first(
            await self._db().execute_fetchall(
                "SELECT user_id, plan FROM interviews WHERE interview_id = ?", (interview_id,)
            )
        )
        return (str(row[0]), str(row[1])) if row else None

    async def finished_before(self, cutoff: float) -> list[str]:
        """Interviews whose ``interview_ended`` event is older than ``cutoff`` (epoch seconds)."""
        rows = await self._db().execute_fetchall(
            "SELECT interview_id FROM events WHERE kind = 'interview_ended' AND ts < ? "
            "ORDER BY interview_id",
            (cutoff,),
        )
        return [str(r[0]) for r in rows]

    async def list_interviews(self, query: InterviewQuery) -> InterviewPage:
        """A page of interviews matching ``query``, newest first, and how many match."""
        page, count, args = interviews_query(query, "?", *_JSON)
        rows = await self._db().execute_fetchall(page, [*args, query.limit, query.offset])
        total = _first(await self._db().execute_fetchall(count, args))
        return InterviewPage(
            items=[summary_from_row(r) for r in rows],
            total=int(total[0]) if total else 0,
            limit=query.limit,
            offset=query.offset,
        )

    async def interview_summary(self, interview_id: str) -> InterviewSummary | None:
        """One interview's :class:`InterviewSummary`, or None."""
        row = _first(await self._db().execute_fetchall(summary_query("?", *_JSON), (interview_id,)))
        return summary_from_row(row) if row else None

    async def ping(self) -> None:
        """Fail if the database is unreachable."""
        await self._db().execute_fetchall("SELECT 1")

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
        sql, args = events_query(interview_id, after, filters, "?")
        return [Event.from_row(r) for r in await self._db().execute_fetchall(sql, args)]
