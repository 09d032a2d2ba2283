"""Human review of a finished interview: overrides as an audit trail, evidence linked to seq.

A reviewer may set the final recommendation and override a competency's score, always with a
reason.  Each such act is one private ``review_override`` event appended to the interview's
event log (who, when, before, after, reason): the engine's report event is never touched, and
what a reader sees is the engine's value *beside* the reviewer's latest one, with the whole
trail.  This module is storage- and HTTP-agnostic: it turns events into the review view and a
reviewer's request into the event to append.

Evidence quotes in the report are linked to the transcript line they came from (its ``seq``):
an item that carries a ``seq`` is taken at its word; a quote is found in the candidate's lines;
an integrity flag is placed at its ``turn`` (the n-th candidate input of the interview).
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Literal

from pydantic import BaseModel, Field

from .store import REVIEW_KIND, Event, InterviewSummary

Decision = Literal["strong_hire", "hire", "lean_no_hire", "no_hire"]
Target = Literal["competency", "recommendation"]
MIN_SCORE, MAX_SCORE = 1.0, 5.0


class ReviewEntry(BaseModel):
    """One line of the audit trail: a reviewer's override, as stored in the event log."""

    seq: int = Field(description="The review event's seq in the interview's event log.")
    at: float = Field(description="When (epoch seconds).")
    by: str = Field(description="The reviewer's user id.")
    target: Target
    round_id: str | None = None
    competency_id: str | None = None
    competency_name: str | None = None
    engine: float | str | None = Field(description="The engine's value (score or decision).")
    before: float | str | None = Field(description="The value in force before this override.")
    after: float | str = Field(description="The reviewer's value.")
    reason: str


class CompetencyReview(BaseModel):
    """A competency's engine score beside the reviewer's (if any)."""

    round_id: str
    competency_id: str
    name: str
    engine_score: float | None
    reviewed_score: float | None = Field(description="The latest override, None if none.")
    override: ReviewEntry | None = None


class RecommendationReview(BaseModel):
    """The engine's recommendation beside the reviewer's final one (if any)."""

    engine: str | None
    engine_rationale: str | None = None
    reviewed: str | None = Field(default=None, description="The reviewer's final decision.")
    override: ReviewEntry | None = None


class Review(BaseModel):
    """The human review of one interview: what is in force, and the full audit trail."""

    recommendation: RecommendationReview
    competencies: list[CompetencyReview]
    audit: list[ReviewEntry] = Field(description="Every review event, oldest first.")


class EvidenceLink(BaseModel):
    """An evidence quote of the report and the transcript line it came from."""

    quote: str
    seq: int


class FlagLink(BaseModel):
    """Where in the transcript the report's ``integrity_flags[index]`` happened."""

    index: int
    kind: str | None = None
    seq: int


class ReviewedReport(BaseModel):
    """A report as a reviewer reads it: the engine's report untouched, the review beside it."""

    interview: InterviewSummary
    report_seq: int = Field(description="Seq of the report event.")
    report: dict[str, Any] = Field(description="The engine's report, exactly as stored.")
    review: Review
    evidence: list[EvidenceLink] = Field(description="Report quotes linked to the transcript.")
    flags: list[FlagLink] = Field(description="Integrity flags placed in the transcript.")


class ReviewRequestError(ValueError):
    """A review that cannot be recorded (unknown round or competency); safe to show."""


# --- reading --------------------------------------------------------------------------------


def entries(events: Iterable[Event]) -> list[ReviewEntry]:
    """The audit trail: every review event, oldest first."""
    out = []
    for event in events:
        if event.kind != REVIEW_KIND:
            continue
        d = event.data
        out.append(
            ReviewEntry(
                seq=event.seq,
                at=event.ts,
                by=str(d.get("by") or event.speaker or ""),
                target=d.get("target", "competency"),
                round_id=d.get("round_id"),
                competency_id=d.get("competency_id"),
                competency_name=d.get("competency_name"),
                engine=d.get("engine"),
                before=d.get("before"),
                after=d.get("after", ""),
                reason=str(d.get("reason", "")),
            )
        )
    return out


