"""Panelist nodes: reason → consult_knowledge → respond → (reflect ∥ evaluate).

Only ``respond`` produces candidate-visible text, and it speaks from the intent and the
plan's public question text; knowledge notes, advice and reflections stay private.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

from langgraph.runtime import Runtime

from ..context import interview_id, services
from ..engine.decisions import ANSWERING_MOVES, Intent, RulesVerdict
from ..memory import ASKED, OBSERVATIONS, REFLECTIONS, capped
from .state import PanelistState

# Moves that respond to something the candidate said, so there is an answer to evaluate.
_ANSWERED = ANSWERING_MOVES


async def reason(state: PanelistState, runtime: Runtime[Any]) -> dict[str, Any]:
    """Decide what to do with the turn the master gave this panelist."""
    svc = await services(runtime)
    round_ = svc.plan.round(state["round_id"])
    topic = round_.topic(state["topic_id"]) if state["topic_id"] else None
    intent = await svc.brain.reason(
        round_.panelist(state["panelist_id"]),
        state["task"],
        topic,
        state["advice"],
        state["memory"],
    )
    return {"intent": intent.model_dump()}


async def consult_knowledge(state: PanelistState, runtime: Runtime[Any]) -> dict[str, Any]:
    """Look up the plan's knowledge base for what the intent is about (private notes)."""
    svc = await services(runtime)
    query = state["intent"].get("query", "")
    if not query:
        return {"notes": []}
    topic = (
        svc.plan.round(state["round_id"]).topic(state["topic_id"]) if state["topic_id"] else None
    )
    hits = await svc.knowledge.search(query, list(topic.knowledge_tags) if topic else None)
    return {"notes": [{"doc": h.doc_id, "title": h.title, "snippet": h.snippet} for h in hits]}


async def _gated(
    speech: AsyncIterator[str],
    screen: asyncio.Task[RulesVerdict] | None,
    emit: Callable[[str], None],
) -> tuple[list[str], RulesVerdict | None]:
    """Stream ``speech`` through ``emit``, holding it until ``screen`` allows it.

    Whichever comes first is served: a chunk is held while the verdict is out, and the held
    chunks go out the moment the verdict allows them (not when the next chunk happens to
    arrive).  On a block nothing is emitted and the speech is abandoned.

    Returns:
        Every chunk said (emitted or not) and the verdict (None when nothing was screened).
    """
    parts: list[str] = []
    verdict: RulesVerdict | None = None
    chunks = aiter(speech)
    if screen is not None:
        following: asyncio.Future[str] | None = asyncio.ensure_future(anext(chunks))
        try:
            while verdict is None:
                assert following is not None
                racing: set[asyncio.Future[Any]] = {following, screen}
                await asyncio.wait(racing, return_when=asyncio.FIRST_COMPLETED)
                if following.done():
                    try:
                        parts.append(following.result())
                    except StopAsyncIteration:
                        following = None
                        verdict = await screen
                        break
                    following = asyncio.ensure_future(anext(chunks))
                if screen.done():
                    verdict = screen.result()
        finally:
            if following is not None and (verdict is None or verdict.action == "block"):
                following.cancel()
                # Let the cancelled step finish before the caller closes the generator (an
                # async generator cannot be closed while a step of it is still running).
                await asyncio.wait({following})
        if verdict.action == "block":
            return parts, verdict
        for early in parts:
            emit(early)
        if following is not None:
            try:
                chunk = await following
            except StopAsyncIteration:
                return parts, verdict
            parts.append(chunk)
            emit(chunk)
    async for chunk in chunks:
        parts.append(chunk)
        emit(chunk)
    return parts, verdict


