"""A local OpenAI-compatible chat-completions server for tests and benchmarks.

It answers ``POST /v1/chat/completions`` (plain and SSE-streamed) and ``GET /v1/models`` the
way OpenAI does, so the real ``langchain_openai.ChatOpenAI`` client can run against it over
loopback: no network, no key (any ``Authorization`` header is accepted).

What a request gets back:

* **Per-role scripts first.** The role is read from the ``X-Interview-Role`` header
  (``default`` when missing).  :attr:`StubConfig.scripts` maps a role to a queue of
  :class:`ScriptEntry` replies (text, JSON data, or a :class:`Fault`) consumed in order; the
  queue ``"*"`` serves any role once the role's own queue is empty.  Then an optional Python
  ``responder`` callable, then a generated reply.
* **Generated replies** follow the request: ``response_format`` ``json_schema`` → JSON valid
  for that schema (:func:`sample_instance`), ``json_object`` → a JSON object, ``tools`` → a
  ``tool_calls`` message for the chosen (or first) tool with valid arguments, otherwise a short
  sentence echoing the last user message (for the ``screen`` role: ``ALLOW``, or ``BLOCK`` and a
  JSON line on prompt injection).  A small table of heuristics (``_HEURISTICS``) makes
  interviews look sensible, e.g. a rules verdict blocks prompt injection.
* **Timing**: ``ttft`` seconds before the first token, then ``tps`` pieces per second.
* **Faults**, scripted or drawn at random (``fault_rate``, reproducible with ``seed``):
  429 with ``Retry-After``, 500, a stall longer than the client's timeout, JSON cut off with
  ``finish_reason="length"``, and well-formed JSON that violates the schema.

``POST /_control`` replaces the :class:`StubConfig` at runtime and ``GET /_stats`` returns
:class:`StubStats`.  :class:`StubServer` runs the app on a free loopback port in a
background thread for tests; ``python -m interview_graph.llm.stub_server --port 8911`` runs it
standalone for benchmarks and manual use.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import random
import re
import socket
import threading
import time
import zlib
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, TypeVar, get_args

import uvicorn
import yaml
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    ValidationError,
    model_validator,
)

logger = logging.getLogger("interview_graph.llm.stub_server")

ROLE_HEADER = "X-Interview-Role"
DEFAULT_ROLE = "default"
ANY_ROLE = "*"

FaultKind = Literal["rate_limit", "server_error", "stall", "truncated_json", "invalid_schema"]
FAULT_KINDS: tuple[FaultKind, ...] = get_args(FaultKind)
# Faults that replace the reply (nothing is consumed from the script) vs faults that mangle it.
_TRANSPORT_FAULTS = frozenset({"rate_limit", "server_error", "stall"})

Mode = Literal["text", "json_schema", "json_object", "tool"]
T = TypeVar("T")


# --------------------------------------------------------------------------- configuration


class Fault(BaseModel):
    """An injected failure; a plain string is read as ``{"kind": <string>}``.

    Kinds:
        rate_limit: HTTP 429, an OpenAI-style error body and ``Retry-After``.
        server_error: HTTP 500 with an OpenAI-style error body.
        stall: sleep ``StubConfig.stall_seconds`` before sending anything, then reply.
        truncated_json: the reply cut off mid-JSON (mid-text for a plain reply),
            ``finish_reason="length"``.
        invalid_schema: well-formed JSON that violates the requested schema (a required
            field dropped, or the wrong type), ``finish_reason="stop"``.  Structured
            requests only.
    """

    model_config = ConfigDict(extra="forbid")

    kind: FaultKind
    roles: list[str] | None = Field(
        default=None, description="Only requests from these roles; None means any role."
    )
    retry_after: float | None = Field(
        default=None, ge=0, description="rate_limit: Retry-After seconds (config default)."
    )

    @model_validator(mode="before")
    @classmethod
    def _from_kind(cls, value: Any) -> Any:
        return {"kind": value} if isinstance(value, str) else value

    def admits(self, role: str) -> bool:
        """Whether this fault may hit a request from ``role``."""
        return self.roles is None or role in self.roles

    def applies(self, mode: Mode) -> bool:
        """Whether this fault means anything for a request of ``mode``."""
        return self.kind != "invalid_schema" or mode != "text"


class ScriptEntry(BaseModel):
    """One scripted reply: exactly one of ``text``, ``data`` or ``fault``.

    A plain string is read as ``{"text": <string>}``.  ``text`` is sent verbatim as the
    message content (also for structured requests, to script malformed output); ``data`` is
    sent as JSON content, or as the arguments of a tool call when the request has tools.
    """

    model_config = ConfigDict(extra="forbid")

    text: str | None = None
    data: JsonValue = None
    tool: str | None = Field(
        default=None, description="Tool to call with `data` (default: chosen)."
    )
    fault: Fault | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, value: Any) -> Any:
        return {"text": value} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _exactly_one(self) -> ScriptEntry:
        given = [self.text is not None, self.data is not None, self.fault is not None]
        if sum(given) != 1:
            raise ValueError("a script entry needs exactly one of text, data or fault")
        if self.tool is not None and self.data is None:
            raise ValueError("`tool` goes with `data` (the tool's arguments)")
        return self


Reply = ScriptEntry
"""What a script entry or a responder supplies for one request."""


def _default_random_faults() -> list[Fault]:
    return [
        Fault(kind=k) for k in ("rate_limit", "server_error", "truncated_json", "invalid_schema")
    ]


class StubConfig(BaseModel):
    """Everything that shapes the server's replies; replaced whole by ``POST /_control``."""

    model_config = ConfigDict(extra="forbid")

    ttft: float = Field(default=0.0, ge=0, description="Seconds before the first token.")
    tps: float = Field(
        default=0.0, ge=0, description="Streamed pieces per second; 0 means no delay."
    )
    fault_rate: float = Field(default=0.0, ge=0, le=1, description="Chance of a random fault.")
    seed: int = Field(default=0, description="Seeds each role's random fault sequence.")
    random_faults: list[Fault] = Field(
        default_factory=_default_random_faults,
        description="What a random fault can be (each optionally restricted to roles).",
    )
    stall_seconds: float = Field(default=30.0, ge=0, description="How long a stall lasts.")
    retry_after: float = Field(default=0.1, ge=0, description="Default Retry-After of a 429.")
    scripts: dict[str, list[ScriptEntry]] = Field(
        default_factory=dict, description="Role (or '*') → replies consumed in order."
    )
    models: list[str] = Field(default_factory=lambda: ["stub-model"])
    refuse: list[Literal["json_schema", "json_object", "tools"]] = Field(
        default_factory=list,
        description="Structured-output methods answered with HTTP 500 naming the field, as "
        "llama-cpp-python's server answers json_schema.",
    )
    keep_requests: int = Field(default=50, ge=0, description="How many request bodies to keep.")


