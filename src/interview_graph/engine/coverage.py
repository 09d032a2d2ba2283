"""Key-point coverage: which of a topic's key points an answer evidences.

Matching is deliberately simple and deterministic: text and phrases are lower-cased, split
into words and lightly stemmed, and a phrase counts when its words appear contiguously.
It drives the offline engine's follow-ups and scores, and the plans' sample answers are
checked against it (tests/test_plans.py), so the data and the matcher agree.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..plans.models import KeyPoint

_WORD = re.compile(r"[a-z0-9]+(?:[+#][a-z0-9+#]*)?")
_SUFFIXES = ("ations", "ation", "ings", "ing", "ies", "ied", "es", "ed", "ly", "s")


def _stem(word: str) -> str:
    for suffix in _SUFFIXES:
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def words(text: str) -> list[str]:
    """Lower-case, stemmed word tokens of ``text``."""
    return [_stem(w) for w in _WORD.findall(text.lower())]


def _contains(haystack: Sequence[str], needle: Sequence[str]) -> bool:
    n = len(needle)
    if n == 0 or n > len(haystack):
        return False
    first = needle[0]
    return any(
        haystack[i] == first and list(haystack[i : i + n]) == list(needle)
        for i in range(len(haystack) - n + 1)
    )


def phrase_in(text_words: Sequence[str], phrase: str) -> bool:
    """Whether ``phrase`` occurs in already-tokenised text."""
    return _contains(text_words, words(phrase))


@dataclass(frozen=True)
class Coverage:
    """Which key points an answer covered, and the sentence that showed each."""

    covered: tuple[str, ...]
    missed: tuple[str, ...]
    evidence: dict[str, str]

    @property
    def ratio(self) -> float:
        """Share of key points covered, 0..1."""
        total = len(self.covered) + len(self.missed)
        return len(self.covered) / total if total else 0.0


def sentences(text: str) -> list[str]:
    """Split ``text`` into sentences (good enough for evidence quotes)."""
    parts = re.split(r"(?<=[.!?])\s+|\n+", text.strip())
    return [p.strip() for p in parts if p.strip()]


def cover(text: str, key_points: Iterable[KeyPoint]) -> Coverage:
    """Match ``text`` against ``key_points``.

    Args:
        text: the candidate's answer (any untrusted text; it is only tokenised).
        key_points: the topic's key points.

    Returns:
        Which key points were covered, which were missed, and a quote per covered point.
    """
    text_words = words(text)
    split = [(s, words(s)) for s in sentences(text)]
    covered: list[str] = []
    missed: list[str] = []
    evidence: dict[str, str] = {}
    for kp in key_points:
        hit = next((p for p in kp.phrases if phrase_in(text_words, p)), None)
        if hit is None:
            missed.append(kp.id)
            continue
        covered.append(kp.id)
        quote = next((s for s, sw in split if phrase_in(sw, hit)), text.strip())
        evidence[kp.id] = quote[:240]
    return Coverage(tuple(covered), tuple(missed), evidence)
