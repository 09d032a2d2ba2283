"""Conversation scenarios (tests/conversations/*.yaml): load them, play them over the WebSocket,
and check what the panel said and decided.

A scenario is data::

    - name: repeat_sorry
      plan: backend_engineer
      behaviour: repeat                     # for the suite's counts only
      setup: {topic: session_index_tradeoffs}   # optional: answer until that topic is asked
      turns:
        - message: "Sorry, can you repeat the question?"
        - code: {action: submit, solution: strong}    # or code: {action: run, code: "..."}
        - control: end
      expect:
        move: repeat
        question_again: true
      xfail: "why the engine gets this wrong"   # or {offline: "...", llm: "..."}

Every turn is sent over the real WebSocket; the turn is over when the server has marked the
input consumed in its SQLite event log (the runner does that after the graph's whole drive),
and then every event the drive wrote is read from the log, where each panel ``message``
carries its private ``move``.  The panel lines the WebSocket delivered are checked against the
log, so what is asserted is what the candidate saw.

Expectations apply to the panel's lines after the last turn (``reply`` is the first of them):

=========================  ================================================================
``move``                   the reply's move (a string, or a list of allowed moves)
``moves``                  the moves of all the lines, in order
``asks``                   one of the lines asks this topic
``contains_any``           the reply contains one of these (case-insensitive; offline only)
``not_contains``           no line contains any of these (case-insensitive; offline only)
``question_again``         the reply says the current question, a rephrasing, or the last
                           follow-up / challenge question again
``repeats``                stricter: what is said again is the topic's ``question`` (or a
                           rephrasing), a ``follow_up`` question, or a ``challenge`` probe
``hint``                   the reply gives one of the topic's hints (``true``, or its 1-based
                           rung) and none of the key points' texts
``hints_exhausted``        a hint move with no hint left to give
``answers_from_plan``      the reply gives the plan's answer (a clarification or the FAQ)
``open_choice``            a clarification with no plan answer ("your call")
``challenges_quote``       the reply quotes the candidate's own words from the last message
``no_follow_up_on``        no line asks that key point's follow-up question
``single_redirect``        exactly one panel line after the turn, and no ``warning``
``closing``                the interview ends with a panel goodbye line
``waits_for_submission``   a coding question stays open: no new question, no closing
``discusses_submission``   a submission is discussed without hidden test names or inputs
``hidden_tests_not_in_prompt``  stricter, for LLM mode: the ``speak`` request itself (private
                           advice included) carries no hidden test names or inputs
=========================  ================================================================

In LLM mode the words are the scripted model's, so text checks read the ``speak`` request the
model received instead: its public material must carry what the line needs (the hint, the
quote, the plan's answer, the question to repeat, the closing); ``contains_any`` and
``not_contains`` are offline-only.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from interview_graph.plans.loader import resolve_plan
from interview_graph.plans.models import InterviewPlan, QuestionKind, Topic

from .server_util import Client, Server, connect

HERE = Path(__file__).parent
SCENARIO_DIR = HERE / "conversations"
EXPECTATIONS = {
    "move",
    "moves",
    "asks",
    "contains_any",
    "not_contains",
    "question_again",
    "repeats",
    "hint",
    "hints_exhausted",
    "answers_from_plan",
    "open_choice",
    "challenges_quote",
    "no_follow_up_on",
    "single_redirect",
    "closing",
    "waits_for_submission",
    "discusses_submission",
    "hidden_tests_not_in_prompt",
}
_SCENARIO_KEYS = {"name", "plan", "behaviour", "setup", "turns", "expect", "xfail", "note"}
_WARNING_KINDS = ("rules_warning", "input_rejected", "interview_ending")
_PUBLIC_KINDS = (
    "message",
    "code_result",
    "round_started",
    "round_ended",
    "interview_ended",
    *_WARNING_KINDS,
)
MOVE_ON = "Can we move on to the next question?"


# --------------------------------------------------------------------------- loading


@dataclass(frozen=True)
class Scenario:
    """One scenario from a YAML file."""

    name: str
    plan: str
    behaviour: str
    turns: list[dict[str, Any]]
    expect: dict[str, Any]
    setup: dict[str, Any] = field(default_factory=dict)
    xfail: dict[str, str] = field(default_factory=dict)
    source: str = ""

    @property
    def id(self) -> str:
        return f"{self.plan}:{self.name}"


def load_scenarios(directory: Path = SCENARIO_DIR) -> list[Scenario]:
    """Every scenario, validated (unknown keys and expectation kinds are errors)."""
    out: list[Scenario] = []
    for path in sorted(directory.glob("*.yaml")):
        for raw in yaml.safe_load(path.read_text(encoding="utf-8")) or []:
            unknown = set(raw) - _SCENARIO_KEYS
            if unknown:
                raise ValueError(f"{path.name}:{raw.get('name')}: unknown keys {sorted(unknown)}")
            bad = set(raw.get("expect") or {}) - EXPECTATIONS
            if bad or not raw.get("expect"):
                raise ValueError(f"{path.name}:{raw['name']}: bad expectations {sorted(bad)}")
            xfail = raw.get("xfail") or {}
            if isinstance(xfail, str):
                xfail = {"offline": xfail, "llm": xfail}
            out.append(
                Scenario(
                    name=raw["name"],
                    plan=raw["plan"],
                    behaviour=raw.get("behaviour", "other"),
                    turns=list(raw["turns"]),
                    expect=dict(raw["expect"]),
                    setup=dict(raw.get("setup") or {}),
                    xfail=dict(xfail),
                    source=path.name,
                )
            )
    ids = [s.id for s in out]
    dupes = {i for i in ids if ids.count(i) > 1}
    if dupes:
        raise ValueError(f"duplicate scenario ids: {sorted(dupes)}")
    return out


def plan_topic(plan: InterviewPlan, topic_id: str) -> Topic:
    for round_ in plan.rounds:
        for topic in round_.topics:
            if topic.id == topic_id:
                return topic
    raise KeyError(topic_id)


# --------------------------------------------------------------------------- playing


@dataclass
class Line:
    """A panel line: the event log's message (with its private move) and the frame sent."""

    seq: int
    move: str
    text: str
    question_id: str | None
    panelist: str


