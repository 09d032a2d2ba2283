"""The decisions that cross the engine seam, as pydantic models.

Both engines (offline and LLM) return these; the graphs only ever see these types, so the
graph never forks per engine and a recorded interview can be replayed decision by decision.
"""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field


class Decision(BaseModel):
    """Base of every decision: plain data, JSON-serialisable, frozen."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class RulesVerdict(Decision):
    """Whether a candidate input may reach the panel."""

    action: Literal["allow", "warn", "block"]
    category: Literal[
        "ok", "silence", "off_topic", "prompt_injection", "answer_request", "abuse", "integrity"
    ]
    reason: str = Field(description="Why, for the panel and the report (never shown verbatim).")
    notice: str = Field(default="", description="What the candidate is told, if anything.")


class Understanding(Decision):
    """What a candidate's message is doing, read before the panel reacts to it."""

    intent: Literal[
        "answer",
        "clarify",
        "repeat",
        "hint",
        "stuck",
        "thinking",
        "question",
        "small_talk",
        "move_on",
    ]
    span: str = Field(default="", description="The candidate's words that show the intent.")
    reply: str = Field(
        default="", description="The plan's answer to the candidate's question, when one fits."
    )


class TopicDecision(Decision):
    """Topic completion: what the candidate's latest answer covered and what happens next."""

    covered: list[str] = Field(description="Key point ids the answer evidenced.")
    evidence: dict[str, str] = Field(default_factory=dict, description="Quote per covered point.")
    complete: bool
    reason: str
    probe: str | None = Field(default=None, description="Key point id to follow up on, if any.")
    spans: dict[str, str] = Field(
        default_factory=dict, description="The candidate's own words per covered point."
    )
    misconception: str | None = Field(
        default=None, description="Id of a misconception the answer voiced, to challenge."
    )
    quote: str = Field(default="", description="The candidate's words that voiced it.")


class SpeakerChoice(Decision):
    """Who speaks next and why."""

    panelist_id: str
    reason: str


class Advice(Decision):
    """The master's private brief to the chosen panelist."""

    text: str
    probe: list[str] = Field(default_factory=list, description="Key point ids worth probing.")
    covered: list[str] = Field(default_factory=list, description="Key point ids already covered.")


Move = Literal[
    "introduce",
    "ask",
    "follow_up",
    "nudge",
    "redirect",
    "close",
    "hand_off",
    "repeat",
    "clarify",
    "hint",
    "encourage",
    "answer_question",
    "challenge",
    "wait",
    "invite_code",
    "discuss_code",
    "farewell",
    "elaborate",
]
# Moves that speak without answering anything the candidate just said (nothing to screen,
# reflect on or evaluate): greetings, new questions, hand-overs, a code discussion, goodbye.
UNPROMPTED_MOVES = frozenset({"introduce", "ask", "hand_off", "discuss_code", "farewell"})
ANSWERING_MOVES = frozenset(get_args(Move)) - UNPROMPTED_MOVES


class Intent(Decision):
    """What a panelist decided to do this time it speaks."""

    move: Move
    key_point: str | None = None
    query: str = Field(default="", description="What to look up in the knowledge base.")
    detail: dict[str, str] = Field(
        default_factory=dict,
        description="Public material the line needs (the candidate's words to quote, the "
        "hint, the clarification's answer, the challenge, the code result in words).",
    )
    note: str = Field(default="", description="Private reasoning; never shown to the candidate.")


class Reflection(Decision):
    """A panelist's private note after speaking: what it now believes about the candidate."""

    observation: str
    reflection: str


class Evaluation(Decision):
    """One panelist's evaluation of one topic."""

    panelist_id: str
    topic_id: str
    scores: dict[str, int] = Field(description="Competency id → 1..5.")
    evidence: list[str] = Field(default_factory=list, description="Quotes from the candidate.")
    evidence_by: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Competency id → the evidence that bears on it (quotes, misses, code).",
    )
    strengths: list[str] = Field(default_factory=list)
    gaps: list[str] = Field(default_factory=list)
    rationale: str = ""


class RoundSummary(Decision):
    """A round's findings, handed to the next round's panel."""

    round_id: str
    text: str
    strengths: list[str] = Field(default_factory=list)
    gaps: list[str] = Field(default_factory=list)


class Recommendation(Decision):
    """The final hiring recommendation."""

    decision: Literal["strong_hire", "hire", "lean_no_hire", "no_hire"]
    rationale: str
