"""Master nodes: the supervisor of the interview graph.

Per candidate input: ``await_candidate`` → ``check_rules`` (before any panelist sees it) →
``understand`` (what the message is doing; non-answers get their reaction, see
``understand.py``) → ``complete_topic`` (coverage; challenge, follow up, wait for code or move
on, see ``topic.py``) → ``pick_speaker`` → ``advise`` → ``panelist`` → back to
``pick_speaker`` until the agenda is empty.  Rounds open and close around that loop (the
panel greets the candidate and, at the end, says goodbye); ``finish`` merges the panel's
evaluations into the report.

Nodes that run before an ``interrupt()`` are re-run on resume, so their log writes use
idempotent keys derived from counters in state.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any, Literal

from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime
from langgraph.types import Command, interrupt

from .. import late
from ..context import Services, interview_id, services
from ..engine.decisions import RulesVerdict
from ..engine.speech import stock_used
from ..feedback import feedback_from
from ..inputs import input_event, parse_input
from ..memory import (
    FLAGS,
    OBSERVATIONS,
    RECEIPTS,
    RECENT,
    REFLECTIONS,
    USED_PHRASES,
    capped,
    empty_memory,
)
from ..plans.models import Round, Topic
from ..report import build_report, merge_round, round_results
from ..settings import get_settings
from .coding import coding_record, discuss
from .log import log_event, round_of
from .state import InterviewState, new_progress

# Integrity thresholds: evidence for a human reviewer, never an automatic verdict.
LARGE_PASTE_CHARS = 200
LONG_HIDDEN_MS = 30_000
MAX_ACTIVITY_PER_ROUND = 500


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
        await log_event(
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
    await log_event(
        svc,
        runtime,
        f"{round_.id}:open",
        "round_started",
        public=True,
        round_id=round_.id,
        data={
            "index": index,
            "title": round_.title,
            # The candidate reads the lead's words about the format; the description is for
            # reviewers.
            "description": round_.opening or round_.description,
            "panel": [{"id": p.id, "name": p.name, "title": p.title} for p in round_.panel],
        },
    )
    first = round_.topics[0]
    # Everyone on the panel says hello, the lead first (and explains the format).
    greetings = [
        {"move": "introduce", "panelist_id": p.id, "topic_id": None, "lead": i == 0}
        for i, p in enumerate(round_.panel)
    ]
    return Command(
        goto="pick_speaker",
        update={
            "seed": state.get("seed") or _seed(interview_id(runtime)),
            "used": [],
            "round_turns": 0,
            "activity_count": 0,
            "topic_index": 0,
            "progress": new_progress(first.id),
            "closing": None,
            "activity": None,
            "memories": memories,
            "agenda": [*greetings, {"move": "ask", "panelist_id": None, "topic_id": first.id}],
        },
    )


def _seed(interview: str) -> int:
    """A stable seed from the interview id: its wording replays; another interview differs."""
    return int(hashlib.sha256(interview.encode()).hexdigest()[:8], 16) or 1


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
    round_ = round_of(svc, state)
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
    round_ = round_of(svc, state)
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
    await log_event(
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
        round_ = round_of(svc, state)
        task = state["task"] or {}
        pid = task["panelist_id"]
        memories = _with_late_reflections(interview_id(runtime), state.get("memories", {}))
        memory = memories.get(pid) or empty_memory(pid)
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
                    "line": line,
                    "seed": state.get("seed", 0),
                    "used": state.get("used", []),
                    "lead": bool(task.get("lead")),
                    "returning": any(r != round_.id for r in memory.get("rounds", [])),
                    "topic_number": state.get("topic_index", 0) + 1,
                    "gained": (_progress_for(state, topic_id) or {}).get("last_gain", 0),
                    "closing": svc.plan.closing,
                    "recent": state.get("recent", [])[-4:],
                },
                "activity": activity
                if activity and activity.get("question_id") == topic_id
                else None,
                "key": f"{round_.id}:line{line}",
            }
        )
        update: dict[str, Any] = {
            "lines": line,
            "memories": {**memories, pid: out["memory"]},
            "recent": capped(
                state.get("recent", []), {"speaker": pid, "text": out["said"]}, RECENT
            ),
        }
        heard = stock_used(round_.panelist(pid), out["said"])
        update["used"] = [*state.get("used", []), *heard][-USED_PHRASES:]
        asked = _asked_text(round_, task)
        progress = state.get("progress")
        if asked and progress and progress["topic_id"] == topic_id:
            last = {"move": task["move"], "text": asked, "key_point": task.get("key_point")}
            update["progress"] = {**progress, "last_asked": last}
        if task["move"] == "ask":
            counts = dict(state.get("asked_counts", {}))
            counts[pid] = counts.get(pid, 0) + 1
            update["asked_counts"] = counts
        screen = out.get("screen")
        if screen and (screen["action"] != "allow" or screen["category"] not in ("ok", "silence")):
            merged: Any = {**state, **update}
            answer = (state.get("inbox") or {}).get("text", "")
            turn = state.get("turn", 0)
            update.update(
                await _screened(svc, runtime, merged, round_.id, topic_id, screen, turn, answer)
            )
        if out["evaluation"] is not None:
            # Evaluations go to the log, not to state: they grow with the interview.
            await log_event(
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


def _asked_text(round_: Round, task: dict[str, Any]) -> str:
    """What a "can you repeat that?" should repeat after this line: the question it asked."""
    if not task.get("topic_id"):
        return ""
    topic = round_.topic(task["topic_id"])
    if task["move"] == "ask":
        return topic.question
    if task["move"] == "follow_up":
        follow = next((f for f in topic.follow_ups if f.key_point == task.get("key_point")), None)
        return follow.question if follow else ""
    if task["move"] in ("challenge", "discuss_code"):
        return str((task.get("detail") or {}).get("probe", ""))
    return ""


async def await_candidate(
    state: InterviewState, runtime: Runtime[Any]
) -> Command[Literal["check_rules", "pick_speaker"]]:
    """Wait for the candidate (``interrupt``); log the input once it arrives."""
    svc = await services(runtime)
    round_ = round_of(svc, state)
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
        await log_event(
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
    await log_event(
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


def _with_late_reflections(
    interview: str, memories: dict[str, dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """``memories`` with the panel's deferred reflections (``interview_graph.late``) folded in."""
    arrived = late.collect(interview, "reflection")
    if not arrived:
        return memories
    out = dict(memories)
    for meta, note in arrived:
        pid = meta["panelist"]
        memory = dict(out.get(pid) or empty_memory(pid))
        memory["observations"] = capped(memory["observations"], note.observation, OBSERVATIONS)
        memory["reflections"] = capped(memory["reflections"], note.reflection, REFLECTIONS)
        out[pid] = memory
    return out


