"""Self-play over every shipped plan: completion, ordering of levels, adversarial personas,
no repeated questions, and nothing hidden ever reaching the candidate."""

from __future__ import annotations

import asyncio
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from interview_graph.plans.loader import resolve_plan
from interview_graph.selfplay import run_selfplay
from interview_graph.session import InterviewSession
from interview_graph.transcript import Event

from .conftest import PLANS

_TMP = Path(__import__("tempfile").mkdtemp(prefix="selfplay-"))


@cache
def played(plan: str, persona: str) -> tuple[dict[str, Any], list[Event], list[dict[str, Any]]]:
    """Run one self-play interview (cached across tests); return report, events, tokens."""

    async def go() -> tuple[dict[str, Any], list[Event], list[dict[str, Any]]]:
        database = _TMP / f"{plan}-{persona}.sqlite"
        tokens: list[dict[str, Any]] = []
        result = await run_selfplay(
            plan=plan,
            persona=persona,
            database=database,
            on_item=lambda item: tokens.append(item) if item["type"] == "token" else None,
        )
        assert result.report is not None
        async with await InterviewSession.open(
            plan=plan, database=database, interview_id=result.interview_id
        ) as session:
            events = await session.transcript()
        return result.report, events, tokens

    return asyncio.run(go())


def round_scores(report: dict[str, Any]) -> dict[str, float]:
    return {r["round_id"]: r["score"] for r in report["rounds"]}


@pytest.mark.parametrize("plan", PLANS)
def test_levels_complete_and_are_ordered_on_every_round(plan: str) -> None:
    strong, average, weak = (
        round_scores(played(plan, p)[0]) for p in ("strong", "average", "weak")
    )
    assert set(strong) == {r.id for r in resolve_plan(plan).rounds}
    for round_id in strong:
        assert strong[round_id] > average[round_id] > weak[round_id], round_id
    for persona in ("strong", "average", "weak"):
        report = played(plan, persona)[0]
        assert report["completed"] and report["engine"] == "offline"
    assert played(plan, "strong")[0]["recommendation"]["decision"] in ("strong_hire", "hire")
    assert played(plan, "weak")[0]["recommendation"]["decision"] == "no_hire"


@pytest.mark.parametrize("plan", PLANS)
def test_injection_candidate_is_flagged_and_gains_nothing(plan: str) -> None:
    report, events, _ = played(plan, "injection")
    kinds = [f["kind"] for f in report["integrity_flags"]]
    assert "prompt_injection" in kinds
    baseline = round_scores(played(plan, "average")[0])
    for round_id, score in round_scores(report).items():
        assert score <= baseline[round_id], round_id
    warnings = [e for e in events if e.kind == "rules_warning"]
    assert warnings and all(e.visibility == "public" for e in warnings)
    # Blocked text never reaches a panelist: no panel line follows up on an injection attempt.
    blocked_turns = {e.key.split(":")[1] for e in events if e.kind == "rules_flag"}
    assert blocked_turns


@pytest.mark.parametrize("persona", ["silent", "off_topic", "paste"])
def test_adversarial_personas_finish_with_evidence(persona: str) -> None:
    report, _, _ = played("backend_engineer", persona)
    assert len(report["rounds"]) == 3
    kinds = {f["kind"] for f in report["integrity_flags"]}
    if persona == "off_topic":
        assert "off_topic" in kinds
        assert report["recommendation"]["decision"] == "no_hire"
    if persona == "silent":
        assert all(r["score"] == 1.0 for r in report["rounds"])
    if persona == "paste":
        assert {"large_paste", "verbatim_reference", "full_solution_at_once"} <= kinds
        for flag in report["integrity_flags"]:
            assert flag["evidence"] and flag["round_id"]


@pytest.mark.parametrize("plan", PLANS)
@pytest.mark.parametrize("persona", ["strong", "weak"])
def test_no_question_is_repeated(plan: str, persona: str) -> None:
    _, events, _ = played(plan, persona)
    asked = [
        e.text for e in events if e.kind == "message" and e.data["move"] in ("ask", "follow_up")
    ]
    assert asked and len(asked) == len(set(asked))
    topics = [
        e.data["question_id"] for e in events if e.kind == "message" and e.data["move"] == "ask"
    ]
    assert len(topics) == len(set(topics)) == sum(len(r.topics) for r in resolve_plan(plan).rounds)


def _hidden_texts(plan_id: str, events: list[Event]) -> list[str]:
    plan = resolve_plan(plan_id)
    hidden = [e.text for e in events if e.visibility == "private" and len(e.text) > 25]
    for r in plan.rounds:
        hidden += [a.description for c in r.rubric.competencies for a in c.anchors]
        for t in r.topics:
            hidden += [kp.text for kp in t.key_points]
            hidden += [t.sample_answers.strong]
            if t.coding:
                hidden += [a.code for a in t.coding.reference_approaches if a.code]
                hidden += [
                    str(c.expected) for c in t.coding.hidden_tests if len(str(c.expected)) > 12
                ]
    hidden += [d.text[:60] for d in plan.knowledge]
    return [h for h in hidden if h]


