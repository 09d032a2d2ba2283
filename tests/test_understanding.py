"""The master's reading of a message, key-point coverage that credits meaning, and speech joins.

The candidate lines are the ones users typed when the panel did not listen (issue "A panel
that listens"); each must now be read for what it is.
"""

from __future__ import annotations

import pytest

from interview_graph.engine.coverage import cover, match_any
from interview_graph.engine.intents import classify
from interview_graph.engine.offline import OfflineBrain, normalise
from interview_graph.engine.speech import choose, join
from interview_graph.master.state import new_progress
from interview_graph.plans.loader import resolve_plan

BACKEND = resolve_plan("backend_engineer")
TOP_K = BACKEND.rounds[0].topic("top_k_frequent")
LIMITER = BACKEND.rounds[0].topic("sliding_window_rate_limiter")
FRONTEND = resolve_plan("frontend_engineer")
EVENT_LOOP = next(t for r in FRONTEND.rounds for t in r.topics if t.id == "event_loop")
FAQ = [*BACKEND.rounds[0].faq, *BACKEND.faq]


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("Sorry, can you repeat the question?", "repeat"),
        ("Could you say that again?", "repeat"),
        ("I didn't catch that, sorry.", "repeat"),
        ("what's a hint for this one?", "hint"),
        ("Any tips?", "hint"),
        ("Honestly, I don't know.", "stuck"),
        ("I'm stuck.", "stuck"),
        ("did you watch the Champions League final last night?", "small_talk"),
        ("Any good pizza places near the office?", "small_talk"),
        ("Can I assume the input is sorted?", "clarify"),
        ("Can there be negative numbers?", "clarify"),
        ("How long do we have for this round?", "question"),
        ("Can we move on to the next question?", "move_on"),
        ("Hmm, let me think for a second.", "thinking"),
        ("I'd count occurrences with a Counter and keep a heap of size k.", "answer"),
        ("I would loop over the list and keep the best ones.", "answer"),
    ],
)
def test_each_kind_of_message_is_read_for_what_it_is(text: str, intent: str) -> None:
    assert classify(text, normalise(text), TOP_K, FAQ).intent == intent


def test_a_clarifying_question_gets_the_plans_answer_and_an_answer_inside_counts() -> None:
    text = "Can I assume the input is sorted?"
    asked = classify(text, normalise(text), TOP_K)
    sorted_clarification = next(c for c in TOP_K.clarifications if "sorted" in c.asks)
    assert asked.reply == sorted_clarification.answer
    mixed = "Can I assume it's sorted? Either way I'd count occurrences with a Counter first."
    reading = classify(mixed, normalise(mixed), TOP_K)
    assert reading.intent == "answer" and reading.reply == sorted_clarification.answer


def test_coverage_credits_meaning_not_only_listed_phrases() -> None:
    kps = TOP_K.key_points
    assert "heap_selection" in cover("Then I keep a size-k heap of the best.", kps).covered
    assert "count_frequencies" in cover("First I counted the occurrences.", kps).covered
    assert "heap_selection" not in cover("I would not use a heap here.", kps).covered
    assert "count_frequencies" not in cover("I don't count each value.", kps).covered
    spans = cover("So I'd keep a size-k heap.", kps).spans
    assert spans["heap_selection"] == "size-k heap", "the candidate's own words, for follow-ups"


def test_negation_inside_a_phrase_turns_it_around() -> None:
    rejected = next(kp for kp in LIMITER.key_points if kp.id == "rejected_not_counted")
    assert match_any("rejected requests don't count later", ["rejected requests count"]) is None
    assert match_any("rejected requests count later", ["rejected requests count"]) is not None
    assert "rejected_not_counted" in cover("We only append allowed requests.", [rejected]).covered
    promise = "It is a minimum delay rather than a promise to run immediately."
    assert match_any(promise, ["runs immediately"]) is None


async def test_the_wrong_statement_users_saw_is_caught_as_a_misconception() -> None:
    said = "setTimeout with 0 runs immediately, so B is printed second."
    decision = await OfflineBrain().assess_answer(
        said,
        EVENT_LOOP,
        new_progress(EVENT_LOOP.id),
        max_follow_ups=2,
        out_of_turns=False,
        silent=False,
    )
    assert decision.misconception == "timeout_zero_immediate"
    assert "runs immediately" in decision.quote


def test_joins_read_as_one_sentence() -> None:
    assert join("Help me picture this part:", "Two values tie.") == (
        "Help me picture this part: two values tie."
    )
    assert join("Okay", "What is a heap?") == "Okay. What is a heap?"
    assert join("Noted.", "", "I think so.") == "Noted. I think so."
    assert join("On this —", "API limits matter.") == "On this — API limits matter."


def test_stock_phrases_are_not_reused_while_others_are_free() -> None:
    options = ("a", "b", "c")
    used: list[str] = []
    for _ in range(3):
        used.append(choose(options, used, "seed"))
    assert sorted(used) == ["a", "b", "c"]
    assert choose(options, used, "seed") == used[0], "then the one heard longest ago"


def test_a_sort_key_written_as_code_counts_as_tie_breaking() -> None:
    said = "I'd count with a Counter, then sort by (-count, value) and take the first k."
    covered = cover(said, TOP_K.key_points).covered
    assert {"count_frequencies", "tie_breaking"} <= set(covered)
    assert "tie_breaking" not in cover("I count each value.", TOP_K.key_points).covered


def test_a_follow_up_on_a_story_is_never_an_engineers_question() -> None:
    """A behavioural key point without its own follow-up gets a question about the story,
    never "what would worry you about that in production?" (heard by a designer)."""
    from interview_graph.engine.decisions import Intent
    from interview_graph.engine.speech import GENERIC_FOLLOW_UP, GENERIC_STORY_FOLLOW_UP, compose
    from interview_graph.plans.models import QuestionKind

    plan = resolve_plan("backend_engineer")
    round_ = next(r for r in plan.rounds if r.kind is QuestionKind.BEHAVIOURAL)
    topic = round_.topics[0].model_copy(update={"follow_ups": []})
    line = compose(
        round_.panel[0],
        Intent(move="follow_up", key_point=topic.key_points[0].id),
        topic,
        round_,
        {"used": []},
    )
    assert any(q in line for q in GENERIC_STORY_FOLLOW_UP)
    assert not any(q in line for q in GENERIC_FOLLOW_UP)
