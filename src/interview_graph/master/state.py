"""State of the interview graph: compact working memory, never the whole transcript.

Every key is bounded by the plan's size or by a cap in :mod:`interview_graph.memory`, so a
checkpoint's size stays flat however long the interview runs.  The transcript itself is in
the event log (:mod:`interview_graph.store`).
"""

from __future__ import annotations

from typing import Any, TypedDict


class InterviewState(TypedDict, total=False):
    """The master's state.

    Attributes:
        round_index: index of the current round in the plan.
        turn: candidate inputs taken so far in the interview (keys idempotent events).
        receipts: event-log seqs of the last inputs consumed (exactly-once after a crash).
        round_turns: conversational inputs in the current round (budgeted by the rules).
        activity_count: code/integrity inputs in the current round (capped).
        lines: panel lines spoken so far (keys idempotent events).
        topic_index: index of the current topic in the round.
        progress: the current topic's progress (owner, coverage, probes, answers).
        closing: the progress of the topic that just completed, for its closing evaluation.
        agenda: who speaks next this turn, and to do what.
        task: the task being executed.
        advice: the master's advice for that task.
        inbox: the candidate input being processed.
        verdict: the rules verdict on it.
        memories: each panelist's own memory, by panelist id (persists across rounds).
        flags: rules and integrity flags with evidence.
        activity: the latest code analysis of the current question.
        recent: the last few public lines, for prompts and the candidate.
        asked_counts: questions asked per panelist (speaker balance).
        ended: the candidate ended the interview.
        report: the final report.
        understanding: the master's reading of the current message (intent, span, reply).
        seed: varies the panel's wording between interviews; one interview replays exactly.
        used: stock phrases the panel has said this round (so none repeats while others are
            free); capped.
        farewell: the panel has said goodbye.
    """

    round_index: int
    turn: int
    receipts: list[int]
    round_turns: int
    activity_count: int
    lines: int
    topic_index: int
    progress: dict[str, Any] | None
    closing: dict[str, Any] | None
    agenda: list[dict[str, Any]]
    task: dict[str, Any] | None
    advice: dict[str, Any] | None
    inbox: dict[str, Any] | None
    verdict: dict[str, Any] | None
    memories: dict[str, dict[str, Any]]
    flags: list[dict[str, Any]]
    activity: dict[str, Any] | None
    recent: list[dict[str, Any]]
    asked_counts: dict[str, int]
    ended: bool
    report: dict[str, Any] | None
    understanding: dict[str, Any] | None
    seed: int
    used: list[str]
    farewell: bool


def new_progress(topic_id: str) -> dict[str, Any]:
    """Progress of a topic before it is asked."""
    return {
        "topic_id": topic_id,
        "owner": None,
        "answers": 0,
        "silences": 0,
        "first_ratio": None,
        "first_covered": [],
        "covered": [],
        "evidence": {},
        "probed": [],
        "last_gain": 0,
        # What a listening panel needs to remember about this topic.
        "hints": [],  # {index, key_point} per hint given (lowers the score)
        "stuck": 0,
        "repeats": 0,  # rephrasings used (repeat, nudge, redirect)
        "off_topic": 0,
        "misconceptions": [],  # {id, quote, key_point} challenged
        "submits": 0,
        "invited": False,
        "code_waits": 0,
        "last_asked": None,  # {"move", "text"}: what "can you repeat?" repeats
        "moved_on": False,
        "elaborated": False,  # asked once to say more about a thin answer
    }