@dataclass
class Turn:
    """What one candidate input led to."""

    input_seq: int
    events: list[dict[str, Any]]
    lines: list[Line]
    frames: list[dict[str, Any]]

    @property
    def warnings(self) -> list[dict[str, Any]]:
        return [f for f in self.frames if f["type"] == "warning"]


class EventDB:
    """Read-only access to the test server's SQLite event log."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = None

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=10)
        return self._conn

    def consumed(self, interview: str, seq: int) -> bool:
        row = self.conn.execute(
            "SELECT consumed FROM inputs WHERE interview_id = ? AND seq = ?", (interview, seq)
        ).fetchone()
        return bool(row and row[0])

    def events(self, interview: str, after: int = 0) -> list[dict[str, Any]]:
        rows = self.conn.execute(
            "SELECT seq, key, kind, visibility, speaker, text, data FROM events "
            "WHERE interview_id = ? AND seq > ? ORDER BY seq",
            (interview, after),
        ).fetchall()
        cols = ("seq", "key", "kind", "visibility", "speaker", "text", "data")
        return [{**dict(zip(cols, r, strict=True)), "data": json.loads(r[6])} for r in rows]

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


_ids = itertools.count()


class Conversation:
    """One interview over the WebSocket, turn by turn."""

    def __init__(self, server: Server, db: EventDB, plan: str, user: str) -> None:
        self.server, self.db, self.plan_id, self.user = server, db, plan, user
        self.plan = resolve_plan(plan)
        self.interview = ""
        self.client: Client | None = None
        self._ws: Any = None
        self.lines: list[Line] = []  # every panel line so far
        self.ended = False

    async def __aenter__(self) -> Conversation:
        self._ws = await connect(self.server).__aenter__()
        self.client = Client(self._ws)
        await self.client.send({"type": "login", "user": self.user})
        await self.client.until(lambda e: e["type"] == "session")
        await self.client.send({"type": "start", "plan": self.plan_id})
        session = (await self.client.until(lambda e: e["type"] == "session"))[-1]
        self.interview = session["interview_id"]
        await self.client.question()  # the opening ends with the first question
        self.lines = [_line(e) for e in self.db.events(self.interview) if e["kind"] == "message"]
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._ws.close()

    @property
    def topic_id(self) -> str | None:
        """The question on the table: the one the last line belonging to a question is on."""
        return next((ln.question_id for ln in reversed(self.lines) if ln.question_id), None)

    @property
    def asked(self) -> list[str]:
        return [ln.question_id for ln in self.lines if ln.move == "ask" and ln.question_id]

    async def send(self, turn: dict[str, Any]) -> Turn:
        """Send one candidate input and wait until the panel has fully reacted to it."""
        assert self.client is not None
        cid = f"c{next(_ids)}"
        frame = self._frame(turn, cid)
        sent_from = len(self.client.events)
        await self.client.send(frame)
        acked = await self.client.until(lambda e: e["type"] == "ack" and e["client_id"] == cid)
        seq = acked[-1]["seq"]
        deadline = time.monotonic() + 30
        while not self.db.consumed(self.interview, seq):
            if time.monotonic() > deadline:
                raise TimeoutError(f"input {seq} ({turn}) was not consumed in time")
            await asyncio.sleep(0.005)
        events = self.db.events(self.interview, seq)
        public = [e for e in events if e["visibility"] == "public" and e["kind"] in _PUBLIC_KINDS]
        if public:
            last = public[-1]["seq"]
            await self.client.until(lambda e: e.get("seq", -1) >= last and _persisted(e))
        frames = [
            e
            for e in self.client.events[sent_from:]
            if _persisted(e) and e["seq"] > seq and e["type"] != "candidate_input"
        ]
        lines = [_line(e) for e in events if e["kind"] == "message"]
        said = [(f["seq"], f["text"]) for f in frames if f["type"] == "message"]
        assert said == [(ln.seq, ln.text) for ln in lines], "the WebSocket showed what was logged"
        self.lines.extend(lines)
        self.ended = self.ended or any(e["kind"] == "interview_ended" for e in events)
        return Turn(seq, events, lines, frames)

    def _frame(self, turn: dict[str, Any], cid: str) -> dict[str, Any]:
        if "message" in turn:
            return {"type": "message", "text": turn["message"], "client_id": cid}
        if "control" in turn:
            return {"type": "control", "action": turn["control"], "client_id": cid}
        code = dict(turn["code"])
        topic = plan_topic(self.plan, code.get("question_id") or self.topic_id or "")
        text = code.get("code")
        if text is None:
            assert topic.coding is not None, f"{topic.id} is not a coding question"
            text = getattr(topic.coding.solutions, code.get("solution", "strong"))
        return {
            "type": "code",
            "action": code.get("action", "submit"),
            "code": text,
            "language": "python",
            "question_id": topic.id,
            "client_id": cid,
        }

    async def reach(self, target: str, limit: int = 40) -> None:
        """Answer (strong sample answers, strong code) until ``target`` is the question asked."""
        answered: set[str] = set()
        submitted: set[str] = set()
        for _ in range(limit):
            current = self.asked[-1] if self.asked else None
            if current == target:
                return
            if self.ended or current is None:
                break
            topic = plan_topic(self.plan, current)
            if current not in answered:
                answered.add(current)
                await self.send({"message": topic.sample_answers.strong})
            elif topic.coding is not None and current not in submitted:
                submitted.add(current)
                await self.send({"code": {"action": "submit", "solution": "strong"}})
            else:
                await self.send({"message": MOVE_ON})
        raise AssertionError(f"setup never reached topic {target!r}; asked {self.asked}")


def _persisted(frame: dict[str, Any]) -> bool:
    return frame["type"] in (
        "round_started",
        "message",
        "candidate_input",
        "code_result",
        "warning",
        "round_ended",
        "report",
        "interview_ended",
    )


def _line(event: dict[str, Any]) -> Line:
    d = event["data"]
    return Line(
        event["seq"], d.get("move", ""), event["text"], d.get("question_id"), event["speaker"]
    )


async def play(
    server: Server, db: EventDB, scenario: Scenario, user: str, before_last: Any = None
) -> tuple[Conversation, Turn, Topic | None]:
    """Play ``scenario``; ``before_last()`` runs just before its last turn is sent.

    Returns the conversation, the last turn, and the topic that was on the table then.
    """
    async with Conversation(server, db, scenario.plan, user) as conv:
        if "topic" in scenario.setup:
            await conv.reach(scenario.setup["topic"])
        for turn in scenario.turns[:-1]:
            await conv.send(turn)
        topic_id = conv.topic_id
        if before_last is not None:
            before_last()
        last = await conv.send(scenario.turns[-1])
        topic = plan_topic(conv.plan, topic_id) if topic_id else None
        return conv, last, topic


# --------------------------------------------------------------------------- checking


def norm(text: str) -> str:
    """Lower case, one space, curly quotes straightened: for containment checks."""
    text = text.replace("\u2019", "'").replace("\u2018", "'")
    return " ".join(text.lower().split())


def _has(haystack: str, needle: str) -> bool:
    return norm(needle) in norm(haystack)


def asked_again_texts(topic: Topic) -> list[str]:
    """What counts as the question again: the question, its rephrasings, follow-ups, probes."""
    return [
        topic.question,
        *topic.rephrasings,
        *(f.question for f in topic.follow_ups),
        *(m.probe for m in topic.misconceptions),
    ]


def repeat_texts(topic: Topic, what: str) -> list[str]:
    """The texts a repeat of ``what`` (question, follow_up, challenge) may say again."""
    if what == "question":
        return [topic.question, *topic.rephrasings]
    if what == "follow_up":
        return [f.question for f in topic.follow_ups]
    if what == "challenge":
        return [m.probe for m in topic.misconceptions]
    raise ValueError(f"repeats: {what!r}")


def plan_answers(plan: InterviewPlan, topic: Topic) -> list[str]:
    round_ = next(r for r in plan.rounds if topic in r.topics)
    return [c.answer for c in (*topic.clarifications, *round_.faq, *plan.faq)]


def hidden_markers(topic: Topic) -> list[str]:
    """Hidden tests' names and inputs, as they could be spelled in a line."""
    if topic.coding is None:
        return []
    out = []
    for test in topic.coding.hidden_tests:
        out.append(test.name)
        for arg in test.args:
            if isinstance(arg, list) and len(arg) >= 2:
                out.append(json.dumps(arg))  # "[3, 3, 1, 1, 2]"
                out.append(repr(arg))  # "['a', 'b']", as the activity brief writes it
                out.append(", ".join(map(str, arg)))
    return out


