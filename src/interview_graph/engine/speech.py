"""What the offline engine's panelists say: lines composed from the persona, the plan and the turn.

A line is built from parts — an acknowledgement, a reference to the candidate's own words, a
lead-in, the question or hint — joined so the result reads as one person talking: no doubled
acknowledgements, no capital letter in mid-sentence, no stock phrase said twice in a round
while another is free (``scene["used"]`` lists the stock phrases this round has heard).
Choices are seeded by the interview (``scene["seed"]``), so one interview replays exactly and
two interviews sound different.

Only public material is spoken: the plan's question text, rephrasings, hints, clarification
and FAQ answers, misconception probes, the persona's own phrases and the candidate's words.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from typing import Any

from ..plans.models import Panelist, QuestionKind, Round, Topic
from .coverage import sentences
from .decisions import Intent

# Stock phrases the engine adds to the personas' own, by what they do.
NEUTRAL = ("Okay.", "Alright.", "Understood.", "Noted.", "Thanks.")
REPEAT = ("Sure.", "Of course.", "No problem.", "Sure, let me put it another way.")
CLARIFY = ("Good question.", "Fair question.", "Glad you asked.", "Sure.")
OPEN_CHOICE = (
    "Your call — state your assumption and go with it.",
    "That's up to you; tell me what you'd assume and why.",
    "I'll leave that to you — just say what you're assuming.",
)
HINT = ("Here's a hint:", "A nudge:", "One thing to think about:", "Let me point you somewhere:")
NO_MORE_HINTS = (
    "That's as far as I can nudge you on this one; take your best shot, or we can move on.",
    "I've given you what I can there. Give it your best guess, or say if you'd like to move on.",
)
ENCOURAGE = ("No problem, that happens.", "That's okay.", "No worries.", "That's fine.")
PARK = (
    "That's fine, we'll leave that one there.",
    "No problem, let's park that one.",
    "Okay, we'll set that one aside.",
)
MOVE_ON = ("Sure, let's move on.", "Of course, we can move on.", "Fine by me, let's move on.")
ANSWER_DEFAULT = (
    "Happy to talk about that properly at the end.",
    "Good question; let's keep a few minutes for that at the end.",
)
BACK = ("Back to the question whenever you're ready.", "Now, back to the question.")
SMALL_TALK = (
    "Ha, maybe after the interview! Back to the question.",
    "Tempting, but let's save that for later and get back to it.",
    "I'd love to, but let's keep that for after. Where were we?",
    "Good one — let's pick that up once we're done. For now:",
    "Let's leave that for the coffee afterwards. Back to business:",
    "Fair enough, but I'll keep us on track.",
    "We can chat about that at the end; let's return to the question.",
    "I'll hold you to that after the interview. Now, the question:",
)
REPHRASE = (
    "Let me put it another way.",
    "Here it is in other words.",
    "Put differently:",
    "Another way to look at it:",
    "Let me rephrase.",
)
GREETINGS = ("Hi,", "Hello,", "Hi there,", "Good to meet you —", "Nice to meet you —")
CODING_ASK = (
    "Talk me through your approach first, then code it up and submit when you're ready.",
    "Tell me how you'd go about it before you start typing; submit when you're happy.",
    "Start by telling me your plan, then write it and submit when it's ready.",
    "Walk me through the idea first; then code it and submit when you're happy with it.",
)
WAIT = ("Sure, take your time.", "Take your time.", "No rush.", "Of course, go ahead and think.")
# A weak candidate can voice a misconception on every topic of a round (two per topic in the
# plans), so there are enough ways to quote them that no opener repeats within a round.
QUOTE = (
    "You said “{q}”.",
    "Hold on — you said “{q}”.",
    "I want to check something: you said “{q}”.",
    "Let me push back on one thing. You said “{q}”.",
    "Interesting — “{q}”, you said.",
    "Just so I understand: “{q}”?",
)
REFER = (
    "“{q}” — good.",
    "Okay, “{q}” makes sense.",
    "Right, “{q}”, noted.",
    "Thanks — “{q}” is a fair point.",
)
INVITE = (
    "Sounds like a plan — go ahead and code it up, and submit when you're happy with it.",
    "That approach works for me; let's see it in code. Submit whenever you're ready.",
    "Okay, go ahead and write it. Run the tests as often as you like, then submit.",
)
ELABORATE = (
    "Could you say a bit more about how you'd approach it?",
    "Tell me more — how would you go about it?",
    "Walk me through your thinking in a little more detail.",
)
CHECK_SUBMIT = (
    "Whenever you're ready, submit it and we'll look at the results together.",
    "Are you ready to submit, or still working on it?",
    "No pressure — submit when you think it's done.",
    "How's the code coming along? Submit it when you're ready.",
    "Take the time you need, and hit Submit when you're happy.",
)
OUT_OF_TIME = (
    "We're short on time for this one, so let's leave it there — your code is saved.",
    "Let's stop this one here so we have time for the rest; your code is saved.",
)
WRAP_ROUND = ("That's all I had for this round.", "That wraps up this round.")
FAREWELL = ("That's everything from our side.", "We're at the end of the interview.")
THANKS = "Thank you for your time today, it was good talking with you."
STOPPED = ("Understood, we'll stop here.", "Of course, let's stop there.")
GENERIC_TRANSITIONS = ("Next question.", "Let's try another one.", "Here's the next one.")
GENERIC_FOLLOW_UP = (
    "What else would you consider here — edge cases, trade-offs, or what could go wrong?",
    "Is there anything you'd add, thinking about what could go wrong?",
    "What would worry you about that in production?",
    "Which part of that would you want to test first, and why?",
)
# About something the candidate did (behavioural, stakeholder, portfolio): "in production" and
# "test first" are an engineer's questions, wrong for a designer's story or a manager's.
GENERIC_STORY_FOLLOW_UP = (
    "What would you do differently if it happened again?",
    "How did the people involved see it at the time?",
    "What did you personally do at that point, as opposed to the team?",
    "What happened as a result, and how did you know?",
)
BANKS = (
    NEUTRAL, REPEAT, CLARIFY, OPEN_CHOICE, HINT, NO_MORE_HINTS, ENCOURAGE, PARK, MOVE_ON,
    ANSWER_DEFAULT, BACK, SMALL_TALK, WAIT, INVITE, CHECK_SUBMIT, OUT_OF_TIME, WRAP_ROUND,
    FAREWELL, STOPPED, GENERIC_TRANSITIONS, REFER, REPHRASE, GREETINGS, GENERIC_FOLLOW_UP,
    GENERIC_STORY_FOLLOW_UP,
    ELABORATE, CODING_ASK, QUOTE,
)  # fmt: skip
_ENDS = (".", "?", "!", ":", "—", "…")
_ABOUT_YOU = re.compile(r"\b(your team|the team|you work|your (role|job|day|work)|you do)\b")


def choose(options: Sequence[str], used: Sequence[str], *salt: object) -> str:
    """Pick one of ``options`` not yet ``used`` this round, deterministically from ``salt``.

    When every option has been heard, the one heard longest ago is picked again.
    """
    fresh = [o for o in options if o not in used]
    if not fresh:
        fresh = [min(options, key=lambda o: _last_index(used, o))]
    digest = hashlib.sha256("|".join(map(str, salt)).encode()).digest()
    return fresh[int.from_bytes(digest[:4], "big") % len(fresh)]


def _last_index(used: Sequence[str], option: str) -> int:
    return max((i for i, u in enumerate(used) if u == option), default=-1)


def join(*parts: str) -> str:
    """Join sentence parts into one line: each part ends like a sentence before the next starts.

    After a colon or a dash the next part continues the sentence, so its first word is
    lower-cased unless it is "I" or an acronym.
    """
    out = ""
    for raw in parts:
        part = " ".join(raw.split())
        if not part:
            continue
        if not out:
            out = part
            continue
        if out.endswith((":", "—")):
            part = _decapitalise(part)
        elif not out.endswith(_ENDS):
            out += "."
        out += " " + part
    return out


def _decapitalise(part: str) -> str:
    first = part.split(" ", 1)[0]
    if first == "I" or first.startswith("I'") or (len(first) > 1 and first[1].isupper()):
        return part
    return part[0].lower() + part[1:]


def quote(words: str, limit: int = 80) -> str:
    """The candidate's words, trimmed to whole words and stripped of end punctuation."""
    words = " ".join(words.split()).strip(" .,;:!?\"'“”")
    if len(words) > limit:
        words = words[:limit].rsplit(" ", 1)[0] + "…"
    return words


