"""Bounded lists for working memory kept in graph state.

Everything in state is checkpointed on every step, so every list there has a cap: the full
record lives in the event log, state keeps only what the next decision needs.
"""

from __future__ import annotations

from typing import Any, TypeVar

T = TypeVar("T")

OBSERVATIONS = 8
REFLECTIONS = 6
ASKED = 12
RECENT = 6
FLAGS = 40
USED_PHRASES = 40  # stock phrases heard this round (the panel varies its wording)
RECEIPTS = 32  # inputs may be consumed out of order (code runs finish in the background)


def capped(items: list[T], item: T, cap: int) -> list[T]:
    """``items`` plus ``item``, keeping only the newest ``cap`` entries."""
    return [*items, item][-cap:]


def empty_memory(panelist_id: str) -> dict[str, Any]:
    """A panelist's memory before it has met the candidate."""
    return {
        "panelist_id": panelist_id,
        "rounds": [],
        "observations": [],
        "reflections": [],
        "asked": [],
        "handoff": "",
    }
