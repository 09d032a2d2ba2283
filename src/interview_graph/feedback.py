"""What the candidate is told at the end: built from the report by an explicit allow-list.

The report is for the hiring team and never leaves the server's private side.  The candidate
gets a :class:`CandidateFeedback`, whose every field is chosen here:

- ``assessment`` mode: a thank-you and what happens next; nothing else.
- ``practice`` mode: per round and per competency a level in words, strengths and things to
  work on phrased for the candidate (from competency names and levels — never key-point
  text, rubric anchors, panel notes or hidden tests), how many hints they used, and raw
  scores only when the plan allows them (``show_scores``).

Nothing is copied from the report wholesale: a new report field stays private until it is
added here on purpose.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .plans.models import InterviewPlan

Mode = Literal["practice", "assessment"]
# Score → level in words (the same bands as the offline recommendation thresholds).
_LEVELS = ((4.0, "strong"), (3.2, "solid"), (2.5, "developing"), (0.0, "not there yet"))


class _Public(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CompetencyFeedback(_Public):
    """One competency in one round, in words."""

    name: str
    level: str = Field(description="strong, solid, developing, not there yet, or not assessed")
    score: float | None = Field(default=None, description="Only when the plan shows scores.")


class RoundFeedback(_Public):
    """One round, in words."""

    title: str
    level: str
    competencies: list[CompetencyFeedback]
    strengths: list[str]
    to_work_on: list[str]
    score: float | None = None


class CandidateFeedback(_Public):
    """Everything the candidate sees about how it went."""

    mode: Mode
    message: str
    next_steps: str
    rounds: list[RoundFeedback] = Field(default_factory=list)
    hints_used: int = 0


def level(score: float | None) -> str:
    """A score (1–5) in words; None is "not assessed"."""
    if score is None:
        return "not assessed"
    return next(word for floor, word in _LEVELS if score >= floor)


def feedback_from(
    report: dict[str, Any], plan: InterviewPlan, mode: Mode, *, hints_used: int = 0
) -> CandidateFeedback:
    """The candidate's feedback for ``report`` in ``mode`` (see the module docstring)."""
    if mode == "assessment":
        return CandidateFeedback(
            mode=mode,
            message="Thank you for taking the time to interview with us today.",
            next_steps=plan.closing,
        )
    scores = plan.show_scores
    rounds = [_round(r, scores) for r in report.get("rounds", [])]
    return CandidateFeedback(
        mode=mode,
        message="Thanks for practising with us. Here is how it went, round by round.",
        next_steps="Try another practice interview whenever you like; the things to work on "
        "above are a good place to start.",
        rounds=rounds,
        hints_used=hints_used,
    )


def _round(result: dict[str, Any], show_scores: bool) -> RoundFeedback:
    competencies = [
        CompetencyFeedback(
            name=str(c["name"]),
            level=level(c.get("score")),
            score=c.get("score") if show_scores else None,
        )
        for c in result.get("competencies", [])
    ]
    assessed = [c for c in competencies if c.level != "not assessed"]
    strengths = [f"{c.name}: {c.level}" for c in assessed if c.level in ("strong", "solid")]
    to_work_on = [
        f"{c.name}: {c.level} — worth practising"
        for c in assessed
        if c.level in ("developing", "not there yet")
    ]
    score = result.get("score")
    return RoundFeedback(
        title=str(result["title"]),
        level=level(score) if assessed else "not assessed",
        competencies=competencies,
        strengths=strengths,
        to_work_on=to_work_on,
        score=score if show_scores else None,
    )
