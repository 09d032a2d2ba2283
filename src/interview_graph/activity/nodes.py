"""Activity nodes: interpret_code → compare_to_question → brief_panel.

The candidate's code is untrusted data: it is parsed, never executed in this process.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from langgraph.runtime import Runtime

from ..context import interview_id, services
from .runs import Case, execute, hidden_cases, visible_cases
from .state import ActivityState
from .static import analyse, resemblance

# A first snapshot this long that already defines the function looks like a paste.
_FULL_SOLUTION_LINES = 6


async def interpret_code(state: ActivityState, runtime: Runtime[Any]) -> dict[str, Any]:
    """High-level analysis: does it parse, what does it define, how does it loop."""
    svc = await services(runtime)
    spec = _spec(svc.plan, state)
    if state["language"] != "python":
        return {"facts": {"unsupported": f"{state['language']} is not analysed; Python only"}}
    return {"facts": asdict(analyse(state["code"], spec))}


async def execute_code(state: ActivityState, runtime: Runtime[Any]) -> dict[str, Any]:
    """Run the code in the sandbox: visible tests on run; on submit hidden ones too, apart."""
    svc = await services(runtime)
    spec = _spec(svc.plan, state)
    facts = state["facts"]
    if (
        spec is None
        or state["action"] == "edit"
        or facts.get("syntax_error")
        or "unsupported" in facts
    ):
        return {"execution": None}
    execution = await execute(
        state["code"], state["language"], spec, state["action"], interview_id=interview_id(runtime)
    )
    return {"execution": execution}


def tests_for(spec: Any, action: str) -> list[Case]:
    """Every case an action checks: visible tests on run, visible and hidden on submit.

    (They run as two sandbox runs on submit; see :mod:`.runs`.)
    """
    return [*visible_cases(spec), *(hidden_cases(spec) if action == "submit" else [])]


async def compare_to_question(state: ActivityState, runtime: Runtime[Any]) -> dict[str, Any]:
    """Analysis with respect to the question: signature, approach, integrity signals."""
    svc = await services(runtime)
    spec = _spec(svc.plan, state)
    facts = state["facts"]
    fit: dict[str, Any] = {"approach": None, "approach_optimal": False, "integrity": []}
    if spec is None or "unsupported" in facts:
        return {"fit": fit}
    if not facts.get("syntax_error"):
        name, optimal, verbatim = resemblance(state["code"], spec)
        fit.update(approach=name, approach_optimal=optimal)
        if verbatim:
            fit["integrity"].append(
                {
                    "kind": "verbatim_reference",
                    "evidence": "code matches a reference solution exactly",
                }
            )
    previous = state["previous"] or {}
    first_snapshot = not previous.get("snapshots")
    if (
        first_snapshot
        and facts.get("has_function")
        and facts.get("lines", 0) >= _FULL_SOLUTION_LINES
    ):
        fit["integrity"].append(
            {
                "kind": "full_solution_at_once",
                "evidence": f"first activity already a complete {facts['lines']}-line solution",
            }
        )
    return {"fit": fit}


async def brief_panel(state: ActivityState, runtime: Runtime[Any]) -> dict[str, Any]:
    """Final analysis: a private brief for the panel plus what the candidate may see."""
    facts, fit = state["facts"], state["fit"]
    previous = state["previous"] or {}
    progress = dict(
        previous.get("progress") or {"snapshots": 0, "runs": 0, "submits": 0, "rewrites": 0}
    )
    progress["snapshots"] += 1
    progress["runs"] += state["action"] == "run"
    progress["submits"] += state["action"] == "submit"
    counts = _counts(state.get("execution"))
    if state["action"] == "submit" and counts:
        # The report states the last *submission*, not whatever ran last.
        progress["last_submit"] = counts
    if (
        counts
        and counts["visible_passed"] == counts["visible_total"]
        and "first_green" not in progress
    ):
        # Snapshot number at which every visible test first passed: progress for the report.
        progress["first_green"] = progress["snapshots"]
    old_lines = previous.get("lines", 0)
    if old_lines and abs(facts.get("lines", 0) - old_lines) > max(8, old_lines // 2):
        progress["rewrites"] += 1
    speech_brief = ""
    if "unsupported" in facts:
        brief = facts["unsupported"]
        visible = {"status": "unsupported", "message": facts["unsupported"]}
    elif facts.get("syntax_error"):
        brief = f"Code does not parse ({facts['syntax_error']})."
        visible = {"status": "syntax_error", "message": facts["syntax_error"]}
    else:
        parts: list[str] = []
        parts += [
            f"Defines {', '.join(facts['functions']) or 'no functions'}"
            + ("" if facts.get("has_function") else " (required function missing)")
            + ".",
            f"Estimated {facts['complexity']} with {facts['loops']} loop(s)"
            + (", recursive" if facts.get("recursive") else "")
            + ".",
        ]
        if fit.get("approach"):
            parts.append(
                f"Resembles the {fit['approach']} approach"
                + (" (preferred)." if fit.get("approach_optimal") else ".")
            )
        if facts.get("style"):
            parts.append(f"Style: {'; '.join(facts['style'][:2])}.")
        execution = state.get("execution")
        brief = " ".join([*_execution_brief(execution), *parts])
        # What a speaking panelist's prompt may hold: no hidden test's inputs or expectations.
        speech_brief = " ".join([*_execution_brief(execution, hidden_inputs=False), *parts])
        visible = _visible_results(execution)
    analysis = {
        "question_id": state["question_id"],
        "round_id": state["round_id"],
        "action": state["action"],
        "lines": facts.get("lines", 0),
        "syntax_error": facts.get("syntax_error"),
        "complexity": facts.get("complexity"),
        "approach": fit.get("approach"),
        "approach_optimal": fit.get("approach_optimal", False),
        "style": facts.get("style", []),
        "tests": _counts(state.get("execution")),
        # Names only (private): what the panel probes on, never the inputs.
        "failing": [
            t["name"] for t in (state.get("execution") or {}).get("tests", []) if not t["passed"]
        ],
        "integrity": fit.get("integrity", []),
        "brief": brief,
        "brief_for_speech": speech_brief or brief,
        "visible": visible,
        "snapshots": progress["snapshots"],
        "progress": progress,
    }
    return {"analysis": analysis}


def _spec(plan: Any, state: ActivityState) -> Any:
    if not state["question_id"]:
        return None
    topic = next(
        (t for t in plan.round(state["round_id"]).topics if t.id == state["question_id"]), None
    )
    return topic.coding if topic else None


def _counts(execution: dict[str, Any] | None) -> dict[str, int] | None:
    if not execution or not execution["tests"]:
        return None
    tests = execution["tests"]
    visible = [t for t in tests if not t["hidden"]]
    return {
        "passed": sum(t["passed"] for t in tests),
        "total": len(tests),
        "visible_passed": sum(t["passed"] for t in visible),
        "visible_total": len(visible),
    }


def _execution_brief(execution: dict[str, Any] | None, hidden_inputs: bool = True) -> list[str]:
    """For the panel only: includes hidden tests and which edge cases fail.

    With ``hidden_inputs=False`` failing hidden cases are only counted: no name, arguments or
    expected value (the panel's probe is chosen from the names outside any prompt).
    """
    if execution is None:
        return []
    if execution["status"] in ("refused", "unsupported"):
        return [f"Not executed ({execution['message']})."]
    counts = _counts(execution)
    if execution["status"] != "ok" or counts is None:
        return [f"Execution {execution['status']}: {execution['message']}."]
    failing = [t for t in execution["tests"] if not t["passed"]]
    line = f"Tests: {counts['passed']}/{counts['total']} pass"
    if execution.get("hidden_status") not in (None, "ok"):
        line = f"Hidden run {execution['hidden_status']}. " + line
    hidden = counts["total"] - counts["visible_total"]
    if hidden:
        line += (
            f" ({counts['visible_passed']}/{counts['visible_total']} visible, "
            f"{counts['passed'] - counts['visible_passed']}/{hidden} hidden)"
        )
    parts = [line + "."]
    if failing:
        shown = "; ".join(
            f"{t['name']}: args {t['args']!r} → {t['error'] or repr(t['got'])}, "
            f"expected {t['expected']!r}"
            for t in failing[:3]
            if hidden_inputs or not t["hidden"]
        )
        if shown:
            parts.append(f"Failing: {shown}.")
    return parts


def _visible_results(execution: dict[str, Any] | None) -> dict[str, Any]:
    """What the candidate may see: visible tests only, never hidden ones."""
    if execution is None:
        return {"status": "parsed", "message": "Code saved.", "tests": []}
    if execution["status"] != "ok":
        return {
            "status": execution["status"],
            "message": execution["message"],
            "tests": [],
            "output": execution["output"][-1000:],
        }
    visible = [t for t in execution["tests"] if not t["hidden"]]
    tests = [
        {
            "name": t["name"],
            "args": t["args"],
            "expected": t["expected"],
            "got": t["got"],
            "error": t["error"],
            "passed": t["passed"],
        }
        for t in visible
    ]
    passed = sum(t["passed"] for t in visible)
    message = f"{passed}/{len(visible)} visible tests pass."
    if any(t["hidden"] for t in execution["tests"]):
        message += " Hidden tests were run for the panel."
    return {
        "status": "ok",
        "message": message,
        "tests": tests,
        "output": execution["output"][-1000:],
    }
