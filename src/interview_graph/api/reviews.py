"""The reviewer's REST API under ``/api``: interviews, transcripts, reports and human reviews.

Every route needs a caller (:func:`caller`): a Bearer JWT (``sub`` and ``role``, see
:mod:`.auth`) or, in the dev mode only, ``X-Interview-User`` / ``X-Interview-Role`` headers
(or ``as_user`` / ``as_role`` query parameters).  Reviewer routes answer 403 to a candidate.
A candidate may read one thing here: the public transcript of an interview of their own,
exactly as the WebSocket shows it (another candidate's interview: 403; none: 404).

Reads and writes go through the event store (:class:`~interview_graph.store.EventStore`):
listing is ``list_interviews``, a review is one ``append`` of a private ``review_override``
event, so the review is part of the interview's own log and audit trail.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field

from .. import review as rv
from ..settings import Settings
from ..store import (
    REVIEW_KIND,
    Event,
    EventStore,
    InterviewPage,
    InterviewQuery,
    InterviewSummary,
    Status,
)
from .auth import AuthError, Principal, Role, identify
from .report_html import render_report
from .runner import to_wire

log = logging.getLogger("interview_graph.api")
_bearer = HTTPBearer(auto_error=False, description="A JWT with `sub` and `role` claims.")


class Me(BaseModel):
    """Who the caller is."""

    user: str
    role: Role
    auth: Literal["jwt", "dev"]


class ReviewerTranscript(BaseModel):
    """Every event of an interview, public and private, with its seq (reviewers)."""

    interview_id: str
    scope: Literal["all"] = "all"
    events: list[Event]


class CandidateTranscript(BaseModel):
    """The candidate's own interview as the WebSocket shows it: public events only."""

    interview_id: str
    scope: Literal["public"] = "public"
    events: list[dict[str, Any]] = Field(description="Wire events (docs/protocol.md).")


class CompetencyOverride(BaseModel):
    """Override one competency's score in one round, with a reason."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")
    round_id: str = Field(max_length=64)
    competency_id: str = Field(max_length=64)
    score: float = Field(ge=rv.MIN_SCORE, le=rv.MAX_SCORE, description="1–5.")
    reason: str = Field(min_length=3, max_length=2000)
    request_id: str | None = Field(
        default=None, max_length=64, description="Makes a retried request a no-op."
    )


class RecommendationOverride(BaseModel):
    """Set the final recommendation, with a reason."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")
    decision: rv.Decision
    reason: str = Field(min_length=3, max_length=2000)
    request_id: str | None = Field(default=None, max_length=64)


_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "No or invalid credentials."},
    403: {"description": "A candidate on a reviewer route, or another candidate's interview."},
    404: {"description": "No such interview."},
}


def _epoch(moment: datetime | None) -> float | None:
    """Epoch seconds of a query's time (one without an offset is UTC)."""
    if moment is None:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    x_interview_user: Annotated[
        str | None, Header(description="Dev mode only: act as this user.")
    ] = None,
    x_interview_role: Annotated[
        str | None, Header(description="Dev mode only: `candidate` or `reviewer`.")
    ] = None,
    as_user: Annotated[
        str | None, Query(description="Dev mode only: like X-Interview-User.")
    ] = None,
    as_role: Annotated[
        str | None, Query(description="Dev mode only: like X-Interview-Role.")
    ] = None,
) -> Principal:
    """Who is calling: a Bearer JWT, or (dev mode only) a user and role named by the client."""
    settings = _settings(request)
    token = credentials.credentials if credentials else None
    try:
        if settings.auth == "dev":
            return identify(
                settings, token, x_interview_user or as_user, x_interview_role or as_role
            )
        return identify(settings, token)
    except AuthError as exc:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, str(exc), headers={"WWW-Authenticate": "Bearer"}
        ) from None