class ChatRequest(BaseModel):
    """The parts of a chat-completions request the stub reads; the rest is kept as extra."""

    model_config = ConfigDict(extra="allow")

    role: str = Field(default=DEFAULT_ROLE, description=f"From the {ROLE_HEADER} header.")
    model: str = "stub-model"
    messages: list[dict[str, Any]]
    stream: bool = False
    stream_options: dict[str, Any] | None = None
    response_format: dict[str, Any] | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    max_tokens: int | None = None
    max_completion_tokens: int | None = None

    @property
    def mode(self) -> Mode:
        """How the reply is shaped: plain text, JSON (schema or object) or a tool call."""
        if self.tools and self.tool_choice != "none":
            return "tool"
        kind = (self.response_format or {}).get("type")
        if kind in ("json_schema", "json_object"):
            return "json_schema" if kind == "json_schema" else "json_object"
        return "text"

    @property
    def include_usage(self) -> bool:
        """Whether a streamed reply ends with a usage chunk."""
        return bool((self.stream_options or {}).get("include_usage"))

    def last_user_text(self) -> str:
        """Text of the last ``user`` message (empty when there is none)."""
        for message in reversed(self.messages):
            if message.get("role") == "user":
                return _content_text(message.get("content"))
        return ""

    def tool(self, name: str | None = None) -> dict[str, Any]:
        """The ``function`` part of the tool to call: ``name``, else the chosen, else the first."""
        functions = [t.get("function", {}) for t in self.tools or []]
        if name is None and isinstance(self.tool_choice, dict):
            name = self.tool_choice.get("function", {}).get("name")
        for function in functions:
            if function.get("name") == name:
                return dict(function)
        return dict(functions[0]) if functions else {"name": name or "tool"}

    def reply_schema(self, tool: str | None = None) -> dict[str, Any]:
        """The JSON schema the reply should match (``{}`` for plain text)."""
        mode = self.mode
        if mode == "tool":
            params = self.tool(tool).get("parameters")
            return params if isinstance(params, dict) else {"type": "object", "properties": {}}
        if mode == "json_schema":
            spec = (self.response_format or {}).get("json_schema") or {}
            schema = spec.get("schema")
            return schema if isinstance(schema, dict) else {}
        if mode == "json_object":  # llama-cpp-python's extension: a schema beside the type
            schema = (self.response_format or {}).get("schema")
            return schema if isinstance(schema, dict) else {"type": "object"}
        return {}


Responder = Callable[[ChatRequest], Reply | str | None]
"""A test hook: return a reply for this request, or None to fall through to generation."""


class RecordedRequest(BaseModel):
    """One request as the stub saw it."""

    role: str
    received_at: float = Field(description="time.time() when the request arrived.")
    source: Literal["script", "responder", "generated", "fault"]
    fault: FaultKind | None = None
    body: dict[str, Any]


class StubStats(BaseModel):
    """Counts since the last reset, and the latest request bodies (oldest first)."""

    requests: int = 0
    by_role: dict[str, int] = Field(default_factory=dict)
    faults: dict[str, int] = Field(default_factory=dict)
    faults_by_role: dict[str, dict[str, int]] = Field(default_factory=dict)
    sources: dict[str, int] = Field(default_factory=dict)
    recent: list[RecordedRequest] = Field(default_factory=list)


# --------------------------------------------------------------------------- JSON schemas

