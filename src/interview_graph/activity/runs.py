"""What one code action executes: visible tests on run; on submit, visible and hidden apart.

Hidden tests run in a sandbox run of their own, so whatever the candidate's code prints while
it handles a hidden input never reaches the candidate: the output shown to them comes only
from the visible run (a submission that prints its arguments would otherwise echo every
hidden input back).  The panel gets every test's outcome.

The graph's ``execute_code`` node and the activity service's background pre-run both call
:func:`execute`, so the service's run is exactly the one the graph then finds in the
sandbox's cache.
"""

from __future__ import annotations

from typing import Any

from ..plans.models import CodingSpec
from . import sandbox

Case = tuple[str, bool, list[Any], Any]


def visible_cases(spec: CodingSpec) -> list[Case]:
    """The visible tests as sandbox cases (name, hidden, args, expected)."""
    return [
        (t.name or f"visible {i + 1}", False, list(t.args), t.expected)
        for i, t in enumerate(spec.visible_tests)
    ]


def hidden_cases(spec: CodingSpec) -> list[Case]:
    """The hidden tests as sandbox cases; their args never go to a run whose output is shown."""
    return [
        (t.name or f"hidden {i + 1}", True, list(t.args), t.expected)
        for i, t in enumerate(spec.hidden_tests)
    ]


async def execute(
    code: str, language: str, spec: CodingSpec, action: str, *, interview_id: str
) -> dict[str, Any]:
    """Run ``code`` for ``action`` (``run`` or ``submit``); the execution record the nodes use.

    ``output`` is the visible run's output only.  On submit, a hidden run that did not finish
    (timeout, crash) counts each hidden test as failed with that status as its error.
    """
    visible = await sandbox.run_tests(
        code, language, spec.function_name, visible_cases(spec), interview_id=interview_id
    )
    tests = [vars(t) for t in visible.tests]
    record: dict[str, Any] = {
        "status": visible.status,
        "message": visible.message,
        "sandbox": visible.sandbox,
        "duration_ms": round(visible.duration_ms, 1),
        "output": visible.output[-1000:],
        "tests": tests,
    }
    if action != "submit" or visible.status in ("refused", "unsupported"):
        return record
    hidden = await sandbox.run_tests(
        code, language, spec.function_name, hidden_cases(spec), interview_id=interview_id
    )
    record["duration_ms"] = round(visible.duration_ms + hidden.duration_ms, 1)
    record["hidden_status"] = hidden.status
    if hidden.status == "ok":
        tests += [vars(t) for t in hidden.tests]
    else:
        tests += [
            {
                "name": name,
                "hidden": True,
                "args": args,
                "expected": expected,
                "got": None,
                "error": f"{hidden.status}: {hidden.message}",
                "passed": False,
            }
            for name, _, args, expected in hidden_cases(spec)
        ]
    return record
