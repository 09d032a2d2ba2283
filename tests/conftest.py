"""Shared fixtures: isolated data directories and fast access to the shipped plans."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

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


@pytest.fixture(scope="module")
def stub() -> Iterator[Any]:
    """One stub LLM server per test module (a module may define its own, scripted one)."""
    from interview_graph.llm.stub_server import StubServer

    with StubServer() as server:
        yield server


@pytest.fixture
def database(tmp_path: Path) -> Path:
    return tmp_path / "interviews.sqlite"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium per test module."""
    from playwright.sync_api import sync_playwright

    from .browser_util import CHROMIUM, CHROMIUM_ARGS

    with sync_playwright() as pw:
        launched = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        launched.close()


@pytest.fixture
def errors() -> list[str]:
    """Uncaught exceptions and console errors of the page (there must be none)."""
    return []
