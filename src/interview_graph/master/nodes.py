"""Master nodes: the supervisor of the interview graph.

Per candidate input: ``await_candidate`` → ``check_rules`` (before any panelist sees it) →
``complete_topic`` (what the answer covered; follow up or move on) → ``pick_speaker`` →
``advise`` → ``panelist`` → back to ``pick_speaker`` until the agenda is empty.  Rounds open
and close around that loop; ``finish`` merges the panel's evaluations into the report.

Nodes that run before an ``interrupt()`` are re-run on resume, so their log writes use
idempotent keys derived from counters in state.
"""

from __future__ import annotations

from typing import Any, Literal

from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime
from langgraph.types import Command, interrupt

from ..context import Services, interview_id, services
from ..engine.decisions import RulesVerdict
from ..inputs import input_event, parse_input
from ..memory import FLAGS, RECEIPTS, RECENT, capped, empty_memory
from ..plans.models import Round, Topic
from ..report import build_report, merge_round, round_results
from .state import InterviewState, new_progress

# Integrity thresholds: evidence for a human reviewer, never an automatic verdict.
LARGE_PASTE_CHARS = 200
LONG_HIDDEN_MS = 30_000
MAX_ACTIVITY_PER_ROUND = 500


async def _log(
    svc: Services,
    runtime: Runtime[Any],
    key: str,
    kind: str,
    *,
    public: bool,
    round_id: str | None = None,
    speaker: str | None = None,
    text: str = "",
    data: dict[str, Any] | None = None,
) -> None:
    event = await svc.log.append(
        interview_id(runtime),
        key,
        kind,
        visibility="public" if public else "private",
        round_id=round_id,
        speaker=speaker,
        text=text,
        data=data,
    )
    runtime.stream_writer({"type": "event", "event": event.model_dump()})


def _round(svc: Services, state: InterviewState) -> Round:
    return svc.plan.rounds[state.get("round_index", 0)]


def _topic(round_: Round, state: InterviewState) -> Topic | None:
    progress = state.get("progress")
    return round_.topic(progress["topic_id"]) if progress else None


async def open_round(
    state: InterviewState, runtime: Runtime[Any]
) -> Command[Literal["pick_speaker", "finish"]]:
    """Seat the round's panel, hand them the previous rounds' findings, plan the opening."""
    svc = await services(runtime)
    index = state.get("round_index", 0)
    if index >= len(svc.plan.rounds) or state.get("ended"):
        return Command(goto="finish")
    round_ = svc.plan.rounds[index]
    if index == 0:
        await _log(
            svc,
            runtime,
            "interview:start",
            "interview_started",
            public=True,
            data={
                "plan": svc.plan.id,
                "title": svc.plan.title,
                "role": svc.plan.role,
                "engine": svc.brain.name,
                "rounds": [r.title for r in svc.plan.rounds],
            },
        )
    handoff = " ".join(r.summary for r in await round_results(svc, interview_id(runtime)))
    memories = dict(state.get("memories", {}))
    for p in round_.panel:
        memories[p.id] = {**(memories.get(p.id) or empty_memory(p.id)), "handoff": handoff}
    await _log(
        svc,
        runtime,
        f"{round_.id}:open",
        "round_started",
        public=True,
        round_id=round_.id,
        data={
            "index": index,
            "title": round_.title,
            "description": round_.description,
            "panel": [{"id": p.id, "name": p.name, "title": p.title} for p in round_.panel],
        },
    )
    first = round_.topics[0]
    return Command(
        goto="pick_speaker",
        update={
            "round_turns": 0,
            "activity_count": 0,
            "topic_index": 0,
            "progress": new_progress(first.id),
            "closing": None,
            "activity": None,
            "memories": memories,
            "agenda": [
                {"move": "introduce", "panelist_id": round_.panel[0].id, "topic_id": None},
                {"move": "ask", "panelist_id": None, "topic_id": first.id},
            ],
        },
    )


def _round_over(state: InterviewState, round_: Round) -> bool:
    return (
        state.get("progress") is None
        or bool(state.get("ended"))
        or state.get("round_turns", 0) >= round_.rules.max_turns
    )