def _worth_quoting(span: str) -> bool:
    """A span that is a real idea of theirs (a term of art, a phrase), not one common word."""
    ws = span.split()
    return len(ws) >= 2 or (len(ws) == 1 and (any(c.isupper() for c in ws[0]) or len(ws[0]) >= 7))


def stock_used(panelist: Panelist, said: str) -> list[str]:
    """The stock phrases (persona and engine) that ``said`` contains, for ``scene["used"]``."""
    options = [
        *panelist.acknowledgements,
        *panelist.probes,
        *panelist.transitions,
        *(o for bank in BANKS for o in bank),
    ]
    return [o for o in dict.fromkeys(options) if _heard(o, said)]


def _heard(option: str, said: str) -> bool:
    """Whether ``said`` contains ``option`` (a template's fixed parts, around its ``{q}``)."""
    if "{q}" not in option:
        return option in said
    parts = [p for p in option.split("{q}") if len(p.strip(" “”")) >= 3]
    return bool(parts) and all(p in said for p in parts)


class Composer:
    """Composes one line for one move; ``scene`` is what the master knows of this turn."""

    def __init__(
        self,
        panelist: Panelist,
        intent: Intent,
        topic: Topic | None,
        round_: Round,
        scene: dict[str, Any],
    ) -> None:
        self.p, self.intent, self.topic, self.round, self.scene = (
            panelist,
            intent,
            topic,
            round_,
            scene,
        )
        self.detail: dict[str, Any] = dict(intent.detail)
        self.used: list[str] = list(scene.get("used", []))
        self.salt = (scene.get("seed", 0), panelist.id, scene.get("turn", 0), intent.move)

    def pick(self, options: Sequence[str]) -> str:
        """Choose a fresh option and remember it for the rest of this line."""
        got = choose(options, self.used, *self.salt, len(self.used))
        self.used.append(got)
        return got

    def compose(self) -> str:
        """The line for the intent's move."""
        method = getattr(self, f"_{self.intent.move}", None)
        return method() if method is not None else self._close()

    # ---- moves -----------------------------------------------------------------------------

    def _introduce(self) -> str:
        p, lead = self.p, bool(self.scene.get("lead"))
        if self.scene.get("returning"):
            line = (
                self.pick(
                    (f"Hello again — {p.name} here.", f"Good to see you again; {p.name} here.")
                )
                if lead
                else self.pick(("Hi again.", "Good to see you again.", "Hello again."))
            )
        else:
            intro = p.intro or f"I'm {p.name}, {p.title}."
            greeting = self.pick(GREETINGS)
            if intro.startswith("I"):
                line = f"{greeting} {intro}"
            else:
                line = join(greeting.rstrip(" ,—") + ".", intro)
        if not lead:
            return line
        opening = self.round.opening or (
            f"We have {len(self.round.topics)} question"
            f"{'s' if len(self.round.topics) != 1 else ''} for you; think out loud as you go."
        )
        return join(line, f"Welcome to the {self.round.title} round.", opening)

    def _question_text(self) -> str:
        assert self.topic is not None
        text = self.topic.question
        if self.topic.kind is QuestionKind.CODING and self.topic.coding is not None:
            text = join(
                text,
                f"Please write it in the editor; the signature is `{self.topic.coding.signature}`.",
                self.pick(CODING_ASK),
            )
        return text

    def _rephrased(self) -> str:
        assert self.topic is not None
        options = list(self.topic.rephrasings) or [self.topic.question]
        index = int(self.detail.get("rephrasing", 0)) % len(options)
        return options[index]

    def _ask(self) -> str:
        lead = ""
        if self.scene.get("topic_number", 1) > 1:
            lead = self.pick(self.p.transitions or GENERIC_TRANSITIONS)
        return join(lead, self._question_text())

    def _follow_up(self) -> str:
        assert self.topic is not None
        follow = next(
            (f.question for f in self.topic.follow_ups if f.key_point == self.intent.key_point),
            "",
        ) or self.pick(
            GENERIC_STORY_FOLLOW_UP
            if self.topic.kind is QuestionKind.BEHAVIOURAL
            else GENERIC_FOLLOW_UP
        )
        ref = self.detail.get("ref", "")
        if _worth_quoting(ref):  # their own words are the acknowledgement
            return join(self.detail.get("reply", ""), self.pick(REFER).format(q=quote(ref)), follow)
        gained = self.scene.get("gained", 0) > 0
        ack = self.pick(self.p.acknowledgements) if gained and self.p.strictness < 0.6 else ""
        return join(self.detail.get("reply", ""), ack, self.pick(self.p.probes), follow)

    def _challenge(self) -> str:
        said = self.pick(QUOTE).format(q=quote(self.detail.get("quote", ""), 100))
        return join(self.detail.get("reply", ""), said, self.detail.get("probe", ""))

    def _repeat(self) -> str:
        again = self.detail.get("again", "")
        if again:  # a follow-up is what was asked last: say that one again
            return join(self.pick(REPEAT[:3]), "I asked:", again)
        return join(self.pick(REPEAT), self._rephrased())

    def _clarify(self) -> str:
        reply = self.detail.get("reply", "")
        if reply:
            return join(self.pick(CLARIFY), reply)
        return self.pick(OPEN_CHOICE)

    def _hint(self) -> str:
        hint = self.detail.get("hint", "")
        if not hint:
            return self.pick(NO_MORE_HINTS)
        return join(self.pick(HINT), hint)

    def _encourage(self) -> str:
        hint = self.detail.get("hint", "")
        if hint:
            return join(self.pick(ENCOURAGE), self.pick(HINT), hint)
        if again := self.detail.get("again", ""):
            return join(self.pick(ENCOURAGE), "Take your time with it:", again)
        return join(self.pick(ENCOURAGE), self.pick(REPHRASE), self._rephrased())

    def _answer_question(self) -> str:
        reply = self.detail.get("reply", "") or self._about_me() or self.pick(ANSWER_DEFAULT)
        return join(reply, self.pick(BACK))

    def _about_me(self) -> str:
        """A question about the interviewer's work is answered from their own introduction."""
        if not self.p.intro or not _ABOUT_YOU.search(self.detail.get("asked", "").lower()):
            return ""
        rest = sentences(self.p.intro)[1:]
        return join("Sure, briefly.", *rest) if rest else ""

    def _redirect(self) -> str:
        return join(self.pick(SMALL_TALK), self._rephrased())

    def _nudge(self) -> str:
        return join(self.pick(WAIT), self.pick(REPHRASE), self._rephrased())

    def _wait(self) -> str:
        return self.pick(WAIT)

    def _elaborate(self) -> str:
        return join(self.detail.get("reply", ""), self.pick(ELABORATE))

    def _invite_code(self) -> str:
        return self.pick(CHECK_SUBMIT if self.detail.get("again") else INVITE)

    def _discuss_code(self) -> str:
        return join(self.detail.get("result", ""), self.detail.get("probe", ""))

    def _close(self) -> str:
        why = self.detail.get("why", "")
        gained = self.scene.get("gained", 1) > 0
        if why == "move_on":
            line = self.pick(MOVE_ON)
        elif why == "stuck":
            line = self.pick(PARK)
        elif why == "out_of_time":
            line = self.pick(OUT_OF_TIME)
        else:
            line = self.pick(self.p.acknowledgements if gained else NEUTRAL)
        if self.detail.get("last_in_round"):
            line = join(line, self.pick(WRAP_ROUND))
        return line

    def _hand_off(self) -> str:
        return self._close()

    def _farewell(self) -> str:
        closing = str(self.scene.get("closing", ""))
        thanks = "" if "thank" in closing.lower() else THANKS
        first = self.pick(STOPPED if self.detail.get("stopped") else FAREWELL)
        return join(first, thanks, closing, "Goodbye!")


def compose(
    panelist: Panelist,
    intent: Intent,
    topic: Topic | None,
    round_: Round,
    scene: dict[str, Any],
) -> str:
    """The panelist's line for ``intent`` (see :class:`Composer`)."""
    return Composer(panelist, intent, topic, round_, scene).compose()
