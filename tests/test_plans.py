"""Every shipped plan validates and passes the content audit; invalid plans fail precisely."""

from __future__ import annotations

from pathlib import Path

import pytest

from interview_graph.plans import PlanError, load_plan
from interview_graph.plans.audit import audit_plan
from interview_graph.plans.models import QuestionKind

from .conftest import PLANS, ROOT

FIXTURES = sorted((Path(__file__).parent / "fixtures" / "invalid").glob("*.yaml"))


def test_at_least_the_three_required_plans_ship() -> None:
    assert {"backend_engineer", "data_scientist", "frontend_engineer"} <= set(PLANS)


@pytest.mark.parametrize("plan_id", PLANS)
def test_shipped_plan_is_valid_and_fit_for_use(plan_id: str) -> None:
    plan = load_plan(ROOT / "rounds" / f"{plan_id}.yaml")
    assert audit_plan(plan) == []
    for round_ in plan.rounds:
        assert 2 <= len(round_.panel) <= 3, f"{round_.id}: 2–3 panelists"
        personalities = {tuple(p.traits) for p in round_.panel}
        assert len(personalities) == len(round_.panel), "panelists have distinct personalities"
        for topic in round_.topics:
            assert topic.follow_ups, f"{topic.id} has follow-ups"


def test_backend_plan_has_coding_design_and_behavioural_rounds() -> None:
    plan = load_plan(ROOT / "rounds" / "backend_engineer.yaml")
    assert [r.kind for r in plan.rounds] == [
        QuestionKind.CODING,
        QuestionKind.SYSTEM_DESIGN,
        QuestionKind.BEHAVIOURAL,
    ]


def test_some_panelist_sits_on_two_rounds_in_every_plan() -> None:
    for plan_id in PLANS:
        plan = load_plan(ROOT / "rounds" / f"{plan_id}.yaml")
        seats = [p.id for r in plan.rounds for p in r.panel]
        assert len(seats) > len(set(seats)), plan_id


@pytest.mark.parametrize("fixture", FIXTURES, ids=[f.stem for f in FIXTURES])
def test_invalid_plan_fails_naming_file_field_and_problem(fixture: Path) -> None:
    header = fixture.read_text().splitlines()[0]
    assert header.startswith("# expect: "), "each fixture states the error it must produce"
    expected = header.removeprefix("# expect: ")
    with pytest.raises(PlanError) as info:
        load_plan(fixture)
    message = str(info.value)
    assert str(fixture) in message
    assert expected in message, message


def test_missing_file_is_a_plan_error(tmp_path: Path) -> None:
    with pytest.raises(PlanError, match="cannot read file"):
        load_plan(tmp_path / "nope.yaml")


def test_plan_ids_resolve_in_the_configured_rounds_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A plan that exists only in INTERVIEW_ROUNDS_DIR starts by id (the runner and the
    graph's services resolve ids without naming a directory)."""
    from interview_graph.plans.loader import resolve_plan
    from interview_graph.settings import get_settings

    text = (ROOT / "rounds" / "backend_engineer.yaml").read_text()
    (tmp_path / "only_here.yaml").write_text(
        text.replace("id: backend_engineer", "id: only_here", 1)
    )
    monkeypatch.setenv("INTERVIEW_ROUNDS_DIR", str(tmp_path))
    get_settings.cache_clear()
    try:
        assert resolve_plan("only_here").id == "only_here"
        with pytest.raises(PlanError, match="only_here"):
            resolve_plan("backend_engineer")  # the shipped folder is not consulted
    finally:
        monkeypatch.delenv("INTERVIEW_ROUNDS_DIR")
        get_settings.cache_clear()