async def pick_speaker(
    state: InterviewState, runtime: Runtime[Any]
) -> Command[Literal["advise", "await_candidate", "close_round"]]:
    """Take the next task off the agenda and choose who performs it."""
    svc = await services(runtime)
    round_ = _round(svc, state)
    agenda = list(state.get("agenda", []))
    if not agenda:
        return Command(goto="close_round" if _round_over(state, round_) else "await_candidate")
    task, rest = dict(agenda[0]), agenda[1:]
    update: dict[str, Any] = {"agenda": rest}
    if task["panelist_id"] is None:
        topic = round_.topic(task["topic_id"])
        choice = await svc.brain.pick_speaker(round_, topic, state.get("asked_counts", {}))
        task["panelist_id"] = choice.panelist_id
    if task["move"] == "ask" and state.get("progress"):
        update["progress"] = {**(state.get("progress") or {}), "owner": task["panelist_id"]}
    update["task"] = task
    return Command(goto="advise", update=update)


async def advise(state: InterviewState, runtime: Runtime[Any]) -> dict[str, Any]:
    """Brief the chosen panelist privately: what is covered, what to probe, earlier findings."""
    svc = await services(runtime)
    round_ = _round(svc, state)
    task = state["task"] or {}
    topic = round_.topic(task["topic_id"]) if task.get("topic_id") else None
    progress = _progress_for(state, task.get("topic_id"))
    memory = state.get("memories", {}).get(task["panelist_id"], {})
    activity = state.get("activity")
    advice = await svc.brain.advise(
        round_.panelist(task["panelist_id"]),
        task,
        topic,
        progress,
        memory.get("handoff", ""),
        activity,
    )
    line = state.get("lines", 0) + 1
    await _log(
        svc,
        runtime,
        f"{round_.id}:line{line}:advice",
        "advice",
        public=False,
        round_id=round_.id,
        speaker="master",
        text=advice.text,
        data={"to": task["panelist_id"], "move": task["move"]},
    )
    return {"advice": advice.model_dump()}


def _progress_for(state: InterviewState, topic_id: str | None) -> dict[str, Any] | None:
    for candidate in (state.get("progress"), state.get("closing")):
        if candidate and candidate["topic_id"] == topic_id:
            return candidate
    return None


def make_panel_node(panelist_graph: CompiledStateGraph[Any, Any, Any, Any]) -> Any:
    """Build the node that runs the panelist subgraph for the current task."""

    async def panelist(state: InterviewState, runtime: Runtime[Any]) -> dict[str, Any]:
        """Run the chosen panelist's subgraph and fold its output back into the master."""
        svc = await services(runtime)
        round_ = _round(svc, state)
        task = state["task"] or {}
        pid = task["panelist_id"]
        memory = state.get("memories", {}).get(pid) or empty_memory(pid)
        topic_id = task.get("topic_id")
        activity = state.get("activity")
        inbox = state.get("inbox") or {}
        line = state.get("lines", 0) + 1
        out = await panelist_graph.ainvoke(
            {
                "panelist_id": pid,
                "round_id": round_.id,
                "topic_id": topic_id,
                "task": task,
                "advice": state.get("advice") or {},
                "memory": memory,
                "progress": _progress_for(state, topic_id),
                "answer": inbox.get("text", "") if inbox.get("kind") == "message" else "",
                "scene": {
                    "turn": state.get("turn", 0),
                    "returning": any(r != round_.id for r in memory.get("rounds", [])),
                    "after_answer": bool(task.get("after_answer")),
                    "topic_number": state.get("topic_index", 0) + 1,
                    "gained": (_progress_for(state, topic_id) or {}).get("last_gain", 0),
                },
                "activity": activity
                if activity and activity.get("question_id") == topic_id
                else None,
                "key": f"{round_.id}:line{line}",
            }
        )
        update: dict[str, Any] = {
            "lines": line,
            "memories": {**state.get("memories", {}), pid: out["memory"]},
            "recent": capped(
                state.get("recent", []), {"speaker": pid, "text": out["said"]}, RECENT
            ),
        }
        if task["move"] == "ask":
            counts = dict(state.get("asked_counts", {}))
            counts[pid] = counts.get(pid, 0) + 1
            update["asked_counts"] = counts
        screen = out.get("screen")
        if screen and (screen["action"] != "allow" or screen["category"] not in ("ok", "silence")):
            update.update(await _screened(svc, runtime, state, round_.id, topic_id, screen))
        if out["evaluation"] is not None:
            # Evaluations go to the log, not to state: they grow with the interview.
            await _log(
                svc,
                runtime,
                f"{round_.id}:line{line}:evaluation",
                "evaluation",
                public=False,
                round_id=round_.id,
                speaker=pid,
                text=out["evaluation"]["rationale"],
                data=out["evaluation"],
            )
        return update

    return panelist


