"""Pair programming: what the panel says about a submission, in words the candidate may hear.

A submission of the current question is discussed by its owner: what passed (visible tests
by count, hidden ones only as "all pass" or "some fail" — never which, never their inputs),
then a question about the behaviour that fails or about what the candidate has not yet
covered.  The follow-up it uses counts as probed, so it is not asked twice.
"""

from __future__ import annotations

from typing import Any

from ..plans.models import Topic

EDGE_PROBE = "Which inputs do you think could still break it?"
PRODUCTION_PROBE = "What would you change before putting this into production?"


def result_in_words(analysis: dict[str, Any]) -> tuple[str, bool]:
    """The submission's result as the panel says it, and whether every test passed."""
    visible = analysis.get("visible") or {}
    if analysis.get("syntax_error"):
        return "It doesn't parse yet, so nothing ran. Want to take another look?", False
    tests = analysis.get("tests")
    if not tests:
        status = visible.get("status", "")
        if status in ("refused", "unsupported"):
            return "I can't run it here, so let's reason about it together.", False
        return f"It didn't run cleanly ({status or 'no result'}). Want to take another look?", False
    vp, vt = tests["visible_passed"], tests["visible_total"]
    hidden = tests["total"] - vt
    hidden_passed = tests["passed"] - vp
    if vp < vt:
        return f"{vp} of the {vt} visible tests pass so far.", False
    if hidden and hidden_passed < hidden:
        return "The visible tests pass, but some of the hidden cases fail.", False
    if hidden:
        return "All the tests pass, including the hidden ones.", True
    return "All the tests pass.", True


def discuss(topic: Topic, progress: dict[str, Any], analysis: dict[str, Any]) -> dict[str, Any]:
    """The ``discuss_code`` task for a submission of ``topic`` (mutates ``progress``)."""
    progress["submits"] += 1
    result, green = result_in_words(analysis)
    covered = set(progress["covered"])
    probed = set(progress["probed"])
    follow = next(
        (
            f
            for f in topic.follow_ups
            if f.key_point not in covered and f.key_point not in probed
        ),
        None,
    )
    key_point = None
    if follow is not None:
        probe, key_point = follow.question, follow.key_point
        progress["probed"] = [*progress["probed"], follow.key_point]
    else:
        probe = PRODUCTION_PROBE if green else EDGE_PROBE
    return {
        "move": "discuss_code",
        "panelist_id": progress["owner"],
        "topic_id": topic.id,
        "key_point": key_point,
        "detail": {"result": result, "probe": probe},
    }
