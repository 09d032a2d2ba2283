"""How a structured decision is asked for, negotiated once per endpoint and model.

OpenAI-compatible servers differ in what they accept for structured output: OpenAI, vLLM and
Ollama take ``response_format`` ``json_schema``; llama-cpp-python's server (0.3.x) takes only
``text`` and ``json_object`` (with its own ``schema`` key, which it turns into a grammar) and
answers ``json_schema`` with HTTP 500 ``Input should be 'text' or 'json_object'``; others take
neither but call tools.  The methods, best first:

1. ``json_schema``: ``response_format`` ``json_schema`` (not strict).
2. ``json_object``: ``response_format`` ``json_object`` with the schema under ``schema`` (a
   server that knows the key constrains the reply to it), and the schema in the prompt.
3. ``tools``: one function whose parameters are the schema, forced with ``tool_choice``.
4. ``json``: no request field at all; the schema is in the prompt and the caller's repair
   attempt and JSON extraction do the rest.

A method is dropped only when the server *refuses* it: an HTTP 4xx/5xx whose body names the
request field (``response_format``, ``json_schema``, ``tools``...).  A refusal is remembered for
the process per ``(base_url, model)`` and logged once as a warning; a bad reply (invalid JSON,
a schema violation) is the model's fault, not the method's, and is left to the caller's
repair.  Which method served each role is logged once per interview as a private
``llm_method`` event, and the report's usage section shows it (``methods``).
"""

from __future__ import annotations

import json
import logging
import re
from functools import cache
from typing import Any

import openai
from langchain_core.messages import AIMessage, BaseMessage, SystemMessage
from pydantic import BaseModel

from .models import RoleModel

logger = logging.getLogger("interview_graph.llm")

METHODS = ("json_schema", "json_object", "tools", "json")
# A refusal names the field it could not take; an overload or outage names none of these.
_REFUSAL = re.compile(
    r"response_format|json_schema|json_object|tool_choice|\btools?\b|function.?call"
    r"|structured.output|unsupported.*(format|schema)",
    re.IGNORECASE,
)
_NOT_REFUSALS = {401, 403, 408, 409, 429}

_CHOSEN: dict[tuple[str, str], int] = {}  # (base_url, model) → index into METHODS
_LOGGED: set[tuple[str, str, str]] = set()  # (interview, role, method) already logged


def endpoint(rm: RoleModel) -> tuple[str, str]:
    """The key a negotiated method is remembered under: the role's base URL and model."""
    base = getattr(rm.chat, "openai_api_base", None) or "https://api.openai.com/v1"
    return str(base).rstrip("/"), rm.model


def method_for(rm: RoleModel) -> str:
    """The method this role's endpoint and model is asked with now."""
    return METHODS[_CHOSEN.get(endpoint(rm), 0)]


def forget_methods() -> None:
    """Forget every negotiated method (tests; a server restarted with other abilities)."""
    _CHOSEN.clear()
    _LOGGED.clear()


def refused(exc: BaseException, method: str) -> bool:
    """Whether ``exc`` is the server refusing ``method`` (not an outage, not a bad reply)."""
    if method == METHODS[-1] or not isinstance(exc, openai.APIStatusError):
        return False
    if exc.status_code < 400 or exc.status_code in _NOT_REFUSALS:
        return False
    text = f"{exc.message} {exc.body}"
    return bool(_REFUSAL.search(text))


def note_refusal(rm: RoleModel, method: str, exc: BaseException) -> str:
    """Remember that ``rm``'s endpoint refused ``method``; return the method to use next."""
    key = endpoint(rm)
    index = METHODS.index(method) + 1
    if _CHOSEN.get(key, 0) < index:
        _CHOSEN[key] = index
        status = getattr(exc, "status_code", "?")
        logger.warning(
            "structured output: %s (model %s) refused %s (HTTP %s: %.200s); using %s from now on",
            key[0],
            key[1],
            method,
            status,
            str(getattr(exc, "message", exc)).replace("\n", " "),
            METHODS[index],
        )
    return METHODS[_CHOSEN[key]]


@cache
def _schema(schema: type[BaseModel]) -> dict[str, Any]:
    # model_json_schema() walks the whole model each time: once per schema is enough.
    return schema.model_json_schema()


