"""Record every decision an engine makes, and replay them without the engine.

A recording holds the candidate's inputs and the engine's decisions in call order.  Replaying
it through the graph must give the identical transcript and report: that proves the graph
itself is deterministic given its decisions, whichever engine made them (an LLM included).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from pydantic import BaseModel

from .base import Brain

_DECIDE = (
    "check_rules",
    "screen",
    "understand",
    "assess_answer",
    "pick_speaker",
    "advise",
    "reason",
    "reflect",
    "evaluate",
    "summarise_round",
    "recommend",
)


_WINDOW = 3


class ReplayMismatch(AssertionError):
    """The graph asked for a different decision than the recording holds at this point."""


class RecordingBrain:
    """Wraps a brain and records each decision (and each spoken line) in call order."""

    def __init__(self, inner: Brain) -> None:
        self.inner = inner
        self.name = inner.name
        self.decisions: list[dict[str, Any]] = []

    def __getattr__(self, method: str) -> Any:
        if method not in _DECIDE:
            raise AttributeError(method)

        async def call(*args: Any, **kwargs: Any) -> Any:
            result = await getattr(self.inner, method)(*args, **kwargs)
            self.decisions.append({"method": method, "result": result.model_dump()})
            return result

        return call

    async def speak(self, *args: Any, **kwargs: Any) -> AsyncIterator[str]:
        """Stream from the inner brain, recording the chunks."""
        chunks = [c async for c in self.inner.speak(*args, **kwargs)]
        self.decisions.append({"method": "speak", "result": chunks})
        for chunk in chunks:
            yield chunk


class ReplayBrain:
    """Returns recorded decisions in order; fails loudly if the graph asks for something else."""

    def __init__(self, decisions: list[dict[str, Any]], name: str = "replay") -> None:
        self.name = name
        self._decisions = list(decisions)
        self._used = [False] * len(self._decisions)
        self._next = 0

    @property
    def exhausted(self) -> bool:
        """Whether every recorded decision was used."""
        return all(self._used)

    def _take(self, method: str) -> Any:
        # Nodes that run side by side (reflect ∥ evaluate, screen ∥ speak) may ask in either
        # order, so look a few unconsumed records ahead; anything further is a real mismatch.
        ahead = [i for i in range(self._next, len(self._decisions)) if not self._used[i]][:_WINDOW]
        if not ahead:
            raise ReplayMismatch(f"graph asked for {method} after the recording ended")
        index = next((i for i in ahead if self._decisions[i]["method"] == method), None)
        if index is None:
            raise ReplayMismatch(
                f"decision {ahead[0]}: graph asked for {method}, recording has "
                + ", ".join(self._decisions[i]["method"] for i in ahead)
            )
        self._used[index] = True
        while self._next < len(self._used) and self._used[self._next]:
            self._next += 1
        return self._decisions[index]["result"]

    def __getattr__(self, method: str) -> Any:
        if method not in _DECIDE:
            raise AttributeError(method)
        from . import decisions as models

        models_by_method: dict[str, type[BaseModel]] = {
            "check_rules": models.RulesVerdict,
            "screen": models.RulesVerdict,
            "understand": models.Understanding,
            "assess_answer": models.TopicDecision,
            "pick_speaker": models.SpeakerChoice,
            "advise": models.Advice,
            "reason": models.Intent,
            "reflect": models.Reflection,
            "evaluate": models.Evaluation,
            "summarise_round": models.RoundSummary,
            "recommend": models.Recommendation,
        }
        model = models_by_method[method]

        async def call(*args: Any, **kwargs: Any) -> Any:
            return model.model_validate(self._take(method))

        return call

    async def speak(self, *args: Any, **kwargs: Any) -> AsyncIterator[str]:
        """Yield the recorded chunks."""
        for chunk in self._take("speak"):
            yield chunk