async def respond(state: PanelistState, runtime: Runtime[Any]) -> dict[str, Any]:
    """Say the line, streaming it token by token, then log it once (idempotent key).

    A line that answers the candidate runs the engine's ``screen`` alongside the speech and
    holds the tokens until it allows them: the reply's first token costs one model call, yet
    no word of it reaches the candidate before the input has passed the rules.  A blocked
    input gets the rules notice instead of the reply.
    """
    svc = await services(runtime)
    round_ = svc.plan.round(state["round_id"])
    panelist = round_.panelist(state["panelist_id"])
    topic = round_.topic(state["topic_id"]) if state["topic_id"] else None
    intent = Intent.model_validate(state["intent"])
    key = f"{state['key']}:say"

    def emit(delta: str) -> None:
        runtime.stream_writer(
            {"type": "token", "message_id": key, "speaker": panelist.id, "delta": delta}
        )

    screen = None
    if state["answer"] and intent.move in _ANSWERED:
        screen = asyncio.create_task(svc.brain.screen(state["answer"], topic))
    scene = {
        **state["scene"],
        "answer": state["answer"],
        "advice": state["advice"].get("text", ""),
        "notes": [n["snippet"] for n in state.get("notes", [])[:3]],
        "memory": state["memory"],
    }
    speech = svc.brain.speak(panelist, intent, topic, round_, scene)
    try:
        parts, verdict = await _gated(speech, screen, emit)
    finally:
        await speech.aclose()  # type: ignore[attr-defined]  # async generators have aclose
        if screen is not None and not screen.done():
            screen.cancel()  # the speech failed: nobody will read the verdict
    if verdict is not None and verdict.action == "block":
        parts = [verdict.notice or "Let's keep to the interview question, please."]
        emit(parts[0])
    said = "".join(parts).strip()
    event = await svc.log.append(
        interview_id(runtime),
        key,
        "message",
        visibility="public",
        round_id=round_.id,
        speaker=panelist.id,
        text=said,
        data={
            "move": intent.move,
            "question_id": topic.id if topic else None,
            # The client shows the editor only for questions that have code.
            "question_kind": topic.kind.value if topic else None,
            "signature": topic.coding.signature if topic and topic.coding else None,
            "name": panelist.name,
        },
    )
    runtime.stream_writer({"type": "event", "event": event.model_dump()})
    return {"said": said, "screen": verdict.model_dump() if verdict else None}


def _blocked(state: PanelistState) -> bool:
    screen = state.get("screen")
    return bool(screen and screen["action"] == "block")


async def reflect(state: PanelistState, runtime: Runtime[Any]) -> dict[str, Any]:
    """Update this panelist's own memory with what it asked and now believes."""
    svc = await services(runtime)
    round_ = svc.plan.round(state["round_id"])
    topic = round_.topic(state["topic_id"]) if state["topic_id"] else None
    intent = Intent.model_validate(state["intent"])
    # A blocked input is not something to reflect on: the panelist never saw it.
    answer = "" if _blocked(state) else state["answer"]
    note = await svc.brain.reflect(
        round_.panelist(state["panelist_id"]), intent, topic, state["progress"], answer
    )
    memory = dict(state["memory"])
    if round_.id not in memory["rounds"]:
        memory["rounds"] = [*memory["rounds"], round_.id]
    if topic is not None and intent.move in ("ask", "follow_up"):
        asked = f"{topic.id}:{intent.key_point}" if intent.key_point else topic.id
        memory["asked"] = capped(memory["asked"], asked, ASKED)
    if intent.move in _ANSWERED and not _blocked(state):
        memory["observations"] = capped(memory["observations"], note.observation, OBSERVATIONS)
        memory["reflections"] = capped(memory["reflections"], note.reflection, REFLECTIONS)
    return {"memory": memory}


async def evaluate(state: PanelistState, runtime: Runtime[Any]) -> dict[str, Any]:
    """Score the topic after each answer; the master keeps the latest per panelist and topic."""
    if (
        state["topic_id"] is None
        or state["task"]["move"] not in _ANSWERED
        or not state["progress"]
        or _blocked(state)
    ):
        return {"evaluation": None}
    svc = await services(runtime)
    round_ = svc.plan.round(state["round_id"])
    evaluation = await svc.brain.evaluate(
        round_.panelist(state["panelist_id"]),
        round_.topic(state["topic_id"]),
        round_,
        state["progress"],
        state["activity"],
    )
    return {"evaluation": evaluation.model_dump()}
