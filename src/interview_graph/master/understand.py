"""The master reads each candidate message before the panel reacts: ``understand``.

An answer goes on to topic completion (coverage, follow-ups, challenges).  Anything else gets
the reaction a real interviewer gives — the question again in other words, an answer to a
clarifying question, the next rung of the hint ladder, an encouraging hint when the
candidate is stuck (once; then the topic is parked), one friendly redirect for small talk,
a short answer to a question about the interview, "take your time" — and the topic stays
open.  Every message still spends the round's turn budget, so nobody can stall a round.
"""

from __future__ import annotations

from typing import Any, Literal

from langgraph.runtime import Runtime
from langgraph.types import Command

from ..context import services
from ..engine.decisions import Understanding
from ..plans.models import Topic
from .log import log_event, round_of
from .state import InterviewState
from .topic import close_topic

# A candidate who keeps chatting is redirected twice, then the topic is parked.
MAX_SMALL_TALK = 3


async def understand(
    state: InterviewState, runtime: Runtime[Any]
) -> Command[Literal["complete_topic", "pick_speaker"]]:
    """Classify the message (answer, clarify, repeat, hint, stuck, …) and react to non-answers."""
    svc = await services(runtime)
    round_ = round_of(svc, state)
    progress = dict(state.get("progress") or {})
    verdict = state.get("verdict") or {}
    if not progress or verdict.get("category") == "silence":
        return Command(goto="complete_topic")
    topic = round_.topic(progress["topic_id"])
    text = (state.get("inbox") or {}).get("text", "")
    reading = await svc.brain.understand(text, topic, progress, faq=[*round_.faq, *svc.plan.faq])
    turn = state.get("turn", 0)
    await log_event(
        svc,
        runtime,
        f"in:{turn}:understood",
        "understanding",
        public=False,
        round_id=round_.id,
        speaker="master",
        text=reading.intent,
        data=(read := reading.model_dump()),
    )
    if reading.intent == "answer":
        return Command(goto="complete_topic", update={"understanding": read})
    round_turns = state.get("round_turns", 0) + 1
    if round_turns >= round_.rules.max_turns:
        # Out of budget: topic completion closes the topic and the round.
        return Command(goto="complete_topic", update={"understanding": read})
    update: dict[str, Any] = {"round_turns": round_turns, "understanding": read}
    task = _react(reading, topic, progress)
    if task is None:  # the reaction is to leave the topic (stuck twice, asked to move on)
        why = {"move_on": "move_on", "small_talk": "off_topic"}.get(reading.intent, "stuck")
        progress["moved_on"] = reading.intent == "move_on"
        closed = await close_topic(
            svc, runtime, state, round_, topic, progress, why=why, round_turns=round_turns
        )
        update.update(closed)
        return Command(goto="pick_speaker", update=update)
    update["progress"] = progress
    update["agenda"] = [{"panelist_id": progress["owner"], "topic_id": topic.id, **task}]
    return Command(goto="pick_speaker", update=update)


def _next_hint(topic: Topic, progress: dict[str, Any]) -> dict[str, str]:
    """The next rung of the ladder, recorded as used (it lowers the credit it leads to).

    After a follow-up only a hint aimed at its point will do (asked about edge cases, a hint
    about heaps would not help); after the question itself, the ladder's order.
    """
    used = {h["index"] for h in progress["hints"]}
    free = [i for i in range(len(topic.hints)) if i not in used]
    if not free:
        return {}
    target = (progress.get("last_asked") or {}).get("key_point")
    aimed = [i for i in free if topic.hints[i].key_point == target]
    if target and not aimed:
        return {}  # a hint about something else would only confuse
    index = aimed[0] if aimed else free[0]
    hint = topic.hints[index]
    progress["hints"] = [*progress["hints"], {"index": index, "key_point": hint.key_point}]
    return {"hint": hint.text}


def _react(reading: Understanding, topic: Topic, progress: dict[str, Any]) -> dict[str, Any] | None:
    """The task for a non-answer (mutates ``progress``); None to close the topic instead."""
    intent = reading.intent
    if intent == "repeat":
        progress["repeats"] += 1
        last = progress.get("last_asked") or {}
        if last.get("move") in ("follow_up", "challenge", "discuss_code") and last.get("text"):
            return {"move": "repeat", "detail": {"again": last["text"]}}
        return {"move": "repeat", "detail": {"rephrasing": str(progress["repeats"] - 1)}}
    if intent == "clarify":
        return {"move": "clarify", "detail": {"reply": reading.reply}}
    if intent == "hint":
        return {"move": "hint", "detail": _next_hint(topic, progress)}
    if intent == "stuck":
        progress["stuck"] += 1
        if progress["stuck"] == 1:
            detail = _next_hint(topic, progress)
            last = progress.get("last_asked") or {}
            if not detail and last.get("move") != "ask" and last.get("text"):
                detail["again"] = last["text"]  # no hint for this point: ask it again, gently
            detail["rephrasing"] = str(progress["repeats"])
            return {"move": "encourage", "detail": detail}
        return None
    if intent == "move_on":
        return None
    if intent == "question":
        return {
            "move": "answer_question",
            "detail": {"reply": reading.reply, "asked": reading.span},
        }
    if intent == "small_talk":
        progress["off_topic"] += 1
        if progress["off_topic"] >= MAX_SMALL_TALK:
            return None
        progress["repeats"] += 1
        return {"move": "redirect", "detail": {"rephrasing": str(progress["repeats"] - 1)}}
    return {"move": "wait", "detail": {}}