_QUOTED = re.compile(r"“([^”]+)”")


def quoted_from(line: str, said: str) -> str | None:
    """A quote in ``line`` that is the candidate's own words from ``said`` (≥ 3 words)."""
    for q in _QUOTED.findall(line):
        q = q.rstrip("…").strip()
        if len(q.split()) >= 3 and norm(q) in norm(said):
            return q
    return None


@dataclass
class Context:
    """What the checks need to know about the scenario's last turn."""

    scenario: Scenario
    plan: InterviewPlan
    topic: Topic | None
    said: str  # the candidate's last message ("" for code and control)
    turn: Turn
    ended: bool


class Failures:
    def __init__(self) -> None:
        self.items: list[str] = []

    def check(self, ok: bool, what: str) -> None:
        if not ok:
            self.items.append(what)


def describe(turn: Turn) -> str:
    return "\n".join(f"  [{ln.move}] {ln.text}" for ln in turn.lines) or "  (no panel line)"


def check_offline(ctx: Context) -> list[str]:
    """Failures of the scenario's expectations against the offline engine's lines."""
    f = Failures()
    _check_common(ctx, f)
    exp, lines, topic = ctx.scenario.expect, ctx.turn.lines, ctx.topic
    reply = lines[0].text if lines else ""
    if "contains_any" in exp:
        f.check(
            any(_has(reply, s) for s in exp["contains_any"]),
            f"reply has none of {exp['contains_any']}",
        )
    for s in exp.get("not_contains", []):
        f.check(not any(_has(ln.text, s) for ln in lines), f"a line contains {s!r}")
    if exp.get("question_again"):
        assert topic is not None
        f.check(
            any(_has(reply, q) for q in asked_again_texts(topic)),
            "the reply does not say the question (or a rephrasing) again",
        )
    if what := exp.get("repeats"):
        assert topic is not None
        f.check(
            any(_has(reply, q) for q in repeat_texts(topic, what)),
            f"the reply does not repeat the {what} asked last",
        )
    if exp.get("hint"):
        assert topic is not None
        given = [i for i, h in enumerate(topic.hints, 1) if _has(reply, h.text)]
        f.check(bool(given), "the reply gives none of the topic's hints")
        if given and exp["hint"] is not True:
            f.check(given == [exp["hint"]], f"hint rung {given}, expected {exp['hint']}")
        for kp in topic.key_points:
            f.check(not _has(reply, kp.text), f"the reply gives away key point {kp.id}")
    if exp.get("hints_exhausted"):
        assert topic is not None
        f.check(not any(_has(reply, h.text) for h in topic.hints), "a hint was given again")
    if exp.get("answers_from_plan"):
        assert topic is not None
        f.check(
            any(_has(reply, a) for a in plan_answers(ctx.plan, topic)),
            "the reply gives no answer from the plan",
        )
    if exp.get("open_choice"):
        assert topic is not None
        f.check(
            not any(_has(reply, a) for a in plan_answers(ctx.plan, topic)),
            "an unrelated plan answer was given",
        )
    if exp.get("challenges_quote"):
        f.check(
            quoted_from(reply, ctx.said) is not None,
            "the reply does not quote the candidate's own words",
        )
    if kp := exp.get("no_follow_up_on"):
        assert topic is not None
        question = next(x.question for x in topic.follow_ups if x.key_point == kp)
        f.check(
            not any(_has(ln.text, question) for ln in lines),
            f"the panel followed up on {kp}, which the candidate had just covered",
        )
    if exp.get("closing"):
        last = lines[-1].text if lines else ""
        f.check(_has(last, "goodbye"), "the last line is not a goodbye")
        f.check(_has(last, ctx.plan.closing or ""), "the goodbye lacks the plan's closing words")
    if exp.get("hidden_tests_not_in_prompt"):
        assert topic is not None
        for marker in hidden_markers(topic):
            f.check(not any(_has(ln.text, marker) for ln in lines), f"a line says {marker!r}")
    if exp.get("discusses_submission"):
        assert topic is not None
        talk = next((ln.text for ln in lines if ln.move == "discuss_code"), "")
        f.check(_has(talk, "test") or _has(talk, "parse"), "the discussion names no result")
        for marker in hidden_markers(topic):
            f.check(not _has(talk, marker), f"the discussion reveals hidden test {marker!r}")
    return f.items


