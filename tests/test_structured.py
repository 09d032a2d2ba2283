"""Structured-output negotiation against a server that refuses methods (the project's stub).

The stub's ``refuse`` answers a method with llama-cpp-python's HTTP 500; the client steps
down json_schema → json_object → tools → json, once per process and endpoint.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from langchain_core.messages import HumanMessage, SystemMessage
from pydantic import BaseModel

from interview_graph.llm import structured
from interview_graph.llm.models import role_models
from interview_graph.llm.stub_server import StubConfig, StubServer
from interview_graph.store import Event
from interview_graph.usage import summarise_usage

from .llm_util import llm_settings


class Pick(BaseModel):
    """A tiny decision."""

    choice: str
    confidence: float


MESSAGES = [SystemMessage("Pick one."), HumanMessage("Which?")]


@pytest.fixture
def llm(stub: StubServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[StubServer]:
    structured.forget_methods()
    with llm_settings(monkeypatch, stub.base_url, retries="0"):
        yield stub
    structured.forget_methods()


def _served(stub: StubServer) -> list[dict[str, object]]:
    return [r.body for r in stub.stats().recent]


async def test_a_refused_json_schema_steps_down_to_json_object_once(
    llm: StubServer, caplog: pytest.LogCaptureFixture
) -> None:
    llm.configure(StubConfig(refuse=["json_schema"], keep_requests=10), reset_stats=True)
    rm = role_models()["evaluator"]
    with caplog.at_level(logging.WARNING, logger="interview_graph.llm"):
        first = await structured.ainvoke(rm, Pick, MESSAGES, {})
        second = await structured.ainvoke(rm, Pick, MESSAGES, {})
        # Another role on the same endpoint and model knows already.
        third = await structured.ainvoke(role_models()["master"], Pick, MESSAGES, {})
    for reply in (first, second, third):
        Pick.model_validate_json(str(reply.content))
    served = _served(llm)
    assert len(served) == 3  # the refusal was not served; nothing after it asks json_schema
    assert [b["response_format"]["type"] for b in served] == ["json_object"] * 3  # type: ignore[index]
    # The schema goes along both ways: in the request (servers that constrain to it) and
    # in the system prompt (servers that ignore the key).
    assert served[0]["response_format"]["schema"]["required"] == ["choice", "confidence"]  # type: ignore[index]
    assert "JSON Schema" in served[0]["messages"][0]["content"]  # type: ignore[index]
    warnings = [r for r in caplog.records if "refused json_schema" in r.getMessage()]
    assert len(warnings) == 1
    assert structured.method_for(rm) == "json_object"


async def test_tools_then_plain_json_when_every_response_format_is_refused(
    llm: StubServer,
) -> None:
    llm.configure(StubConfig(refuse=["json_schema", "json_object"]), reset_stats=True)
    rm = role_models()["evaluator"]
    reply = await structured.ainvoke(rm, Pick, MESSAGES, {})
    assert Pick.model_validate_json(str(reply.content))
    assert structured.method_for(rm) == "tools"
    assert _served(llm)[-1]["tool_choice"] == {"type": "function", "function": {"name": "Pick"}}

    structured.forget_methods()
    llm.configure(StubConfig(refuse=["json_schema", "json_object", "tools"]), reset_stats=True)
    reply = await structured.ainvoke(rm, Pick, MESSAGES, {})
    assert structured.method_for(rm) == "json"
    body = _served(llm)[-1]
    assert "response_format" not in body and "tools" not in body
    assert "JSON Schema" in body["messages"][0]["content"]  # type: ignore[index]


async def test_an_outage_is_not_a_refusal(llm: StubServer) -> None:
    # A 500 that names no request field (an outage) leaves the method alone.
    from interview_graph.llm.stub_server import Fault, ScriptEntry

    llm.configure(
        StubConfig(scripts={"*": [ScriptEntry(fault=Fault(kind="server_error"))]}),
        reset_stats=True,
    )
    rm = role_models()["evaluator"]
    with pytest.raises(Exception, match="server had an error"):
        await structured.ainvoke(rm, Pick, MESSAGES, {})
    assert structured.method_for(rm) == "json_schema"


def test_response_formats_are_built_once_per_schema() -> None:
    assert structured.request_kwargs(Pick, "json_schema") is structured.request_kwargs(
        Pick, "json_schema"
    )


def test_the_report_shows_the_method_per_role() -> None:
    def event(seq: int, kind: str, **data: object) -> Event:
        return Event(
            interview_id="i",
            seq=seq,
            key=f"{kind}:{seq}",
            kind=kind,
            visibility="private",
            data=dict(data),
            ts=0.0,
        )

    usage = summarise_usage(
        [
            event(1, "llm_method", role="evaluator", method="json_object"),
            event(2, "llm_usage", role="evaluator", call="evaluate"),
        ]
    )
    assert usage.methods == {"evaluator": "json_object"}
    assert usage.model_dump()["methods"] == {"evaluator": "json_object"}
    assert "methods" not in summarise_usage([]).model_dump()  # offline reports keep their shape


def test_json_is_taken_from_prose_and_from_tool_calls() -> None:
    from langchain_core.messages import AIMessage

    prose = AIMessage(content='Sure! Here it is: {"choice": "a", "confidence": 0.5} Hope it helps.')
    assert Pick.model_validate_json(str(structured.as_json_reply(prose, "json").content))
    call = AIMessage(
        content="",
        tool_calls=[{"name": "Pick", "args": {"choice": "b", "confidence": 1}, "id": "c1"}],
    )
    assert Pick.model_validate_json(str(structured.as_json_reply(call, "tools").content))
    # json_schema replies are left as they are (the repair shows the model its own reply).
    assert structured.as_json_reply(prose, "json_schema") is prose
