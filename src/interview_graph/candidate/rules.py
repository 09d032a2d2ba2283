"""The offline candidate: plays a level from the plan's material, reproducibly from a seed.

Its "knowledge" is the plan's sample answers and key-point snippets at its level; its
choices (which points it leaves out, when it asks for a hint or a clarification, when it
says something wrong or "I don't know", how it words things) come from a random stream
derived from (seed, round, topic, its turn on the topic), so the same seed replays the
same interview, a resumed run continues it exactly, and another seed plays it differently.

- strong: a first answer that leaves one or two key points out (so the panel follows up),
  then the strong snippet of whatever point a follow-up targets; corrects itself if
  challenged.
- average: the average sample answer (or a mix of a strong and average snippets); on a
  follow-up the strong snippet of a point it knows, else the partial average one; now and
  then a misconception, a clarifying question, a hint request or "I don't know".
- weak: the weak sample answer or snippets, hedged; often asks for hints and
  clarifications, voices the plan's misconceptions, sometimes insists when challenged.

Coding questions: the approach first, the code when the panel invites it, then the
discussion of the submission.
"""

from __future__ import annotations

import copy
import hashlib
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..engine.coverage import cover, match_any
from ..plans.models import KeyPoint, Level, Topic
from . import lines as L
from .reading import asks_for_code, find

_NOUNISH_BLOCK = frozenset(
    "was is are were my i lost can do does did how what when why if should will would could "
    "help hint".split()
)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z“\"(])")
SAID_CAP = 600  # line hashes remembered (far above any plan's number of candidate lines)


def level_of(persona: str) -> Level:
    """The level a persona answers at when it does answer."""
    if persona == "strong":
        return Level.STRONG
    if persona in ("weak", "adversarial"):
        return Level.WEAK
    return Level.AVERAGE


