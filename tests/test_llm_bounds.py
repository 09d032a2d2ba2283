"""Bounded LLM mode: the reply's gate has a deadline, every call is capped and has a total
deadline, speech stops looping and ends cleanly, post-reply work never holds up the next turn,
and usage counts failed and truncated calls.

Deterministic: fakes that never answer stand for late screens (no sleeps and wall-clock
asserts); the stub's stalls are far longer than the deadlines under test, so a test that
waited on one would hit its own generous ``asyncio.timeout`` instead of passing.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from interview_graph import late
from interview_graph.engine.base import get_brain
from interview_graph.engine.decisions import Intent, RulesVerdict
from interview_graph.llm.brain import _early_allow, verdict_word
from interview_graph.llm.calls import end_cleanly
from interview_graph.llm.stub_server import StubConfig, StubServer
from interview_graph.master.state import new_progress
from interview_graph.panelist.nodes import _gated
from interview_graph.plans.loader import resolve_plan
from interview_graph.session import InterviewSession
from interview_graph.usage import summarise_usage

from .llm_util import llm_settings

ALLOW = RulesVerdict(action="allow", category="ok", reason="test")
BLOCK = RulesVerdict(action="block", category="abuse", reason="test", notice="Please.")


@pytest.fixture
def llm(stub: StubServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[StubServer]:
    stub.configure(StubConfig(), reset_stats=True)
    with llm_settings(monkeypatch, stub.base_url, timeout="30", retries="1"):
        yield stub


async def _speech(parts: list[str]) -> AsyncIterator[str]:
    for part in parts:
        yield part


async def _never() -> RulesVerdict:
    await asyncio.Event().wait()
    raise AssertionError("unreachable")


async def _now(verdict: RulesVerdict) -> RulesVerdict:
    return verdict


# --------------------------------------------------------------------------- the gate


async def test_the_gate_releases_the_reply_when_the_screen_never_answers() -> None:
    screen = asyncio.create_task(_never())
    emitted: list[str] = []
    async with asyncio.timeout(30):
        parts, verdict = await _gated(_speech(["Hello", " there."]), screen, emitted.append)
    assert emitted == parts == ["Hello", " there."]
    assert verdict is None, "released under the deterministic verdict"
    assert not screen.done(), "the screen goes on; respond handles its late verdict"
    screen.cancel()


async def test_a_timely_block_emits_nothing_and_a_timely_allow_everything() -> None:
    async def silent() -> AsyncIterator[str]:
        await asyncio.Event().wait()
        yield "never"

    emitted: list[str] = []
    screen = asyncio.create_task(_now(BLOCK))
    async with asyncio.timeout(30):
        parts, verdict = await _gated(silent(), screen, emitted.append)
    assert (parts, emitted, verdict) == ([], [], BLOCK)

    screen = asyncio.create_task(_now(ALLOW))
    await asyncio.sleep(0)  # the verdict is in before the speech starts
    parts, verdict = await _gated(_speech(["A", "B"]), screen, emitted.append)
    assert emitted == ["A", "B"] and verdict == ALLOW


# --------------------------------------------------------------------------- verdicts


@pytest.mark.parametrize(
    ("partial", "action"),
    [
        ("ALLOW", "allow"),
        ("**Verdict**: allow", "allow"),
        ("Verdict: BLOCK\n", "block"),
        ("warn", "warn"),
        ("**Verdict**: al", None),
        ("Sure", None),
        ("Sure! The message looks fine", None),
    ],
)
def test_the_screen_is_read_leniently_as_it_streams(partial: str, action: str | None) -> None:
    got = _early_allow(partial)
    assert (got.action if got else None) == action
    if got is not None and got.action == "block":
        assert got.notice, "a block decided on its word still tells the candidate something"


def test_prose_is_known_unreadable_without_waiting_for_its_end() -> None:
    assert verdict_word("Sure! The message looks", complete=False) == "unreadable"
    assert verdict_word("**Verd", complete=False) is None


# --------------------------------------------------------------------------- token caps


async def _session_run(db: Path, inputs: list[Any]) -> tuple[str, list[Any]]:
    async with await InterviewSession.open(plan="backend_engineer", engine="llm", database=db) as s:
        _ = [i async for i in s.step()]
        for value in inputs:
            _ = [i async for i in s.step(value)]
        return s.interview_id, await s.transcript()


async def test_every_call_sends_its_roles_token_cap(llm: StubServer, tmp_path: Path) -> None:
    await _session_run(tmp_path / "i.sqlite", ["I would count with a dict and use a heap."])
    recent = llm.stats().recent
    assert recent and all(r.body.get("max_tokens") for r in recent), "no call without a cap"
    caps = {(r.role, bool(r.body.get("stream"))): r.body["max_tokens"] for r in recent}
    assert caps[("screen", True)] == 48
    # Speech: the speak prompt's 90-word limit × 2 tokens a word + 16.
    assert caps[("panelist", True)] == 196


# --------------------------------------------------------------------------- speech bounds


def _speak_args() -> tuple[Any, ...]:
    plan = resolve_plan("backend_engineer")
    round_ = plan.rounds[0]
    topic = round_.topics[0]
    return round_.panel[0], topic, round_


async def _say(move: str) -> tuple[str, dict[str, Any]]:
    panelist, topic, round_ = _speak_args()
    scene: dict[str, Any] = {"recent": [], "answer": "I would use a dict."}
    brain = get_brain("llm")
    async with asyncio.timeout(30):
        chunks = [c async for c in brain.speak(panelist, Intent(move=move), topic, round_, scene)]
    return "".join(chunks), scene


async def test_a_looping_reply_is_stopped_and_ends_on_a_sentence(llm: StubServer) -> None:
    loop = "Good question. " + "We could put a cache in front of the hot keys here. " * 40
    llm.configure(StubConfig(scripts={"panelist": [{"text": loop}]}))
    streamed, scene = await _say("ask")
    assert scene["said"] == "Good question. We could put a cache in front of the hot keys here."
    assert len(streamed) < 200, "stopped within the first repeat, not after forty"


@pytest.mark.parametrize("reply", ["", "   \n  "])
async def test_an_empty_reply_is_replaced_by_the_offline_line(llm: StubServer, reply: str) -> None:
    # SmolLM2 through llama-cpp-python ended some replies before saying anything: the
    # candidate saw an empty panel line.
    llm.configure(StubConfig(scripts={"panelist": [{"text": reply}]}))
    streamed, scene = await _say("ask")
    panelist, topic, round_ = _speak_args()
    offline = get_brain("offline")
    expected = [c async for c in offline.speak(panelist, Intent(move="ask"), topic, round_, {})]
    assert streamed.strip() and streamed.strip() == "".join(expected).strip()
    assert "said" not in scene


async def test_a_reply_cut_by_its_cap_shows_only_whole_sentences(llm: StubServer) -> None:
    # 30 sentences of 7 words: far past the 25-word line's cap (66 tokens); the stub stops
    # at the cap with finish_reason=length, mid-sentence.
    long = " ".join(" ".join(f"{w}{i}" for w in "abcdefg") + "." for i in range(30))
    llm.configure(StubConfig(scripts={"panelist": [{"text": long}]}))
    streamed, scene = await _say("close")
    assert scene["said"].endswith("g8.") and streamed.strip() == scene["said"]
    assert end_cleanly("We could cache the hot") == "We could cache the\u2026"


# --------------------------------------------------------------------------- deadlines


async def test_a_stalled_call_gives_up_within_its_total_deadline(
    stub: StubServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    stub.configure(
        StubConfig(stall_seconds=120, scripts={"evaluator": [{"fault": "stall"}] * 3}),
        reset_stats=True,
    )
    with llm_settings(monkeypatch, stub.base_url, timeout="60", deadlines='{"evaluator": 0.5}'):
        panelist, topic, round_ = _speak_args()
        brain = get_brain("llm")
        base = await brain.offline.evaluate(panelist, topic, round_, new_progress(topic.id), None)
        async with asyncio.timeout(30):  # generous: the stall alone is 120 s
            got = await brain.evaluate(panelist, topic, round_, new_progress(topic.id), None)
    assert got.scores == base.scores, "the offline evaluation stood in"
    assert stub.stats().by_role.get("evaluator") == 1


async def test_post_reply_work_does_not_block_the_next_turn(
    stub: StubServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    stub.configure(
        StubConfig(stall_seconds=120, scripts={"evaluator": [{"fault": "stall"}] * 10}),
        reset_stats=True,
    )
    env = {"timeout": "100", "deadlines": '{"evaluator": 100}', "post_reply_wait": "0.1"}
    with llm_settings(monkeypatch, stub.base_url, **env):
        async with asyncio.timeout(60):  # a blocked turn would wait 100 s
            iid, events = await _session_run(
                tmp_path / "i.sqlite",
                ["I would count with a dict and keep a heap of size k.", "A heap of size k."],
            )
    assert stub.stats().by_role.get("evaluator", 0) >= 1, "evaluations were asked for"
    assert late.pending(iid, "evaluation") >= 1, "still waiting, in the background"
    assert not [e for e in events if e.kind == "evaluation"]
    answered = [e for e in events if e.kind == "message"]
    assert answered[-1].seq > max(e.seq for e in events if e.kind == "candidate_message")
    late.forget(iid)


# --------------------------------------------------------------------------- usage


async def test_usage_counts_failed_and_truncated_calls(llm: StubServer, tmp_path: Path) -> None:
    faults = [{"fault": "rate_limit"}, {"fault": "truncated_json"}]
    llm.configure(StubConfig(scripts={"evaluator": faults}))
    _, events = await _session_run(
        tmp_path / "i.sqlite", ["I would count with a dict and keep a heap of size k."]
    )
    usage = summarise_usage(events)
    assert usage.calls == llm.stats().requests, "every request the server saw is a call"
    assert usage.by_outcome.get("rate_limited") == 1 and usage.failed_calls >= 1
    truncated = [
        e.data for e in events if e.kind == "llm_usage" and e.data.get("outcome") == "truncated"
    ]
    assert truncated and truncated[0]["completion_tokens"] > 0, "its real tokens"


async def test_a_slow_reply_sends_a_thinking_status_then_the_offline_line(
    stub: StubServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    stub.configure(
        StubConfig(stall_seconds=120, scripts={"panelist": [{"fault": "stall"}] * 3}),
        reset_stats=True,
    )
    monkeypatch.setenv("INTERVIEW_THINKING_NOTICE_SECONDS", "0.05")
    with llm_settings(monkeypatch, stub.base_url, timeout="100", deadlines='{"panelist": 1}'):
        db = tmp_path / "i.sqlite"
        async with await InterviewSession.open(
            plan="backend_engineer", engine="llm", database=db
        ) as s:
            async with asyncio.timeout(60):  # the stall alone is 120 s
                items = [i async for i in s.step()]
    kinds = [i["type"] for i in items]
    first = kinds.index("status")
    assert items[first]["status"] == "thinking"
    assert "token" in kinds[first:], "then the line (the offline one) streamed"
