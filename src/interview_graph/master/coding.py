"""Pair programming: what the panel says about a submission, in words the candidate may hear.

A submission of the current question is discussed by its owner: what passed (visible tests
by count, hidden ones only as "all pass" or "some fail" — never which, never their inputs),
then a question about the behaviour that fails or about what the candidate has not yet
covered.  The follow-up it uses counts as probed, so it is not asked twice.
"""

from __future__ import annotations

from typing import Any

from ..engine.coverage import cover
from ..plans.models import QuestionKind, Round, Topic
from ..store import Event

EDGE_PROBE = "Which inputs do you think could still break it?"
RETRY_PROBE = "What do you think is going on there?"
PRODUCTION_PROBE = "What would you change before putting this into production?"


# Ways to say each outcome, so two submissions in one round do not sound the same.
_ALL_PASS = (
    "All the tests pass, including the hidden ones.",
    "That passes everything, the hidden cases too.",
    "Every test passes, hidden ones included.",
)
_HIDDEN_FAIL = (
    "The visible tests pass, but some of the hidden cases fail.",
    "It passes the visible tests; a few of the hidden cases don't pass yet.",
    "Visible tests are green, but not all of the hidden ones.",
)


def result_in_words(analysis: dict[str, Any], variant: int = 0) -> tuple[str, bool]:
    """The submission's result as the panel says it, and whether every test passed."""
    visible = analysis.get("visible") or {}
    if analysis.get("syntax_error"):
        return "It doesn't parse yet, so nothing ran.", False
    tests = analysis.get("tests")
    if not tests:
        status = visible.get("status", "")
        if status in ("refused", "unsupported"):
            return "I can't run it here, so let's reason about it together.", False
        return f"It didn't run cleanly ({status or 'no result'}).", False
    vp, vt = tests["visible_passed"], tests["visible_total"]
    hidden = tests["total"] - vt
    hidden_passed = tests["passed"] - vp
    if vp < vt:
        return f"{vp} of the {vt} visible tests pass so far.", False
    if hidden and hidden_passed < hidden:
        return _HIDDEN_FAIL[variant % len(_HIDDEN_FAIL)], False
    if hidden:
        return _ALL_PASS[variant % len(_ALL_PASS)], True
    return "All the tests pass.", True


def discuss(
    topic: Topic, progress: dict[str, Any], analysis: dict[str, Any], topic_number: int = 0
) -> dict[str, Any]:
    """The ``discuss_code`` task for a submission of ``topic`` (mutates ``progress``).

    Code that does not run is not quizzed on; failing code is asked about the behaviour that
    fails (the key point a failing test's name is about, through that point's follow-up,
    which names the behaviour, never the inputs); passing code gets the next uncovered point.
    """
    progress["submits"] += 1
    result, green = result_in_words(analysis, variant=topic_number)
    tests = analysis.get("tests")
    if not tests:  # did not parse, crashed, or could not run: nothing to discuss yet
        return _discussion(topic, progress, result, RETRY_PROBE if not green else "", None)
    failing = " ; ".join(analysis.get("failing") or [])
    about = set(cover(failing, topic.key_points).covered) if failing else set()
    probed = set(progress["probed"])
    follow = next((f for f in topic.follow_ups if f.key_point in about), None)
    if follow is None and green:
        covered = set(progress["covered"])
        follow = next((f for f in topic.follow_ups if f.key_point not in covered | probed), None)
    if follow is not None:
        if follow.key_point not in probed:
            progress["probed"] = [*progress["probed"], follow.key_point]
        return _discussion(topic, progress, result, follow.question, follow.key_point)
    return _discussion(topic, progress, result, PRODUCTION_PROBE if green else EDGE_PROBE, None)


def _discussion(
    topic: Topic, progress: dict[str, Any], result: str, probe: str, key_point: str | None
) -> dict[str, Any]:
    return {
        "move": "discuss_code",
        "panelist_id": progress["owner"],
        "topic_id": topic.id,
        "key_point": key_point,
        "detail": {"result": result, "probe": probe} if probe else {"result": result},
    }


def coding_record(round_: Round, briefs: list[Event], lines: list[Event]) -> dict[str, Any]:
    """Per coding question of ``round_``, what happened, for the report: nothing flattering.

    Submitted or not, the last submission's visible and hidden pass counts (never a run's),
    runs, and how many code snapshots it took from the question being asked to every visible
    test first passing (a count, not seconds, so a replayed interview reports the same; the
    wall-clock times are in the transcript).  A question asked but never touched says so too.
    """
    asked = {e.data.get("question_id") for e in lines if (e.data or {}).get("move") == "ask"}
    record: dict[str, Any] = {}
    for topic in round_.topics:
        if topic.kind is not QuestionKind.CODING:
            continue
        mine = [
            e for e in briefs if e.data.get("question_id") == topic.id and e.data.get("progress")
        ]
        if not mine and topic.id not in asked:
            continue
        progress = dict(mine[-1].data["progress"]) if mine else {"runs": 0, "submits": 0}
        progress["summary"] = _summary(progress)
        record[topic.id] = progress
    return record


def _summary(progress: dict[str, Any]) -> str:
    runs = progress.get("runs", 0)
    submit = progress.get("last_submit")
    if not progress.get("submits") or not submit:
        tried = f"{runs} run(s) of the visible tests" if runs else "no code run"
        return f"Not submitted ({tried})."
    hidden = submit["total"] - submit["visible_total"]
    text = (
        f"Submitted {progress['submits']} time(s); last submission passed "
        f"{submit['visible_passed']}/{submit['visible_total']} visible"
    )
    if hidden:
        text += f" and {submit['passed'] - submit['visible_passed']}/{hidden} hidden tests"
    text += f"; {runs} run(s)"
    if progress.get("first_green"):
        text += f"; every visible test first passed at code snapshot {progress['first_green']}"
    return text + "."
