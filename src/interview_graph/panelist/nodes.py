"""Panelist nodes: reason → consult_knowledge → respond → (reflect ∥ evaluate).

Only ``respond`` produces candidate-visible text, and it speaks from the intent and the
plan's public question text; knowledge notes, advice and reflections stay private.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

from langgraph.runtime import Runtime

from .. import late
from ..context import interview_id, services
from ..engine.decisions import ANSWERING_MOVES, Intent, RulesVerdict
from ..llm.prompts import scrub, scrub_speech
from ..memory import ASKED, OBSERVATIONS, REFLECTIONS, capped
from ..settings import get_settings
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
    grace: float = 0.0,
) -> tuple[list[str], RulesVerdict | None]:
    """Stream ``speech`` through ``emit``, holding it until ``screen`` allows it, with a deadline.

    The first token never waits on the screen's format compliance: once the reply's first
    chunk is ready, the screen gets ``grace`` seconds more; if it has not decided by then
    (slow, stalled, or answering in prose and being repaired) the reply is released under the
    deterministic rules' verdict, which already passed this input in ``check_rules``, and
    the screen goes on in the background (``respond`` handles its late verdict).  A verdict
    that arrives in time is served at once: held chunks go out the moment it allows them; on
    a block nothing is emitted and the speech is abandoned.

    Returns:
        Every chunk said (emitted or not) and the verdict that gated it (None when nothing
        was screened or the screen was late).
    """
    parts: list[str] = []
    verdict: RulesVerdict | None = None
    chunks = aiter(speech)
    if screen is not None:
        following: asyncio.Future[str] = asyncio.ensure_future(anext(chunks))
        racing: set[asyncio.Future[Any]] = {following, screen}
        blocked = True  # until shown otherwise (an exception here abandons the speech too)
        try:
            await asyncio.wait(racing, return_when=asyncio.FIRST_COMPLETED)
            if not screen.done():
                await asyncio.wait({screen}, timeout=grace)
            if screen.done() and not screen.cancelled() and screen.exception() is None:
                verdict = screen.result()
            blocked = verdict is not None and verdict.action == "block"
        finally:
            if blocked:
                following.cancel()
                # Let the cancelled step finish before the caller closes the generator (an
                # async generator cannot be closed while a step of it is still running).
                await asyncio.wait({following})
        if blocked:
            return parts, verdict
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


async def _late_screen(
    screen: asyncio.Task[RulesVerdict], runtime: Runtime[Any], state: PanelistState
) -> RulesVerdict | None:
    """The verdict of a screen that missed the gate: waited for briefly, else deferred.

    The rule for a late verdict: the reply already streamed stays (it cannot be unsent).  A
    late WARN or BLOCK is recorded as a rules flag marked ``late``; a late BLOCK also
    withdraws the coverage that answer earned, skips its reflection and evaluation, shows the
    candidate the notice, and tells the panel (a note in each panelist's memory) not to
    build on that answer.  Not decided within ``llm_post_reply_wait``: the screen is deferred
    and ``check_rules`` applies its verdict at the next input (see ``interview_graph.late``).
    """
    task, done = await late.settle(screen, get_settings().llm_post_reply_wait)
    if done:
        return task.result() if not task.cancelled() and task.exception() is None else None
    late.defer(
        interview_id(runtime),
        "screen",
        task,
        topic_id=state["topic_id"],
        round_id=state["round_id"],
        key=state["key"],
        answer=state["answer"][:160],
    )
    return None


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

    settings = get_settings()
    # A reply that has not started after a few seconds (a slow or failing model) sends the
    # client a transient "thinking" status; the first token cancels it.
    thinking = asyncio.get_running_loop().call_later(
        settings.thinking_notice_seconds,
        runtime.stream_writer,
        {"type": "status", "status": "thinking", "message_id": key, "speaker": panelist.id},
    )

    def emit(delta: str) -> None:
        thinking.cancel()
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
    # Prompt scaffolding a model echoes ("</candidate_data>", "(none yet)") is never said.
    speech = scrub_speech(svc.brain.speak(panelist, intent, topic, round_, scene))
    released = False  # the reply went out before the screen decided
    try:
        grace = settings.llm_screen_grace
        parts, verdict = await _gated(speech, screen, emit, grace)
        released = screen is not None and verdict is None
    finally:
        thinking.cancel()
        await speech.aclose()  # type: ignore[attr-defined]  # async generators have aclose
        if screen is not None and not screen.done() and not released:
            screen.cancel()  # the speech failed: nobody will read the verdict
    if released and screen is not None:
        verdict = await _late_screen(screen, runtime, state)
    if verdict is not None and verdict.action == "block" and not released:
        parts = [verdict.notice or "Let's keep to the interview question, please."]
        emit(parts[0])
    # A reply cut short (token cap, wall clock, a loop) stands as it ends cleanly.
    said = scrub(str(scene.get("said") or "".join(parts))).strip()
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
    screened = {**verdict.model_dump(), "late": released} if verdict else None
    return {"said": said, "screen": screened}


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
    # Post-reply work never holds up the next turn for long: a note that is not ready
    # within llm_post_reply_wait is merged into this panelist's memory when it arrives.
    task, done = await late.settle(
        svc.brain.reflect(
            round_.panelist(state["panelist_id"]), intent, topic, state["progress"], answer
        ),
        get_settings().llm_post_reply_wait,
    )
    memory = dict(state["memory"])
    if round_.id not in memory["rounds"]:
        memory["rounds"] = [*memory["rounds"], round_.id]
    if topic is not None and intent.move in ("ask", "follow_up"):
        asked = f"{topic.id}:{intent.key_point}" if intent.key_point else topic.id
        memory["asked"] = capped(memory["asked"], asked, ASKED)
    if intent.move in _ANSWERED and not _blocked(state):
        if done:
            note = task.result()
            memory["observations"] = capped(memory["observations"], note.observation, OBSERVATIONS)
            memory["reflections"] = capped(memory["reflections"], note.reflection, REFLECTIONS)
        else:
            late.defer(interview_id(runtime), "reflection", task, panelist=state["panelist_id"])
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
    task, done = await late.settle(
        svc.brain.evaluate(
            round_.panelist(state["panelist_id"]),
            round_.topic(state["topic_id"]),
            round_,
            state["progress"],
            state["activity"],
        ),
        get_settings().llm_post_reply_wait,
    )
    if done:
        return {"evaluation": task.result().model_dump()}
    # Not ready: it logs itself when it arrives (close_round waits for it, bounded).
    iid = interview_id(runtime)

    async def log_when_done() -> None:
        evaluation = await task
        await svc.log.append(
            iid,
            f"{state['key']}:evaluation",
            "evaluation",
            visibility="private",
            round_id=round_.id,
            speaker=state["panelist_id"],
            text=evaluation.rationale,
            data=evaluation.model_dump(),
        )

    late.defer(iid, "evaluation", asyncio.ensure_future(log_when_done()), round_id=round_.id)
    return {"evaluation": None}
