"""Record-and-replay of LLM traffic: an interview replays from its cassette with no server.

Replay (the default, and what CI runs) points the client at a closed port; every request is
answered from ``tests/cassettes/`` by vcrpy, matched on method, path and body, so the test
proves that the same graph sends exactly the recorded requests.

Re-record against the local test server::

    .venv/bin/pytest tests/test_cassette.py --record-mode=rewrite

or against a real provider (the Authorization header is filtered out of the cassette)::

    INTERVIEW_RECORD_API_KEY=sk-... INTERVIEW_RECORD_MODEL=gpt-4o-mini \\
        .venv/bin/pytest tests/test_cassette.py --record-mode=rewrite

Recording also writes the interview's public lines next to the cassette; replay must
reproduce them.  Neither file is written by hand.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from interview_graph.llm.stub_server import StubServer
from interview_graph.selfplay import run_selfplay
from interview_graph.session import InterviewSession

from .llm_util import llm_settings

CASSETTES = Path(__file__).parent / "cassettes"
LINES = CASSETTES / "test_recorded_interview_replays.lines.json"


@pytest.fixture(scope="module")
def vcr_config() -> dict[str, Any]:
    return {
        "filter_headers": ["authorization", "api-key", "openai-organization", "cookie"],
        "match_on": ["method", "path", "body"],
        "decode_compressed_response": True,
    }


@pytest.fixture(scope="module")
def vcr_cassette_dir() -> str:
    return str(CASSETTES)


@pytest.fixture
def endpoint(record_mode: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    with ExitStack() as stack:
        if record_mode == "none":
            # Replay: nothing listens on port 9; any request not in the cassette fails.
            base_url = "http://127.0.0.1:9/v1"
        elif os.environ.get("INTERVIEW_RECORD_API_KEY"):
            base_url = os.environ.get("INTERVIEW_RECORD_BASE_URL", "https://api.openai.com/v1")
        else:
            base_url = stack.enter_context(StubServer()).base_url
        model = os.environ.get("INTERVIEW_RECORD_MODEL", "gpt-4o-mini")
        stack.enter_context(llm_settings(monkeypatch, base_url, timeout="60", model=model))
        if key := os.environ.get("INTERVIEW_RECORD_API_KEY"):
            monkeypatch.setenv("INTERVIEW_LLM_API_KEY", key)
        yield base_url


@pytest.mark.vcr
async def test_recorded_interview_replays(endpoint: str, record_mode: str, tmp_path: Path) -> None:
    db = tmp_path / "i.sqlite"
    result = await run_selfplay(
        plan="backend_engineer", persona="strong", database=db, engine="llm", stop_after=3
    )
    async with await InterviewSession.open(
        plan="backend_engineer", engine="llm", database=db, interview_id=result.interview_id
    ) as session:
        lines = [
            [e.speaker, e.text]
            for e in await session.transcript(public_only=True)
            if e.kind == "message"
        ]
        usage = [e for e in await session.transcript() if e.kind == "llm_usage"]
    assert len(lines) >= 4 and usage, "panel lines were spoken by the model"
    if record_mode != "none":
        LINES.write_text(json.dumps(lines, indent=1, ensure_ascii=False) + "\n")
    assert lines == json.loads(LINES.read_text()), "replay reproduces the recorded interview"
