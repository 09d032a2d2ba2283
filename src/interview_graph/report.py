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
    """One competency's merged score in a round (None: not assessed, left out of averages)."""

    id: str
    name: str
    score: float | None
    evidence: list[str]
    by_panelist: dict[str, float] = Field(default_factory=dict)
    spread: float = 0.0
    weight: int = Field(default=0, description="Pieces of evidence behind the score.")


class PanelistResult(BaseModel):
    """One panelist's scores in a round."""

    id: str
    name: str
    scores: dict[str, float]
    rationale: list[str]


class Disagreement(BaseModel):
    """Two panelists more than ``DISAGREEMENT`` apart on one competency: for the reviewer."""

    competency: str
    panelists: list[dict[str, Any]] = Field(description="id, name, score and evidence of each.")


class RoundResult(BaseModel):
    """A finished round."""

    round_id: str
    title: str
    score: float | None
    competencies: list[CompetencyResult]
    panelists: list[PanelistResult]
    topics_assessed: list[str]
    topics_not_reached: list[str]
    coding: dict[str, dict[str, Any]] = {}
    strengths: list[str]
    gaps: list[str]
    summary: str
    disagreements: list[Disagreement] = Field(default_factory=list)
    hints: list[dict[str, Any]] = Field(default_factory=list, description="topic, hint text.")
    misconceptions: list[dict[str, Any]] = Field(
        default_factory=list, description="topic, what was said, what is wrong with it."
    )
    moved_on: list[str] = Field(default_factory=list, description="Topics the candidate skipped.")


class Report(BaseModel):
    """The final report for the hiring team (never sent to the candidate mid-interview)."""

    plan_id: str
    plan_version: str
    rubric_versions: dict[str, str]
    role: str
    engine: str
    completed: bool
    overall: float | None
    recommendation: Recommendation
    rounds: list[RoundResult]
    integrity_flags: list[dict[str, Any]]
    strengths: list[str]
    gaps: list[str]
    usage: TokenUsage = Field(default_factory=TokenUsage, description="LLM tokens and cost.")


# Panelists further apart than this on one competency are flagged for a human.
DISAGREEMENT = 1.5


