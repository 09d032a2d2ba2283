"""State of the activity-analysis subgraph."""

from __future__ import annotations

from typing import Any, TypedDict


class ActivityInput(TypedDict):
    """One code activity event from the candidate, plus the previous analysis of this question."""

    round_id: str
    question_id: str | None
    action: str
    code: str
    language: str
    previous: dict[str, Any] | None


class ActivityOutput(TypedDict):
    """The latest analysis: a private brief for the panel and what the candidate may see."""

    analysis: dict[str, Any]


class ActivityState(ActivityInput, total=False):
    """Working state inside the subgraph."""

    facts: dict[str, Any]
    execution: dict[str, Any] | None
    fit: dict[str, Any]
    analysis: dict[str, Any]
