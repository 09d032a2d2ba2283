"""The two kinds of model call: a structured decision, and streamed speech.

A decision asks for JSON matching a pydantic schema (``response_format`` json_schema, not
strict, so vLLM/Ollama/llama.cpp servers accept it) and validates it ourselves: a truncated
reply (``finish_reason == "length"``), malformed JSON or a schema violation earns one repair
attempt that shows the model its error; after that, or after a transport failure that the
SDK's retries could not absorb, the caller's offline decision is used and the fallback is
logged.  The interview never waits on, or crashes from, model output.

Every call's token usage is written to the interview's event log as a private
``llm_usage`` event (the report sums them) and to the process log.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import openai
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    SystemMessage,
)
from pydantic import BaseModel, ValidationError

from ..settings import get_settings
from .models import role_models
from .prompts import load_prompt

D = TypeVar("D", bound=BaseModel)
logger = logging.getLogger("interview_graph.llm")

_REPAIR = (
    "Your previous reply could not be used: {error}. Reply again with only one JSON object "
    "that matches the {schema} schema. No prose, no code fences."
)
_REPAIR_TEXT = (
    "Your previous reply could not be used: {error}. Reply again, exactly in the format the "
    "instructions ask for."
)
# Transport-level failures: the SDK already retried these with backoff.
_TRANSPORT = (openai.APIError, TimeoutError, ConnectionError)


class OutputError(ValueError):
    """The model's reply was unusable (truncated, not JSON, or not the schema)."""


def cost_usd(model: str, prompt_tokens: int, completion_tokens: int) -> float | None:
    """Estimated cost from the configured price table; ``None`` for an unpriced model."""
    prices = get_settings().llm_prices
    # Providers report dated names ("gpt-4o-mini-2024-07-18"): fall back to the longest prefix.
    key = (
        model
        if model in prices
        else max((k for k in prices if model.startswith(k)), key=len, default=None)
    )
    if key is None:
        return None
    price = prices[key]
    return (prompt_tokens * price[0] + completion_tokens * price[1]) / 1_000_000


async def _log_event(kind: str, data: dict[str, Any], text: str = "") -> None:
    """Append a private event to the running interview's log (no-op outside a graph run)."""
    from langgraph.config import get_config
    from langgraph.runtime import get_runtime

    from ..context import interview_id, services

    try:
        runtime = get_runtime()
        node = get_config().get("metadata", {}).get("langgraph_node")
    except RuntimeError:  # called outside a graph run (plan drafting from the CLI)
        return
    svc = await services(runtime)
    await svc.log.append(
        interview_id(runtime),
        f"{kind}:{uuid.uuid4().hex}",
        kind,
        visibility="private",
        speaker="master",
        text=text,
        data={"node": node, **data},
    )


async def record_usage(role: str, model: str, call: str, message: BaseMessage | None) -> None:
    """Log one call's token usage and estimated cost."""
    usage = getattr(message, "usage_metadata", None) or {}
    # The model that answered: the fallback model's name when it took over.
    model = (message.response_metadata.get("model_name") if message else None) or model
    prompt_tokens = int(usage.get("input_tokens", 0))
    completion_tokens = int(usage.get("output_tokens", 0))
    cost = cost_usd(model, prompt_tokens, completion_tokens)
    logger.info(
        "llm call=%s role=%s model=%s prompt_tokens=%d completion_tokens=%d cost=%s",
        call,
        role,
        model,
        prompt_tokens,
        completion_tokens,
        "n/a" if cost is None else f"{cost:.6f}",
    )
    await _log_event(
        "llm_usage",
        {
            "call": call,
            "role": role,
            "model": model,
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "cost_usd": cost,
        },
    )


def _messages(prompt: str, values: dict[str, Any]) -> list[BaseMessage]:
    system, user = load_prompt(prompt).render(**values)
    return [SystemMessage(system), HumanMessage(user)]


def parse_reply(message: BaseMessage, schema: type[D]) -> D:
    """Validate a structured reply.

    Raises:
        OutputError: truncated, not JSON, or not the schema.
    """
    if message.response_metadata.get("finish_reason") == "length":
        raise OutputError("the reply was cut off (finish_reason=length)")
    text = message.content if isinstance(message.content, str) else str(message.content)
    text = text.strip().removeprefix("```json").removeprefix("```").removesuffix("```")
    try:
        return schema.model_validate_json(text)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'reply'}: {e['msg']}" for e in exc.errors()[:5]
        )
        raise OutputError(problems) from None


async def decide(
    role: str,
    schema: type[D],
    prompt: str,
    values: dict[str, Any],
    *,
    fallback: Callable[[], Awaitable[D]] | None,
) -> D:
    """Ask ``role``'s model for a ``schema`` decision; repair once, then fall back.

    Args:
        role: Which role's model answers.
        schema: The pydantic model the reply must match.
        prompt: Prompt file name under ``prompts/``.
        values: The prompt's placeholder values.
        fallback: The offline engine's decision for this step; ``None`` raises instead.

    Raises:
        OutputError: no usable reply and no fallback; the message says what went wrong.
    """
    messages = _messages(prompt, values)
    for attempt in range(2):
        reply, error = await _ask(role, schema, prompt, messages)
        if isinstance(reply, schema):
            return reply
        if not isinstance(reply, BaseMessage) or attempt == 1:
            break  # None: a transport failure, which the SDK has already retried
        messages = [*messages, reply, _repair(error, schema)]
    return await _fall_back(role, prompt, error, fallback)


