"""Transcript quality: does the panel sound like people, or like a template?

Run on every self-play transcript in the tests (and usable on any interview's event log), it
reports what a reader notices first:

- a sentence the panel says twice in one round (three words or more; the rephrasings exist
  so that "can you repeat?" never gets the same sentence again);
- an opener (a line's first three words) used more than twice in one round;
- a capital letter in mid-sentence where two parts were glued together ("Walk me through
  What is…"): a lower-case word followed by a capitalised function word;
- a second acknowledgement straight after the first ("Okay. Thanks.");
- an interview that does not end with the panel's goodbye.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from typing import Any

from .engine.coverage import sentences

MIN_WORDS = 3
MAX_OPENER_USES = 2
# Words that start a sentence or clause; capitalised after a lower-case word, they show a join
# ("A" is left out: "an A/B test", "log A").
_FUNCTION_WORDS = (
    "What|How|Why|Which|When|Where|Who|Some|The|Is|Are|Do|Does|Did|Can|Could|Would|Should|"
    "Let's|Tell|Walk|Describe|Imagine|Suppose|Your|You|It|This|That|There|If|In|On|For|Say|"
    "Give|Two|Now|Next|Okay|Thanks|Sure|Please|We|Our|And|But|So"
)
_GLUE = re.compile(rf"\b[a-z][a-z']*,? ({_FUNCTION_WORDS})\b")
_ACKS = {"okay", "alright", "understood", "noted", "thanks", "fine", "right", "sure", "got it"}


def _norm(sentence: str) -> str:
    return " ".join(re.findall(r"[a-z0-9']+", sentence.lower()))


def _opener(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9']+", text.lower())[:3])


def check_transcript(events: Iterable[Any]) -> list[str]:
    """Problems in a transcript (events with kind, speaker, text, round_id and data).

    Returns:
        One human-readable line per problem; empty when the transcript reads well.
    """
    panel = [
        e
        for e in events
        if e.kind == "message" and e.speaker not in (None, "candidate", "master", "activity")
    ]
    problems: list[str] = []
    by_round: dict[str | None, list[Any]] = {}
    for e in panel:
        by_round.setdefault(e.round_id, []).append(e)
    for round_id, lines in by_round.items():
        seen: Counter[str] = Counter()
        openers: Counter[str] = Counter()
        for e in lines:
            openers[_opener(e.text)] += 1
            for s in sentences(e.text):
                key = _norm(s)
                if len(key.split()) >= MIN_WORDS:
                    seen[key] += 1
                    if seen[key] == 2:
                        problems.append(f"{round_id}: sentence said twice: {s!r}")
            for m in _GLUE.finditer(e.text):
                problems.append(f"{round_id}: mid-sentence capital in {e.text[:120]!r} ({m[0]!r})")
            parts = [_norm(s) for s in sentences(e.text)[:2]]
            if len(parts) == 2 and all(p in _ACKS for p in parts):
                problems.append(f"{round_id}: doubled acknowledgement {e.text[:60]!r}")
        for opener, uses in openers.items():
            if uses > MAX_OPENER_USES:
                problems.append(f"{round_id}: opener {opener!r} used {uses} times")
    if not panel or (panel[-1].data or {}).get("move") != "farewell":
        problems.append("the interview does not end with the panel's goodbye")
    return problems
