"""The seam every decision goes through, and the registry of engines behind it.

The graphs call a :class:`Brain`; which brain answers is chosen per interview by name
(``offline`` by default).  Tests and replays register their own brains under a name, so the
graph's runtime context stays plain, serialisable data that LangGraph Studio can also send.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, Protocol, runtime_checkable

from ..plans.catalogue import Catalogue
from ..plans.models import Clarification, InterviewPlan, Panelist, Round, Topic
from .decisions import (
    Advice,
    Evaluation,
    Intent,
    Recommendation,
    Reflection,
    RoundSummary,
    RulesVerdict,
    SpeakerChoice,
    TopicDecision,
    Understanding,
)


@runtime_checkable
class Brain(Protocol):
    """Makes every decision of an interview.  Implementations must be stateless per call."""

    name: str

    async def check_rules(self, text: str, topic: Topic | None, *, source: str) -> RulesVerdict:
        """Judge a candidate input (``message`` or ``code``) before the panel sees it."""
        ...

    async def screen(self, text: str, topic: Topic | None) -> RulesVerdict:
        """A second rules check that runs alongside the reply; the reply is held until it allows.

        An engine whose :meth:`check_rules` is already complete returns ``allow`` at once.
        """
        ...

    async def understand(
        self,
        text: str,
        topic: Topic,
        progress: dict[str, Any],
        *,
        faq: Sequence[Clarification],
    ) -> Understanding:
        """What the candidate's message is doing (answer, clarify, repeat, hint, stuck, …)."""
        ...

    async def assess_answer(
        self,
        answer: str,
        topic: Topic,
        progress: dict[str, Any],
        *,
        max_follow_ups: int,
        out_of_turns: bool,
        silent: bool,
    ) -> TopicDecision:
        """Topic completion: what the answer covered and whether the topic is done."""
        ...

    async def pick_speaker(
        self, round_: Round, topic: Topic, asked_counts: dict[str, int]
    ) -> SpeakerChoice:
        """Choose who asks ``topic``."""
        ...

    async def advise(
        self,
        panelist: Panelist,
        task: dict[str, Any],
        topic: Topic | None,
        progress: dict[str, Any] | None,
        handoff: str,
        activity: dict[str, Any] | None,
    ) -> Advice:
        """Private advice for the panelist about to speak."""
        ...

    async def reason(
        self,
        panelist: Panelist,
        task: dict[str, Any],
        topic: Topic | None,
        advice: dict[str, Any],
        memory: dict[str, Any],
    ) -> Intent:
        """The panelist decides what to do with its turn."""
        ...

    def speak(
        self,
        panelist: Panelist,
        intent: Intent,
        topic: Topic | None,
        round_: Round,
        scene: dict[str, Any],
    ) -> AsyncIterator[str]:
        """Stream what the panelist says, chunk by chunk (the one call on the critical path)."""
        ...

    async def reflect(
        self,
        panelist: Panelist,
        intent: Intent,
        topic: Topic | None,
        progress: dict[str, Any] | None,
        answer: str,
    ) -> Reflection:
        """The panelist's private note after speaking."""
        ...

    async def evaluate(
        self,
        panelist: Panelist,
        topic: Topic,
        round_: Round,
        progress: dict[str, Any],
        activity: dict[str, Any] | None,
    ) -> Evaluation:
        """Score the candidate on ``topic`` from this panelist's point of view."""
        ...

    async def summarise_round(
        self, round_: Round, evaluations: list[Evaluation], scores: dict[str, float]
    ) -> RoundSummary:
        """Summarise a round's findings for the next round's panel and the report."""
        ...

    async def recommend(
        self, plan: InterviewPlan, round_scores: dict[str, float], flags: list[dict[str, Any]]
    ) -> Recommendation:
        """The final recommendation."""
        ...

    async def draft_plan(self, job_description: str, catalogue: Catalogue) -> InterviewPlan:
        """Propose an interview plan for ``job_description`` (validated by the caller).

        ``catalogue`` is the question catalogue (``rounds/catalogue/``): the offline engine
        assembles from its topics, an LLM adapts the topics that match the description.
        """
        ...


_ENGINES: dict[str, Callable[[], Brain]] = {}


def register_engine(name: str, factory: Callable[[], Brain]) -> None:
    """Make ``factory`` available as engine ``name`` (tests register scripted brains here)."""
    _ENGINES[name] = factory


def unregister_engine(name: str) -> None:
    """Forget engine ``name`` (no error if unknown)."""
    _ENGINES.pop(name, None)


def get_brain(name: str) -> Brain:
    """Build the brain registered as ``name``.

    Raises:
        KeyError: no engine of that name; the message lists the known ones.
    """
    if name == "auto":
        from ..settings import get_settings

        name = get_settings().engine_name
    if name not in _ENGINES:
        from ..llm import brain  # noqa: F401  # registers "llm" on import
        from . import offline  # noqa: F401  # registers "offline" on import

    try:
        return _ENGINES[name]()
    except KeyError:
        raise KeyError(f"unknown engine {name!r} (known: {', '.join(sorted(_ENGINES))})") from None
