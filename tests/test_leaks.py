"""The leak walk: nothing private in any shipped plan reaches anything the candidate receives.

Every string leaf of every frame the candidate would get (built by the WebSocket's own
``to_wire`` from a whole self-play interview's event log) and of the feedback in both modes
is checked against every private string of every shipped plan: key-point texts, rubric
anchors, misconception texts, hidden tests (names, inputs, expected values), reference
solutions, knowledge notes, and the rules patterns.  A private string that the plan also
says in public (a question, a hint, a probe…) is not private and is left out.

The candidate's own inputs (``candidate_input`` frames) are not walked: in self-play they are
the plan's sample answers, and what a candidate says is theirs to see.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from interview_graph.api.runner import to_wire
from interview_graph.engine import offline
from interview_graph.feedback import feedback_from
from interview_graph.plans.loader import resolve_plan
from interview_graph.plans.models import InterviewPlan
from interview_graph.selfplay import run_selfplay
from interview_graph.session import InterviewSession

from .conftest import PLANS

MIN_CHARS = 12  # shorter strings ("tie", "[1, 2]") occur in ordinary speech by chance


def _public_material(plan: InterviewPlan) -> str:
    said: list[str] = [plan.closing, *(f.answer for f in plan.faq)]
    for r in plan.rounds:
        said += [r.title, r.opening or "", *(f.answer for f in r.faq)]
        for p in r.panel:
            said += [p.intro or "", *p.acknowledgements, *p.probes, *p.transitions]
        for t in r.topics:
            said += [t.question, *t.rephrasings, *(h.text for h in t.hints)]
            said += [c.answer for c in t.clarifications]
            said += [m.probe for m in t.misconceptions]
            said += [f.question for f in t.follow_ups]
            if t.coding is not None:
                said.append(t.coding.signature)
                said += [json.dumps(v.args) for v in t.coding.visible_tests]
    return "\n".join(said).lower()


def private_strings(plan: InterviewPlan) -> set[str]:
    """What the candidate must never receive, from one plan."""
    secret: list[str] = []
    for r in plan.rounds:
        secret += [a.description for c in r.rubric.competencies for a in c.anchors]
        for t in r.topics:
            secret += [kp.text for kp in t.key_points]
            secret += [m.text for m in t.misconceptions]
            if t.coding is not None:
                for h in t.coding.hidden_tests:
                    secret += [h.name, json.dumps(h.args), repr(h.args)]
                for approach in t.coding.reference_approaches:
                    secret += [line.strip() for line in approach.code.splitlines()]
    for doc in plan.knowledge:
        secret += [s.strip() for s in doc.text.split(". ")]
    public = _public_material(plan)
    return {s.lower() for s in secret if len(s.strip()) >= MIN_CHARS and s.lower() not in public}


_PATTERNS = (offline._INJECTION, offline._ANSWER_REQUEST, offline._ABUSE)
RULES = {p for patterns in _PATTERNS for p in patterns}
SECRETS = {plan: private_strings(resolve_plan(plan)) for plan in PLANS}
EVERY_SECRET = set().union(*SECRETS.values()) | {r.lower() for r in RULES}


def leaves(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Every string in a JSON-like value, with where it sits."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from leaves(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from leaves(v, f"{path}[{i}]")


def leaked(value: Any) -> list[str]:
    """Private strings found in ``value``'s string leaves (as 'path: secret')."""
    found = []
    for path, text in leaves(value):
        low = text.lower()
        found += [f"{path}: {s[:80]!r}" for s in EVERY_SECRET if s in low]
    return found


def test_the_walk_has_something_to_look_for_and_finds_it() -> None:
    for plan, secrets in SECRETS.items():
        assert len(secrets) > 50, plan
    key_point = resolve_plan("backend_engineer").rounds[0].topics[0].key_points[0].text
    assert leaked({"message": {"text": f"The answer: {key_point}"}})
    assert leaked([{"x": offline._INJECTION[0]}])


@pytest.mark.parametrize("plan", PLANS)
@pytest.mark.parametrize("persona", ["strong", "weak", "injection", "paste"])
async def test_no_frame_the_candidate_receives_holds_anything_private(
    plan: str, persona: str, tmp_path: Path
) -> None:
    database = tmp_path / "leak.sqlite"
    result = await run_selfplay(plan=plan, persona=persona, database=database)
    assert result.report is not None
    async with await InterviewSession.open(
        plan=plan, database=database, interview_id=result.interview_id
    ) as session:
        events = await session.log.events(result.interview_id)
    frames = [f for e in events if (f := to_wire(e)) is not None]
    walked = [f for f in frames if f["type"] != "candidate_input"]
    assert any(f["type"] == "feedback" for f in walked), "the feedback is among the frames"
    assert not any(f["type"] == "report" for f in frames), "the report is never sent"
    assert leaked(walked) == []
    plan_model = resolve_plan(plan)
    for mode in ("practice", "assessment"):
        feedback = feedback_from(result.report, plan_model, mode, hints_used=2).model_dump()
        assert leaked(feedback) == [], mode


async def test_assessment_feedback_is_a_thank_you_and_nothing_else(tmp_path: Path) -> None:
    result = await run_selfplay(
        plan="backend_engineer", persona="average", database=tmp_path / "a.sqlite"
    )
    assert result.report is not None
    feedback = feedback_from(result.report, resolve_plan("backend_engineer"), "assessment")
    assert feedback.rounds == [] and feedback.hints_used == 0
    assert feedback.next_steps == resolve_plan("backend_engineer").closing
    practice = feedback_from(result.report, resolve_plan("backend_engineer"), "practice")
    assert practice.rounds and all(r.score is None for r in practice.rounds), "no raw scores"
    assert all(c.score is None for r in practice.rounds for c in r.competencies)