_INJECTION = re.compile(
    r"ignore (?:all|any|previous|prior|the above|your)|disregard (?:all|previous|prior|your)"
    r"|system prompt|you are now|reveal|developer mode",
    re.IGNORECASE,
)
_CANDIDATE = re.compile(r"<candidate_data>(.*?)</candidate_data>", re.DOTALL | re.IGNORECASE)
_SCORE = re.compile(r"score|rating", re.IGNORECASE)
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'+#-]*")
_FORMATS = {
    "date-time": "2024-01-01T00:00:00Z",
    "date": "2024-01-01",
    "time": "00:00:00",
    "email": "stub@example.com",
    "uri": "https://example.com/stub",
    "uuid": "00000000-0000-4000-8000-000000000000",
}


def _focus(text: str) -> str:
    """The part of a user message that is the candidate's own words, when fenced."""
    fenced = _CANDIDATE.findall(text)
    return "\n".join(fenced) if fenced else text


def looks_like_injection(text: str) -> bool:
    """Whether ``text`` (its ``<candidate_data>`` part, if any) tries to instruct the model."""
    return bool(_INJECTION.search(_focus(text)))


@dataclass(frozen=True)
class _Field:
    """Where a value is being generated: what the heuristics look at."""

    name: str
    parent: str
    schema: Mapping[str, Any]
    verdict: bool  # the enclosing object is a rules verdict (action allow/block)
    injection: bool  # the last user message looks like prompt injection


@dataclass(frozen=True)
class _Heuristic:
    why: str
    when: Callable[[_Field], bool]
    value: Callable[[_Field], Any]


def _is_integer(f: _Field) -> bool:
    return f.schema.get("type") == "integer"


# The only content heuristics; first match wins, and a value outside the field's enum is
# ignored (the generic rule applies instead).  Keep this table small and documented.
_HEURISTICS: tuple[_Heuristic, ...] = (
    _Heuristic(
        "rules verdict: block prompt injection in the last user message, else allow",
        lambda f: f.verdict and f.name == "action",
        lambda f: "block" if f.injection else "allow",
    ),
    _Heuristic(
        "rules verdict: category to match the action",
        lambda f: f.verdict and f.name == "category",
        lambda f: "prompt_injection" if f.injection else "ok",
    ),
    _Heuristic(
        "scores: a middling 3 for score-like integers and the values of a `scores` dict",
        lambda f: _is_integer(f) and bool(_SCORE.search(f.name) or f.parent == "scores"),
        lambda f: 3,
    ),
)


def _is_verdict(properties: Mapping[str, Any], resolve: Callable[[Any], dict[str, Any]]) -> bool:
    action = resolve(properties.get("action", {}))
    values = set(action.get("enum", [])) | ({action["const"]} if "const" in action else set())
    return {"allow", "block"} <= values


