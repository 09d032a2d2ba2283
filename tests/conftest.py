"""Shared fixtures: isolated data directories and fast access to the shipped plans."""

from __future__ import annotations

from pathlib import Path

import pytest

from interview_graph.plans.loader import plan_files

ROOT = Path(__file__).resolve().parents[1]
PLANS = [p.stem for p in plan_files(ROOT / "rounds")]


@pytest.fixture(autouse=True)
def _isolated_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Nothing a test does may touch the developer's data/ directory.
    monkeypatch.setenv("INTERVIEW_DATA_DIR", str(tmp_path / "data"))
    # A developer's own key must not switch the suite to a paid provider (engine=auto).
    for name in (
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "INTERVIEW_LLM_API_KEY",
        "INTERVIEW_LLM_BASE_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    from interview_graph.settings import get_settings

    get_settings.cache_clear()


@pytest.fixture
def database(tmp_path: Path) -> Path:
    return tmp_path / "interviews.sqlite"
