"""The offline candidate's words mean what it intends: the panel reads its "I don't know" as
stuck, its hint requests as hint requests and its clarifying questions as clarifications,
answered from the plan; and its choices are seeded."""

from __future__ import annotations

import random

import pytest

from interview_graph.candidate import lines as L
from interview_graph.candidate import rules
from interview_graph.engine.intents import classify
from interview_graph.engine.offline import normalise
from interview_graph.plans.loader import resolve_plan

from .conftest import PLANS

TOPICS = [(p, r.id, t) for p in PLANS for r in resolve_plan(p).rounds for t in r.topics]


def _intent(text: str, topic) -> str:  # type: ignore[no-untyped-def]
    return classify(text, normalise(text), topic).intent


@pytest.mark.parametrize(("plan", "round_id", "topic"), TOPICS, ids=[t.id for _, _, t in TOPICS])
def test_requests_read_as_intended_on_every_topic(plan: str, round_id: str, topic) -> None:  # type: ignore[no-untyped-def]
    for text in (*L.DONT_KNOW, *L.DONT_KNOW_NOW):
        assert _intent(text, topic) == "stuck", text
    for text in L.HINT_ASKS:
        assert _intent(text, topic) == "hint", text
    asked = 0
    for seed in range(6):
        player = rules.Player(
            "weak", topic, rules.new_topic_memory(), [], random.Random(seed), set()
        )
        while (question := player.clarification()) is not None:
            asked += 1
            reading = classify(question, normalise(question), topic)
            assert reading.intent == "clarify", question
            assert reading.reply in [c.answer for c in topic.clarifications], question
    assert asked, f"{topic.id}: no clarifying question could be built from its triggers"


def test_the_same_seed_makes_the_same_choices_and_another_seed_others() -> None:
    plan = resolve_plan("backend_engineer")
    topic = plan.rounds[1].topics[0]

    def first(seed: int) -> str | None:
        tmem = rules.new_topic_memory()
        rng = rules.stream(seed, plan.rounds[1].id, topic.id, 0)
        knows = rules.knowledge(seed, plan.rounds[1].id, topic, "average")
        player = rules.Player("average", topic, tmem, [], rng, knows)
        return player.reply({"kind": "question", "key_point": None}).text

    assert first(1) == first(1)
    assert len({first(s) for s in range(8)}) > 1


def test_a_key_point_without_snippets_still_gets_an_answer() -> None:
    plan = resolve_plan("backend_engineer")
    topic = plan.rounds[1].topics[0]
    bare = topic.model_copy(
        update={"key_points": [k.model_copy(update={"snippets": None}) for k in topic.key_points]}
    )
    kp = bare.key_points[1]
    for persona in ("strong", "average", "weak"):
        tmem = {**rules.new_topic_memory(), "answered": True}
        player = rules.Player(persona, bare, tmem, [], random.Random(3), {kp.id})
        got = player.reply({"kind": "follow_up", "key_point": kp.id})
        assert got.text
        if persona == "strong":
            assert kp.id in got.covered
