"""LLM plan drafting on the stub server: grounded on catalogue topics, audited, repaired once."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from interview_graph.engine.base import get_brain
from interview_graph.llm.stub_server import StubConfig, StubServer
from interview_graph.plans.drafting import DraftError, assemble_plan, catalogue_for, draft_plan

from .conftest import ROOT
from .llm_util import llm_settings

ROUNDS = ROOT / "rounds"
JD = (Path(__file__).parent / "fixtures" / "jd" / "product_design.md").read_text()

pytestmark = pytest.mark.skipif(
    not (ROUNDS / "catalogue" / "product_design.yaml").exists(),
    reason="rounds/catalogue/product_design.yaml is not written yet",
)


@pytest.fixture
def llm(stub: StubServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[StubServer]:
    stub.configure(StubConfig(), reset_stats=True)
    with llm_settings(monkeypatch, stub.base_url, timeout="2", retries="0"):
        yield stub


def _grounding() -> dict[str, Any]:
    plan = assemble_plan(JD, catalogue_for(ROUNDS))
    data = json.loads(plan.model_dump_json())
    data.pop("drafting")
    return data


def _requests(llm: StubServer) -> list[str]:
    return [r.body["messages"][-1]["content"] for r in llm.stats().recent if r.role == "planner"]


async def test_the_planner_adapts_the_matching_catalogue_topics(llm: StubServer) -> None:
    rounds = _grounding()["rounds"]
    first = rounds[0]["topics"][0]
    first["question"] = "Walk us through a clinic-booking project where research changed your mind."
    # Rounds are adapted in parallel: the stub answers each with the round it was sent.
    llm.configure(StubConfig(scripts={"planner": [{"data": r} for r in rounds]}))
    plan = await draft_plan(JD, get_brain("llm"))
    questions = {t.question for r in plan.rounds for t in r.topics}
    assert first["question"] in questions
    # The notes are the retrieval's: what was recognised, what each kept topic covers.
    assert plan.drafting is not None and plan.drafting.engine == "llm"
    assert plan.drafting.family == "product_design" and plan.drafting.covered
    requests = _requests(llm)
    assert len(requests) == len(rounds), "one call per round, no repair needed"
    assert all("<candidate_data>" in u and "usability testing" in u for u in requests)
    # The material is a whole grounded round, sample answers and hints included.
    assert any(first["sample_answers"]["weak"][:60] in u and '"hints"' in u for u in requests)
    assert all("Role family: Product Design" in u for u in requests)


async def test_a_draft_failing_the_audit_is_repaired_once_then_refused(llm: StubServer) -> None:
    rounds = _grounding()["rounds"]
    bad = json.loads(json.dumps(rounds[0]))
    topic = bad["topics"][0]
    topic["sample_answers"]["weak"] = topic["sample_answers"]["strong"]  # out of its band
    # Every reply is the faulty round: each round fails, and so does its one repair.
    llm.configure(StubConfig(scripts={"planner": [{"data": bad}] * (2 * len(rounds))}))
    with pytest.raises(DraftError) as info:
        await draft_plan(JD, get_brain("llm"))
    assert info.value.code == "invalid_plan" and "content audit" in str(info.value)
    assert any("weak sample answer covers" in p for p in info.value.problems)
    requests = _requests(llm)
    assert len(requests) == 2 * len(rounds), "one draft and one repair per round"
    assert "none on the first request" in requests[0]
    assert any("weak sample answer covers" in u for u in requests[len(rounds) :])


async def test_an_invalid_drafted_round_is_a_clear_error(llm: StubServer) -> None:
    bad = {"id": "x", "title": "t", "kind": "behavioural", "description": "d", "panel": []}
    llm.configure(StubConfig(scripts={"planner": [{"data": bad}, {"text": "no idea"}] * 8}))
    with pytest.raises(DraftError) as info:
        await draft_plan(JD, get_brain("llm"))
    assert info.value.code == "invalid_plan" and "after one repair" in str(info.value)


async def test_a_description_no_family_fits_is_refused_before_any_call(llm: StubServer) -> None:
    with pytest.raises(DraftError) as info:
        await draft_plan("We want a rockstar ninja.", get_brain("llm"))
    assert info.value.code == "bad_job_description"
    assert llm.stats().by_role.get("planner", 0) == 0
