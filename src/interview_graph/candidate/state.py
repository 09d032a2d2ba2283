"""State of the candidate agent (self-play)."""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict

Persona = Literal[
    "strong", "average", "weak", "silent", "off_topic", "injection", "paste", "adversarial"
]
PERSONAS: tuple[str, ...] = (
    "strong",
    "average",
    "weak",
    "silent",
    "off_topic",
    "injection",
    "paste",
    "adversarial",
)
# What plays the candidate: the plan-driven rules (reproducible), or a model from a persona.
CANDIDATE_ENGINES: tuple[str, ...] = ("offline", "llm")
# Personas the LLM candidate can play (each is a short prompt in prompts/candidate.md).
LLM_PERSONAS: tuple[str, ...] = ("strong", "average", "weak", "adversarial")


class CandidateInput(TypedDict):
    """What the candidate sees: the interview's interrupt payload.

    ``seed`` seeds the candidate's choices (with the topic and the candidate's turn on it);
    a resumed run reuses the seed the interview started with.  ``engine`` is ``offline``
    (the default) or ``llm``.
    """

    persona: str
    plan: str
    payload: dict[str, Any]
    seed: NotRequired[int | None]
    engine: NotRequired[str]


class CandidateOutput(TypedDict):
    """What the candidate does: inputs to send, in order."""

    inputs: list[dict[str, Any]]


class CandidateState(CandidateInput, total=False):
    """Working state; ``memory`` persists across turns on the candidate's own thread."""

    memory: dict[str, Any]

    reading: dict[str, Any]
    reply: dict[str, Any]
    inputs: list[dict[str, Any]]
