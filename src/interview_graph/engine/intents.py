"""What a candidate's message is doing (answering, asking, stuck, drifting): intent and span.

The master reads every message that passed the rules through :func:`classify` before the
panel reacts, so a request to repeat gets the question again, a clarifying question gets an
answer, "I don't know" gets a hint, and small talk gets one friendly redirect — instead of
every message being scored as an answer.  It is deterministic (patterns over normalised
text plus the plan's own clarification and FAQ triggers, matched with the coverage
lemmatiser), costs well under a millisecond, and is what both engines use in ``fast`` mode.

Priority: a message that evidences a key point is an answer, whatever else it contains
(a clarifying question inside it is answered too); otherwise the most specific request wins.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from ..plans.models import Clarification, Topic
from .coverage import cover, match_any, sentences
from .decisions import Understanding

_REPEAT = [
    r"\b(can|could|would) you (please )?(repeat|rephrase|restate|say (that|it|the question) again)",
    r"\b(repeat|rephrase|restate) (the|that|your) (question|last part|problem)",
    r"\bsay (that|it) again\b",
    r"\bcome again\b",
    r"\bwhat was the question\b",
    r"\b(didn'?t|did not|don'?t|do not) (quite )?(catch|get|follow|understand) (that|the question|"
    r"what you (said|asked|mean))",
    r"\bpardon\b",
    r"\bone more time\b",
    r"\bsorry,? what\??$",
    r"\bsorry,? what (was that|did you say)\b",
    r"\b(not sure|don'?t think) i (follow|understand|understood)"
    r"( (you|that|the question|what you (said|asked|mean)))?[.!?]*$",
    r"\bwhat('s| is| was| were) .{0,40}\bagain\??$",
    r"\bwhat do you mean\??$",
]
_HINT = [
    r"\bhints?\b",
    r"\bnudge\b",
    r"\bpointers?\b(?! (to|into|arithmetic))",
    r"\bany tips?\b",
    r"\bwhere (should|do|would) i (even )?(start|begin)\b",
    r"\b(can|could) you help me\b",
    r"\bhelp me (out|get started|with this)\b",
    r"\bi need (some |a little )?help\b",
    r"\bpoint me in the right direction\b",
    r"\bgive me a clue\b",
    r"\b(do you have|have you got|got|(can|could) you give me|(can|could) i (get|have)) "
    r"(a|any|some|another) (tip|clue)s?\b",
]
_STUCK = [
    r"\bi (really |honestly |just )?(do not|don'?t|dont) know\b",
    r"\bno idea\b",
    r"\bno clue\b",
    r"\bi'?m (totally |completely |a bit |kind of )?(stuck|lost|blanking)\b",
    r"\bi am (totally |completely |a bit )?(stuck|lost)\b",
    r"\b(can'?t|cannot) think of (anything|it|a way|how)\b",
    r"\bi give up\b",
    r"\bmy mind (is|went) blank\b",
    r"\bi'?m not (really |quite |entirely |totally )?sure\.?$",
    r"\bnot sure,? sorry\b",
    r"\bhaven'?t (got|the faintest)\b",
]
_MOVE_ON = [
    r"\b(can|could|shall|should) we (please )?(move on|skip)\b",
    r"\blet'?s (move on|skip|go to the next)\b",
    r"\bnext question\b",
    r"\bskip (this|that|it)( one| question)?\b",
    r"\bi'?d (rather|like to) (move on|skip)\b",
    r"\bpass on this\b",
    r"^(i'?ll )?pass[.!]?$",
]
_THINKING = [
    r"^((hmm+|umm*|uh+|well|okay|ok|so)[.,!?\s…]*)+$",
    r"\blet me (think|see|consider)\b",
    r"\bgive me (a|one) (sec|second|moment|minute)\b",
    r"\b(one|just a) (sec|second|moment|minute)\b",
    r"\bthinking (out loud|aloud)\b",
    r"\bbear with me\b",
]
_SMALL_TALK = [
    r"\b(football|soccer|basketball|baseball|cricket|tennis|rugby|hockey|golf|formula (1|one))\b",
    r"\b(champions league|premier league|world cup|super bowl|olympics|nba|nfl|la liga)\b",
    r"\bdid you (watch|see|catch|hear about)\b",
    r"\b(the )?(game|match|final) (last night|yesterday|this weekend)\b",
    r"\b(weather|sunny|rainy|raining)\b",
    r"\b(movies?|films?|netflix|tv shows?|series|episode)\b",
    r"\b(vacation|holidays?|weekend plans|your weekend)\b",
    r"\bplans for (the|this) (weekend|summer|evening)\b",
    r"\b(pizza|lunch|dinner|breakfast|recipe|restaurant)\b",
    r"\b(my|your) (cat|dog|pet|kids?)\b",
    r"\b(celebrity|horoscope|lottery|music|concert|album)\b",
    r"\blet'?s talk about something else\b",
    r"\bhow('?s| is| was) your (day|week|weekend|morning)\b",
    r"\bhow are you( doing)?\b",
]
# Questions about the interview or the people, answered from the plan's FAQ or the persona.
_TO_INTERVIEWER = [
    r"\b(how long|how much time)\b.{0,30}\b(is this|do we|have we|does|left|take|round|interview)",
    r"\btime (left|remaining)\b",
    r"\bhow many (questions|rounds|interviews|more)\b",
    r"\b(your|the) team\b",
    r"\bwhat (does|do|is|'s) (the|your) ([a-z-]+ ){0,3}team\b",
    r"\b(you|your) (work|role|job|day)\b",
    r"\bwhat (do|does) (you|your)\b.{0,20}\b(work on|do|build)\b",
    r"\b(company|culture|remote|office|on-?call|tech stack)\b",
    r"\b(next steps?|what happens next|hear back)\b",
    r"\bwhat('s| is) (the )?(format|structure|plan) (of|for)\b",
    # "Can I use heapq?" is about the problem (a clarification); "can I google it?" is not.
    r"\b(can|may) i (use (google|the internet|the web|an ai|chatgpt|copilot)|"
    r"look (it |things )?up|google|search)\b",
]
_CLARIFY_CUES = re.compile(
    r"\b(assume|assumption|can i|may i|should i|do i|do we|does (it|the|this)|is (it|the|there)|"
    r"are (there|the|we)|what if|what about|what do you mean|what does .{1,30} mean|"
    r"mean by|allowed|guaranteed|expected|constraints?|input|output|size|scale|range|"
    r"sorted|negative|empty|duplicates?|unicode|null|none|zero|order|format|limit|how big|"
    r"how many|how large|requirements?|scope|in scope|out of scope)\b"
)


def _any(patterns: Sequence[str], text: str) -> str | None:
    for p in patterns:
        if m := re.search(p, text):
            return m.group(0)
    return None


def _questions(text: str) -> list[str]:
    return [s for s in sentences(text) if s.rstrip().endswith("?")]


def _lookup(asked: str, entries: Iterable[Clarification]) -> Clarification | None:
    """The entry whose trigger phrases occur in the candidate's question (lemmas, any order)."""
    best: tuple[int, Clarification] | None = None
    for entry in entries:
        hits = [p for p in entry.asks if match_any(asked, [p], negation=False)]
        if hits and (best is None or len(hits) > best[0]):
            best = (len(hits), entry)
    return best[1] if best else None