def stream(seed: int | None, *parts: object) -> random.Random:
    """A random stream for one decision, derived from the seed and what it is about."""
    digest = hashlib.sha256("|".join(map(str, (seed or 0, *parts))).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def fingerprint(text: str) -> str:
    """A short, case- and space-insensitive hash of a line (to never say one twice)."""
    return hashlib.sha1(" ".join(text.lower().split()).encode()).hexdigest()[:12]


def new_topic_memory() -> dict[str, Any]:
    """What the candidate remembers about one question."""
    return {
        "steps": 0,  # replies on this topic so far (seeds the next choice)
        "answered": False,  # the first answer (or approach) has been given
        "covered": [],  # key points it believes it has made
        "code": False,  # code submitted
        "hints": 0,  # hints asked for
        "dont_know": 0,
        "clarified": [],  # indexes of the plan's clarifications asked about
        "wrong": [],  # misconceptions voiced
        "target": None,  # the key point being discussed
        "special": False,  # an adversarial persona's move on this topic is spent
        "used": [],  # snippets said ("<key point>:<level>"), never said twice
    }


def read(topic: Topic, tmem: dict[str, Any], lines: Sequence[str]) -> dict[str, Any]:
    """What the panel's new lines ask of the candidate on ``topic``."""
    hints = [(h.key_point or "", h.text) for h in topic.hints]
    if not tmem["answered"]:
        hinted = find(lines, hints)
        return {"kind": "question", "key_point": hinted or None}
    if not lines:  # the last message never reached the panel (blocked) or got no reply
        return {"kind": "again", "key_point": tmem["target"]}
    if topic.coding is not None and not tmem["code"] and asks_for_code(lines):
        return {"kind": "invite_code", "key_point": None}
    options: list[tuple[tuple[str, str, str], str]] = [
        *((("challenge", m.key_point, m.id), m.probe) for m in topic.misconceptions),
        *((("follow_up", f.key_point, ""), f.question) for f in topic.follow_ups),
        *((("hint", h.key_point or "", ""), h.text) for h in topic.hints),
        *((("clarified", "", ""), c.answer) for c in topic.clarifications),
    ]
    found = find(lines, options)
    if found is None:
        # A follow-up in the panel's own words (or a question about the submission).
        return {"kind": "follow_up", "key_point": None}
    kind, key_point, misconception = found
    if kind == "challenge":
        return {"kind": kind, "key_point": key_point, "misconception": misconception}
    if kind in ("hint", "clarified"):
        return {"kind": kind, "key_point": key_point or tmem["target"]}
    return {"kind": kind, "key_point": key_point}


@dataclass
class Reply:
    """What the candidate does this turn: a message, or code (and no message)."""

    text: str | None
    code: str | None = None
    act: str = "answer"  # answer, clarify, hint, dont_know, wrong, insist, code, special
    covered: list[str] = field(default_factory=list)


def _sentences(text: str) -> list[str]:
    """Sentences of a sample answer (a dot inside ``heapq.nsmallest`` does not end one)."""
    return [s for s in _SENTENCE_END.split(text.strip()) if s]


def _decap(text: str) -> str:
    first = text.split(" ", 1)[0]
    if first == "I" or first.startswith("I'") or (len(first) > 1 and first[1].isupper()):
        return text
    return text[:1].lower() + text[1:]


def lead(prefix: str, text: str) -> str:
    """``prefix`` then ``text``; after a comma or a dash (or a bare lead-in) text runs on."""
    prefix, text = prefix.strip(), text.strip()
    if not prefix:
        return text
    if not text:
        return prefix
    if prefix.endswith((".", "!", "?", ":")):
        return f"{prefix} {text}"
    return f"{prefix} {_decap(text)}"


class Player:
    """One reply of the offline candidate on one topic (mutates ``tmem`` and ``said``)."""

    def __init__(
        self,
        persona: str,
        topic: Topic,
        tmem: dict[str, Any],
        said: list[str],
        rng: random.Random,
        knows: set[str],
    ) -> None:
        self.persona, self.topic, self.tmem, self.said, self.rng = persona, topic, tmem, said, rng
        self.level = level_of(persona)
        self.knows = knows

    # ---- helpers ---------------------------------------------------------------------------

    def _kp(self, kp_id: str | None) -> KeyPoint | None:
        return next((k for k in self.topic.key_points if k.id == kp_id), None)

    def snippet(self, kp: KeyPoint, level: Level) -> str:
        """What this candidate says about ``kp`` at ``level`` (defensive: snippets may lack).

        The use is remembered: the same piece is not said twice on a topic (see :meth:`say`).
        """
        self.tmem["used"] = [*self.tmem.get("used", []), f"{kp.id}:{level.value}"]
        if kp.snippets is not None:
            return kp.snippets.at(level)
        if level is Level.STRONG:
            return kp.text
        return self.unsaid(L.VAGUE)

    def say(self, kp: KeyPoint, *levels: Level) -> str | None:
        """The first of ``kp``'s snippets at ``levels`` not said on this topic yet."""
        used = self.tmem.get("used", [])
        level = next((lv for lv in levels if f"{kp.id}:{lv.value}" not in used), None)
        return None if level is None else self.snippet(kp, level)

    def pick(self, options: Sequence[str]) -> str:
        """One of ``options``, at random from this turn's stream."""
        return options[self.rng.randrange(len(options))]

    def fresh(self, text: str) -> bool:
        """Whether ``text`` has not been said in this interview."""
        return fingerprint(text) not in self.said

    def unsaid(self, options: Sequence[str]) -> str:
        """A random option not said yet (any option if all were)."""
        fresh = [o for o in options if self.fresh(o)]
        return self.pick(fresh or options)

    def uncovered(self) -> list[KeyPoint]:
        """The topic's key points it has not made yet."""
        return [k for k in self.topic.key_points if k.id not in self.tmem["covered"]]

    def misconception_for(self, kp_id: str | None = None) -> Any:
        """A misconception not voiced yet (about ``kp_id`` if given)."""
        options = [
            m
            for m in self.topic.misconceptions
            if m.id not in self.tmem["wrong"] and (kp_id is None or m.key_point == kp_id)
        ]
        return self.rng.choice(options) if options else None

    def hedge(self, text: str) -> str:
        """A weak candidate's softening, some of the time."""
        return lead(self.pick(L.HEDGES), text) if self.rng.random() < 0.6 else text

    def can_ask_hint(self, limit: int) -> bool:
        """Whether a hint request still makes sense (hints left, not asked too often)."""
        return bool(self.tmem["hints"] < min(limit, len(self.topic.hints)))

    def clarification(self) -> str | None:
        """A clarifying question from one of the plan's triggers not asked about yet."""
        options: list[tuple[int, str]] = []
        for i, entry in enumerate(self.topic.clarifications):
            if i in self.tmem["clarified"]:
                continue
            nounish = [a for a in entry.asks if a.split()[0].lower() not in _NOUNISH_BLOCK]
            if nounish:
                options.append((i, max(nounish, key=len)))
        self.rng.shuffle(options)
        phrases = [p for m in self.topic.misconceptions for p in m.phrases]
        for i, trigger in options:
            templates = list(L.CLARIFY)
            self.rng.shuffle(templates)
            for template in templates:
                text = template.format(t=trigger)
                # A question must not pass for an answer (a key point or a misconception).
                if cover(text, self.topic.key_points).covered or match_any(text, phrases):
                    break
                if self.fresh(text):
                    self.tmem["clarified"] = [*self.tmem["clarified"], i]
                    return text
        return None

    # ---- requests --------------------------------------------------------------------------

    def ask_hint(self) -> Reply:
        """Ask for a hint (in words the panel reads as a hint request)."""
        self.tmem["hints"] += 1
        return Reply(self.unsaid(L.HINT_ASKS), act="hint")

    def dont_know(self, shaken: bool = False) -> Reply:
        """Say "I don't know" (the panel reads it as stuck); ``shaken``: after a challenge."""
        self.tmem["dont_know"] += 1
        return Reply(self.unsaid(L.DONT_KNOW_NOW if shaken else L.DONT_KNOW), act="dont_know")

    # ---- answers ---------------------------------------------------------------------------

    def first_answer(self, hinted: str | None = None) -> Reply:
        """The first answer to the question (the approach, for a coding question)."""
        level, roll = self.level, self.rng.random()
        coding = self.topic.coding is not None
        if level is Level.AVERAGE and not self.tmem["steps"]:
            if roll < 0.12 and (q := self.clarification()):
                return Reply(q, act="clarify")
            if roll < 0.18 and self.can_ask_hint(1):
                return self.ask_hint()
        if level is Level.WEAK and not self.tmem["steps"]:
            if roll < 0.2 and (q := self.clarification()):
                return Reply(q, act="clarify")
            if roll < 0.38 and self.can_ask_hint(2):
                return self.ask_hint()
            if roll < 0.48:
                return self.dont_know()
        if level is Level.STRONG:
            text = self._strong_first()
        elif level is Level.AVERAGE:
            text = self._average_first()
        else:
            text = self._weak_first()
        kp = self._kp(hinted)
        helped = None
        if kp is not None and level is not Level.STRONG:
            # The hint helps with one point: a weak candidate answers only that much.
            boost = Level.STRONG if self.rng.random() < 0.4 else Level.AVERAGE
            helped = self.say(kp, boost, Level.AVERAGE, Level.WEAK)
            if helped is not None:
                text = f"{helped} {text}" if level is Level.AVERAGE else self.hedge(helped)
        wrong = None
        phrases = [p for m in self.topic.misconceptions for p in m.phrases]
        if match_any(text, phrases) is not None:
            pass  # the sample answer already says something wrong
        elif level is Level.AVERAGE and self.rng.random() < 0.15:
            wrong = self.misconception_for()
        elif level is Level.WEAK and self.rng.random() < 0.4:
            wrong = self.misconception_for()
        if wrong is not None:
            text = f"{text} {wrong.text}"
            self.tmem["wrong"] = [*self.tmem["wrong"], wrong.id]
        if helped is not None:
            opener = self.pick(L.AFTER_HINT)
        elif coding:
            opener = self.pick(L.APPROACH_OPENERS)
        else:
            opener = self.pick(L.OPENERS)
        if coding:
            text = f"{text} {self.pick(L.APPROACH_CLOSERS)}".strip()
        text = lead(opener, text)
        self.tmem["answered"] = True
        return Reply(text, act="wrong" if wrong else "answer")

    def _strong_first(self) -> str:
        """A strong answer that leaves one or two key points for the panel to draw out."""
        kps = self.topic.key_points
        followable = {f.key_point for f in self.topic.follow_ups}
        drop_n = 1 if len(kps) <= 4 or self.rng.random() < 0.5 else 2
        pool = [k.id for k in kps[1:] if k.id in followable] or [k.id for k in kps[1:]]
        left_out = set(self.rng.sample(pool, min(drop_n, len(pool))))
        if self.rng.random() < 0.5:
            kept = [
                s
                for s in _sentences(self.topic.sample_answers.strong)
                if not set(cover(s, kps).covered) & left_out
            ]
            text = " ".join(kept)
            covered = set(cover(text, kps).covered)
            if covered and not covered & left_out:
                return text
        pieces = [
            piece
            for kp in kps
            if kp.id not in left_out
            and not set(cover(piece := self.snippet(kp, Level.STRONG), kps).covered) & left_out
        ]
        return self.chain(pieces) or self.topic.sample_answers.strong

    def chain(self, pieces: Sequence[str]) -> str:
        """Pieces joined into one answer, with connectors (none used twice).

        Only a piece that starts with "I" takes a connector ("Also, I'd…"); one that opens
        with its own ("Then…", "As a result…") keeps it.
        """
        connectors = list(L.CONNECTORS)
        self.rng.shuffle(connectors)
        out = [pieces[0]] if pieces else []
        for i, piece in enumerate(pieces[1:]):
            first = piece.split(" ", 1)[0]
            starts_with_i = first == "I" or first.startswith("I'")
            out.append(lead(connectors[i % len(connectors)], piece) if starts_with_i else piece)
        return " ".join(out)

    def _average_first(self) -> str:
        if self.rng.random() < 0.6:
            self.tmem["used"] = [*self.tmem["used"], "sample"]
            return self.topic.sample_answers.average
        kps = list(self.topic.key_points)
        known = [k for k in kps if k.id in self.knows] or kps[:1]
        good = self.rng.sample(known, min(2, len(known)))
        others = [k for k in kps if k not in good]
        partial = self.rng.sample(others, min(len(others), 1))
        chosen = sorted([*good, *partial], key=kps.index)  # in the order a story runs
        return self.chain(
            [self.snippet(k, Level.STRONG if k in good else Level.AVERAGE) for k in chosen]
        )

    def _weak_first(self) -> str:
        if self.rng.random() < 0.5:
            self.tmem["used"] = [*self.tmem["used"], "sample"]
            return self.hedge(self.topic.sample_answers.weak)
        kps = list(self.topic.key_points)
        chosen = sorted(self.rng.sample(kps, min(2, len(kps))), key=kps.index)
        return " ".join(self.hedge(self.snippet(k, Level.WEAK)) for k in chosen)

    def _target(self, kp_id: str | None) -> KeyPoint | None:
        """The point a follow-up is about: the one named, else one it has not made yet."""
        kp = self._kp(kp_id)
        if kp is not None:
            return kp
        open_ = self.uncovered()
        if self.level is Level.AVERAGE:
            open_ = [k for k in open_ if k.id in self.knows] or open_
        return self.rng.choice(open_) if open_ else None

    def follow_up(self, kp_id: str | None, after_hint: bool = False) -> Reply:
        """Answer a follow-up (or a hint, or a question about the submission)."""
        if after_hint and kp_id in self.tmem["covered"]:
            # The hint is about a point already made: it helps with the question on the table.
            target = self.tmem["target"]
            kp_id = target if target not in self.tmem["covered"] else None
        kp = self._target(kp_id)
        if kp is None:
            return Reply(self.unsaid(L.NOTHING_TO_ADD))
        self.tmem["target"] = kp.id
        level, roll = self.level, self.rng.random()
        knows = kp.id in self.knows
        strong, average, weak = Level.STRONG, Level.AVERAGE, Level.WEAK
        if after_hint:
            if level is strong:
                prefs = [strong]
            elif level is average:
                prefs = [strong, average] if roll < 0.6 else [average, strong]
            else:
                prefs = [strong, average, weak] if roll < 0.2 else [average, weak]
                if roll >= 0.6:
                    prefs = [weak, average]
            text = self.say(kp, *prefs)
            if text is None:
                return self.dont_know() if level is weak else Reply(self.unsaid(L.NOTHING_TO_ADD))
            if level is weak:
                text = self.hedge(text)
            return Reply(lead(self.pick(L.AFTER_HINT), text))
        if level is average:
            if roll < 0.08 and self.can_ask_hint(1):
                return self.ask_hint()
            if roll < 0.14 and not self.tmem["dont_know"]:
                return self.dont_know()
            if roll < 0.26 and (wrong := self.misconception_for(kp.id)):
                self.tmem["wrong"] = [*self.tmem["wrong"], wrong.id]
                return Reply(lead(self.pick(L.FOLLOW_OPENERS), wrong.text), act="wrong")
            text = self.say(kp, *([strong, average] if knows else [average, strong]))
            if text is None:
                return Reply(self.unsaid(L.NOTHING_TO_ADD))
            return Reply(lead(self.pick(L.FOLLOW_OPENERS), text))
        if level is weak:
            if roll < 0.25 and self.can_ask_hint(2):
                return self.ask_hint()
            if roll < 0.38 and self.tmem["dont_know"] < 1:
                return self.dont_know()
            if roll < 0.58 and (wrong := self.misconception_for(kp.id)):
                self.tmem["wrong"] = [*self.tmem["wrong"], wrong.id]
                return Reply(self.hedge(wrong.text), act="wrong")
            text = self.say(kp, *([average, weak] if knows else [weak, average]))
            if text is None:
                return self.dont_know()
            return Reply(self.hedge(text))
        text = self.say(kp, strong)
        if text is None:
            return Reply(self.unsaid(L.NOTHING_TO_ADD))
        return Reply(lead(self.pick(L.FOLLOW_OPENERS), text))

    def challenged(self, kp_id: str | None, misconception: str | None) -> Reply:
        """Answer a challenge of something wrong it said."""
        kp = self._kp(kp_id)
        if kp is None:
            return self.follow_up(None)
        self.tmem["target"] = kp.id
        roll = self.rng.random()
        if self.level is Level.WEAK:
            m = next((m for m in self.topic.misconceptions if m.id == misconception), None)
            if roll < 0.45 and m is not None:
                insist = self.pick(L.INSISTS)
                if self.rng.random() < 0.5:
                    insist = f"{insist} {m.text}"
                return Reply(insist, act="insist")
            weak = None if roll < 0.75 else self.say(kp, Level.WEAK, Level.AVERAGE)
            if weak is None:
                return self.dont_know(shaken=True)
            return Reply(lead("Oh.", self.hedge(weak)))
        mine = Level.STRONG if self.level is Level.STRONG else Level.AVERAGE
        fixed = self.say(kp, mine, Level.STRONG)
        if fixed is None:
            return Reply(self.unsaid(L.CORRECTIONS))
        return Reply(lead(self.pick(L.CORRECTIONS), fixed))

    def code(self) -> Reply:
        """The code for this question at its level."""
        assert self.topic.coding is not None
        self.tmem["code"] = True
        return Reply(None, code=self.topic.coding.solutions.at(self.level), act="code")

    # ---- the turn --------------------------------------------------------------------------

    def reply(self, reading: dict[str, Any]) -> Reply:
        """This turn's reply to ``reading``; the wording is new to the interview."""
        saved = copy.deepcopy(self.tmem)
        for _ in range(6):
            self.tmem.clear()
            self.tmem.update(copy.deepcopy(saved))  # each attempt starts from the same memory
            got = self._reply(reading)
            if not got.text or self.fresh(got.text):
                break
        else:
            assert got.text is not None
            text = got.text
            got.text = next((t for o in L.FOLLOW_OPENERS if self.fresh(t := lead(o, text))), text)
        return self._record(got)

    def _reply(self, reading: dict[str, Any]) -> Reply:
        kind, kp = reading["kind"], reading.get("key_point")
        if kind == "question" or (kind in ("again", "clarified") and not self.tmem["answered"]):
            return self.first_answer(kp)
        if kind == "invite_code":
            return self.code()
        if kind == "challenge":
            return self.challenged(kp, reading.get("misconception"))
        if kind == "hint":
            return self.follow_up(kp, after_hint=True)
        return self.follow_up(kp)

    def _record(self, reply: Reply) -> Reply:
        if reply.text:
            covered = list(cover(reply.text, self.topic.key_points).covered)
            if reply.act in ("wrong", "insist"):
                wrong_kps = {
                    m.key_point for m in self.topic.misconceptions if m.id in self.tmem["wrong"]
                }
                covered = [k for k in covered if k not in wrong_kps]
            reply.covered = covered
            self.tmem["covered"] = sorted({*self.tmem["covered"], *covered})
            self.said.append(fingerprint(reply.text))
            del self.said[:-SAID_CAP]
        self.tmem["steps"] += 1
        return reply


def knowledge(seed: int | None, round_id: str, topic: Topic, persona: str) -> set[str]:
    """The key points this candidate knows well enough to make when asked."""
    level = level_of(persona)
    if level is Level.STRONG:
        return {k.id for k in topic.key_points}
    rng = stream(seed, round_id, topic.id, "knows")
    share = 0.6 if level is Level.AVERAGE else 0.15
    known = {k.id for k in topic.key_points if rng.random() < share}
    if level is Level.AVERAGE:
        known |= set(cover(topic.sample_answers.average, topic.key_points).covered)
    return known


def adversarial_line(persona: str, rng: random.Random) -> str:
    """The adversarial persona's move on a topic: small talk, injection or an answer request."""
    bank = rng.choice([L.OFF_TOPIC, L.INJECTIONS, L.ANSWER_REQUESTS])
    return bank[rng.randrange(len(bank))]