def competencies(report: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(round id, competency dict) for every competency of every round of ``report``."""
    for round_ in _dicts(report.get("rounds")):
        for comp in _dicts(round_.get("competencies")):
            yield str(round_.get("round_id", "")), comp


def review_of(report: dict[str, Any], trail: Sequence[ReviewEntry]) -> Review:
    """What is in force for ``report`` after ``trail`` (later overrides win)."""
    latest: dict[tuple[str | None, str | None], ReviewEntry] = {}
    decision: ReviewEntry | None = None
    for entry in trail:
        if entry.target == "recommendation":
            decision = entry
        else:
            latest[(entry.round_id, entry.competency_id)] = entry
    comps = []
    for round_id, comp in competencies(report):
        override = latest.get((round_id, str(comp.get("id"))))
        comps.append(
            CompetencyReview(
                round_id=round_id,
                competency_id=str(comp.get("id", "")),
                name=str(comp.get("name") or comp.get("id") or ""),
                engine_score=_number(comp.get("score")),
                reviewed_score=_number(override.after) if override else None,
                override=override,
            )
        )
    rec = report.get("recommendation")
    rec = rec if isinstance(rec, dict) else {"decision": rec}
    return Review(
        recommendation=RecommendationReview(
            engine=_text(rec.get("decision")),
            engine_rationale=_text(rec.get("rationale")),
            reviewed=str(decision.after) if decision else None,
            override=decision,
        ),
        competencies=comps,
        audit=list(trail),
    )


def reviewed_report(
    summary: InterviewSummary, report_event: Event, events: Sequence[Event]
) -> ReviewedReport:
    """The reviewer's view of an interview's report, from its full event list."""
    report = report_event.data
    return ReviewedReport(
        interview=summary,
        report_seq=report_event.seq,
        report=report,
        review=review_of(report, entries(events)),
        evidence=evidence_links(report, events),
        flags=flag_links(report, events),
    )


# --- recording ------------------------------------------------------------------------------


def competency_override(
    report: dict[str, Any],
    trail: Sequence[ReviewEntry],
    *,
    by: str,
    round_id: str,
    competency_id: str,
    score: float,
    reason: str,
) -> dict[str, Any]:
    """The data of a ``review_override`` event overriding one competency's score.

    Raises:
        ReviewRequestError: the report has no such round or competency.
    """
    found = next(
        (c for r, c in competencies(report) if r == round_id and c.get("id") == competency_id),
        None,
    )
    if found is None:
        raise ReviewRequestError(f"the report has no competency {competency_id!r} in {round_id!r}")
    review = review_of(report, trail)
    current = next(
        c
        for c in review.competencies
        if c.round_id == round_id and c.competency_id == competency_id
    )
    engine = current.engine_score
    before = current.reviewed_score if current.override is not None else engine
    return {
        "target": "competency",
        "by": by,
        "round_id": round_id,
        "competency_id": competency_id,
        "competency_name": current.name,
        "engine": engine,
        "before": before,
        "after": round(float(score), 2),
        "reason": reason,
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def recommendation_override(
    report: dict[str, Any], trail: Sequence[ReviewEntry], *, by: str, decision: str, reason: str
) -> dict[str, Any]:
    """The data of a ``review_override`` event setting the final recommendation."""
    current = review_of(report, trail).recommendation
    return {
        "target": "recommendation",
        "by": by,
        "engine": current.engine,
        "before": current.reviewed if current.override is not None else current.engine,
        "after": decision,
        "reason": reason,
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def audit_line(data: dict[str, Any]) -> str:
    """The one-line text of a review event (its ``text`` in the log)."""
    what = (
        "the recommendation"
        if data["target"] == "recommendation"
        else f"{data.get('competency_name') or data.get('competency_id')} ({data.get('round_id')})"
    )
    before = "—" if data.get("before") is None else data["before"]
    return f"{data['by']} set {what}: {before} → {data['after']} ({data['reason']})"


def review_key(by: str, request_id: str | None) -> str:
    """The event key of a review: a client's ``request_id`` makes a retry idempotent."""
    return f"review:{by}:{request_id}" if request_id else f"review:{uuid.uuid4().hex}"


# --- linking evidence to the transcript -----------------------------------------------------

_QUOTES = str.maketrans({"“": '"', "”": '"', "‘": "'", "’": "'", "—": "-", "–": "-"})
_INNER = re.compile(r'^"(.+?)"')


def normalise(text: str) -> str:
    """Casefolded, quotes straightened, whitespace collapsed: how quotes are compared."""
    return " ".join(text.translate(_QUOTES).casefold().split())


def quote_seq(quote: str, lines: Sequence[Event]) -> int | None:
    """The seq of the first candidate line that contains ``quote`` (or its quoted part)."""
    q = normalise(quote)
    inner = _INNER.match(q)  # “…” (a misconception): the quoted words are the evidence
    if inner:
        q = inner.group(1)
    pieces = [p.strip(" .") for p in re.split(r"…|\.\.\.", q)]
    piece = max(pieces, key=len)
    if len(piece) < 8:
        return None
    for event in lines:
        if piece in normalise(event.text):
            return event.seq
    return None


def candidate_lines(events: Iterable[Event]) -> list[Event]:
    """The candidate's lines with text (where quotes come from)."""
    return [e for e in events if e.speaker == "candidate" and e.text]


def evidence_links(report: dict[str, Any], events: Sequence[Event]) -> list[EvidenceLink]:
    """Every evidence quote of ``report`` (competencies, anywhere) linked to its line."""
    lines = candidate_lines(events)
    links: dict[str, int] = {}
    for quote, seq in _evidence_items(report):
        if quote in links:
            continue
        found = seq if seq is not None else quote_seq(quote, lines)
        if found is not None:
            links[quote] = found
    return [EvidenceLink(quote=q, seq=s) for q, s in links.items()]


def _evidence_items(value: Any, inside: bool = False) -> Iterator[tuple[str, int | None]]:
    """(quote, seq if given) for every item of every ``evidence`` list in ``value``."""
    if isinstance(value, dict):
        if inside and isinstance(value.get("seq"), int):
            text = value.get("quote") or value.get("text") or value.get("evidence")
            if isinstance(text, str):
                yield text, value["seq"]
            return
        for key, item in value.items():
            if key in ("integrity_flags",):
                continue
            yield from _evidence_items(item, inside or key in ("evidence", "quotes"))
    elif isinstance(value, list):
        for item in value:
            yield from _evidence_items(item, inside)
    elif inside and isinstance(value, str):
        yield value, None


def inputs_by_turn(events: Iterable[Event]) -> list[Event]:
    """The candidate's inputs in order: ``[turn - 1]`` is the input of that turn."""
    return [e for e in events if e.kind.startswith("candidate_") or e.kind == "input_rejected"]


def flag_links(report: dict[str, Any], events: Sequence[Event]) -> list[FlagLink]:
    """Each integrity flag of ``report`` placed at its transcript line, where it can be."""
    inputs = inputs_by_turn(events)
    lines = candidate_lines(events)
    out = []
    for index, flag in enumerate(_dicts(report.get("integrity_flags"))):
        seq = flag.get("seq") if isinstance(flag.get("seq"), int) else None
        turn = flag.get("turn")
        if seq is None and isinstance(turn, int) and 1 <= turn <= len(inputs):
            seq = inputs[turn - 1].seq
        if seq is None and isinstance(flag.get("evidence"), str):
            seq = quote_seq(flag["evidence"], lines)
        if seq is not None:
            out.append(FlagLink(index=index, kind=_text(flag.get("kind")), seq=seq))
    return out


# --- helpers --------------------------------------------------------------------------------


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _number(value: Any) -> float | None:
    try:
        return float(value) if value is not None and not isinstance(value, bool) else None
    except (TypeError, ValueError):
        return None


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