def reviewer(who: Annotated[Principal, Depends(caller)]) -> Principal:
    """The caller, who must be a reviewer (else 403)."""
    if not who.reviewer:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "reviewers only")
    return who


def event_store(request: Request) -> EventStore:
    """This process's event store."""
    db: EventStore = request.app.state.hub.store.log
    return db


Caller = Annotated[Principal, Depends(caller)]
Reviewer = Annotated[Principal, Depends(reviewer)]
Store = Annotated[EventStore, Depends(event_store)]


def review_router() -> APIRouter:
    """The ``/api`` router (mounted by :func:`~interview_graph.api.app.create_app`)."""
    router = APIRouter(prefix="/api", tags=["review"], responses=_ERRORS)

    async def summary_of(db: EventStore, interview_id: str) -> InterviewSummary:
        found = await db.interview_summary(interview_id)
        if found is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such interview")
        return found

    async def report_of(db: EventStore, interview_id: str) -> tuple[rv.ReviewedReport, list[Event]]:
        summary = await summary_of(db, interview_id)
        events = await db.events(interview_id)
        reports = [e for e in events if e.kind == "report"]
        if not reports:
            raise HTTPException(status.HTTP_409_CONFLICT, "the interview has no report yet")
        return rv.reviewed_report(summary, reports[-1], events), events

    @router.get("/me", response_model=Me, summary="Who the caller is")
    async def me(request: Request, who: Caller) -> Me:
        """The caller's user id and role (and whether the server runs in the dev mode)."""
        return Me(user=who.user, role=who.role, auth=_settings(request).auth)

    @router.get("/interviews", response_model=InterviewPage, summary="List interviews")
    async def list_interviews(
        _: Reviewer,
        db: Store,
        plan: Annotated[str | None, Query(max_length=300)] = None,
        user_id: Annotated[str | None, Query(max_length=64, description="The candidate.")] = None,
        status_: Annotated[Status | None, Query(alias="status")] = None,
        created_from: Annotated[
            datetime | None,
            Query(description="ISO 8601 (UTC if no offset) or epoch seconds; inclusive."),
        ] = None,
        created_to: Annotated[
            datetime | None,
            Query(description="ISO 8601 (UTC if no offset) or epoch seconds; exclusive."),
        ] = None,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> InterviewPage:
        """Interviews, newest first, filtered by plan, candidate, status and creation time."""
        query = InterviewQuery(
            plan=plan,
            user_id=user_id,
            status=status_,
            created_from=_epoch(created_from),
            created_to=_epoch(created_to),
            limit=limit,
            offset=offset,
        )
        return await db.list_interviews(query)

    @router.get(
        "/interviews/{interview_id}", response_model=InterviewSummary, summary="One interview"
    )
    async def get_interview(interview_id: str, _: Reviewer, db: Store) -> InterviewSummary:
        """One interview's summary."""
        return await summary_of(db, interview_id)

    @router.get(
        "/interviews/{interview_id}/transcript",
        response_model=ReviewerTranscript | CandidateTranscript,
        summary="An interview's transcript",
    )
    async def transcript(
        interview_id: str,
        who: Caller,
        db: Store,
        after: Annotated[int, Query(ge=0, description="Only events with a larger seq.")] = 0,
    ) -> ReviewerTranscript | CandidateTranscript:
        """Every event (public and private) with its seq, for reviewers.

        A candidate gets the public events of their own interview, as the WebSocket sends
        them; another candidate's interview is 403.
        """
        owner = await db.interview(interview_id)
        if owner is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such interview")
        if who.reviewer:
            events = await db.events(interview_id, after=after)
            return ReviewerTranscript(interview_id=interview_id, events=events)
        if owner[0] != who.user:
            raise HTTPException(status.HTTP_403_FORBIDDEN, "not your interview")
        public = await db.events(interview_id, after=after, visibility="public")
        wire = [w for w in (to_wire(e) for e in public) if w is not None]
        return CandidateTranscript(interview_id=interview_id, events=wire)

    @router.get(
        "/interviews/{interview_id}/report",
        response_model=rv.ReviewedReport,
        summary="An interview's report with its human review",
        responses={409: {"description": "The interview has no report yet."}},
    )
    async def report(interview_id: str, _: Reviewer, db: Store) -> rv.ReviewedReport:
        """The engine's report as stored, with the human review beside it.

        The review holds every override (who, when, before, after, reason) and what is in
        force; evidence quotes and integrity flags come linked to transcript seqs.
        """
        view, _events = await report_of(db, interview_id)
        return view

    @router.get(
        "/interviews/{interview_id}/report.html",
        response_class=HTMLResponse,
        summary="The printable report page",
        responses={409: {"description": "The interview has no report yet."}},
    )
    async def report_html(
        interview_id: str,
        _: Reviewer,
        db: Store,
        transcript: Annotated[bool, Query(description="Append the full transcript.")] = True,
    ) -> HTMLResponse:
        """The report as one printable HTML page (print it to PDF from the browser)."""
        view, events = await report_of(db, interview_id)
        return HTMLResponse(render_report(view, events, transcript=transcript))

    @router.get(
        "/interviews/{interview_id}/reviews",
        response_model=list[rv.ReviewEntry],
        summary="The human review's audit trail",
    )
    async def reviews(interview_id: str, _: Reviewer, db: Store) -> list[rv.ReviewEntry]:
        """Every review event of the interview, oldest first."""
        await summary_of(db, interview_id)
        return rv.entries(await db.events(interview_id, kind=REVIEW_KIND))

    async def record(
        db: EventStore,
        interview_id: str,
        who: Principal,
        data: dict[str, Any],
        request_id: str | None,
    ) -> rv.ReviewEntry:
        event = await db.append(
            interview_id,
            rv.review_key(who.user, request_id),
            REVIEW_KIND,
            visibility="private",
            round_id=data.get("round_id"),
            speaker=who.user,
            text=rv.audit_line(data),
            data=data,
        )
        log.info("interview %s: review #%d: %s", interview_id, event.seq, event.text)
        return rv.entries([event])[0]

    @router.post(
        "/interviews/{interview_id}/reviews/competency",
        response_model=rv.ReviewEntry,
        status_code=status.HTTP_201_CREATED,
        summary="Override a competency's score",
        responses={
            409: {"description": "The interview has no report yet."},
            422: {"description": "Invalid body, or no such round or competency in the report."},
        },
    )
    async def override_competency(
        interview_id: str, body: CompetencyOverride, who: Reviewer, db: Store
    ) -> rv.ReviewEntry:
        """Record an override of one competency's score; the engine's score stays beside it."""
        view, _events = await report_of(db, interview_id)
        try:
            data = rv.competency_override(
                view.report,
                view.review.audit,
                by=who.user,
                round_id=body.round_id,
                competency_id=body.competency_id,
                score=body.score,
                reason=body.reason,
            )
        except rv.ReviewRequestError as exc:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, str(exc)) from None
        return await record(db, interview_id, who, data, body.request_id)

    @router.post(
        "/interviews/{interview_id}/reviews/recommendation",
        response_model=rv.ReviewEntry,
        status_code=status.HTTP_201_CREATED,
        summary="Set the final recommendation",
        responses={409: {"description": "The interview has no report yet."}},
    )
    async def set_recommendation(
        interview_id: str, body: RecommendationOverride, who: Reviewer, db: Store
    ) -> rv.ReviewEntry:
        """Record the reviewer's final recommendation; the engine's stays beside it."""
        view, _events = await report_of(db, interview_id)
        data = rv.recommendation_override(
            view.report,
            view.review.audit,
            by=who.user,
            decision=body.decision,
            reason=body.reason,
        )
        return await record(db, interview_id, who, data, body.request_id)

    return router
