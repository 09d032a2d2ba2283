"""Activity nodes: interpret_code → compare_to_question → brief_panel.

The candidate's code is untrusted data: it is parsed, never executed in this process.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from langgraph.runtime import Runtime

from ..context import services
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
    old_lines = previous.get("lines", 0)
    if old_lines and abs(facts.get("lines", 0) - old_lines) > max(8, old_lines // 2):
        progress["rewrites"] += 1
    if "unsupported" in facts:
        brief = facts["unsupported"]
        visible = {"status": "unsupported", "message": facts["unsupported"]}
    elif facts.get("syntax_error"):
        brief = f"Code does not parse ({facts['syntax_error']})."
        visible = {"status": "syntax_error", "message": facts["syntax_error"]}
    else:
        parts = [
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
        brief = " ".join(parts)
        visible = {
            "status": "parsed",
            "message": "Code received. Tests run in the sandbox when available.",
        }
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
        "tests": None,
        "integrity": fit.get("integrity", []),
        "brief": brief,
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