async def _ask(
    role: str,
    schema: type[D],
    prompt: str,
    messages: list[BaseMessage],
    read: Callable[[str], D] | None = None,
) -> tuple[D | BaseMessage | None, str]:
    """One call: the decision, or the unusable reply and what is wrong with it.

    The reply is ``None`` after a transport failure (the SDK has already retried those).
    With ``read``, the reply is plain text in the prompt's own format, read by ``read``;
    otherwise it is JSON for ``schema``, asked for with ``response_format``.
    """
    rm = role_models()[role]
    config: Any = {"tags": ["nostream", f"role:{role}"], "run_name": prompt}
    kwargs = {} if read else {"response_format": _response_format(schema)}
    try:
        reply = await rm.runnable.ainvoke(messages, config, **kwargs)
    except openai.LengthFinishReasonError:
        await record_usage(role, rm.model, prompt, None)
        return AIMessage(content=""), "the reply was cut off (finish_reason=length)"
    except _TRANSPORT as exc:
        return None, f"{type(exc).__name__}: {exc}"
    assert isinstance(reply, AIMessage)
    await record_usage(role, rm.model, prompt, reply)
    try:
        return _read(reply, schema, read), ""
    except OutputError as exc:
        return reply, str(exc)


def _read(message: BaseMessage, schema: type[D], read: Callable[[str], D] | None) -> D:
    """The decision in ``message``: JSON for ``schema``, or text read by ``read``."""
    if read is None:
        return parse_reply(message, schema)
    if message.response_metadata.get("finish_reason") == "length":
        raise OutputError("the reply was cut off (finish_reason=length)")
    return read(message.content if isinstance(message.content, str) else str(message.content))


def _repair(error: str, schema: type[BaseModel], text: bool = False) -> HumanMessage:
    if text:
        return HumanMessage(_REPAIR_TEXT.format(error=error))
    return HumanMessage(_REPAIR.format(error=error, schema=schema.__name__))


async def _fall_back(
    role: str, prompt: str, error: str, fallback: Callable[[], Awaitable[D]] | None
) -> D:
    logger.warning("llm fallback call=%s role=%s: %s", prompt, role, error)
    if fallback is None:
        raise OutputError(error)
    await _log_event("llm_fallback", {"call": prompt, "role": role}, text=error[:500])
    return await fallback()


_BACKGROUND: set[asyncio.Task[None]] = set()


async def decide_early(
    role: str,
    schema: type[D],
    prompt: str,
    values: dict[str, Any],
    *,
    early: Callable[[str], D | None],
    fallback: Callable[[], Awaitable[D]],
    read: Callable[[str], D] | None = None,
) -> D:
    """Like :func:`decide`, but streamed, returning as soon as ``early(partial_text)`` can.

    The rules screen gates the reply's tokens; waiting for its whole reply would add its
    generation time to the reply's first token.  Its first word settles the common case
    ("allow"), so it is read from the stream; the rest of the reply is drained in the
    background (usage is still recorded).  An unusable reply gets the same one repair.
    ``read`` reads a plain-text reply (see :func:`_ask`); without it the reply is JSON.
    """
    rm = role_models()[role]
    messages = _messages(prompt, values)
    config: Any = {"tags": ["nostream", f"role:{role}"], "run_name": prompt}
    kwargs = {} if read else {"response_format": _response_format(schema)}
    stream = rm.runnable.astream(messages, config, **kwargs)
    full = AIMessageChunk(content="")
    try:
        async for chunk in stream:
            assert isinstance(chunk, AIMessageChunk)
            full = full + chunk
            got = early(str(full.content))
            if got is not None:
                task = asyncio.create_task(_drain(stream, full, role, rm.model, prompt))
                _BACKGROUND.add(task)
                task.add_done_callback(_BACKGROUND.discard)
                return got
    except openai.LengthFinishReasonError:
        full.response_metadata["finish_reason"] = "length"
    except _TRANSPORT as exc:
        return await _fall_back(role, prompt, f"{type(exc).__name__}: {exc}", fallback)
    await record_usage(role, rm.model, prompt, full)
    try:
        return _read(full, schema, read)
    except OutputError as exc:
        error = str(exc)
    bad = AIMessage(content=full.content)
    repair = _repair(error, schema, text=read is not None)
    reply, error = await _ask(role, schema, prompt, [*messages, bad, repair], read)
    if isinstance(reply, schema):
        return reply
    return await _fall_back(role, prompt, error, fallback)


async def _drain(
    stream: AsyncIterator[Any], full: AIMessageChunk, role: str, model: str, prompt: str
) -> None:
    """Finish a stream whose decision was already taken, for its usage figures."""
    try:
        async for chunk in stream:
            full = full + chunk
        await record_usage(role, model, prompt, full)
    except Exception:  # noqa: BLE001  # nothing depends on it any more; never crash a task
        logger.debug("draining %s failed", prompt, exc_info=True)


def _response_format(schema: type[BaseModel]) -> dict[str, Any]:
    return {
        "type": "json_schema",
        "json_schema": {
            "name": schema.__name__,
            "schema": schema.model_json_schema(),
            "strict": False,
        },
    }


async def stream_text(
    role: str, prompt: str, values: dict[str, Any], tags: list[str]
) -> AsyncIterator[str]:
    """Stream ``role``'s reply chunk by chunk; usage is recorded when the stream ends.

    Transport errors propagate: the caller decides what the candidate hears instead.
    """
    rm = role_models()[role]
    last: BaseMessage | None = None
    try:
        async for chunk in rm.runnable.astream(
            _messages(prompt, values), {"tags": tags, "run_name": prompt}
        ):
            assert isinstance(chunk, BaseMessage)
            if getattr(chunk, "usage_metadata", None):
                last = chunk
            if isinstance(chunk.content, str) and chunk.content:
                yield chunk.content
    finally:
        await record_usage(role, rm.model, prompt, last)
