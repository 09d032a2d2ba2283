"""What a submission shows the candidate: only the visible run's output, never hidden inputs."""

from __future__ import annotations

import os
import shutil

import pytest

from interview_graph.activity.runs import execute
from interview_graph.plans.loader import resolve_plan

pytestmark = pytest.mark.skipif(
    shutil.which("bwrap") is None and not os.environ.get("CI"),
    reason="bubblewrap is not installed (make test installs it when run as root; CI must have it)",
)

SPEC = resolve_plan("backend_engineer").rounds[0].topic("top_k_frequent").coding
ECHO = """
def top_k_frequent(nums, k):
    print("ARGS", repr(nums), repr(k))
    from collections import Counter
    return [v for v, _ in Counter(nums).most_common(k)]
"""


async def test_a_submission_that_prints_its_arguments_echoes_only_visible_inputs() -> None:
    assert SPEC is not None
    record = await execute(ECHO, "python", SPEC, "submit", interview_id="runs-test")
    assert record["status"] == "ok" and record["hidden_status"] == "ok"
    for test in SPEC.visible_tests:
        assert repr(test.args[0]) in record["output"]
    for test in SPEC.hidden_tests:
        assert f"ARGS {test.args[0]!r} {test.args[1]!r}" not in record["output"]
    hidden = [t for t in record["tests"] if t["hidden"]]
    assert len(hidden) == len(SPEC.hidden_tests), "the panel still gets every hidden outcome"
    assert len(record["tests"]) == len(SPEC.visible_tests) + len(SPEC.hidden_tests)


async def test_a_run_checks_visible_tests_only() -> None:
    assert SPEC is not None
    record = await execute(ECHO, "python", SPEC, "run", interview_id="runs-test")
    assert not any(t["hidden"] for t in record["tests"]) and "hidden_status" not in record


async def test_a_hidden_run_that_times_out_counts_its_tests_as_failed() -> None:
    assert SPEC is not None
    slow = (
        "def top_k_frequent(nums, k):\n"
        "    if len(nums) != 6 and nums != [4] or nums == [3, 1, 2]:\n"
        "        while True:\n"
        "            pass\n"
        "    return []\n"
    )
    record = await execute(slow, "python", SPEC, "submit", interview_id="runs-test")
    assert record["hidden_status"] == "timeout"
    hidden = [t for t in record["tests"] if t["hidden"]]
    assert hidden and all(not t["passed"] and "timeout" in t["error"] for t in hidden)
