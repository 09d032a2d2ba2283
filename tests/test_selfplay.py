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
from interview_graph.store import Event

from .conftest import PLANS

_TMP = Path(__import__("tempfile").mkdtemp(prefix="selfplay-"))


@cache
def played(
    plan: str, persona: str, seed: int | None = None
) -> tuple[dict[str, Any], list[Event], list[dict[str, Any]]]:
    """Run one self-play interview (cached across tests); return report, events, tokens."""

    async def go() -> tuple[dict[str, Any], list[Event], list[dict[str, Any]]]:
        database = _TMP / f"{plan}-{persona}-{seed}.sqlite"
        tokens: list[dict[str, Any]] = []
        result = await run_selfplay(
            plan=plan,
            persona=persona,
            database=database,
            seed=seed,
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


@pytest.mark.parametrize("seed", [None, 7])
@pytest.mark.parametrize("plan", PLANS)
def test_levels_complete_and_are_ordered_on_every_round(plan: str, seed: int | None) -> None:
    strong, average, weak = (
        round_scores(played(plan, p, seed)[0]) for p in ("strong", "average", "weak")
    )
    assert set(strong) == {r.id for r in resolve_plan(plan).rounds}
    for round_id in strong:
        assert strong[round_id] > average[round_id] > weak[round_id], round_id
    for persona in ("strong", "average", "weak"):
        report = played(plan, persona, seed)[0]
        assert report["completed"] and report["engine"] == "offline"
    assert played(plan, "strong", seed)[0]["recommendation"]["decision"] in (
        "strong_hire",
        "hire",
    )
    assert played(plan, "weak", seed)[0]["recommendation"]["decision"] == "no_hire"


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


@pytest.mark.parametrize("persona", ["silent", "off_topic", "paste", "adversarial"])
def test_adversarial_personas_finish_with_evidence(persona: str) -> None:
    report, _, _ = played("backend_engineer", persona)
    assert len(report["rounds"]) == 3
    kinds = {f["kind"] for f in report["integrity_flags"]}
    if persona == "off_topic":
        # Small talk is the panel's to handle (a redirect, then the topic is parked), and
        # the understanding of every such message is on record.
        events = played("backend_engineer", persona)[1]
        understood = [e.text for e in events if e.kind == "understanding"]
        assert understood and set(understood) == {"small_talk"}
        assert any(e.kind == "message" and e.data["move"] == "redirect" for e in events)
        assert report["recommendation"]["decision"] == "no_hire"
    if persona == "silent":
        assert all(r["score"] == 1.0 for r in report["rounds"])
    if persona == "adversarial":
        # One attempt per question (small talk, injection or asking for the answer), then weak.
        events = played("backend_engineer", persona)[1]
        understood = {e.text for e in events if e.kind == "understanding"}
        assert kinds & {"prompt_injection", "answer_request"} or "small_talk" in understood
        assert report["recommendation"]["decision"] == "no_hire"
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


# --- a candidate that behaves like candidates ------------------------------------------------


def _by_topic(events: list[Event]) -> dict[str, list[Event]]:
    """The public conversation (panel lines, candidate messages and code) per question."""
    out: dict[str, list[Event]] = {}
    current = None
    for e in events:
        if e.kind == "message" and e.data.get("question_id"):
            current = e.data["question_id"]
        if current and e.kind in ("message", "candidate_message", "candidate_code"):
            out.setdefault(current, []).append(e)
    return out


def _moves(events: list[Event], move: str) -> list[Event]:
    return [e for e in events if e.kind == "message" and e.data.get("move") == move]


@pytest.mark.parametrize("plan", PLANS)
def test_average_candidates_get_follow_ups_and_strong_ones_are_drawn_out(plan: str) -> None:
    topics = sum(len(r.topics) for r in resolve_plan(plan).rounds)
    average = played(plan, "average")[1]
    assert len(_moves(average, "follow_up")) >= topics, "≥ 1 follow-up per topic on average"
    strong = played(plan, "strong")[1]
    # The strong first answer leaves a point or two out, so the panel follows up …
    asked = {
        e.data["question_id"] for e in _moves(strong, "follow_up") + _moves(strong, "discuss_code")
    }
    assert len(asked) >= topics // 2
    # … and the strong candidate then makes the missing points.
    completed = [e for e in strong if e.kind == "topic_completed"]
    covered = sum(len(e.data["covered"]) for e in completed)
    total = sum(len(t.key_points) for r in resolve_plan(plan).rounds for t in r.topics)
    assert covered >= 0.85 * total


@pytest.mark.parametrize("plan", PLANS)
def test_weak_candidate_asks_for_hints_and_the_report_records_them(plan: str) -> None:
    report, events, _ = played(plan, "weak")
    hinted = [e for e in events if e.kind == "topic_completed" and e.data["hints"]]
    assert hinted, "some topics were answered with help"
    rationales = [r for rd in report["rounds"] for p in rd["panelists"] for r in p["rationale"]]
    assert any("hint(s) used" in r for r in rationales)
    assert _moves(events, "hint") or _moves(events, "encourage")
    # It also asks clarifying questions (answered from the plan) and voices misconceptions.
    assert any(e.data["misconceptions"] for e in events if e.kind == "topic_completed")


def test_weak_and_average_ask_clarifying_questions_somewhere() -> None:
    clarified = [
        e
        for plan in PLANS
        for persona in ("average", "weak")
        for e in _moves(played(plan, persona)[1], "clarify")
    ]
    assert clarified and all(e.text for e in clarified)


@pytest.mark.parametrize("plan", PLANS)
@pytest.mark.parametrize("persona", ["strong", "average", "weak"])
def test_no_candidate_line_is_said_twice(plan: str, persona: str) -> None:
    _, events, _ = played(plan, persona)
    said = [e.text for e in events if e.kind == "candidate_message"]
    assert said and len(said) == len(set(said))


@pytest.mark.parametrize("persona", ["strong", "average", "weak"])
def test_coding_questions_are_talked_through_then_coded_then_discussed(persona: str) -> None:
    plan = resolve_plan("backend_engineer")
    coding = [t.id for r in plan.rounds for t in r.topics if t.coding is not None]
    conversation = _by_topic(played("backend_engineer", persona)[1])
    for topic_id in coding:
        turns = conversation[topic_id]
        first = next(e for e in turns if e.speaker == "candidate")
        assert first.kind == "candidate_message" and first.text, "the approach comes first"
        code_at = next(i for i, e in enumerate(turns) if e.kind == "candidate_code")
        panel_before = [e for e in turns[:code_at] if e.kind == "message"]
        assert panel_before[-1].data["move"] == "invite_code", "code when invited"
        after = turns[code_at:]
        submit = next(
            i
            for i, e in enumerate(after)
            if e.kind == "candidate_code" and e.data["action"] == "submit"
        )
        assert after[submit + 1].data["move"] == "discuss_code"
        assert after[submit + 2].kind == "candidate_message", "then the discussion"


def _public(events: list[Event]) -> list[tuple[str, str | None, str]]:
    return [(e.kind, e.speaker, e.text) for e in events if e.visibility == "public"]


def test_the_same_seed_replays_the_interview_and_another_seed_changes_it() -> None:
    one = _public(played("backend_engineer", "average", 3)[1])
    again = asyncio.run(_fresh_run("backend_engineer", "average", 3))
    other = _public(played("backend_engineer", "average", 4)[1])
    assert one == again
    assert one != other
    said = [t for k, _, t in one if k == "candidate_message"]
    said_other = [t for k, _, t in other if k == "candidate_message"]
    assert said != said_other, "the candidate plays differently"
    panel = [t for k, s, t in one if k == "message"]
    panel_other = [t for k, s, t in other if k == "message"]
    assert panel[:3] != panel_other[:3], "the panel words it differently"


async def _fresh_run(plan: str, persona: str, seed: int) -> list[tuple[str, str | None, str]]:
    database = _TMP / f"fresh-{plan}-{persona}-{seed}.sqlite"
    result = await run_selfplay(plan=plan, persona=persona, database=database, seed=seed)
    async with await InterviewSession.open(
        plan=plan, database=database, interview_id=result.interview_id
    ) as session:
        return _public(await session.transcript())


async def test_a_stopped_seeded_run_resumes_identically(tmp_path: Path) -> None:
    whole = await run_selfplay(
        plan="data_scientist", persona="weak", database=tmp_path / "a.sqlite", seed=5
    )
    first = await run_selfplay(
        plan="data_scientist", persona="weak", database=tmp_path / "b.sqlite", seed=5, stop_after=12
    )
    assert first.report is None
    rest = await run_selfplay(  # no seed: the interview keeps the one it started with
        plan="data_scientist",
        persona="weak",
        database=tmp_path / "b.sqlite",
        interview_id=first.interview_id,
    )
    assert first.inputs + rest.inputs == whole.inputs
    assert rest.report is not None and whole.report is not None
    assert round_scores(rest.report) == round_scores(whole.report)
    transcripts = []
    for db, result in (("a.sqlite", whole), ("b.sqlite", rest)):
        async with await InterviewSession.open(
            plan="data_scientist", database=tmp_path / db, interview_id=result.interview_id
        ) as session:
            transcripts.append(_public(await session.transcript()))
    assert transcripts[0] == transcripts[1]
