"""The event log's data model: events, interview summaries and the store protocol.

The full transcript lives in an append-only event log, not in graph state, so checkpoints stay
small and flat as an interview grows.  Appends are idempotent by ``key``: LangGraph re-runs an
interrupted node from its first line on resume, and a repeated append must return the original
event rather than write a second copy.  Every event is either ``public`` (what the candidate may
see) or ``private`` (the panel's, the report's and the reviewers' eyes only).

Both stores (:mod:`.sqlite`, :mod:`.postgres`) implement :class:`EventStore` and share the SQL
built here, each in its own parameter style.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field

Visibility = Literal["public", "private"]
Status = Literal["running", "finished"]


class Event(BaseModel):
    """One transcript event."""

    interview_id: str
    seq: int
    key: str
    kind: str
    visibility: Visibility
    round_id: str | None = None
    speaker: str | None = None
    text: str = ""
    data: dict[str, Any] = {}
    ts: float

    @classmethod
    def draft(cls, interview_id: str, key: str, kind: str, **fields: Any) -> Event:
        """An event not stored yet: the store assigns its ``seq`` and ``ts`` on insert."""
        return cls(interview_id=interview_id, key=key, kind=kind, seq=0, ts=0.0, **fields)

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> Event:
        """An event from a row of :data:`COLUMNS` (``data`` as JSON text or already decoded)."""
        fields = dict(zip(COLUMNS, row, strict=True))
        if isinstance(fields["data"], str):
            fields["data"] = json.loads(fields["data"])
        return cls(**fields)

    def row(self, encode: Callable[[dict[str, Any]], Any]) -> tuple[Any, ...]:
        """This event as a row of :data:`COLUMNS`, ``data`` passed through ``encode``."""
        return tuple(encode(self.data) if c == "data" else getattr(self, c) for c in COLUMNS)


# The events table's columns, in the order both stores insert and select them.
COLUMNS = (
    "interview_id",
    "seq",
    "key",
    "kind",
    "visibility",
    "round_id",
    "speaker",
    "text",
    "data",
    "ts",
)


class InterviewClosed(LookupError):
    """An input came after the interview's ``interview_ended`` event; it was not recorded.

    Checked in the input's own write transaction: nothing recorded after the end can be
    acknowledged, since nothing will ever consume it.
    """


# Whether an interview has ended (one parameter: the interview id), in either store's style.
ENDED_SQL = "SELECT 1 FROM events WHERE interview_id = {p} AND kind = 'interview_ended' LIMIT 1"


def events_query(
    interview_id: str, after: int, filters: dict[str, str | None], placeholder: str
) -> tuple[str, list[Any]]:
    """The SELECT of :meth:`EventStore.events` in a store's parameter style (``?``/``%s``)."""
    sql = f"SELECT {', '.join(COLUMNS)} FROM events WHERE interview_id = {placeholder} "
    sql += f"AND seq > {placeholder}"
    args: list[Any] = [interview_id, after]
    for column, value in filters.items():
        if value is not None:
            sql += f" AND {column} = {placeholder}"
            args.append(value)
    return sql + " ORDER BY seq", args


def is_postgres(database: str | Path) -> bool:
    """Whether ``database`` names a PostgreSQL DSN (else it is a SQLite file or ``:memory:``)."""
    return str(database).startswith(("postgresql://", "postgres://"))


class EventStore(Protocol):
    """What the graph, the runners and the CLI need from an event log (SQLite or PostgreSQL)."""

    path: str

    async def open(self) -> EventStore: ...  # noqa: D102
    async def close(self) -> None: ...  # noqa: D102
    async def append(  # noqa: D102
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
    ) -> Event: ...
    async def record_input(  # noqa: D102
        self,
        interview_id: str,
        key: str,
        kind: str,
        *,
        text: str,
        data: dict[str, Any],
        payload: dict[str, Any],
    ) -> Event: ...  # raises InterviewClosed after the interview's end
    async def unconsumed_inputs(  # noqa: D102
        self, interview_id: str
    ) -> list[tuple[int, str, dict[str, Any]]]: ...
    async def mark_consumed(self, interview_id: str, seq: int) -> None: ...  # noqa: D102
    async def create_interview(self, interview_id: str, user_id: str, plan: str) -> None: ...  # noqa: D102
    async def interview(self, interview_id: str) -> tuple[str, str] | None: ...  # noqa: D102
    async def finished_before(self, cutoff: float) -> list[str]: ...  # noqa: D102
    async def ping(self) -> None: ...  # noqa: D102
    async def list_interviews(self, query: InterviewQuery) -> InterviewPage: ...  # noqa: D102
    async def interview_summary(self, interview_id: str) -> InterviewSummary | None: ...  # noqa: D102
    async def events(  # noqa: D102
        self,
        interview_id: str,
        *,
        after: int = 0,
        visibility: Visibility | None = None,
        kind: str | None = None,
        round_id: str | None = None,
    ) -> list[Event]: ...


