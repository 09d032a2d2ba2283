"""Key-point coverage: which of a topic's key points an answer evidences, in the candidate's words.

Matching is deterministic and meant to credit what the candidate *means*:

- words are lower-cased and lemmatised (simplemma's English dictionary, then a light suffix
  strip), so "counted the occurrences" meets the phrase "count occurrences";
- a phrase of several content words also matches when those words appear close together in
  one sentence in another order ("a size-k heap" meets "heap of size k");
- a phrase preceded by a negation in the same clause does not count ("I would not use a
  lock" does not evidence "use a lock");
- a few spellings are folded together (hashmap → hash map, amortized → amortised).

It drives the offline engine's follow-ups, misconception checks and scores, and the plans'
sample answers are audited against it (``plans/audit.py``), so the data and the matcher agree.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import simplemma

from ..plans.models import KeyPoint

# "don't" → "do" + "n't" (a negation); "c++" and "c#" stay one token; a minus sign written
# against a name ("(-count, value)") stays with it, as in code.
_WORD = re.compile(r"n't|[a-z0-9]+?(?=n't)|(?<![a-z0-9])-[a-z]+|[a-z0-9]+(?:[+#][a-z0-9+#]*)?")
_SUFFIXES = ("ations", "ation", "ings", "ing", "ies", "ied", "es", "ed", "ly", "s")
_NEGATIONS = frozenset({"not", "no", "never", "without", "nor", "neither", "n't"})
# Words that end the scope of a negation: "not X but Y" negates X only.
_CLAUSE_BREAKS = frozenset({"but", "so", "then", "because", "although", "while", "whereas"})
_CONTRASTS = frozenset({("rather", "than"), ("instead", "of")})
_STOP = frozenset(
    "a an the of to in on at for and or is are be it its this that with by as i we you my our "
    "do does did would will can could should".split()
)
# Spelling variants folded onto one form, applied per word before lemmatising.
_FOLD = {
    "hashmap": ("hash", "map"),
    "hashmaps": ("hash", "map"),
    "hashtable": ("hash", "table"),
    "dict": ("dictionary",),
    "amortized": ("amortised",),
    "amortize": ("amortise",),
    "optimized": ("optimised",),
    "serialized": ("serialised",),
    "normalized": ("normalised",),
    "behavior": ("behaviour",),
    "prioritize": ("prioritise",),
    "prioritized": ("prioritised",),
    "idempotency": ("idempotent",),
    "idempotence": ("idempotent",),
}
# Content words of a phrase may appear within this many extra words of each other.
_SLACK = 3
_NEGATION_REACH = 3
_CONTRAST_REACH = 6


def _stem(word: str) -> str:
    for suffix in _SUFFIXES:
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


@lru_cache(maxsize=65536)
def _norm(word: str) -> str:
    if word == "n't":
        return "not"
    if word.startswith("-"):
        return "-" + _norm(word[1:])
    if not word.isalpha():
        return word
    return _stem(simplemma.lemmatize(word, lang="en").lower())


# simplemma loads its English dictionary on first use (≈0.25 s): do it at import, not mid-turn.
_norm("warming")


@dataclass(frozen=True)
class Token:
    """A normalised word and where it sits in the original text."""

    norm: str
    start: int
    end: int


def tokens(text: str) -> list[Token]:
    """Normalised tokens of ``text`` with their character offsets in ``text``."""
    lowered = text.lower().replace("\u2019", "'")
    out: list[Token] = []
    for m in _WORD.finditer(lowered):
        folded = _FOLD.get(m.group())
        if folded is None:
            out.append(Token(_norm(m.group()), m.start(), m.end()))
        else:
            out.extend(Token(_norm(w), m.start(), m.end()) for w in folded)
    return out


def words(text: str) -> list[str]:
    """Lower-case, lemmatised word tokens of ``text``."""
    return [t.norm for t in tokens(text)]


@lru_cache(maxsize=16384)
def _phrase(phrase: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """A phrase's words and its content words (stop words dropped), cached: plans are static."""
    ws = tuple(words(phrase))
    content = tuple(w for w in ws if w not in _STOP) or ws
    return ws, content


def _contiguous(haystack: Sequence[str], needle: Sequence[str]) -> int | None:
    n = len(needle)
    if n == 0 or n > len(haystack):
        return None
    first = needle[0]
    for i in range(len(haystack) - n + 1):
        if haystack[i] == first and tuple(haystack[i : i + n]) == tuple(needle):
            return i
    return None


def _negated(haystack: Sequence[str], start: int) -> bool:
    """Whether a negation in the same clause reaches the match starting at ``start``.

    "not"/"never"/"without" reach a few words; "rather than" and "instead of" reach a little
    further ("rather than a promise to run immediately" does not claim it runs immediately).
    """
    for j in range(start - 1, max(-1, start - 1 - _CONTRAST_REACH), -1):
        word = haystack[j]
        if word in _CLAUSE_BREAKS:
            return False
        if word in _NEGATIONS and start - j <= _NEGATION_REACH:
            return True
        if j > 0 and (haystack[j - 1], word) in _CONTRASTS:
            return True
    return False


