"""The LLM candidate against the local OpenAI-compatible stub: it plays a persona from
``prompts/candidate.md``, sees only public lines, talks through its approach, codes when
invited and answers the discussion of its submission."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from interview_graph.candidate.llm import extract_code, without_code
from interview_graph.llm.stub_server import ChatRequest, StubConfig, StubServer
from interview_graph.plans.loader import resolve_plan
from interview_graph.selfplay import run_selfplay
from interview_graph.session import InterviewSession

from .llm_util import llm_settings

PLAN = resolve_plan("backend_engineer")
SOLUTIONS = {
    t.coding.function_name: t.coding.solutions.strong
    for r in PLAN.rounds
    for t in r.topics
    if t.coding is not None
}
SEEN: list[str] = []  # every prompt the candidate's model received (system + user)


def respond(request: ChatRequest) -> str | None:
    """A scripted candidate model: code when asked for code, otherwise a short answer."""
    if request.role != "candidate":
        return None
    prompt = "\n".join(str(m.get("content", "")) for m in request.messages)
    SEEN.append(prompt)
    user = request.last_user_text()
    if "fenced ```python" in user:
        name = re.search(r"signature \(coding questions\): def (\w+)", user)
        assert name, user
        return f"Here it is:\n```python\n{SOLUTIONS[name.group(1)]}\n```"
    if "Do not write any code yet" in user:
        return "I'd count everything in one pass, then keep only the best k with a heap."
    turn = len(SEEN)
    return f"Good question. I'd start with the simplest version and test edge cases ({turn})."


@pytest.fixture
def llm(stub: StubServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[StubServer]:
    stub.configure(StubConfig(), responder=respond, reset_stats=True)
    SEEN.clear()
    with llm_settings(monkeypatch, stub.base_url):
        yield stub


def _hidden() -> list[str]:
    hidden: list[str] = []
    for r in PLAN.rounds:
        for t in r.topics:
            hidden += [t.sample_answers.strong, t.sample_answers.average, t.sample_answers.weak]
            hidden += [kp.text for kp in t.key_points]
            hidden += [kp.snippets.strong for kp in t.key_points if kp.snippets]
            hidden += [m.text for m in t.misconceptions]
            if t.coding:
                hidden += [a.code for a in t.coding.reference_approaches if a.code]
                hidden += [json.dumps(c.expected) for c in t.coding.hidden_tests]
    return [h for h in hidden if len(h) > 12]


async def test_llm_candidate_plays_a_whole_interview(llm: StubServer, tmp_path: Path) -> None:
    db = tmp_path / "i.sqlite"
    result = await run_selfplay(
        plan="backend_engineer",
        persona="strong",
        database=db,
        engine="offline",
        candidate_engine="llm",
        seed=1,
    )
    assert result.report is not None and result.report["completed"]
    stats = llm.stats()
    assert set(stats.by_role) == {"candidate"} and stats.requests == len(SEEN)
    async with await InterviewSession.open(
        plan="backend_engineer", database=db, interview_id=result.interview_id
    ) as session:
        events = await session.transcript()
    # Its model calls are not the interview's: nothing of them is in the interview's log.
    assert not [e for e in events if e.kind in ("llm_usage", "llm_fallback")]
    # It hears the panel: the first question is in its first prompt.
    first_question = next(e for e in events if e.kind == "message" and e.data["move"] == "ask")
    assert first_question.text in SEEN[0]
    # It never sees the plan's internals.
    for secret in _hidden():
        assert all(secret not in prompt for prompt in SEEN), secret[:60]
    # Coding questions: the approach in words, the code once invited, then the discussion.
    for topic in (t for r in PLAN.rounds for t in r.topics if t.coding is not None):
        assert topic.coding is not None
        mine = [
            e
            for e in events
            if e.speaker == "candidate"
            and (e.kind == "candidate_message" or e.kind == "candidate_code")
            and _topic_of(events, e) == topic.id
        ]
        assert mine[0].kind == "candidate_message" and "```" not in mine[0].text
        submits = [e for e in mine if e.kind == "candidate_code" and e.data["action"] == "submit"]
        assert submits, topic.id
    results = [e for e in events if e.kind == "code_result"]
    assert results and all(all(t["passed"] for t in e.data["tests"]) for e in results)
    discussed = [e for e in events if e.kind == "message" and e.data["move"] == "discuss_code"]
    assert len(discussed) == 2


def _topic_of(events: list[Any], event: Any) -> str | None:
    """The question on the table when ``event`` happened (the last panel line before it)."""
    topic = None
    for e in events:
        if e.seq >= event.seq:
            break
        if e.kind == "message" and e.data.get("question_id"):
            topic = e.data["question_id"]
    return topic


async def test_llm_candidate_plays_only_its_personas(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="the llm candidate plays"):
        await run_selfplay(
            plan="backend_engineer",
            persona="paste",
            database=tmp_path / "i.sqlite",
            candidate_engine="llm",
        )
    with pytest.raises(ValueError, match="unknown candidate engine"):
        await run_selfplay(
            plan="backend_engineer",
            persona="strong",
            database=tmp_path / "i.sqlite",
            candidate_engine="psychic",
        )


async def test_an_unreachable_model_does_not_stop_the_interview(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with llm_settings(monkeypatch, "http://127.0.0.1:9/v1", timeout="0.5", retries="0"):
        result = await run_selfplay(
            plan="backend_engineer",
            persona="weak",
            database=tmp_path / "i.sqlite",
            candidate_engine="llm",
            stop_after=3,
        )
    assert result.inputs_sent == 3
    assert all(i["kind"] == "message" and "repeat the question" in i["text"] for i in result.inputs)


def test_code_is_taken_from_the_fence_and_kept_out_of_talk() -> None:
    reply = "Sure.\n```python\ndef f(x):\n    return x\n```\nDone."
    assert extract_code(reply) == "def f(x):\n    return x\n"
    assert extract_code("```\ndef f(x):\n    return 1", "def f(x: int) -> int:") == (
        "def f(x):\n    return 1\n"
    )
    assert extract_code("I'd write def f(x): return x", "def f(x: int) -> int:") == (
        "def f(x): return x\n"
    )
    assert extract_code("No code here.", "def f(x: int) -> int:") is None
    assert without_code(reply) == "Sure. Done."