def classify(
    text: str,
    norm: str,
    topic: Topic | None,
    faq: Sequence[Clarification] = (),
    covered: Sequence[str] = (),
) -> Understanding:
    """Read one candidate message.

    Args:
        text: the message as typed (spans are quoted from it).
        norm: the same text normalised by the rules check (NFKC, lower case, no zero-width).
        topic: the current question, if any.
        faq: the round's and the plan's answers to questions about the interview.
        covered: key points already covered on this topic (a message that adds a new one is
            an answer).

    Returns:
        The intent, the words that show it, and (for questions) the plan's answer if one fits.
    """
    gained = []
    wrong = None
    if topic is not None:
        gained = [k for k in cover(text, topic.key_points).covered if k not in covered]
        wrong = match_any(text, [p for m in topic.misconceptions for p in m.phrases])
    questions = _questions(text)
    clarification = None
    if topic is not None and questions:
        for q in questions:
            clarification = _lookup(q, topic.clarifications)
            if clarification:
                break
    if gained or wrong is not None:
        # An answer; a clarifying question inside it is answered as well.
        return Understanding(
            intent="answer",
            span=(wrong.span if wrong else ""),
            reply=clarification.answer if clarification else "",
        )
    for intent, patterns in (
        ("repeat", _REPEAT),
        ("hint", _HINT),
        ("move_on", _MOVE_ON),
        ("stuck", _STUCK),
    ):
        if hit := _any(patterns, norm):
            return Understanding(intent=intent, span=hit)
    if questions:
        if clarification is not None:
            return Understanding(intent="clarify", span=questions[0], reply=clarification.answer)
        chat = _any(_SMALL_TALK, norm)
        asked_faq = next((e for q in questions if (e := _lookup(q, faq))), None)
        if chat is None and asked_faq is not None:
            return Understanding(intent="question", span=questions[0], reply=asked_faq.answer)
        if chat is None and _any(_TO_INTERVIEWER, norm):
            return Understanding(intent="question", span=questions[0])
        if chat is None and _CLARIFY_CUES.search(norm):
            return Understanding(intent="clarify", span=questions[0])
    if hit := _any(_SMALL_TALK, norm):
        return Understanding(intent="small_talk", span=hit)
    if hit := _any(_THINKING, norm):
        return Understanding(intent="thinking", span=hit)
    return Understanding(intent="answer")
