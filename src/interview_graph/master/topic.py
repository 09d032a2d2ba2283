"""Topic completion: fold an answer into coverage; challenge, follow up, wait for code, or close.

``complete_topic`` runs on every answer.  In order:

1. a misconception the answer voiced is challenged first, quoting the candidate's words
   (it also costs the key point it contradicts, and the score); an answer too thin to assess
   ("Sure.") is asked to say more, once;
2. a coding question stays open until the candidate has submitted: after the approach the
   panel invites the code, while they work it follows up or asks whether they are ready, and
   only the turn budget moves on without a submission — saying so;
3. otherwise the engine's decision stands: follow up on the most important uncovered point,
   referring to what the candidate just said, or close the topic and ask the next one.
"""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from ..context import Services, services
from ..engine.decisions import TopicDecision
from ..plans.models import Misconception, QuestionKind, Round, Topic
from .log import log_event, round_of
from .state import InterviewState, new_progress

# Answers a coding question may take without a submission before the panel moves on.
CODE_PATIENCE = 4
# An answer shorter than this that covers nothing gets "say a bit more" (once per topic).
THIN_WORDS = 6


async def complete_topic(state: InterviewState, runtime: Runtime[Any]) -> dict[str, Any]:
    """Fold the answer into coverage, then challenge, follow up, invite code, or move on."""
    svc = await services(runtime)
    round_ = round_of(svc, state)
    progress = dict(state["progress"] or {})
    topic = round_.topic(progress["topic_id"])
    verdict = state.get("verdict") or {}
    reading = state.get("understanding") or {}
    silent = verdict.get("category") == "silence"
    round_turns = max(state.get("round_turns", 0) + 1, 0)
    if reading and reading.get("intent") != "answer":
        round_turns = state.get("round_turns", 0)  # understand already counted this turn
    out_of_turns = round_turns >= round_.rules.max_turns
    decision = await svc.brain.assess_answer(
        (state.get("inbox") or {}).get("text", ""),
        topic,
        progress,
        max_follow_ups=round_.rules.max_follow_ups,
        out_of_turns=out_of_turns,
        silent=silent,
    )
    wrong, covered = fold_answer(topic, progress, decision, silent=silent)
    update: dict[str, Any] = {"round_turns": round_turns}
    owner = progress["owner"]
    reply = reading.get("reply", "")

    def ask(move: str, key_point: str | None = None, **detail: str) -> dict[str, Any]:
        update["progress"] = progress
        update["agenda"] = [
            {
                "move": move,
                "panelist_id": owner,
                "topic_id": topic.id,
                "key_point": key_point,
                "detail": _detail(**detail),
            }
        ]
        return update

    if wrong is not None and not out_of_turns:
        return ask(
            "challenge", wrong.key_point, quote=decision.quote, probe=wrong.probe, reply=reply
        )
    text = (state.get("inbox") or {}).get("text", "")
    if _thin(text, covered, silent) and not progress["elaborated"] and not out_of_turns:
        # "Sure." is not an approach: ask for one before inviting code or following up.
        progress["elaborated"] = True
        return ask("elaborate", reply=reply)
    if _waiting_for_code(topic, progress) and not out_of_turns:
        progress["code_waits"] += 1
        if not progress["invited"]:
            progress["invited"] = True
            return ask("invite_code", reply=reply)
        if progress["code_waits"] < CODE_PATIENCE:
            if decision.probe and not decision.complete:
                progress["probed"] = [*progress["probed"], decision.probe]
                return ask("follow_up", decision.probe, ref=_ref(decision.spans), reply=reply)
            return ask("invite_code", again="yes", reply=reply)
        closed = await close_topic(
            svc, runtime, state, round_, topic, progress, "out_of_time", round_turns=round_turns
        )
        update.update(closed)
        return update
    if not decision.complete:
        if silent:
            progress["repeats"] += 1
            return ask("nudge", rephrasing=str(progress["repeats"] - 1))
        if decision.probe:
            progress["probed"] = [*progress["probed"], decision.probe]
        return ask("follow_up", decision.probe, ref=_ref(decision.spans), reply=reply)
    why = "out_of_time" if _waiting_for_code(topic, progress) else ""
    closed = await close_topic(
        svc, runtime, state, round_, topic, progress, why, decision.reason, round_turns=round_turns
    )
    update.update(closed)
    return update