def _check_common(ctx: Context, f: Failures) -> None:
    """Decisions, the same in both modes: moves, questions asked, line counts, warnings."""
    exp, lines, topic = ctx.scenario.expect, ctx.turn.lines, ctx.topic
    moves = [ln.move for ln in lines]
    if "move" in exp:
        allowed = exp["move"] if isinstance(exp["move"], list) else [exp["move"]]
        f.check(bool(moves) and moves[0] in allowed, f"reply move {moves[:1]}, expected {allowed}")
    if "moves" in exp:
        f.check(moves == exp["moves"], f"moves {moves}, expected {exp['moves']}")
    if "asks" in exp:
        f.check(
            any(ln.move == "ask" and ln.question_id == exp["asks"] for ln in lines),
            f"no line asks {exp['asks']}",
        )
    if exp.get("hint") or exp.get("hints_exhausted"):
        f.check(moves[:1] in (["hint"], ["encourage"]), f"reply move {moves[:1]} is not a hint")
    if exp.get("answers_from_plan") or exp.get("open_choice"):
        f.check(
            moves[:1] in (["clarify"], ["answer_question"]), f"reply move {moves[:1]}: no answer"
        )
    if exp.get("repeats") or exp.get("question_again"):
        f.check(
            moves[:1] in (["repeat"], ["redirect"], ["encourage"], ["nudge"]),
            f"reply move {moves[:1]}",
        )
    if exp.get("challenges_quote"):
        f.check(moves[:1] == ["challenge"], f"reply move {moves[:1]}, expected challenge")
    if exp.get("single_redirect"):
        f.check(len(lines) == 1, f"{len(lines)} panel lines after the turn, expected one")
        f.check(not ctx.turn.warnings, f"warning frames: {ctx.turn.warnings}")
    if exp.get("closing"):
        f.check(bool(moves) and moves[-1] == "farewell", f"last move {moves[-1:]}, not farewell")
        f.check(ctx.ended, "the interview did not end")
    if exp.get("waits_for_submission"):
        assert topic is not None and topic.kind is QuestionKind.CODING
        f.check(bool(lines), "no reply")
        f.check(
            all(ln.question_id == topic.id for ln in lines)
            and not {"ask", "close", "farewell"} & set(moves),
            f"the panel left the coding question without a submission: {moves}",
        )
    if exp.get("discusses_submission"):
        f.check("discuss_code" in moves, f"moves {moves}: the submission was not discussed")