@cache
def request_kwargs(schema: type[BaseModel], method: str) -> dict[str, Any]:
    """The request arguments that ask for ``schema`` by ``method`` (cached per schema).

    Callers must not mutate the result.
    """
    body = _schema(schema)
    if method == "json_schema":
        spec = {"name": schema.__name__, "schema": body, "strict": False}
        return {"response_format": {"type": "json_schema", "json_schema": spec}}
    if method == "json_object":
        return {"response_format": {"type": "json_object", "schema": body}}
    if method == "tools":
        function = {
            "name": schema.__name__,
            "description": f"Give the {schema.__name__}.",
            "parameters": body,
        }
        return {
            "tools": [{"type": "function", "function": function}],
            "tool_choice": {"type": "function", "function": {"name": schema.__name__}},
        }
    return {}


@cache
def _hint(schema: type[BaseModel]) -> str:
    compact = json.dumps(_schema(schema), separators=(",", ":"), ensure_ascii=False)
    return (
        f"\n\nReply with only one JSON object (no prose, no code fences) that matches this "
        f"JSON Schema for {schema.__name__}:\n{compact}"
    )


def messages_for(
    messages: list[BaseMessage], schema: type[BaseModel], method: str
) -> list[BaseMessage]:
    """``messages`` with the schema spelled out in the system prompt where the method needs it.

    ``json_schema`` and ``tools`` carry the schema in the request itself.
    """
    if method in ("json_schema", "tools") or not messages:
        return messages
    first = messages[0]
    if not isinstance(first, SystemMessage):
        return [SystemMessage(_hint(schema).strip()), *messages]
    return [SystemMessage(f"{first.content}{_hint(schema)}"), *messages[1:]]


_OBJECT = re.compile(r"\{.*\}", re.DOTALL)


def as_json_reply(reply: AIMessage, method: str) -> AIMessage:
    """The reply with its JSON as ``content``: a tool call's arguments, or the object in prose.

    Usage and response metadata are kept, so accounting and the truncation check still work.
    """
    if method == "tools" and reply.tool_calls:
        text = json.dumps(reply.tool_calls[0]["args"], ensure_ascii=False)
    elif method == "tools" and reply.additional_kwargs.get("tool_calls"):
        # Arguments that were not JSON: give the repair what the model wrote.
        text = str(reply.additional_kwargs["tool_calls"][0].get("function", {}).get("arguments"))
    else:
        content = reply.content if isinstance(reply.content, str) else str(reply.content)
        text = content
        if method in ("json", "json_object") and not content.lstrip().startswith("{"):
            found = _OBJECT.search(content)  # "Here is the JSON: {...}"
            text = found.group(0) if found else content
    if text == reply.content:
        return reply
    return reply.model_copy(update={"content": text, "tool_calls": [], "additional_kwargs": {}})


async def ainvoke(
    rm: RoleModel, schema: type[BaseModel], messages: list[BaseMessage], config: Any
) -> AIMessage:
    """One structured call by the endpoint's method, stepping down past refused methods.

    A refusal costs the SDK's retries once per process and endpoint; later calls go straight
    to the method that worked.  Every other error propagates to the caller.
    """
    while True:
        method = method_for(rm)
        try:
            reply = await rm.runnable.ainvoke(
                messages_for(messages, schema, method), config, **request_kwargs(schema, method)
            )
        except openai.APIStatusError as exc:
            if not refused(exc, method):
                raise
            note_refusal(rm, method, exc)
            continue
        assert isinstance(reply, AIMessage)
        await log_method(rm, method)
        return as_json_reply(reply, method)


async def log_method(rm: RoleModel, method: str) -> None:
    """Log, once per interview and role, which method served the role's structured calls."""
    from langgraph.runtime import get_runtime

    from ..context import interview_id
    from .calls import _log_event

    try:
        interview = interview_id(get_runtime())
    except RuntimeError:  # outside a graph run (plan drafting from the CLI)
        return
    key = (interview, rm.role, method)
    if key in _LOGGED:
        return
    if len(_LOGGED) > 10_000:  # a long-running server: forget old interviews
        _LOGGED.clear()
    _LOGGED.add(key)
    base, model = endpoint(rm)
    await _log_event(
        "llm_method", {"role": rm.role, "method": method, "model": model, "base_url": base}
    )