async def await_candidate(
    state: InterviewState, runtime: Runtime[Any]
) -> Command[Literal["check_rules", "pick_speaker"]]:
    """Wait for the candidate (``interrupt``); log the input once it arrives."""
    svc = await services(runtime)
    round_ = _round(svc, state)
    topic = _topic(round_, state)
    payload = {
        "waiting_for": "candidate",
        "round_id": round_.id,
        "round_title": round_.title,
        "question_id": topic.id if topic else None,
        "question_kind": topic.kind.value if topic else None,
        "signature": topic.coding.signature if topic and topic.coding else None,
        "turn": state.get("turn", 0),
        "recent": state.get("recent", [])[-3:],
    }
    value = interrupt(payload)
    # Everything below runs once per resume value; the log key makes a re-run harmless.
    turn = state.get("turn", 0) + 1
    # The WebSocket service persists each input before acknowledging it and resumes with
    # {"input", "receipt", "seq"}: logging under the receipt key then finds the stored event.
    receipt: str | None = None
    receipts = list(state.get("receipts", []))
    if isinstance(value, dict) and "receipt" in value:
        receipt, receipt_seq, value = str(value["receipt"]), int(value["seq"]), value["input"]
        if receipt_seq in receipts:
            # Re-fed after a crash but already consumed before it: exactly once.
            return Command(goto="pick_speaker", update={"agenda": []})
        receipts = capped(receipts, receipt_seq, RECEIPTS)
    inbox, error = parse_input(value)
    if inbox is None:
        await _log(
            svc,
            runtime,
            receipt or f"in:{turn}",
            "input_rejected",
            public=True,
            round_id=round_.id,
            text=f"Input not accepted: {error}",
            data={"error": error},
        )
        return Command(
            goto="pick_speaker",
            update={"turn": turn, "agenda": [], "receipts": receipts},
        )
    kind, text, data = input_event(inbox)
    await _log(
        svc,
        runtime,
        receipt or f"in:{turn}",
        kind,
        public=True,
        round_id=round_.id,
        speaker="candidate",
        text=text,
        data=data,
    )
    update: dict[str, Any] = {
        "turn": turn,
        "inbox": inbox,
        "agenda": [],
        "receipts": receipts,
    }
    if inbox["kind"] == "message":
        update["recent"] = capped(
            state.get("recent", []), {"speaker": "candidate", "text": text}, RECENT
        )
    return Command(goto="check_rules", update=update)


async def _screened(
    svc: Services,
    runtime: Runtime[Any],
    state: InterviewState,
    round_id: str,
    topic_id: str | None,
    screen: dict[str, Any],
) -> dict[str, Any]:
    """Record the screen's finding; a blocked answer loses the coverage it was credited."""
    turn = state.get("turn", 0)
    text = (state.get("inbox") or {}).get("text", "")
    await _log(
        svc,
        runtime,
        f"in:{turn}:screen",
        "rules_flag",
        public=False,
        round_id=round_id,
        speaker="master",
        text=screen["reason"],
        data={"category": screen["category"], "by": "screen"},
    )
    update: dict[str, Any] = {
        "flags": _flag(
            state, round_id, screen["category"], f"{screen['reason']}; input: {text[:160]!r}"
        )
    }
    if screen["action"] == "block":
        for slot in ("progress", "closing"):
            progress: dict[str, Any] | None = state.get(slot)  # type: ignore[assignment]
            # Only the topic this answer was about (an older closed topic keeps its gain).
            if progress and progress["topic_id"] == topic_id and progress.get("last_gain"):
                gained = progress["covered"][-progress["last_gain"] :]
                update[slot] = {
                    **progress,
                    "covered": progress["covered"][: -progress["last_gain"]],
                    "evidence": {k: v for k, v in progress["evidence"].items() if k not in gained},
                    "last_gain": 0,
                }
                break
    return update


def _flag(state: InterviewState, round_id: str, kind: str, evidence: str) -> list[dict[str, Any]]:
    flag = {"round_id": round_id, "turn": state.get("turn", 0), "kind": kind, "evidence": evidence}
    return capped(state.get("flags", []), flag, FLAGS)


