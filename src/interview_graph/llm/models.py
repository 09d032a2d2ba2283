"""Chat models per role, built from :class:`~interview_graph.settings.Settings`.

Roles: ``master`` (topic decisions, speaker, advice), ``screen`` (the rules check that gates
each reply; it answers with one word first, so a small fast model suits it; by default it
uses the master's model), ``panelist`` (speech and reflection), ``evaluator`` (scores, round
summaries, the recommendation), ``planner`` (job description → plan) and ``candidate`` (the
self-play candidate of ``interview-sim simulate --candidate-engine llm``).  Each role gets its
own model name and temperature, a bounded request timeout (the client's default would wait
600 s), the SDK's retries (exponential backoff that honours ``Retry-After`` on 429/5xx) and,
if configured, a fallback model.  Every call carries a token cap (``llm_max_tokens`` per role,
in the request field ``llm_cap_param``; speech overrides it per call from its word limit).
Each role's HTTP client counts the requests a call makes (the SDK's own retries included)
into :data:`ATTEMPTS`, so failed attempts are accounted for with their outcome.
The role travels in an ``X-Interview-Role`` header so proxies and the test server can tell
calls apart.
"""

from __future__ import annotations

import asyncio
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import httpx
import openai
from langchain_core.language_models import BaseChatModel
from langchain_core.runnables import Runnable
from langchain_openai import ChatOpenAI

from ..settings import Settings, get_settings

ROLES = ("master", "screen", "panelist", "evaluator", "planner", "candidate")


@dataclass(frozen=True)
class RoleModel:
    """The runnable for one role, and the names needed for usage accounting."""

    role: str
    model: str
    runnable: Runnable[object, object]
    chat: BaseChatModel


# The HTTP attempts of the call running in this context: one dict per request sent, with the
# response's status once headers arrive (None: no response, e.g. a stall cut off).
ATTEMPTS: ContextVar[list[dict[str, Any]] | None] = ContextVar("llm_attempts", default=None)


async def _on_request(request: httpx.Request) -> None:
    attempts = ATTEMPTS.get()
    if attempts is not None:
        attempts.append({"status": None})


async def _on_response(response: httpx.Response) -> None:
    attempts = ATTEMPTS.get()
    if attempts:
        attempts[-1]["status"] = response.status_code


def cap_kwargs(settings: Settings, tokens: int) -> dict[str, Any]:
    """Request arguments that cap a reply at ``tokens`` (in the configured field)."""
    if settings.llm_cap_param == "max_completion_tokens":
        return {"max_tokens": tokens}  # langchain-openai sends it as max_completion_tokens
    return {"extra_body": {"max_tokens": tokens}}  # verbatim: older servers know only this


def _chat(settings: Settings, role: str, model: str) -> ChatOpenAI:
    key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else "not-needed"
    cap = settings.llm_max_tokens.get(role, 1_000)
    return ChatOpenAI(
        model=model,
        api_key=key,
        base_url=settings.llm_base_url,
        temperature=settings.llm_temperatures.get(role, 0.0),
        timeout=settings.llm_timeout,
        max_retries=settings.llm_max_retries,
        stream_usage=True,
        default_headers={"X-Interview-Role": role},
        # Our own client: langchain-openai's shared default is cached per process, and its
        # pooled connections belong to the event loop that first used them.
        http_async_client=openai.DefaultAsyncHttpxClient(
            timeout=settings.llm_timeout,
            event_hooks={"request": [_on_request], "response": [_on_response]},
        ),
        **cap_kwargs(settings, cap),
    )


def build_role(settings: Settings, role: str) -> RoleModel:
    """Build the model (with its fallback, if any) for ``role``."""
    model = settings.model_for(role)
    chat = _chat(settings, role, model)
    runnable: Runnable[object, object] = chat  # type: ignore[assignment]
    if settings.llm_fallback_model and settings.llm_fallback_model != model:
        runnable = chat.with_fallbacks([_chat(settings, role, settings.llm_fallback_model)])  # type: ignore[assignment]
    return RoleModel(role=role, model=model, runnable=runnable, chat=chat)


_MODELS: dict[int, dict[str, RoleModel]] = {}


def role_models() -> dict[str, RoleModel]:
    """The role models of the running event loop (built once per loop; clients pool connections)."""
    key = id(asyncio.get_running_loop())
    models = _MODELS.get(key)
    if models is None:
        if len(_MODELS) > 8:  # only tests run many loops in one process
            _MODELS.clear()
        settings = get_settings()
        models = _MODELS[key] = {role: build_role(settings, role) for role in ROLES}
    return models


def reset_models() -> None:
    """Forget built models (after a settings change)."""
    _MODELS.clear()
