"""State of the panelist subgraph: what the master hands in, and the narrowed output."""

from __future__ import annotations

from typing import Any, TypedDict


class PanelistInput(TypedDict):
    """What the master gives a panelist for one turn."""

    panelist_id: str
    round_id: str
    topic_id: str | None
    task: dict[str, Any]
    advice: dict[str, Any]
    memory: dict[str, Any]
    progress: dict[str, Any] | None
    answer: str
    scene: dict[str, Any]
    activity: dict[str, Any] | None
    key: str


class PanelistOutput(TypedDict):
    """What the master gets back: memory, the line said, an evaluation, the screen verdict."""

    memory: dict[str, Any]
    said: str
    evaluation: dict[str, Any] | None
    screen: dict[str, Any] | None


class PanelistState(PanelistInput, total=False):
    """Working state inside the subgraph."""

    intent: dict[str, Any]
    notes: list[dict[str, str]]
    said: str
    evaluation: dict[str, Any] | None
    screen: dict[str, Any] | None