async def check_rules(
    state: InterviewState, runtime: Runtime[Any]
) -> Command[Literal["complete_topic", "analyse_activity", "pick_speaker", "close_round"]]:
    """Judge every input before any panelist sees it; blocked input never reaches the panel."""
    svc = await services(runtime)
    round_ = _round(svc, state)
    inbox = state.get("inbox") or {}
    turn = state.get("turn", 0)
    kind = inbox.get("kind")
    if kind == "control":
        await _log(
            svc,
            runtime,
            f"in:{turn}:end",
            "interview_ending",
            public=True,
            round_id=round_.id,
            text="The candidate ended the interview.",
        )
        return Command(goto="close_round", update={"ended": True})
    if kind == "integrity":
        return Command(goto="pick_speaker", update=_integrity(state, round_.id, inbox))
    if state.get("activity_count", 0) >= MAX_ACTIVITY_PER_ROUND and kind == "code":
        return Command(goto="pick_speaker", update={})
    text = inbox.get("code", "") if kind == "code" else inbox.get("text", "")
    verdict: RulesVerdict = await svc.brain.check_rules(
        text, _topic(round_, state), source=kind or ""
    )
    update: dict[str, Any] = {"verdict": verdict.model_dump()}
    if verdict.action != "allow" or verdict.category not in ("ok", "silence"):
        update["flags"] = _flag(
            state, round_.id, verdict.category, f"{verdict.reason}; input: {text[:160]!r}"
        )
        await _log(
            svc,
            runtime,
            f"in:{turn}:rules",
            "rules_flag",
            public=False,
            round_id=round_.id,
            speaker="master",
            text=verdict.reason,
            data={"category": verdict.category},
        )
    if verdict.notice:
        await _log(
            svc,
            runtime,
            f"in:{turn}:warning",
            "rules_warning",
            public=True,
            round_id=round_.id,
            speaker="master",
            text=verdict.notice,
            data={"category": verdict.category},
        )
    if kind == "code":
        return Command(goto="analyse_activity", update=update)
    if verdict.action == "block":
        # A blocked message still spends the round's budget, so an attacker cannot stall it.
        update["round_turns"] = state.get("round_turns", 0) + 1
        return Command(goto="pick_speaker", update=update)
    return Command(goto="complete_topic", update=update)


def _integrity(state: InterviewState, round_id: str, inbox: dict[str, Any]) -> dict[str, Any]:
    update: dict[str, Any] = {"activity_count": state.get("activity_count", 0) + 1}
    signal = inbox["signal"]
    if signal == "paste" and inbox.get("size", 0) >= LARGE_PASTE_CHARS:
        update["flags"] = _flag(
            state, round_id, "large_paste", f"pasted {inbox['size']} characters"
        )
    elif signal in ("tab_visible", "focus") and inbox.get("duration_ms", 0) >= LONG_HIDDEN_MS:
        what = "tab hidden" if signal == "tab_visible" else "window unfocused"
        update["flags"] = _flag(
            state, round_id, "long_absence", f"{what} for {inbox['duration_ms'] / 1000:.0f} s"
        )
    return update


def make_activity_node(activity_graph: CompiledStateGraph[Any, Any, Any, Any]) -> Any:
    """Build the node that runs the activity-analysis subgraph on a code input."""

    async def analyse_activity(state: InterviewState, runtime: Runtime[Any]) -> dict[str, Any]:
        """Analyse the code; keep the brief for the panel, show the candidate only their results."""
        svc = await services(runtime)
        round_ = _round(svc, state)
        inbox = state.get("inbox") or {}
        progress = state.get("progress") or {}
        question_id = inbox.get("question_id") or progress.get("topic_id")
        previous = state.get("activity")
        if previous and previous.get("question_id") != question_id:
            previous = None
        out = await activity_graph.ainvoke(
            {
                "round_id": round_.id,
                "question_id": question_id,
                "action": inbox["action"],
                "code": inbox["code"],
                "language": inbox.get("language", "python"),
                "previous": previous,
            }
        )
        analysis = out["analysis"]
        turn = state.get("turn", 0)
        await _log(
            svc,
            runtime,
            f"in:{turn}:brief",
            "activity_brief",
            public=False,
            round_id=round_.id,
            speaker="activity",
            text=analysis["brief"],
            data={
                "question_id": question_id,
                "action": inbox["action"],
                "progress": {**analysis["progress"], "tests": analysis["tests"]},
            },
        )
        if inbox["action"] in ("run", "submit"):
            await _log(
                svc,
                runtime,
                f"in:{turn}:result",
                "code_result",
                public=True,
                round_id=round_.id,
                speaker="activity",
                text=analysis["visible"]["message"],
                data={"question_id": question_id, **analysis["visible"]},
            )
        flags = state.get("flags", [])
        for item in analysis["integrity"]:
            flags = capped(flags, {"round_id": round_.id, "turn": turn, **item}, FLAGS)
        return {
            "activity": analysis,
            "flags": flags,
            "activity_count": state.get("activity_count", 0) + 1,
        }

    return analyse_activity