async def _screened(
    svc: Services,
    runtime: Runtime[Any],
    state: InterviewState,
    round_id: str,
    topic_id: str | None,
    screen: dict[str, Any],
    turn: int,
    text: str,
) -> dict[str, Any]:
    """Record the screen's finding; a blocked answer loses the coverage it was credited.

    A ``late`` verdict came after the reply had been released (see
    ``panelist.nodes._late_screen`` for the rule): its flag says so, and a late block also
    shows the candidate its notice and tells the panel, in each member's memory, not to
    build on that answer.
    """
    is_late = bool(screen.get("late"))
    await log_event(
        svc,
        runtime,
        f"in:{turn}:screen",
        "rules_flag",
        public=False,
        round_id=round_id,
        speaker="master",
        text=screen["reason"],
        data={"category": screen["category"], "by": "screen"} | ({"late": True} if is_late else {}),
    )
    flags = _flag(state, round_id, screen["category"], f"{screen['reason']}; input: {text[:160]!r}")
    if is_late:
        flags[-1] = {**flags[-1], "late": True}
    update: dict[str, Any] = {"flags": flags}
    if is_late and screen["action"] == "block":
        if screen.get("notice"):
            await log_event(
                svc,
                runtime,
                f"in:{turn}:late_notice",
                "rules_warning",
                public=True,
                round_id=round_id,
                speaker="master",
                text=screen["notice"],
                data={"category": screen["category"]},
            )
        note = (
            f"(rules) The candidate's answer in turn {turn} was blocked after your reply "
            f"({screen['category']}); do not build on it."
        )
        memories = dict(update.get("memories") or state.get("memories", {}))
        for pid, memory in memories.items():
            memories[pid] = {
                **memory,
                "observations": capped(memory.get("observations", []), note, OBSERVATIONS),
            }
        update["memories"] = memories
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
) -> Command[Literal["understand", "analyse_activity", "pick_speaker", "close_round"]]:
    """Judge every input before any panelist sees it; blocked input never reaches the panel.

    Late screen verdicts on earlier answers (deferred after their reply) are applied first.
    """
    svc = await services(runtime)
    round_ = round_of(svc, state)
    inbox = state.get("inbox") or {}
    turn = state.get("turn", 0)
    kind = inbox.get("kind")
    earlier = await _late_screens(svc, runtime, state)
    if earlier:
        state = {**state, **earlier}  # type: ignore[typeddict-item]
    if kind == "control":
        await log_event(
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
    update: dict[str, Any] = {**earlier, "verdict": verdict.model_dump()}
    if verdict.action != "allow" or verdict.category not in ("ok", "silence"):
        update["flags"] = _flag(
            state, round_.id, verdict.category, f"{verdict.reason}; input: {text[:160]!r}"
        )
        await log_event(
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
        await log_event(
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
    return Command(goto="understand", update=update)


async def _late_screens(
    svc: Services, runtime: Runtime[Any], state: InterviewState
) -> dict[str, Any]:
    """Apply the screen verdicts that arrived after their turn was over (flags, coverage)."""
    update: dict[str, Any] = {}
    for meta, verdict in late.collect(interview_id(runtime), "screen"):
        if verdict.action == "allow" and verdict.category in ("ok", "silence"):
            continue
        screen = {**verdict.model_dump(), "late": True}
        merged: Any = {**state, **update}
        update.update(
            await _screened(
                svc,
                runtime,
                merged,
                meta["round_id"],
                meta["topic_id"],
                screen,
                state.get("turn", 0) - 1,
                meta["answer"],
            )
        )
    return update


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
        round_ = round_of(svc, state)
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
        await log_event(
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
            await log_event(
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
        update: dict[str, Any] = {
            "activity": analysis,
            "flags": flags,
            "activity_count": state.get("activity_count", 0) + 1,
        }
        if inbox["action"] == "submit" and progress and question_id == progress["topic_id"]:
            # A submission of the question on the table is discussed, pair-programming style.
            current = dict(progress)
            number = state.get("topic_index", 0) + current["submits"]
            update["agenda"] = [discuss(round_.topic(question_id), current, analysis, number)]
            update["progress"] = current
        return update

    return analyse_activity


async def close_round(
    state: InterviewState, runtime: Runtime[Any]
) -> Command[Literal["open_round", "pick_speaker"]]:
    """Merge the round's evaluations, summarise it for the next panel, move on.

    Before the last round closes — however the interview ends — the panel says goodbye.
    """
    svc = await services(runtime)
    round_ = round_of(svc, state)
    last = state.get("round_index", 0) + 1 >= len(svc.plan.rounds)
    if (last or state.get("ended")) and not state.get("farewell"):
        detail = {"stopped": "yes"} if state.get("ended") else {}
        farewell = {"move": "farewell", "panelist_id": round_.panel[0].id, "topic_id": None}
        return Command(
            goto="pick_speaker",
            update={"farewell": True, "agenda": [{**farewell, "detail": detail}]},
        )
    # Evaluations deferred after their reply log themselves when done: wait for them (bounded).
    await late.wait_for(
        interview_id(runtime), "evaluation", get_settings().llm_deadlines.get("evaluator", 8.0)
    )
    logged = await svc.log.events(interview_id(runtime), kind="evaluation", round_id=round_.id)
    # The latest evaluation per topic and panelist is the one that counts: the latest line,
    # since a deferred evaluation may be logged after a later line's.
    logged = sorted(logged, key=lambda e: (_line_of(e.key), e.seq))
    latest = {f"{e.data['topic_id']}/{e.data['panelist_id']}": e.data for e in logged}
    briefs = await svc.log.events(interview_id(runtime), kind="activity_brief", round_id=round_.id)
    asked = await svc.log.events(interview_id(runtime), kind="message", round_id=round_.id)
    coding = coding_record(round_, briefs, asked)
    done = await svc.log.events(interview_id(runtime), kind="topic_completed", round_id=round_.id)
    result = await merge_round(svc, round_, list(latest.values()), coding, [e.data for e in done])
    await log_event(
        svc,
        runtime,
        f"{round_.id}:close",
        "round_ended",
        public=True,
        round_id=round_.id,
        data={"index": state.get("round_index", 0), "title": round_.title},
    )
    await log_event(
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


_LINE = re.compile(r":line(\d+):")


def _line_of(key: str) -> int:
    found = _LINE.search(key)
    return int(found.group(1)) if found else 0


async def finish(state: InterviewState, runtime: Runtime[Any]) -> dict[str, Any]:
    """Final evaluation: merge every round's results into the report."""
    svc = await services(runtime)
    report = await build_report(svc, state, interview_id(runtime))
    await log_event(
        svc,
        runtime,
        "interview:report",
        "report",
        public=False,
        speaker="master",
        text=report["recommendation"]["rationale"],
        data=report,
    )
    options = await svc.log.events(interview_id(runtime), kind="interview_options")
    mode = options[-1].data.get("mode", svc.plan.mode) if options else svc.plan.mode
    # Hints used, as the report counts them: the feedback never says more than the report.
    hints_used = sum(len(r["hints"]) for r in report["rounds"])
    feedback = feedback_from(report, svc.plan, mode, hints_used=hints_used)
    # The report stays private; the candidate's feedback is built from it by allow-list.
    await log_event(
        svc,
        runtime,
        "interview:feedback",
        "feedback",
        public=True,
        speaker="master",
        text=feedback.message,
        data=feedback.model_dump(),
    )
    await log_event(
        svc,
        runtime,
        "interview:end",
        "interview_ended",
        public=True,
        data={"rounds_completed": len(report["rounds"])},
    )
    return {"report": report}