# --------------------------------------------------------------------------- LLM mode

_MATERIAL = re.compile(
    r"Material for this line \(public; use it, add nothing hidden\):\n(.*?)\nThe last exchanges",
    re.DOTALL,
)
_FOLLOW = re.compile(r"Follow-up to ask, if your move is a follow-up: (.*)")


@dataclass
class SpeakRequest:
    """One ``speak`` call the scripted model received."""

    system: str
    user: str

    @property
    def material(self) -> str:
        m = _MATERIAL.search(self.user)
        return m.group(1) if m else ""

    @property
    def follow_up(self) -> str:
        m = _FOLLOW.search(self.user)
        return m.group(1).strip() if m else ""

    def item(self, label: str) -> str:
        """The material item whose label starts with ``label`` (fenced candidate text kept)."""
        text = self.material
        found = re.search(rf"^- {re.escape(label)}[^:\n]*: ", text, re.MULTILINE)
        if found is None:
            return ""
        end = text.find("\n- ", found.end())
        return text[found.end() : end if end >= 0 else None].strip()


def speak_requests(bodies: list[dict[str, Any]]) -> list[SpeakRequest]:
    out = []
    for body in bodies:
        messages = body.get("messages", [])
        system = next((m["content"] for m in messages if m["role"] == "system"), "")
        if "Your move now:" not in system:
            continue
        user = next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")
        out.append(SpeakRequest(system, user))
    return out


