"""Merging the panel's evaluations into round results and the final report.

Scores are 1–5 per competency.  A round's competency score is the mean over the panelists
who evaluated a topic scored on it; the round score is the mean of its competencies.  The
arithmetic is fixed here; the judgement calls (summary, recommendation) go through the
engine seam.
"""

from __future__ import annotations

from collections import defaultdict
from statistics import mean
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from .engine.decisions import Evaluation, Recommendation
from .usage import TokenUsage, summarise_usage

if TYPE_CHECKING:
    from .context import Services
    from .master.state import InterviewState
    from .plans.models import Round


class CompetencyResult(BaseModel):
    """One competency's merged score in a round."""

    id: str
    name: str
    score: float | None
    evidence: list[str]


class PanelistResult(BaseModel):
    """One panelist's scores in a round."""

    id: str
    name: str
    scores: dict[str, float]
    rationale: list[str]


class RoundResult(BaseModel):
    """A finished round."""

    round_id: str
    title: str
    score: float
    competencies: list[CompetencyResult]
    panelists: list[PanelistResult]
    topics_assessed: list[str]
    topics_not_reached: list[str]
    coding: dict[str, dict[str, Any]] = {}
    strengths: list[str]
    gaps: list[str]
    summary: str


class Report(BaseModel):
    """The final report for the hiring team (never sent to the candidate mid-interview)."""

    plan_id: str
    plan_version: str
    rubric_versions: dict[str, str]
    role: str
    engine: str
    completed: bool
    overall: float
    recommendation: Recommendation
    rounds: list[RoundResult]
    integrity_flags: list[dict[str, Any]]
    strengths: list[str]
    gaps: list[str]
    usage: TokenUsage = Field(default_factory=TokenUsage, description="LLM tokens and cost.")


async def merge_round(
    svc: Services,
    round_: Round,
    evaluations: list[dict[str, Any]],
    coding: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Merge this round's evaluations (latest per topic and panelist) into a RoundResult dict."""
    evals = [Evaluation.model_validate(v) for v in evaluations]
    by_comp: dict[str, list[int]] = defaultdict(list)
    evidence: dict[str, list[str]] = defaultdict(list)
    for e in evals:
        for comp, score in e.scores.items():
            by_comp[comp].append(score)
            evidence[comp].extend(e.evidence)
    comp_scores = {c: round(mean(s), 2) for c, s in by_comp.items()}
    competencies = [
        CompetencyResult(
            id=c.id,
            name=c.name,
            score=comp_scores.get(c.id),
            evidence=list(dict.fromkeys(evidence.get(c.id, [])))[:3],
        )
        for c in round_.rubric.competencies
    ]
    panelists = []
    for p in round_.panel:
        mine = [e for e in evals if e.panelist_id == p.id]
        scores: dict[str, list[int]] = defaultdict(list)
        for e in mine:
            for comp, score in e.scores.items():
                scores[comp].append(score)
        panelists.append(
            PanelistResult(
                id=p.id,
                name=p.name,
                scores={c: round(mean(s), 2) for c, s in scores.items()},
                rationale=[f"{e.topic_id}: {e.rationale}" for e in mine],
            )
        )
    assessed = list(dict.fromkeys(e.topic_id for e in evals))
    summary = await svc.brain.summarise_round(round_, evals, comp_scores)
    # A competency nobody could assess counts as the lowest score: no evidence is not a pass.
    scored = [c.score if c.score is not None else 1.0 for c in competencies]
    return RoundResult(
        round_id=round_.id,
        title=round_.title,
        score=round(mean(scored), 2),
        competencies=competencies,
        panelists=panelists,
        topics_assessed=assessed,
        topics_not_reached=[t.id for t in round_.topics if t.id not in assessed],
        # Per coding question: snapshots, runs, submits, big rewrites, the snapshot at which
        # every visible test first passed, and the last test counts.
        coding=coding or {},
        strengths=summary.strengths,
        gaps=summary.gaps,
        summary=summary.text,
    ).model_dump()


async def round_results(svc: Services, interview: str) -> list[RoundResult]:
    """Every finished round's result, in order: the event log holds them, not the state.

    Keeping them out of the graph state keeps each checkpoint's size independent of how
    many rounds (and topics) are behind us.
    """
    logged = await svc.log.events(interview, kind="round_summary")
    return [RoundResult.model_validate(e.data) for e in logged]


async def build_report(svc: Services, state: InterviewState, interview: str) -> dict[str, Any]:
    """Build the final :class:`Report` (as a dict) from the finished rounds."""
    plan = svc.plan
    results = await round_results(svc, interview)
    # Rounds never reached (the candidate ended early) count as 1/5.
    round_scores = {r.round_id: r.score for r in results}
    for r in plan.rounds:
        round_scores.setdefault(r.id, 1.0)
    flags = list(state.get("flags", []))
    recommendation = await svc.brain.recommend(plan, round_scores, flags)
    # Read after recommend() so its own call is counted.
    usage = summarise_usage(
        [
            *await svc.log.events(interview, kind="llm_usage"),
            *await svc.log.events(interview, kind="llm_fallback"),
            *await svc.log.events(interview, kind="candidate_message"),
        ]
    )
    return Report(
        plan_id=plan.id,
        plan_version=plan.version,
        rubric_versions={r.id: r.rubric.version for r in plan.rounds},
        role=plan.role,
        engine=svc.brain.name,
        completed=len(results) == len(plan.rounds) and not state.get("ended"),
        overall=round(mean(round_scores.values()), 2),
        recommendation=recommendation,
        rounds=results,
        integrity_flags=flags,
        strengths=list(dict.fromkeys(s for r in results for s in r.strengths))[:6],
        gaps=list(dict.fromkeys(g for r in results for g in r.gaps))[:6],
        usage=usage,
    ).model_dump()
