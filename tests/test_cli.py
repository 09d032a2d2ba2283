"""The `interview-sim` command as a user runs it (a real subprocess)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from .conftest import ROOT

FIXTURE = Path(__file__).parent / "fixtures" / "invalid" / "follow_up_names_missing_key_point.yaml"


def run(
    *args: str, cwd: Path = ROOT, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "interview_graph.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
    )


def test_validate_shipped_plans_and_a_broken_one() -> None:
    ok = run("validate", "--audit")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.count(": ok") == 3
    bad = run("validate", str(FIXTURE))
    assert bad.returncode == 1
    assert str(FIXTURE) in bad.stdout and "follow_ups[0].key_point 'nokp'" in bad.stdout


def test_simulate_stop_and_resume_writes_the_report(tmp_path: Path) -> None:
    env = {"INTERVIEW_DATA_DIR": str(tmp_path)}
    first = run(
        "simulate",
        "--plan",
        "rounds/backend_engineer.yaml",
        "--candidate",
        "strong",
        "--stop-after",
        "6",
        env=env,
    )
    assert first.returncode == 0, first.stderr
    assert "engine: offline" in first.stdout and "Round 1/3" in first.stdout
    interview = re.search(r"--resume (\w+)", first.stdout)
    assert interview, first.stdout
    out = tmp_path / "report.json"
    second = run(
        "simulate",
        "--plan",
        "rounds/backend_engineer.yaml",
        "--candidate",
        "strong",
        "--resume",
        interview.group(1),
        "--out",
        str(out),
        env=env,
    )
    assert second.returncode == 0, second.stderr
    assert "Round 3/3" in second.stdout and "Round 1/3" not in second.stdout
    report = json.loads(out.read_text())
    assert report["engine"] == "offline" and report["completed"]
    assert report["recommendation"]["decision"] in ("strong_hire", "hire")


def test_simulate_with_a_seed_replays_and_the_llm_candidate_plays_only_its_personas(
    tmp_path: Path,
) -> None:
    env = {"INTERVIEW_DATA_DIR": str(tmp_path)}
    reports = []
    for name in ("a", "b"):
        out = tmp_path / f"{name}.json"
        args = ["--plan", "data_scientist", "--candidate", "average", "--seed", "3"]
        done = run("simulate", *args, "--quiet", "--out", str(out), env=env)
        assert done.returncode == 0, done.stdout + done.stderr
        reports.append(json.loads(out.read_text()))
    assert [r["score"] for r in reports[0]["rounds"]] == [r["score"] for r in reports[1]["rounds"]]
    wrong = run("simulate", "--candidate", "paste", "--candidate-engine", "llm", "--quiet", env=env)
    assert wrong.returncode == 2 and "the llm candidate plays" in wrong.stdout


def test_unknown_plan_and_engine_are_clear_errors(tmp_path: Path) -> None:
    env = {"INTERVIEW_DATA_DIR": str(tmp_path)}
    missing = run("simulate", "--plan", "astronaut", env=env)
    assert (
        missing.returncode == 2
        and "no such plan" in missing.stdout
        and "backend_engineer" in missing.stdout
    )
    engine = run("simulate", "--plan", "backend_engineer", "--engine", "psychic", env=env)
    assert engine.returncode == 2 and "unknown engine 'psychic'" in engine.stdout
