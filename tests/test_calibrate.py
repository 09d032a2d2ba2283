"""Calibration: the engines' scores against the plans' labelled sample answers.

The offline test is a regression guard: a coverage or scoring change that makes a weak
sample answer outscore an average one (or drops within-one agreement below 0.9) fails it.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest

from interview_graph.calibrate import (
    AVERAGE_MAX,
    LEVELS,
    TARGET_WITHIN_ONE,
    WEAK_MAX,
    Sample,
    average_ranks,
    calibrate,
    level_of,
    spearman,
    summarise,
)
from interview_graph.llm.stub_server import StubServer
from interview_graph.plans.loader import resolve_plan

from .conftest import PLANS, ROOT
from .llm_util import llm_settings
from .test_cli import run

SANDBOX = shutil.which("bwrap") is not None


def _topics(plans: list[str]) -> int:
    return sum(len(r.topics) for p in plans for r in resolve_plan(p).rounds)


async def test_offline_engine_meets_its_targets_on_the_shipped_plans() -> None:
    result = await calibrate(PLANS, "offline")
    assert len(result.samples) == 3 * _topics(PLANS)
    assert {s.level for s in result.samples} == set(LEVELS)
    inverted = [
        f"{i.plan}/{i.topic}: {i.lower} {i.lower_score} > {i.higher} {i.higher_score}"
        for i in result.inversions
    ]
    assert not inverted, inverted
    assert result.within_one >= TARGET_WITHIN_ONE, [
        (s.plan, s.topic, s.level, s.score) for s in result.samples if s.predicted != s.level
    ]
    assert result.meets_targets
    assert result.spearman > 0.8
    # Every weak answer sits strictly below its topic's average one, and that below the strong.
    by_topic: dict[str, dict[str, float]] = {}
    for s in result.samples:
        by_topic.setdefault(f"{s.plan}/{s.topic}", {})[s.level] = s.score
    assert all(t["weak"] <= t["average"] <= t["strong"] for t in by_topic.values())
    if SANDBOX:
        # Coding topics were scored with their tests run in the sandbox: the strong solution
        # passes all of them, the weak one does not.
        coding = [s for s in result.samples if s.kind == "coding"]
        assert coding and all(s.tests and not s.execution for s in coding)
        assert all(
            s.tests and s.tests["passed"] == s.tests["total"] for s in coding if s.level == "strong"
        )
        assert all(
            s.tests and s.tests["passed"] < s.tests["total"] for s in coding if s.level == "weak"
        )


async def test_every_panelist_can_evaluate() -> None:
    result = await calibrate(["backend_engineer"], "offline", panel="all")
    plan = resolve_plan("backend_engineer")
    sizes = {t.id: len(r.panel) for r in plan.rounds for t in r.topics}
    assert all(len(s.scores) == sizes[s.topic] for s in result.samples)
    assert result.panel == "all" and not result.inversions


def test_spearman_known_values() -> None:
    # scipy.stats.spearmanr([1, 2, 3, 4, 5], [5, 6, 7, 8, 7]).statistic == 0.8207826816681233
    assert spearman([1, 2, 3, 4, 5], [5, 6, 7, 8, 7]) == pytest.approx(0.8207826816681233)
    assert spearman([1, 2, 3], [10, 20, 30]) == pytest.approx(1.0)
    assert spearman([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    # Ties on both sides, as with three labels (computed by hand):
    # ranks x = [1.5, 1.5, 3.5, 3.5, 5.5, 5.5], ranks y = [1, 2.5, 2.5, 4, 5, 6].
    assert spearman([1, 1, 2, 2, 3, 3], [1, 2, 2, 3, 4, 5]) == pytest.approx(
        15.0 / math.sqrt(16.0 * 17.0)
    )
    assert math.isnan(spearman([1, 2, 3], [4, 4, 4]))
    assert average_ranks([10, 20, 20, 30]) == [1, 2.5, 2.5, 4]
    with pytest.raises(ValueError):
        spearman([1, 2], [1])


def test_levels_from_fixed_thresholds() -> None:
    assert (WEAK_MAX, AVERAGE_MAX) == (2.0, 3.5)
    assert [level_of(x) for x in (1.0, 2.0, 2.01, 3.5, 3.51, 5.0)] == [
        "weak",
        "weak",
        "average",
        "average",
        "strong",
        "strong",
    ]


def _sample(topic: str, level: str, score: float) -> Sample:
    return Sample("p", "r", topic, "conceptual", level, score, level_of(score), {}, [], 4)


def test_summary_counts_inversions_confusion_and_agreement() -> None:
    samples = [
        _sample("a", "weak", 1.0),
        _sample("a", "average", 3.0),
        _sample("a", "strong", 5.0),
        _sample("b", "weak", 2.5),
        _sample("b", "average", 2.0),
        _sample("b", "strong", 2.0),
    ]
    result = summarise("offline", "owner", samples)
    assert [(i.topic, i.lower, i.higher) for i in result.inversions] == [
        ("b", "weak", "average"),
        ("b", "weak", "strong"),
    ]
    assert result.ties == [
        {"plan": "p", "round": "r", "topic": "b", "levels": ["average", "strong"]}
    ]
    assert result.confusion["weak"] == {"weak": 1, "average": 1, "strong": 0}
    assert result.confusion["strong"] == {"weak": 1, "average": 0, "strong": 1}
    assert result.exact == pytest.approx(3 / 6)
    assert result.within_one == pytest.approx(5 / 6)  # strong predicted weak is two off
    assert not result.meets_targets


def test_cli_prints_the_figures_and_writes_json(tmp_path: Path) -> None:
    out = tmp_path / "calibration.json"
    proc = run("calibrate", "--plan", "backend_engineer", "--json", str(out), "--check")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for text in (
        "Calibration — engine: offline",
        "Spearman ρ",
        "within-one agreement",
        "Confusion",
        "label \\ predicted",
        "inversions",
        "Targets",
    ):
        assert text in proc.stdout, proc.stdout
    data = json.loads(out.read_text())
    figures = data["engines"]["offline"]
    assert figures["n"] == 3 * _topics(["backend_engineer"])
    assert figures["meets_targets"] and figures["inversions"] == []
    assert f"{figures['within_one']:.2f}" in proc.stdout
    assert data["thresholds"] == {"weak_max": WEAK_MAX, "average_max": AVERAGE_MAX}
    assert sum(sum(row.values()) for row in figures["confusion"].values()) == figures["n"]


def test_cli_llm_without_an_endpoint_says_what_it_needs() -> None:
    proc = run("calibrate", "--engine", "llm", "--plan", "backend_engineer")
    assert proc.returncode == 2
    assert "INTERVIEW_LLM_BASE_URL" in proc.stdout


async def test_llm_engine_runs_against_the_stub_server(monkeypatch: pytest.MonkeyPatch) -> None:
    # The stub's scores mean nothing; this exercises the path: one evaluator call per answer.
    with StubServer() as stub, llm_settings(monkeypatch, stub.base_url):
        result = await calibrate(["backend_engineer"], "llm")
        stats = stub.stats()
    n = 3 * _topics(["backend_engineer"])
    assert result.engine == "llm" and len(result.samples) == n
    assert stats.by_role.get("evaluator") == n and result.fallbacks == 0
    assert all(1 <= v <= 5 for s in result.samples for sc in s.scores.values() for v in sc.values())
    assert sum(sum(row.values()) for row in result.confusion.values()) == n


def test_cli_llm_engine_against_the_stub_server(tmp_path: Path) -> None:
    out = tmp_path / "llm.json"
    with StubServer() as stub:
        proc = run(
            "calibrate",
            "--engine",
            "offline",
            "--engine",
            "llm",
            "--plan",
            str(ROOT / "rounds" / "backend_engineer.yaml"),
            "--json",
            str(out),
            env={
                "INTERVIEW_LLM_BASE_URL": stub.base_url,
                "INTERVIEW_LLM_API_KEY": "sk-test-not-a-real-key",
            },
        )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "engine: offline" in proc.stdout and "engine: llm" in proc.stdout
    assert "fell back to offline" in proc.stdout
    assert set(json.loads(out.read_text())["engines"]) == {"offline", "llm"}