class InterviewQuery(BaseModel):
    """Which interviews :meth:`EventStore.list_interviews` returns (every filter optional)."""

    plan: str | None = None
    user_id: str | None = None
    status: Status | None = None
    created_from: float | None = Field(default=None, description="Epoch seconds, inclusive.")
    created_to: float | None = Field(default=None, description="Epoch seconds, exclusive.")
    limit: int = Field(default=50, ge=1, le=500)
    offset: int = Field(default=0, ge=0)


class InterviewSummary(BaseModel):
    """One interview as a reviewer's list shows it."""

    interview_id: str
    user_id: str = Field(description="The candidate's user id.")
    plan: str = Field(description="Plan id (a drafted plan's reference is its file path).")
    created: float = Field(description="Epoch seconds.")
    status: Status
    ended: float | None = Field(default=None, description="When it ended (epoch seconds).")
    last_seq: int = Field(default=0, description="Seq of its latest event.")
    has_report: bool = False
    overall: float | None = Field(default=None, description="The engine's overall score.")
    recommendation: str | None = Field(default=None, description="The engine's decision.")
    reviews: int = Field(default=0, description="Human review events recorded on it.")


class InterviewPage(BaseModel):
    """A page of :class:`InterviewSummary`, newest first, with the total that matched."""

    items: list[InterviewSummary]
    total: int
    limit: int
    offset: int


# The kind of the events a human review appends (one per override or recommendation).
REVIEW_KIND = "review_override"

_SUMMARY = """
SELECT i.interview_id, i.user_id, i.plan, i.created,
  (SELECT MAX(e.ts) FROM events e
     WHERE e.interview_id = i.interview_id AND e.kind = 'interview_ended') AS ended,
  (SELECT MAX(e.seq) FROM events e WHERE e.interview_id = i.interview_id) AS last_seq,
  (SELECT {overall} FROM events e WHERE e.interview_id = i.interview_id AND e.kind = 'report'
     ORDER BY e.seq DESC LIMIT 1) AS overall,
  (SELECT {decision} FROM events e WHERE e.interview_id = i.interview_id AND e.kind = 'report'
     ORDER BY e.seq DESC LIMIT 1) AS recommendation,
  (SELECT COUNT(*) FROM events e WHERE e.interview_id = i.interview_id AND e.kind = 'report')
     AS reports,
  (SELECT COUNT(*) FROM events e
     WHERE e.interview_id = i.interview_id AND e.kind = '{review}') AS reviews
FROM interviews i"""

_FINISHED = (
    "EXISTS (SELECT 1 FROM events e WHERE e.interview_id = i.interview_id "
    "AND e.kind = 'interview_ended')"
)


def interviews_query(
    query: InterviewQuery, placeholder: str, overall: str, decision: str
) -> tuple[str, str, list[Any]]:
    """The page SELECT and the COUNT of :meth:`EventStore.list_interviews`, and their args.

    ``overall`` and ``decision`` are the store's JSON expressions for ``report.overall`` and
    ``report.recommendation.decision`` of an events row ``e``.  The page's args are the
    returned ones plus limit and offset.
    """
    where, args = _where(query, placeholder)
    select = _SUMMARY.format(overall=overall, decision=decision, review=REVIEW_KIND)
    page = (
        f"{select}{where} ORDER BY i.created DESC, i.interview_id DESC "
        f"LIMIT {placeholder} OFFSET {placeholder}"
    )
    return page, f"SELECT COUNT(*) AS n FROM interviews i{where}", args


def summary_query(placeholder: str, overall: str, decision: str) -> str:
    """The SELECT of :meth:`EventStore.interview_summary` (one arg: the interview id)."""
    select = _SUMMARY.format(overall=overall, decision=decision, review=REVIEW_KIND)
    return f"{select} WHERE i.interview_id = {placeholder}"


def _where(query: InterviewQuery, placeholder: str) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    args: list[Any] = []
    for column, value, op in (
        ("i.plan", query.plan, "="),
        ("i.user_id", query.user_id, "="),
        ("i.created", query.created_from, ">="),
        ("i.created", query.created_to, "<"),
    ):
        if value is not None:
            clauses.append(f"{column} {op} {placeholder}")
            args.append(value)
    if query.status == "finished":
        clauses.append(_FINISHED)
    elif query.status == "running":
        clauses.append(f"NOT {_FINISHED}")
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), args


def summary_from_row(row: Sequence[Any]) -> InterviewSummary:
    """An :class:`InterviewSummary` from a row of the summary SELECT (in column order)."""
    interview_id, user_id, plan, created, ended, last_seq, overall, decision, reports, reviews = row
    return InterviewSummary(
        interview_id=str(interview_id),
        user_id=str(user_id),
        plan=str(plan),
        created=float(created),
        status="finished" if ended is not None else "running",
        ended=float(ended) if ended is not None else None,
        last_seq=int(last_seq or 0),
        has_report=bool(reports),
        overall=_number(overall),
        recommendation=str(decision) if decision is not None else None,
        reviews=int(reviews or 0),
    )


def _number(value: Any) -> float | None:
    """A report field as a float, or None if the report holds something else there."""
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None
