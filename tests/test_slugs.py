"""A drafted plan's loose ids are slugified, with the references to them, before validation."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from interview_graph.llm.calls import decide
from interview_graph.llm.stub_server import ScriptEntry, StubConfig, StubServer
from interview_graph.plans.loader import resolve_plan
from interview_graph.plans.models import Round
from interview_graph.plans.slugs import slugged, slugify

from .llm_util import llm_settings


def _loose_round() -> dict[str, Any]:
    """A shipped round whose ids a model wrote as titles, references and all."""
    data = resolve_plan("backend_engineer").rounds[0].model_dump(mode="json")
    data["id"] = "Coding Round 1"
    topic = data["topics"][0]
    old = topic["key_points"][0]["id"]
    new = "KP: " + old.replace("_", " ").title()
    topic["key_points"][0]["id"] = new
    for ref in [*topic["follow_ups"], *topic["hints"], *topic["misconceptions"]]:
        if ref.get("key_point") == old:
            ref["key_point"] = new
    lead = data["panel"][0]["id"]
    data["panel"][0]["id"] = f"{lead.title()} (Lead)"
    for other in data["topics"]:
        if other["panelist"] == lead:
            other["panelist"] = f"{lead.title()} (Lead)"
    return data


def test_slugify() -> None:
    assert slugify("Cache Design (LRU)") == "cache_design_lru"
    assert slugify("Q1: Caching — Ütility") == "q1_caching_utility"
    assert slugify("already-a_slug1") == "already-a_slug1"
    assert slugify("???") == "x"
    assert len(slugify("a" * 100)) == 64


def test_ids_and_references_are_slugified_together() -> None:
    data = _loose_round()
    with pytest.raises(ValueError, match="should match pattern"):
        Round.model_validate(data)
    got = slugged(Round).model_validate(data)
    assert isinstance(got, Round)
    assert got.id == "coding_round_1"
    kp = got.topics[0].key_points[0].id
    topic = got.topics[0]
    refs = {r.key_point for r in [*topic.follow_ups, *topic.hints, *topic.misconceptions]}
    first = resolve_plan("backend_engineer").rounds[0].topics[0].key_points[0].id
    assert kp == f"kp_{first}" and kp in refs
    assert got.panel[0].id.endswith("_lead")
    assert any(t.panelist == got.panel[0].id for t in got.topics)
    # Same name and schema: the request the model sees does not change.
    assert slugged(Round).__name__ == "Round"
    assert slugged(Round).model_json_schema() == Round.model_json_schema()
    assert slugged(Round) is slugged(Round)


@pytest.fixture
def llm(monkeypatch: pytest.MonkeyPatch) -> Iterator[StubServer]:
    with StubServer() as server, llm_settings(monkeypatch, server.base_url):
        yield server


async def test_a_draft_from_a_server_that_ignores_pattern_validates(llm: StubServer) -> None:
    llm.configure(StubConfig(scripts={"planner": [ScriptEntry(data=_loose_round())]}))
    got = await decide("planner", slugged(Round), "screen", _screen_values(), fallback=None)
    assert got.id == "coding_round_1"
    assert llm.stats().requests == 1  # no repair was needed


def _screen_values() -> dict[str, str]:
    from interview_graph.llm.prompts import load_prompt

    return {name: "x" for name in load_prompt("screen").placeholders}
