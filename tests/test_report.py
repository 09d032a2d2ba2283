"""Reports that hold up: evidence per competency, one rule for "not assessed", stated averages,
disagreements surfaced, hints and misconceptions visible, gaps that do not contradict coverage."""

from __future__ import annotations

import re
from pathlib import Path
from statistics import mean
from typing import Any

import pytest

from interview_graph.engine.decisions import Evaluation, RoundSummary
from interview_graph.plans.loader import resolve_plan
from interview_graph.report import DISAGREEMENT, merge_round
from interview_graph.selfplay import run_selfplay
from interview_graph.session import InterviewSession

from .conftest import PLANS


async def _interview(plan: str, persona: str, tmp: Path) -> tuple[dict[str, Any], list[Any]]:
    database = tmp / "r.sqlite"
    result = await run_selfplay(plan=plan, persona=persona, database=database, seed=5)
    assert result.report is not None
    async with await InterviewSession.open(
        plan=plan, database=database, interview_id=result.interview_id
    ) as session:
        events = await session.log.events(result.interview_id)
    return result.report, events


@pytest.mark.parametrize("plan", PLANS)
@pytest.mark.parametrize("persona", ["strong", "average", "weak"])
async def test_every_score_has_evidence_and_averages_follow_the_rule(
    plan: str, persona: str, tmp_path: Path
) -> None:
    report, events = await _interview(plan, persona, tmp_path)
    labels = {
        kp.label or kp.id.replace("_", " "): kp.id
        for r in resolve_plan(plan).rounds
        for t in r.topics
        for kp in t.key_points
    }
    covered_ids = {k for e in events if e.kind == "topic_completed" for k in e.data["covered"]}
    for r in report["rounds"]:
        assessed = [c for c in r["competencies"] if c["score"] is not None]
        for c in r["competencies"]:
            if c["score"] is None:
                assert c["evidence"] == [], f"{c['id']}: not assessed means no evidence"
            else:
                assert c["evidence"], f"{r['round_id']}/{c['id']}: a score needs evidence"
        weight = sum(c["weight"] for c in assessed)
        expected = (
            round(sum(c["score"] * c["weight"] for c in assessed) / weight, 2) if assessed else None
        )
        assert r["score"] == expected, "the round score is the evidence-weighted mean"
        if expected is not None:
            stated = re.search(r"Round score (\d\.\d+)/5", r["summary"])
            assert stated and float(stated.group(1)) == expected, r["summary"]
        for gap in r["gaps"]:
            if gap.startswith("Missed: "):
                kp = labels.get(gap.removeprefix("Missed: "))
                assert kp is None or kp not in covered_ids, f"gap {gap!r} contradicts coverage"
    scores = [r["score"] for r in report["rounds"] if r["score"] is not None]
    assert report["overall"] == (round(mean(scores), 2) if scores else None)


async def test_weak_candidates_report_shows_the_hints_and_misconceptions_with_quotes(
    tmp_path: Path,
) -> None:
    report, events = await _interview("backend_engineer", "weak", tmp_path)
    hints = [h for r in report["rounds"] for h in r["hints"]]
    wrong = [m for r in report["rounds"] for m in r["misconceptions"]]
    assert hints and all(h["hint"] for h in hints)
    said = " ".join(e.text for e in events if e.kind == "candidate_message")
    for m in wrong:
        assert m["said"] and m["said"] in said, "the quote is the candidate's own words"


class _Summary:
    name = "stub"

    async def summarise_round(self, round_: Any, evaluations: Any, scores: Any) -> RoundSummary:
        return RoundSummary(round_id=round_.id, text="Summary.")


class _Svc:
    brain = _Summary()


async def test_panelists_far_apart_are_flagged_with_their_evidence_and_weighed() -> None:
    round_ = resolve_plan("backend_engineer").rounds[0]
    comp = round_.rubric.competencies[0].id
    a, b = round_.panel[0].id, round_.panel[1].id
    evaluations = [
        Evaluation(
            panelist_id=a,
            topic_id=round_.topics[0].id,
            scores={comp: 5},
            evidence_by={comp: ["quote one", "quote two", "quote three"]},
        ).model_dump(),
        Evaluation(
            panelist_id=b,
            topic_id=round_.topics[1].id,
            scores={comp: 2},
            evidence_by={comp: ["Not covered: something"]},
        ).model_dump(),
    ]
    result = await merge_round(_Svc(), round_, evaluations)  # type: ignore[arg-type]
    [merged] = [c for c in result["competencies"] if c["id"] == comp]
    assert merged["score"] == round((5 * 3 + 2 * 1) / 4, 2), "evidence-weighted, not a mean"
    assert merged["spread"] == 3.0 > DISAGREEMENT
    [flag] = result["disagreements"]
    assert flag["competency"] == comp
    assert [p["score"] for p in flag["panelists"]] == [2.0, 5.0]
    assert flag["panelists"][1]["evidence"] == ["quote one", "quote two", "quote three"]
    others = [c for c in result["competencies"] if c["id"] != comp]
    assert all(c["score"] is None and c["evidence"] == [] for c in others), "not assessed"
    assert result["score"] == merged["score"], "only assessed competencies are averaged"