_WHY = {
    "move_on": "the candidate asked to move on",
    "stuck": "the candidate was stuck after a hint",
    "out_of_time": "out of turns before a submission",
    "off_topic": "the candidate kept to small talk after two redirects",
}


def _detail(**values: str) -> dict[str, str]:
    """Only the detail that has a value (tasks stay small in the checkpoint)."""
    return {k: v for k, v in values.items() if v}


def fold_answer(
    topic: Topic, progress: dict[str, Any], decision: TopicDecision, *, silent: bool = False
) -> tuple[Misconception | None, list[str]]:
    """Fold an answer's decision into ``progress`` (in place).

    A misconception voiced for the first time is recorded with the candidate's words and
    costs the key point it contradicts in this answer.  The calibration harness folds the
    plans' sample answers through this same function.

    Returns:
        The misconception to challenge (if any) and the key points this answer gained.
    """
    covered = list(decision.covered)
    challenged = {m["id"] for m in progress["misconceptions"]}
    wrong = next((m for m in topic.misconceptions if m.id == decision.misconception), None)
    if wrong is not None and wrong.id not in challenged:
        progress["misconceptions"] = [
            *progress["misconceptions"],
            {"id": wrong.id, "quote": decision.quote, "key_point": wrong.key_point},
        ]
        covered = [k for k in covered if k != wrong.key_point]  # it was said wrongly
    else:
        wrong = None
    if not silent:
        progress["answers"] += 1
        if progress["first_ratio"] is None:
            progress["first_ratio"] = len(covered) / len(topic.key_points)
            progress["first_covered"] = list(covered)  # what they said before any follow-up
    progress["silences"] += silent
    progress["last_gain"] = len(covered)
    progress["covered"] = [*progress["covered"], *covered]
    progress["evidence"] = {
        **progress["evidence"],
        **{k: v for k, v in decision.evidence.items() if k in covered},
    }
    return wrong, covered


def _thin(text: str, covered: list[str], silent: bool) -> bool:
    """An answer too short to say anything (and that covered nothing)."""
    return not silent and not covered and len(text.split()) < THIN_WORDS


def _waiting_for_code(topic: Topic, progress: dict[str, Any]) -> bool:
    return (
        topic.kind is QuestionKind.CODING and topic.coding is not None and not progress["submits"]
    )


def _ref(spans: dict[str, str]) -> str:
    """The candidate's own words to pick up in the follow-up: the last point they made."""
    return list(spans.values())[-1] if spans else ""


async def close_topic(
    svc: Services,
    runtime: Runtime[Any],
    state: InterviewState,
    round_: Round,
    topic: Topic,
    progress: dict[str, Any],
    why: str = "",
    reason: str = "",
    *,
    round_turns: int,
) -> dict[str, Any]:
    """Close ``topic`` (the owner says so, ``why`` colours it) and queue the next question."""
    next_index = state.get("topic_index", 0) + 1
    last = next_index >= len(round_.topics) or round_turns >= round_.rules.max_turns
    agenda: list[dict[str, Any]] = [
        {
            "move": "close",
            "panelist_id": progress["owner"],
            "topic_id": topic.id,
            "detail": _detail(why=why, last_in_round="yes" if last else ""),
        }
    ]
    update: dict[str, Any] = {"closing": progress, "agenda": agenda}
    if not last:
        following = round_.topics[next_index]
        agenda.append({"move": "ask", "panelist_id": None, "topic_id": following.id})
        update.update(topic_index=next_index, progress=new_progress(following.id))
    else:
        update["progress"] = None
    await log_event(
        svc,
        runtime,
        f"in:{state.get('turn', 0)}:topic",
        "topic_completed",
        public=False,
        round_id=round_.id,
        speaker="master",
        text=reason or _WHY.get(why, "topic complete"),
        data={
            "topic_id": topic.id,
            "covered": progress["covered"],
            "hints": progress["hints"],
            "misconceptions": progress["misconceptions"],
            "moved_on": bool(progress.get("moved_on")),
            "submitted": bool(progress["submits"]),
        },
    )
    return update
