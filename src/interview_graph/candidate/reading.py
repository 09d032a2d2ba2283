"""How the candidate reads the panel: the new lines since it last spoke, and what they ask.

A real candidate hears the panel's words, not its moves.  The offline candidate recognises a
follow-up, a challenge, a hint or a clarification by matching what was said against the
plan's own public lines (follow-up questions, misconception probes, hints, clarification
answers): verbatim for the offline panel, by word overlap for a model that words them itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

from ..engine.coverage import words
from ..engine.speech import CHECK_SUBMIT, INVITE

K = TypeVar("K")

# The panel asking for the code (its own phrases, or a model's words for the same thing).
_INVITE = re.compile(
    r"\b(submit|code it( up)?|write (it|the code|that)|in code|see (it|the code)|"
    r"go ahead and (code|write|implement))\b",
    re.IGNORECASE,
)
# Share of a plan line's words a free-worded panel line must contain to count as saying it.
_OVERLAP = 0.6
_STOP = frozenset(
    "a an the of to in on at for and or is are be it its this that with by as i we you my our "
    "your do does did would will can could should what which how when why there here if so "
    "about from into than then they them their".split()
)


def new_panel_lines(recent: Sequence[dict[str, Any]]) -> list[str]:
    """The panel's lines since the candidate last spoke (oldest first)."""
    lines: list[str] = []
    for item in recent:
        if item.get("speaker") == "candidate":
            lines = []
        elif item.get("text"):
            lines.append(str(item["text"]))
    return lines


def _squash(text: str) -> str:
    return " ".join(text.split())


def _content(text: str) -> set[str]:
    return {w for w in words(text) if w not in _STOP}


def _overlap(line_words: set[str], text: str) -> float:
    mine = _content(text)
    return len(mine & line_words) / len(mine) if mine else 0.0


def find(lines: Sequence[str], options: Iterable[tuple[K, str]]) -> K | None:
    """The option the newest line says: verbatim first, else the best word overlap.

    ``options`` come in priority order (the first verbatim hit wins); a line that says none
    of them verbatim is matched to the option it overlaps most, if it overlaps enough.
    """
    options = [(key, text) for key, text in options if text]
    for line in reversed(lines):
        flat = _squash(line)
        for key, text in options:
            if _squash(text) in flat:
                return key
        line_words = _content(line)
        scored = [(_overlap(line_words, text), -i) for i, (_, text) in enumerate(options)]
        best = max(scored, default=(0.0, 0))
        if best[0] >= _OVERLAP:
            return options[-best[1]][0]
    return None


def asks_for_code(lines: Sequence[str]) -> bool:
    """Whether the newest panel line invites the code (or asks whether it is ready)."""
    if not lines:
        return False
    last = lines[-1]
    return any(p in last for p in (*INVITE, *CHECK_SUBMIT)) or bool(_INVITE.search(last))
