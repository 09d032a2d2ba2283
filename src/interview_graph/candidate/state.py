"""State of the candidate agent (self-play)."""

from __future__ import annotations

from typing import Any, Literal, TypedDict

Persona = Literal["strong", "average", "weak", "silent", "off_topic", "injection", "paste"]
PERSONAS: tuple[str, ...] = (
    "strong",
    "average",
    "weak",
    "silent",
    "off_topic",
    "injection",
    "paste",
)


class CandidateInput(TypedDict):
    """What the candidate sees: the interview's interrupt payload."""

    persona: str
    plan: str
    payload: dict[str, Any]


class CandidateOutput(TypedDict):
    """What the candidate does: inputs to send, in order."""

    inputs: list[dict[str, Any]]


class CandidateState(CandidateInput, total=False):
    """Working state; ``memory`` persists across turns on the candidate's own thread."""

    memory: dict[str, Any]

    reading: dict[str, Any]
    reply: dict[str, Any]
    inputs: list[dict[str, Any]]