class _Generator:
    """Builds a value valid for one JSON schema (with ``$defs``/``$ref`` against its root)."""

    _DEEP = 6  # past this depth prefer null / empty containers, so recursive schemas end
    _GIVE_UP = 40

    def __init__(self, root: Mapping[str, Any], *, injection: bool) -> None:
        self.root = root
        self.injection = injection

    def resolve(self, schema: Any) -> dict[str, Any]:
        """Follow ``$ref`` chains and merge ``allOf`` into one schema dict."""
        if not isinstance(schema, Mapping):
            return {} if schema in (True, None) else {"not": {}}
        out = dict(schema)
        for _ in range(32):
            ref = out.pop("$ref", None)
            if not isinstance(ref, str):
                break
            out = {**self._pointer(ref), **out}
        for part in out.pop("allOf", None) or []:
            sub = self.resolve(part)
            merged_props = {**out.get("properties", {}), **sub.get("properties", {})}
            required = [*out.get("required", []), *sub.get("required", [])]
            out = {**sub, **out}
            if merged_props:
                out["properties"] = merged_props
            if required:
                out["required"] = list(dict.fromkeys(required))
        return out

    def _pointer(self, ref: str) -> dict[str, Any]:
        if not ref.startswith("#"):
            return {}
        node: Any = self.root
        for token in filter(None, ref[1:].split("/")):
            token = token.replace("~1", "/").replace("~0", "~")
            node = node.get(token, {}) if isinstance(node, Mapping) else {}
        return dict(node) if isinstance(node, Mapping) else {}

    def value(
        self,
        schema: Any,
        *,
        name: str = "",
        parent: str = "",
        verdict: bool = False,
        depth: int = 0,
        index: int = 0,
    ) -> Any:
        """A valid instance of ``schema`` for a field called ``name``."""
        if depth > self._GIVE_UP:
            return None  # the schema demands an infinite instance; give up, do not crash
        s = self.resolve(schema)
        field = _Field(name, parent, s, verdict, self.injection)
        for rule in _HEURISTICS:
            if rule.when(field):
                candidate = rule.value(field)
                if "enum" not in s or candidate in s["enum"]:
                    return self._clamp(candidate, s) if _is_integer(field) else candidate
        if "const" in s:
            return s["const"]
        if s.get("enum"):
            return s["enum"][0]
        for key in ("anyOf", "oneOf"):
            if key in s:
                options = [self.resolve(o) for o in s[key]]
                concrete = [o for o in options if o.get("type") != "null"]
                if not concrete or (depth > self._DEEP and len(concrete) < len(options)):
                    return None
                return self.value(
                    concrete[0], name=name, parent=parent, verdict=verdict, depth=depth, index=index
                )
        kind = s.get("type")
        if isinstance(kind, list):
            non_null = [k for k in kind if k != "null"]
            kind = non_null[0] if non_null else "null"
        if kind is None:
            if "properties" in s or "additionalProperties" in s:
                kind = "object"
            elif "items" in s or "prefixItems" in s:
                kind = "array"
            else:
                kind = "string"
        if kind == "object":
            return self._object(s, name, depth)
        if kind == "array":
            return self._array(s, name, depth)
        if kind == "integer":
            return self._clamp(1 + index, s)
        if kind == "number":
            return self._number(1.0 + index, s)
        if kind == "boolean":
            return False
        if kind == "null":
            return None
        return self._string(s, name, index)

    def _object(self, s: Mapping[str, Any], name: str, depth: int) -> dict[str, Any]:
        properties: Mapping[str, Any] = s.get("properties") or {}
        required = set(s.get("required") or [])
        verdict = _is_verdict(properties, self.resolve)
        out: dict[str, Any] = {}
        for key, sub in properties.items():
            default = self.resolve(sub).get("default", ...)
            if key not in required and default is not ...:
                out[key] = default  # an optional field keeps its default, as a model would
                continue
            out[key] = self.value(sub, name=key, parent=name, verdict=verdict, depth=depth + 1)
        extra = s.get("additionalProperties", True)
        want = int(s.get("minProperties") or 0)
        n = 0
        while len(out) < want and extra is not False:
            n += 1
            out[f"key{n}"] = self.value(
                extra, name=f"{name}_{n}", parent=name, depth=depth + 1, index=n - 1
            )
        return out

    def _array(self, s: Mapping[str, Any], name: str, depth: int) -> list[Any]:
        prefix = [
            self.value(p, name=name, depth=depth + 1, index=i)
            for i, p in enumerate(s.get("prefixItems") or [])
        ]
        low = int(s.get("minItems") or 0)
        high = s.get("maxItems")
        count = low if depth > self._DEEP else max(low, 1)
        if high is not None:
            count = min(count, int(high))
        items = s.get("items", {})
        if prefix or items is False:
            return prefix
        singular = name[:-1] if name.endswith("s") and len(name) > 3 else name
        return [
            self.value(items, name=singular, parent=name, depth=depth + 1, index=i)
            for i in range(count)
        ]

    @staticmethod
    def _clamp(value: int, s: Mapping[str, Any]) -> int:
        low, high = s.get("minimum"), s.get("maximum")
        if isinstance(s.get("exclusiveMinimum"), int | float):
            low = int(s["exclusiveMinimum"]) + 1
        if isinstance(s.get("exclusiveMaximum"), int | float):
            high = -int(-s["exclusiveMaximum"]) - 1
        if low is not None and value < low:
            value = -int(-low // 1)  # ceil
        if high is not None and value > high:
            value = int(high // 1)
        step = s.get("multipleOf")
        if isinstance(step, int) and step > 0 and value % step:
            value += step - value % step
        return value

    @staticmethod
    def _number(value: float, s: Mapping[str, Any]) -> float:
        low = s.get("minimum", s.get("exclusiveMinimum"))
        high = s.get("maximum", s.get("exclusiveMaximum"))
        inside = (low is None or value > low or (value == low and "minimum" in s)) and (
            high is None or value < high or (value == high and "maximum" in s)
        )
        if inside:
            return value
        if low is not None and high is not None:
            return (float(low) + float(high)) / 2
        return float(low) + 1 if low is not None else float(high) - 1

    @staticmethod
    def _string(s: Mapping[str, Any], name: str, index: int) -> str:
        text = _FORMATS.get(str(s.get("format")), "")
        if not text:
            label = name.replace("_", " ").strip() or "value"
            text = f"stub {label}" + (f" {index + 1}" if index else "")
        low, high = int(s.get("minLength") or 0), s.get("maxLength")
        if len(text) < low:
            text += "x" * (low - len(text))
        return text if high is None else text[: int(high)]


def sample_instance(schema: Mapping[str, Any], *, user_text: str = "") -> Any:
    """A deterministic instance valid for ``schema``.

    Handles ``$defs``/``$ref``, ``allOf``, ``anyOf``/``oneOf`` (first non-null branch),
    ``enum``/``const`` (first value), objects (required fields; optional ones keep their
    ``default``), dicts via ``additionalProperties`` (``{}`` unless ``minProperties``), arrays
    (one item unless ``minItems``/``maxItems`` say otherwise), integer/number bounds and
    string lengths and common formats.  ``pattern`` is not honoured.

    Args:
        schema: A JSON schema, e.g. ``Model.model_json_schema()``.
        user_text: The last user message, which the heuristics look at.
    """
    return _Generator(schema, injection=looks_like_injection(user_text)).value(schema)


def violate_schema(schema: Mapping[str, Any], value: Any) -> Any:
    """Well-formed JSON that does not validate against ``schema`` (unless it accepts anything).

    An object with required fields loses its first required field; anything else is replaced
    by a value of the wrong type.
    """
    s = _Generator(schema, injection=False).resolve(schema)
    required = [k for k in s.get("required") or [] if isinstance(value, dict) and k in value]
    if required:
        return {k: v for k, v in value.items() if k != required[0]}
    return {"unexpected": True} if s.get("type") == "array" else ["unexpected"]


def truncate_json(text: str) -> str:
    """Cut ``text`` roughly in half so that it no longer parses as JSON."""
    cut = text[: max(1, len(text) // 2)]
    while cut:
        try:
            json.loads(cut)
        except ValueError:
            return cut
        cut = cut[:-1]
    return cut


# --------------------------------------------------------------------------- replies


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(part.get("text", "")) for part in content if isinstance(part, Mapping))
    return ""


def estimate_tokens(text: str) -> int:
    """Rough token count: words × 4/3, rounded."""
    return round(len(text.split()) * 4 / 3)


_TEMPLATES = (
    "Thanks, that helps. You mentioned {echo}; could you tell me a little more about that?",
    "I see. Picking up on {echo}: how would you approach it in practice?",
    "Good. Regarding {echo}, what trade-offs would you consider?",
)


def generated_text(request: ChatRequest) -> str:
    """A short, deterministic reply that echoes a few words of the last user message.

    The ``screen`` role gets a rules verdict in its text format instead: ``ALLOW``, or
    ``BLOCK`` and a JSON line when the candidate's input looks like prompt injection.
    """
    if request.role == "screen":
        if not looks_like_injection(request.last_user_text()):
            return "ALLOW"
        details = {
            "category": "prompt_injection",
            "notice": "Let's keep to the interview question, please.",
            "reason": "the input tries to instruct the interview system",
        }
        return "BLOCK\n" + json.dumps(details)
    words = _WORD.findall(_focus(request.last_user_text()))
    if not words:
        return "Thanks. Could you tell me a little more about that?"
    echo = '"' + " ".join(words[-6:]) + '"'
    template = _TEMPLATES[zlib.crc32(" ".join(words).encode()) % len(_TEMPLATES)]
    return template.format(echo=echo)


@dataclass(frozen=True)
class _Completion:
    """A composed reply, before it is sent whole or streamed."""

    pieces: list[str]
    finish_reason: Literal["stop", "length", "tool_calls"]
    tool: str | None  # the function called, or None for a content reply

    @property
    def text(self) -> str:
        return "".join(self.pieces)


def _json_pieces(text: str) -> list[str]:
    # A JSON token is ~4 characters; stream it in such pieces.
    return [text[i : i + 4] for i in range(0, len(text), 4)]


def compose(request: ChatRequest, reply: Reply | None, fault: Fault | None) -> _Completion:
    """Build the reply to ``request`` from a script entry (or generate one) and a fault."""
    mode = request.mode
    kind = fault.kind if fault else None
    if (reply is not None and reply.text is not None) or (mode == "text" and reply is None):
        text = reply.text if reply is not None and reply.text is not None else None
        text = generated_text(request) if text is None else text
        words = re.findall(r"\s*\S+(?:\s+$)?", text) or [text]  # word by word, verbatim
        if kind == "truncated_json":
            return _Completion(words[: max(1, len(words) // 2)], "length", None)
        return _limit(request, _Completion(words, "stop", None))
    tool = request.tool(reply.tool if reply else None).get("name") if mode == "tool" else None
    schema = request.reply_schema(reply.tool if reply else None)
    if reply is not None and reply.data is not None:
        value: Any = reply.data
    else:
        value = sample_instance(schema, user_text=request.last_user_text())
    if kind == "invalid_schema":
        value = violate_schema(schema, value)
    text = json.dumps(value)
    if kind == "truncated_json":
        return _Completion(_json_pieces(truncate_json(text)), "length", tool)
    return _limit(request, _Completion(_json_pieces(text), "tool_calls" if tool else "stop", tool))


def _limit(request: ChatRequest, completion: _Completion) -> _Completion:
    """Honour ``max_tokens`` / ``max_completion_tokens`` (one piece = one token)."""
    cap = request.max_completion_tokens or request.max_tokens
    if cap is None or len(completion.pieces) <= cap:
        return completion
    return _Completion(completion.pieces[:cap], "length", completion.tool)


# --------------------------------------------------------------------------- server state


@dataclass
class _Plan:
    reply: Reply | None
    fault: Fault | None
    source: Literal["script", "responder", "generated", "fault"]


class StubState:
    """The live config, script queues, random streams and stats of one server.

    Mutated only on the server's event loop (the :class:`StubServer` helper hops onto it).
    """

    def __init__(self, config: StubConfig | None = None, responder: Responder | None = None):
        self.responder = responder
        self.stopping = asyncio.Event()  # set on shutdown: cuts every sleep short
        self._ids = 0
        self.config = config or StubConfig()
        self.queues: dict[str, deque[ScriptEntry]] = {}
        self.rngs: dict[str, random.Random] = {}
        self.stats = StubStats()
        self.recent: deque[RecordedRequest] = deque(maxlen=self.config.keep_requests)
        self.configure(self.config)

    def configure(self, config: StubConfig) -> None:
        """Replace the config; script queues and random streams start afresh, stats stay."""
        self.config = config
        self.queues = {role: deque(entries) for role, entries in config.scripts.items()}
        self.rngs = {}
        self.recent = deque(self.recent, maxlen=config.keep_requests)

    def reset_stats(self) -> None:
        """Zero the counters and forget the recorded requests."""
        self.stats = StubStats()
        self.recent = deque(maxlen=self.config.keep_requests)

    def snapshot(self) -> StubStats:
        """A copy of the stats, with the recorded requests."""
        return self.stats.model_copy(deep=True, update={"recent": list(self.recent)})

    def next_id(self) -> int:
        """A fresh number for completion and tool-call ids."""
        self._ids += 1
        return self._ids

    def _next(self, role: str) -> tuple[deque[ScriptEntry], int] | None:
        """Where the next script entry for ``role`` is: its own queue's head, else ``*``'s."""
        own = self.queues.get(role)
        if own:
            return own, 0
        for i, entry in enumerate(self.queues.get(ANY_ROLE) or ()):
            if entry.fault is None or entry.fault.admits(role):
                return self.queues[ANY_ROLE], i
        return None

    def plan(self, request: ChatRequest, body: dict[str, Any]) -> _Plan:
        """Decide what ``request`` gets (script, responder, fault or generated); count it.

        A scripted fault comes first; a random transport fault (429, 500, stall) consumes no
        scripted reply, so the client's retry still gets it; a random content fault
        (truncated or invalid JSON) mangles whatever reply comes next.
        """
        role, mode, cfg = request.role, request.mode, self.config
        rng = self.rngs.setdefault(role, random.Random(f"{cfg.seed}:{role}"))
        draw, pick = rng.random(), rng.random()  # always two draws: sequences stay aligned
        drawn: Fault | None = None
        if draw < cfg.fault_rate:
            eligible = [f for f in cfg.random_faults if f.admits(role) and f.applies(mode)]
            drawn = eligible[int(pick * len(eligible))] if eligible else None

        where = self._next(role)
        head = where[0][where[1]] if where else None
        if where is not None and head is not None and head.fault is not None:
            del where[0][where[1]]
            plan = _Plan(None, head.fault, "script")
        elif drawn is not None and drawn.kind in _TRANSPORT_FAULTS:
            plan = _Plan(None, drawn, "fault")
        elif where is not None and head is not None:
            del where[0][where[1]]
            plan = _Plan(head, drawn, "script")
        elif self.responder is not None and (got := self.responder(request)) is not None:
            entry = ScriptEntry.model_validate(got)
            if entry.fault is not None:
                plan = _Plan(None, entry.fault, "responder")
            else:
                plan = _Plan(entry, drawn, "responder")
        else:
            plan = _Plan(None, drawn, "generated")
        if plan.fault is not None and not plan.fault.applies(mode):
            plan.fault = None
        self._count(request, plan, body)
        return plan

    def _count(self, request: ChatRequest, plan: _Plan, body: dict[str, Any]) -> None:
        stats, role = self.stats, request.role
        stats.requests += 1
        stats.by_role[role] = stats.by_role.get(role, 0) + 1
        stats.sources[plan.source] = stats.sources.get(plan.source, 0) + 1
        kind = plan.fault.kind if plan.fault else None
        if kind is not None:
            stats.faults[kind] = stats.faults.get(kind, 0) + 1
            per_role = stats.faults_by_role.setdefault(role, {})
            per_role[kind] = per_role.get(kind, 0) + 1
        self.recent.append(
            RecordedRequest(
                role=role, received_at=time.time(), source=plan.source, fault=kind, body=body
            )
        )

    async def sleep(self, seconds: float) -> None:
        """Sleep without blocking the loop; returns early when the server shuts down."""
        if seconds <= 0:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stopping.wait(), seconds)


# --------------------------------------------------------------------------- the app


def _error(status: int, message: str, kind: str, code: str | None) -> JSONResponse:
    body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
    return JSONResponse(body, status_code=status)


def _refused(config: StubConfig, request: ChatRequest) -> str:
    """The error a server that lacks a structured-output method gives ('' when it has it)."""
    kind = (request.response_format or {}).get("type")
    if kind in config.refuse:
        return (
            "1 validation error: {'type': 'literal_error', 'loc': ('body', 'response_format', "
            f"'type'), 'msg': \"Input should be 'text' or 'json_object'\", 'input': '{kind}'}}"
        )
    if request.tools and "tools" in config.refuse:
        return "1 validation error: ('body', 'tools'): tools are not supported"
    return ""


def _usage(request: ChatRequest, completion: _Completion) -> dict[str, int]:
    prompt = estimate_tokens(" ".join(_content_text(m.get("content")) for m in request.messages))
    done = len([p for p in completion.pieces if p])
    return {"prompt_tokens": prompt, "completion_tokens": done, "total_tokens": prompt + done}


def _message(completion: _Completion, call_id: str) -> dict[str, Any]:
    if completion.tool is None:
        return {"role": "assistant", "content": completion.text, "refusal": None}
    call = {
        "id": call_id,
        "type": "function",
        "function": {"name": completion.tool, "arguments": completion.text},
    }
    return {"role": "assistant", "content": None, "refusal": None, "tool_calls": [call]}


async def _events(
    state: StubState, request: ChatRequest, completion: _Completion, number: int
) -> AsyncIterator[str]:
    """The SSE stream of ``chat.completion.chunk`` objects for one reply."""
    head = {
        "id": f"chatcmpl-stub{number}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": request.model,
        "system_fingerprint": "stub",
    }

    def chunk(delta: dict[str, Any], finish: str | None = None) -> str:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        body: dict[str, Any] = {**head, "choices": [choice]}
        if request.include_usage:
            body["usage"] = None
        return f"data: {json.dumps(body)}\n\n"

    if completion.tool is None:
        yield chunk({"role": "assistant", "content": ""})
    else:
        call = {"index": 0, "id": f"call_stub{number}", "type": "function"}
        function = {"name": completion.tool, "arguments": ""}
        yield chunk(
            {"role": "assistant", "content": None, "tool_calls": [{**call, "function": function}]}
        )
    delay = 1 / state.config.tps if state.config.tps > 0 else 0.0
    for k, piece in enumerate(completion.pieces):
        if k:  # the first piece goes out at ttft (time to first token), then one per 1/tps
            await state.sleep(delay)
        if completion.tool is None:
            yield chunk({"content": piece})
        else:
            yield chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})
    yield chunk({}, completion.finish_reason)
    if request.include_usage:
        usage = {**head, "choices": [], "usage": _usage(request, completion)}
        yield f"data: {json.dumps(usage)}\n\n"
    yield "data: [DONE]\n\n"


def create_app(state: StubState | None = None) -> FastAPI:
    """The ASGI app; ``app.state.stub`` holds its :class:`StubState`."""
    stub = state or StubState()
    app = FastAPI(title="interview_graph stub LLM", docs_url=None, redoc_url=None)
    app.state.stub = stub

    @app.get("/v1/models")
    async def list_models() -> dict[str, Any]:
        data = [
            {"id": m, "object": "model", "created": 0, "owned_by": "stub"}
            for m in stub.config.models
        ]
        return {"object": "list", "data": data}

    @app.post("/v1/chat/completions")
    async def chat_completions(http: Request) -> Response:
        role = http.headers.get(ROLE_HEADER) or DEFAULT_ROLE
        try:
            body = await http.json()
            if not isinstance(body, dict):
                raise ValueError("the body must be a JSON object")
            request = ChatRequest.model_validate(body).model_copy(update={"role": role})
        except (ValueError, ValidationError) as exc:
            return _error(400, f"invalid request: {exc}", "invalid_request_error", None)
        refused = _refused(stub.config, request)
        if refused:
            return _error(500, refused, "internal_server_error", None)
        try:
            plan = stub.plan(request, body)
        except Exception as exc:  # a broken responder is the test's bug: report it as a 500
            logger.exception("stub responder failed")
            return _error(500, f"responder failed: {exc}", "server_error", None)
        fault = plan.fault.kind if plan.fault else None
        if fault == "rate_limit":
            assert plan.fault is not None
            wait = (
                stub.config.retry_after
                if plan.fault.retry_after is None
                else plan.fault.retry_after
            )
            response = _error(429, "Rate limit reached (stub).", "requests", "rate_limit_exceeded")
            response.headers["Retry-After"] = f"{wait:g}"
            return response
        if fault == "server_error":
            return _error(500, "The server had an error (stub).", "server_error", None)
        if fault == "stall":
            await stub.sleep(stub.config.stall_seconds)
        completion = compose(request, plan.reply, plan.fault)
        number = stub.next_id()
        await stub.sleep(stub.config.ttft)
        if request.stream:
            return StreamingResponse(
                _events(stub, request, completion, number),
                media_type="text/event-stream",
                headers={"Cache-Control": "no-cache"},
            )
        if stub.config.tps > 0:  # a whole reply takes as long as streaming it would
            await stub.sleep(max(0, len(completion.pieces) - 1) / stub.config.tps)
        choice = {
            "index": 0,
            "message": _message(completion, f"call_stub{number}"),
            "logprobs": None,
            "finish_reason": completion.finish_reason,
        }
        return JSONResponse(
            {
                "id": f"chatcmpl-stub{number}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": request.model,
                "system_fingerprint": "stub",
                "choices": [choice],
                "usage": _usage(request, completion),
            }
        )

    @app.post("/_control")
    async def control(http: Request, reset_stats: bool = False) -> Response:
        try:
            config = StubConfig.model_validate(await http.json())
        except (ValueError, ValidationError) as exc:
            return _error(400, f"invalid config: {exc}", "invalid_request_error", None)
        stub.configure(config)
        if reset_stats:
            stub.reset_stats()
        return JSONResponse(config.model_dump(mode="json"))

    @app.get("/_stats")
    async def stats() -> dict[str, Any]:
        return stub.snapshot().model_dump(mode="json")

    return app


# --------------------------------------------------------------------------- test helper


class StubServer:
    """Runs the stub on a free loopback port in a background thread.

    Use it as ``with StubServer(...) as server:`` or ``async with``; point a client at
    :attr:`base_url`.  Control and stats calls run on the server's own event loop, so they
    are safe from any thread (they block the caller for a moment).
    """

    def __init__(
        self,
        config: StubConfig | None = None,
        *,
        responder: Responder | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.host = host
        self.port = port
        self.state = StubState(config, responder)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sock: socket.socket | None = None
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        """The server's root URL."""
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The OpenAI ``base_url`` (ends in ``/v1``)."""
        return f"{self.url}/v1"

    def start(self, timeout: float = 10.0) -> StubServer:
        """Bind the port, start uvicorn in a thread and wait until it serves."""
        if self._thread is not None:
            return self
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self._sock = sock
        self.port = int(sock.getsockname()[1])
        config = uvicorn.Config(
            create_app(self.state),
            log_config=None,  # leave the host process's logging alone
            log_level="warning",
            access_log=False,
            lifespan="off",
            ws="none",
            timeout_graceful_shutdown=2,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, name=f"stub-llm-{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if self._error is not None or not self._thread.is_alive():
                self.stop()
                raise RuntimeError(f"stub server failed to start: {self._error!r}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("stub server did not start in time")
            time.sleep(0.005)
        return self

    def _run(self) -> None:
        async def serve() -> None:
            self._loop = asyncio.get_running_loop()
            self.state.stopping = asyncio.Event()  # a fresh one per run (and per loop)
            assert self._server is not None and self._sock is not None
            await self._server.serve(sockets=[self._sock])

        try:
            asyncio.run(serve())
        except BaseException as exc:  # reported by start(); the thread must not die silently
            self._error = exc

    def stop(self) -> None:
        """Stop serving (in-flight sleeps end at once) and join the thread."""
        if self._server is not None:
            self._server.should_exit = True
        if self._loop is not None and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop may close meanwhile
                self._loop.call_soon_threadsafe(self.state.stopping.set)
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._sock is not None:
            self._sock.close()
        self._server = self._thread = self._loop = self._sock = None

    def _on_loop(self, fn: Callable[[], T]) -> T:
        loop = self._loop
        if loop is None:  # not running: nothing else touches the state
            return fn()

        async def call() -> T:
            return fn()

        return asyncio.run_coroutine_threadsafe(call(), loop).result(timeout=10)

    def configure(
        self,
        config: StubConfig | None = None,
        /,
        *,
        responder: Responder | None = None,
        reset_stats: bool = False,
        **fields: Any,
    ) -> StubConfig:
        """Replace the whole config (``config``, or one built from ``fields``) and responder.

        Fields not given take their defaults; script queues and random streams restart.
        """
        if config is not None and fields:
            raise TypeError("pass a StubConfig or fields, not both")
        new = config or StubConfig.model_validate(fields)

        def apply() -> None:
            self.state.configure(new)
            self.state.responder = responder
            if reset_stats:
                self.state.reset_stats()

        self._on_loop(apply)
        return new

    def stats(self) -> StubStats:
        """Counts so far and the latest request bodies."""
        return self._on_loop(self.state.snapshot)

    def reset_stats(self) -> None:
        """Zero the counters and forget recorded requests."""
        self._on_loop(self.state.reset_stats)

    def __enter__(self) -> StubServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> StubServer:
        return await asyncio.to_thread(self.start)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self.stop)


# --------------------------------------------------------------------------- CLI


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse the command line (``--help`` lists the flags)."""
    parser = argparse.ArgumentParser(
        prog="python -m interview_graph.llm.stub_server",
        description="Local OpenAI-compatible stub LLM server for tests and benchmarks.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8911)
    parser.add_argument("--config", type=Path, help="StubConfig as a JSON or YAML file.")
    parser.add_argument("--ttft", type=float, help="Seconds before the first token.")
    parser.add_argument("--tps", type=float, help="Streamed pieces per second (0: no delay).")
    parser.add_argument("--fault-rate", type=float, help="Chance of a random fault (0..1).")
    parser.add_argument("--seed", type=int, help="Seed of the random fault sequences.")
    parser.add_argument("--stall-seconds", type=float, help="How long a stall lasts.")
    parser.add_argument("--retry-after", type=float, help="Retry-After seconds of a 429.")
    parser.add_argument(
        "--faults",
        help=f"Comma-separated kinds random faults draw from ({', '.join(FAULT_KINDS)}).",
    )
    parser.add_argument("--log-level", default="info")
    return parser.parse_args(argv)


def config_from_args(args: argparse.Namespace) -> StubConfig:
    """Build the config from ``--config`` and the flags (flags win)."""
    data: dict[str, Any] = {}
    if args.config is not None:
        data = yaml.safe_load(args.config.read_text()) or {}
    flags = {
        "ttft": args.ttft,
        "tps": args.tps,
        "fault_rate": args.fault_rate,
        "seed": args.seed,
        "stall_seconds": args.stall_seconds,
        "retry_after": args.retry_after,
    }
    data.update({k: v for k, v in flags.items() if v is not None})
    if args.faults:
        data["random_faults"] = [k.strip() for k in args.faults.split(",") if k.strip()]
    return StubConfig.model_validate(data)


def main(argv: Sequence[str] | None = None) -> None:
    """Run the stub server in the foreground until interrupted."""
    args = parse_args(argv)
    config = config_from_args(args)
    print(
        f"stub LLM: base_url http://{args.host}:{args.port}/v1  config {config.model_dump_json()}"
    )
    uvicorn.run(
        create_app(StubState(config)), host=args.host, port=args.port, log_level=args.log_level
    )


if __name__ == "__main__":
    main()
