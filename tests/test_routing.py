"""Routing through the seam: a scripted brain (with a fake chat model that streams) decides,
and the graph follows its decisions — speaker, follow-up vs move on, blocking."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage

from interview_graph.engine.base import register_engine, unregister_engine
from interview_graph.engine.decisions import Intent, RulesVerdict, SpeakerChoice, TopicDecision
from interview_graph.engine.offline import OfflineBrain
from interview_graph.plans.models import Panelist, Round, Topic
from interview_graph.session import InterviewSession


class ScriptedBrain(OfflineBrain):
    """Offline decisions, except where a test scripts them; speech comes from a chat model."""

    name = "scripted"

    def __init__(self, lines: list[str]) -> None:
        self.model = GenericFakeChatModel(messages=iter(AIMessage(content=line) for line in lines))
        self.speaker: str | None = None
        self.complete_after_one = False
        self.verdicts: Iterator[RulesVerdict] | None = None
        self.calls: list[str] = []

    async def pick_speaker(
        self, round_: Round, topic: Topic, asked_counts: dict[str, int]
    ) -> SpeakerChoice:
        self.calls.append("pick_speaker")
        if self.speaker:
            return SpeakerChoice(panelist_id=self.speaker, reason="scripted")
        return await super().pick_speaker(round_, topic, asked_counts)

    async def assess_answer(
        self, answer: str, topic: Topic, progress: dict[str, Any], **kw: Any
    ) -> TopicDecision:
        self.calls.append("assess_answer")
        decision = await super().assess_answer(answer, topic, progress, **kw)
        if self.complete_after_one:
            return decision.model_copy(
                update={"complete": True, "probe": None, "reason": "scripted"}
            )
        return decision

    async def check_rules(self, text: str, topic: Topic | None, *, source: str) -> RulesVerdict:
        self.calls.append("check_rules")
        if self.verdicts is not None:
            return next(self.verdicts)
        return await super().check_rules(text, topic, source=source)

    async def speak(
        self,
        panelist: Panelist,
        intent: Intent,
        topic: Topic | None,
        round_: Round,
        scene: dict[str, Any],
    ) -> AsyncIterator[str]:
        async for chunk in self.model.astream("speak"):
            yield str(chunk.content)


@pytest.fixture
def scripted(request: pytest.FixtureRequest) -> Iterator[ScriptedBrain]:
    brain = ScriptedBrain([f"Scripted line number {i}." for i in range(200)])
    name = f"scripted-{request.node.name}"
    register_engine(name, lambda: brain)
    brain.name = name
    yield brain
    unregister_engine(name)


async def _run(
    brain: ScriptedBrain, db: Path, inputs: list[Any]
) -> tuple[list[Any], list[dict[str, Any]]]:
    items: list[dict[str, Any]] = []
    async with await InterviewSession.open(
        plan="backend_engineer", engine=brain.name, database=db
    ) as s:
        items += [i async for i in s.step()]
        for value in inputs:
            items += [i async for i in s.step(value)]
        return await s.transcript(), items


async def test_scripted_speaker_is_the_one_who_asks(
    scripted: ScriptedBrain, database: Path
) -> None:
    scripted.speaker = "marcus_lindqvist"
    events, items = await _run(scripted, database, [])
    asks = [e for e in events if e.kind == "message" and e.data["move"] == "ask"]
    assert [e.speaker for e in asks] == ["marcus_lindqvist"]
    tokens = [i for i in items if i["type"] == "token"]
    assert len(tokens) > 2, "the fake chat model's reply streamed in chunks"
    assert "".join(t["delta"] for t in tokens if t["message_id"] == asks[0].key) == asks[0].text


async def test_follow_up_until_the_brain_says_the_topic_is_complete(
    scripted: ScriptedBrain, database: Path
) -> None:
    # The first backend question is a coding one: after the approach, the panel invites code.
    greetings = ["introduce", "introduce"]  # each of the coding panel says hello
    events, _ = await _run(
        scripted, database, ["I would start with a dictionary and see where it goes."]
    )
    moves = [e.data["move"] for e in events if e.kind == "message"]
    assert moves == [*greetings, "ask", "invite_code"]
    events, _ = await _run(
        scripted,
        database.with_name("a.sqlite"),
        [
            "I would start with a dictionary and see where it goes.",
            "I am still working out how the code should look.",
            "Almost there, I am checking the loop bounds now.",
        ],
    )
    moves = [e.data["move"] for e in events if e.kind == "message"]
    assert moves == [*greetings, "ask", "invite_code", "follow_up", "follow_up"]

    # The brain says the topic is complete, but a coding question waits for its submission
    # until the turn budget says otherwise.
    scripted.complete_after_one = True
    answers = ["I would start with a dictionary and see where it goes."] * 4
    events, _ = await _run(scripted, database.with_name("b.sqlite"), answers)
    moves = [(e.data["move"], e.data["question_id"]) for e in events if e.kind == "message"]
    assert moves[2:6] == [("ask", "top_k_frequent"), *[("invite_code", "top_k_frequent")] * 3]
    assert moves[6:] == [("close", "top_k_frequent"), ("ask", "sliding_window_rate_limiter")]
    [done] = [e for e in events if e.kind == "topic_completed"]
    assert done.text == "out of turns before a submission" and not done.data["submitted"]


async def test_blocked_input_never_reaches_a_panelist(
    scripted: ScriptedBrain, database: Path
) -> None:
    scripted.verdicts = iter(
        [
            RulesVerdict(
                action="block", category="abuse", reason="scripted", notice="Please be kind."
            ),
        ]
    )
    events, _ = await _run(scripted, database, ["some text"])
    after = events[[e.kind for e in events].index("candidate_message") :]
    assert [e.kind for e in after] == ["candidate_message", "rules_flag", "rules_warning"]
    assert "assess_answer" not in scripted.calls