async def complete_topic(state: InterviewState, runtime: Runtime[Any]) -> dict[str, Any]:
    """Topic completion: fold the answer into coverage, then follow up or move on."""
    svc = await services(runtime)
    round_ = _round(svc, state)
    progress = dict(state["progress"] or {})
    topic = round_.topic(progress["topic_id"])
    verdict = state.get("verdict") or {}
    silent = verdict.get("category") == "silence"
    round_turns = state.get("round_turns", 0) + 1
    out_of_turns = round_turns >= round_.rules.max_turns
    decision = await svc.brain.assess_answer(
        (state.get("inbox") or {}).get("text", ""),
        topic,
        progress,
        max_follow_ups=round_.rules.max_follow_ups,
        out_of_turns=out_of_turns,
        silent=silent,
    )
    if not silent:
        progress["answers"] += 1
        if progress["first_ratio"] is None:
            progress["first_ratio"] = len(decision.covered) / len(topic.key_points)
    progress["silences"] += silent
    progress["last_gain"] = len(decision.covered)
    progress["covered"] = [*progress["covered"], *decision.covered]
    progress["evidence"] = {**progress["evidence"], **decision.evidence}
    owner = progress["owner"]
    update: dict[str, Any] = {"round_turns": round_turns}
    if not decision.complete:
        move = (
            "nudge"
            if silent
            else "redirect"
            if verdict.get("category") == "off_topic"
            else "follow_up"
        )
        if move == "follow_up" and decision.probe:
            progress["probed"] = [*progress["probed"], decision.probe]
        update["agenda"] = [
            {"move": move, "panelist_id": owner, "topic_id": topic.id, "key_point": decision.probe}
        ]
        update["progress"] = progress
        return update
    agenda: list[dict[str, Any]] = [{"move": "close", "panelist_id": owner, "topic_id": topic.id}]
    next_index = state.get("topic_index", 0) + 1
    if next_index < len(round_.topics) and not out_of_turns:
        following = round_.topics[next_index]
        agenda.append({"move": "ask", "panelist_id": None, "topic_id": following.id})
        update.update(topic_index=next_index, progress=new_progress(following.id))
    else:
        update["progress"] = None
    update.update(closing=progress, agenda=agenda)
    await _log(
        svc,
        runtime,
        f"in:{state.get('turn', 0)}:topic",
        "topic_completed",
        public=False,
        round_id=round_.id,
        speaker="master",
        text=decision.reason,
        data={"topic_id": topic.id, "covered": progress["covered"]},
    )
    return update


async def close_round(
    state: InterviewState, runtime: Runtime[Any]
) -> Command[Literal["open_round"]]:
    """Merge the round's evaluations, summarise it for the next panel, move on."""
    svc = await services(runtime)
    round_ = _round(svc, state)
    logged = await svc.log.events(interview_id(runtime), kind="evaluation", round_id=round_.id)
    # The latest evaluation per topic and panelist is the one that counts.
    latest = {f"{e.data['topic_id']}/{e.data['panelist_id']}": e.data for e in logged}
    briefs = await svc.log.events(interview_id(runtime), kind="activity_brief", round_id=round_.id)
    coding: dict[str, dict[str, Any]] = {
        e.data["question_id"]: e.data["progress"] for e in briefs if e.data.get("progress")
    }
    result = await merge_round(svc, round_, list(latest.values()), coding)
    await _log(
        svc,
        runtime,
        f"{round_.id}:close",
        "round_ended",
        public=True,
        round_id=round_.id,
        data={"index": state.get("round_index", 0), "title": round_.title},
    )
    await _log(
        svc,
        runtime,
        f"{round_.id}:summary",
        "round_summary",
        public=False,
        round_id=round_.id,
        speaker="master",
        text=result["summary"],
        data=result,
    )
    return Command(
        goto="open_round",
        update={
            "round_index": state.get("round_index", 0) + 1,
            "progress": None,
            "closing": None,
            "agenda": [],
            "task": None,
            "activity": None,
        },
    )


async def finish(state: InterviewState, runtime: Runtime[Any]) -> dict[str, Any]:
    """Final evaluation: merge every round's results into the report."""
    svc = await services(runtime)
    report = await build_report(svc, state, interview_id(runtime))
    await _log(
        svc,
        runtime,
        "interview:report",
        "report",
        public=False,
        speaker="master",
        text=report["recommendation"]["rationale"],
        data=report,
    )
    await _log(
        svc,
        runtime,
        "interview:end",
        "interview_ended",
        public=True,
        data={"rounds_completed": len(report["rounds"])},
    )
    return {"report": report}