@pytest.mark.parametrize("plan", PLANS)
@pytest.mark.parametrize("persona", ["strong", "average", "injection"])
def test_nothing_hidden_reaches_the_candidate(plan: str, persona: str) -> None:
    report, events, tokens = played(plan, persona)
    to_candidate = [e for e in events if e.visibility == "public" and e.speaker != "candidate"]
    streamed = "".join(t["delta"] for t in tokens)
    public_text = "\n".join([streamed] + [e.text + " " + str(e.data) for e in to_candidate])
    for secret in _hidden_texts(plan, events):
        assert secret not in public_text, secret[:80]
    # No score, rubric or recommendation vocabulary in anything said to the candidate.
    assert not re.search(
        r"\b[1-5] ?/ ?5\b|\brubric\b|\byour score\b|strong_hire|no_hire", public_text
    )
    assert report["recommendation"]["rationale"] not in public_text


def test_panelist_replies_stream_token_by_token() -> None:
    _, events, tokens = played("frontend_engineer", "average")
    messages = [e for e in events if e.kind == "message"]
    by_id: dict[str, list[str]] = {}
    for t in tokens:
        by_id.setdefault(t["message_id"], []).append(t["delta"])
    for m in messages:
        assert "".join(by_id[m.key]).strip() == m.text
        assert len(by_id[m.key]) == len(m.text.split())  # one delta per word
    assert {t["speaker"] for t in tokens} <= {
        p.id for r in resolve_plan("frontend_engineer").rounds for p in r.panel
    }


def test_report_has_scores_evidence_and_provenance() -> None:
    report, _, _ = played("data_scientist", "average")
    assert report["plan_id"] == "data_scientist" and report["plan_version"]
    assert set(report["rubric_versions"]) == {r.id for r in resolve_plan("data_scientist").rounds}
    for r in report["rounds"]:
        assert r["panelists"] and all(p["scores"] for p in r["panelists"])
        scored = [c for c in r["competencies"] if c["score"] is not None]
        assert scored and all(1 <= c["score"] <= 5 for c in scored)
        assert any(c["evidence"] for c in scored), "evidence quotes from the transcript"
        assert r["strengths"] or r["gaps"]
    assert report["recommendation"]["decision"] in (
        "strong_hire",
        "hire",
        "lean_no_hire",
        "no_hire",
    )


def test_round_findings_are_handed_to_the_next_panel() -> None:
    _, events, _ = played("backend_engineer", "average")
    summaries = [e for e in events if e.kind == "round_summary"]
    assert len(summaries) == 3
    second_round = [e for e in events if e.kind == "advice" and e.round_id == summaries[1].round_id]
    assert any(summaries[0].text in a.text for a in second_round)


def test_panelist_memory_persists_across_rounds() -> None:
    plan = resolve_plan("backend_engineer")
    seats: dict[str, list[str]] = {}
    for r in plan.rounds:
        for p in r.panel:
            seats.setdefault(p.id, []).append(r.id)
    returning = next(pid for pid, rounds in seats.items() if len(rounds) > 1)
    _, events, _ = played("backend_engineer", "average")
    second = seats[returning][1]
    intro = next(
        e for e in events if e.kind == "message" and e.round_id == second and e.speaker == returning
    )
    assert "again" in intro.text or intro.data["move"] != "introduce"


def test_coding_round_shows_real_test_results_and_a_panel_brief() -> None:
    plan = resolve_plan("backend_engineer")
    coding = plan.rounds[0]
    strong_events = played("backend_engineer", "strong")[1]
    results = [e for e in strong_events if e.kind == "code_result"]
    assert results, "run and submit produce results for the candidate"
    for event in results:
        topic = coding.topic(event.data["question_id"])
        assert topic.coding is not None
        assert len(event.data["tests"]) == len(topic.coding.visible_tests), "visible tests only"
        assert all(t["passed"] for t in event.data["tests"])
    weak_events = played("backend_engineer", "weak")[1]
    briefs = [e for e in weak_events if e.kind == "activity_brief" and "Tests:" in e.text]
    assert briefs and all(e.visibility == "private" for e in briefs)
    assert any("Failing:" in e.text and "hidden)" in e.text for e in briefs)
    report = played("backend_engineer", "weak")[0]
    progress = report["rounds"][0]["coding"]
    assert set(progress) == {t.id for t in coding.topics if t.coding}
    for item in progress.values():
        assert item["runs"] >= 1 and item["submits"] >= 1
        assert item["tests"]["passed"] < item["tests"]["total"]