def check_llm(ctx: Context, requests: list[SpeakRequest]) -> list[str]:
    """Failures in LLM mode: the same decisions, and the speak material carries the line's needs."""
    f = Failures()
    _check_common(ctx, f)
    exp, lines, topic = ctx.scenario.expect, ctx.turn.lines, ctx.topic
    f.check(len(requests) == len(lines), f"{len(requests)} speak requests for {len(lines)} lines")
    first = requests[0] if requests else SpeakRequest("", "")
    if exp.get("question_again"):
        assert topic is not None
        again = first.item("Your last question, to repeat")
        f.check(
            any(_has(again, q) for q in asked_again_texts(topic)),
            f"the speak material has no question to repeat: {first.material!r}",
        )
    if what := exp.get("repeats"):
        assert topic is not None
        again = first.item("Your last question, to repeat")
        f.check(
            any(_has(again, q) for q in repeat_texts(topic, what)),
            f"the speak material does not carry the {what} to repeat: {first.material!r}",
        )
    if exp.get("hint"):
        assert topic is not None
        hint = first.item("The hint to give")
        given = [i for i, h in enumerate(topic.hints, 1) if _has(hint, h.text)]
        f.check(bool(given), f"the speak material has no hint: {first.material!r}")
        if given and exp["hint"] is not True:
            f.check(given == [exp["hint"]], f"hint rung {given}, expected {exp['hint']}")
        for kp in topic.key_points:
            f.check(
                not _has(first.system + first.user, kp.text),
                f"the speak request carries key point {kp.id}'s text",
            )
    if exp.get("hints_exhausted"):
        f.check(not first.item("The hint to give"), "a hint was handed to the model again")
    if exp.get("answers_from_plan"):
        assert topic is not None
        answer = first.item("Answer to the candidate's question")
        f.check(
            any(_has(answer, a) for a in plan_answers(ctx.plan, topic)),
            f"the speak material has no plan answer: {first.material!r}",
        )
    if exp.get("open_choice"):
        f.check(
            not first.item("Answer to the candidate's question"),
            "an answer was handed to the model for a question the plan does not answer",
        )
    if exp.get("challenges_quote"):
        quote = first.item("The candidate's words to quote")
        inner = quote.replace("<candidate_data>", "").replace("</candidate_data>", "").strip()
        f.check(
            len(inner.split()) >= 3 and norm(inner) in norm(ctx.said),
            f"the speak material has no quote of the candidate's words: {first.material!r}",
        )
        f.check(bool(first.item("The question to ask")), "no challenge question in the material")
    if kp := exp.get("no_follow_up_on"):
        assert topic is not None
        question = next(x.question for x in topic.follow_ups if x.key_point == kp)
        for r in requests:
            f.check(
                not _has(r.follow_up, question)
                and not _has(r.item("The question to ask"), question),
                f"the model was told to follow up on {kp}",
            )
    if exp.get("closing"):
        farewell = requests[-1] if requests else first
        f.check(
            _has(farewell.item("Answer to the candidate's question"), ctx.plan.closing or ""),
            "the farewell's material lacks the plan's closing",
        )
    if exp.get("discusses_submission"):
        assert topic is not None
        discussed = [r for r in requests if r.item("Their submission's result")]
        f.check(bool(discussed), "no speak request carries the submission's result")
        for r in discussed:
            for marker in hidden_markers(topic):
                f.check(not _has(r.material, marker), f"the material reveals hidden {marker!r}")
    if exp.get("hidden_tests_not_in_prompt"):
        assert topic is not None
        for r in requests:
            for marker in hidden_markers(topic):
                f.check(
                    not _has(r.system + r.user, marker),
                    f"the speak request carries hidden test {marker!r}",
                )
    return f.items