async def merge_round(
    svc: Services,
    round_: Round,
    evaluations: list[dict[str, Any]],
    coding: dict[str, dict[str, Any]] | None = None,
    topics: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Merge this round's evaluations (latest per topic and panelist) into a RoundResult dict.

    The rules, stated once:

    - a competency's score is the evidence-weighted mean of the evaluations that scored it
      (each weighs as many pieces of evidence as it cites, at least one), so a judgement
      backed by three quotes counts more than one backed by none;
    - a competency no evaluation could score is *not assessed*: no score, no evidence, and
      left out of every average;
    - the round's score is the mean of its assessed competencies weighted the same way (a
      competency resting on one remark counts less than one resting on six), None if there
      are none, and the summary opens with that same figure;
    - panelists more than ``DISAGREEMENT`` apart on a competency are listed, each with their
      evidence, for the reviewer — the merged score is not silently an average of both.
    """
    evals = [Evaluation.model_validate(v) for v in evaluations]
    names = {p.id: p.name for p in round_.panel}
    weighted: dict[str, list[tuple[float, int]]] = defaultdict(list)
    evidence: dict[str, list[str]] = defaultdict(list)
    per_panelist: dict[str, dict[str, list[tuple[float, int]]]] = defaultdict(
        lambda: defaultdict(list)
    )
    cited: dict[tuple[str, str], list[str]] = defaultdict(list)
    for e in evals:
        for comp, score in e.scores.items():
            said = e.evidence_by.get(comp, e.evidence)
            weighted[comp].append((score, max(1, len(said))))
            evidence[comp].extend(said)
            per_panelist[comp][e.panelist_id].append((score, max(1, len(said))))
            cited[(comp, e.panelist_id)].extend(said)
    comp_scores = {c: _weighted(pairs) for c, pairs in weighted.items()}
    competencies, disagreements = [], []
    for c in round_.rubric.competencies:
        by = {pid: _weighted(v) for pid, v in per_panelist.get(c.id, {}).items()}
        spread = round(max(by.values()) - min(by.values()), 2) if by else 0.0
        competencies.append(
            CompetencyResult(
                id=c.id,
                name=c.name,
                score=comp_scores.get(c.id),
                evidence=list(dict.fromkeys(evidence.get(c.id, [])))[:4],
                by_panelist=by,
                spread=spread,
                weight=sum(w for _, w in weighted.get(c.id, [])),
            )
        )
        if spread > DISAGREEMENT:
            disagreements.append(
                Disagreement(
                    competency=c.id,
                    panelists=[
                        {
                            "id": pid,
                            "name": names.get(pid, pid),
                            "score": score,
                            "evidence": list(dict.fromkeys(cited[(c.id, pid)]))[:3],
                        }
                        for pid, score in sorted(by.items(), key=lambda kv: kv[1])
                    ],
                )
            )
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
    scored = [(c.score, c.weight) for c in competencies if c.score is not None]
    round_score = _weighted(scored) if scored else None
    hints, wrong, skipped = _help_and_errors(round_, topics or [])
    text = summary.text
    if round_score is not None:
        text = f"Round score {round_score:.2f}/5. {text}"
    return RoundResult(
        round_id=round_.id,
        title=round_.title,
        score=round_score,
        competencies=competencies,
        panelists=panelists,
        topics_assessed=assessed,
        topics_not_reached=[t.id for t in round_.topics if t.id not in assessed],
        # Per coding question: submitted or not, the last submission's counts, runs, time
        # to the first all-visible pass, in a sentence (master/coding.py).
        coding=coding or {},
        strengths=summary.strengths,
        gaps=summary.gaps,
        summary=text,
        disagreements=disagreements,
        hints=hints,
        misconceptions=wrong,
        moved_on=skipped,
    ).model_dump()


def _weighted(pairs: list[tuple[float, int]]) -> float:
    """Evidence-weighted mean of (score, weight) pairs."""
    return round(sum(s * w for s, w in pairs) / sum(w for _, w in pairs), 2)


def _help_and_errors(
    round_: Round, topics: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[str]]:
    """Hints given, misconceptions challenged (with the candidate's words), topics skipped."""
    hints, wrong, skipped = [], [], []
    for done in topics:
        topic = next((t for t in round_.topics if t.id == done.get("topic_id")), None)
        if topic is None:
            continue
        for given in done.get("hints", []):
            index = given.get("index") if isinstance(given, dict) else None
            if isinstance(index, int) and index < len(topic.hints):
                hints.append({"topic_id": topic.id, "hint": topic.hints[index].text})
        by_id = {m.id: m for m in topic.misconceptions}
        for m in done.get("misconceptions", []):
            if m.get("id") in by_id:
                wrong.append(
                    {"topic_id": topic.id, "said": m.get("quote", ""), "wrong": by_id[m["id"]].text}
                )
        if done.get("moved_on"):
            skipped.append(topic.id)
    return hints, wrong, skipped


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
    # Only assessed rounds have a score; a round not reached is not assessed (the engine's
    # recommendation then knows the interview is incomplete and caps itself).
    round_scores = {r.round_id: r.score for r in results if r.score is not None}
    flags = list(state.get("flags", []))
    recommendation = await svc.brain.recommend(plan, round_scores, flags)
    # Read after recommend() so its own call is counted.
    usage = summarise_usage(
        [
            *await svc.log.events(interview, kind="llm_usage"),
            *await svc.log.events(interview, kind="llm_fallback"),
            *await svc.log.events(interview, kind="llm_method"),
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
        overall=round(mean(round_scores.values()), 2) if round_scores else None,
        recommendation=recommendation,
        rounds=results,
        integrity_flags=flags,
        strengths=list(dict.fromkeys(s for r in results for s in r.strengths))[:6],
        gaps=list(dict.fromkeys(g for r in results for g in r.gaps))[:6],
        usage=usage,
    ).model_dump()