def find_phrase(
    haystack: Sequence[str], phrase: str, *, negation: bool = True
) -> tuple[int, int] | None:
    """Where ``phrase`` occurs (not negated) in tokenised text, as a ``[start, end)`` range.

    The phrase's words in order match first; otherwise its content words in any order within
    a short window.  A match a negation reaches does not count (unless ``negation`` is
    False: "can I assume there's no leakage?" still asks about leakage).
    """
    ws, content = _phrase(phrase)
    at = _contiguous(haystack, ws)
    if at is not None and not (negation and _negated(haystack, at)):
        return at, at + len(ws)
    wanted = set(content)
    if len(wanted) < 2:  # one word (even repeated) only matches as itself, above
        return None
    width = len(content) + _SLACK
    negative = any(w in _NEGATIONS for w in ws)
    for i, w in enumerate(haystack):
        if w not in wanted:
            continue
        window = haystack[i : i + width]
        if not wanted <= set(window):
            continue
        last = max(i + window.index(c) for c in wanted)
        # "rejected requests don't count" is not "rejected requests count": a negation
        # between the phrase's words turns it around (unless the phrase has one itself).
        inner = not negative and any(t in _NEGATIONS for t in haystack[i : last + 1])
        if not negation or (not inner and not _negated(haystack, i)):
            return i, last + 1
    return None


def phrase_in(text_words: Sequence[str], phrase: str) -> bool:
    """Whether ``phrase`` occurs (not negated) in already-tokenised text."""
    return find_phrase(text_words, phrase) is not None


@dataclass(frozen=True)
class Coverage:
    """Which key points an answer covered, the sentence that showed each, and its own words."""

    covered: tuple[str, ...]
    missed: tuple[str, ...]
    evidence: dict[str, str]
    spans: dict[str, str]

    @property
    def ratio(self) -> float:
        """Share of key points covered, 0..1."""
        total = len(self.covered) + len(self.missed)
        return len(self.covered) / total if total else 0.0


# A full stop inside a number or an "e.g."/"i.e." does not end a sentence.
_SENTENCE = re.compile(r"(?:\b[eE]\.[gG]\.|\b[iI]\.[eE]\.|[^.!?\n]|\.(?=[0-9]))+[.!?]*")


def sentences(text: str) -> list[str]:
    """Split ``text`` into sentences (good enough for evidence quotes)."""
    return [s.strip() for s in _SENTENCE.findall(text.strip()) if s.strip(" .!?")]


@dataclass(frozen=True)
class Match:
    """A phrase found in a text: the sentence it is in and the candidate's own words."""

    sentence: str
    span: str


_Split = list[tuple[str, list[Token], list[str]]]


def _split(text: str) -> _Split:
    """Each sentence of ``text`` with its tokens (offsets relative to the sentence)."""
    out: _Split = []
    for m in _SENTENCE.finditer(text):
        if m.group().strip(" .!?\n"):
            toks = tokens(m.group())
            out.append((m.group(), toks, [t.norm for t in toks]))
    return out


def _match(split: _Split, phrases: Iterable[str], negation: bool = True) -> Match | None:
    for sentence, toks, norms in split:
        for phrase in phrases:
            found = find_phrase(norms, phrase, negation=negation)
            if found is not None:
                a, b = found
                end = toks[b - 1].end
                # Keep a bracket the words opened: "O(n log k)", not "O(n log k".
                while (
                    end < len(sentence)
                    and sentence[end] in ")]}"
                    and (
                        sentence[toks[a].start : end].count(_OPEN[sentence[end]])
                        > sentence[toks[a].start : end].count(sentence[end])
                    )
                ):
                    end += 1
                span = sentence[toks[a].start : end]
                return Match(sentence.strip()[:240], span[:120])
    return None


_OPEN = {")": "(", "]": "[", "}": "{"}


def match_any(text: str, phrases: Iterable[str], *, negation: bool = True) -> Match | None:
    """The first of ``phrases`` found in ``text``, sentence by sentence (never across two)."""
    return _match(_split(text), phrases, negation)


def cover(text: str, key_points: Iterable[KeyPoint]) -> Coverage:
    """Match ``text`` against ``key_points``.

    Args:
        text: the candidate's answer (any untrusted text; it is only tokenised).
        key_points: the topic's key points.

    Returns:
        Which key points were covered, which were missed, and per covered point the sentence
        that showed it and the candidate's own words for it.
    """
    covered: list[str] = []
    missed: list[str] = []
    evidence: dict[str, str] = {}
    spans: dict[str, str] = {}
    split = _split(text)
    for kp in key_points:
        hit = _match(split, kp.phrases)
        if hit is None:
            missed.append(kp.id)
            continue
        covered.append(kp.id)
        evidence[kp.id] = hit.sentence
        spans[kp.id] = hit.span
    return Coverage(tuple(covered), tuple(missed), evidence, spans)
