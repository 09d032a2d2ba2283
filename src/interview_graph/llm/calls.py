"""The two kinds of model call: a structured decision, and streamed speech.

A decision asks for JSON matching a pydantic schema (``response_format`` json_schema, not
strict, so vLLM/Ollama/llama.cpp servers accept it) and validates it ourselves: a truncated
reply (``finish_reason == "length"``), malformed JSON or a schema violation earns one repair
attempt that shows the model its error; after that, or after a transport failure that the
SDK's retries could not absorb, the caller's offline decision is used and the fallback is
logged.  The interview never waits on, or crashes from, model output.

Every call's token usage is written to the interview's event log as a private
``llm_usage`` event (the report sums them) and to the process log, with an ``outcome``:
``ok``, ``truncated`` (finish_reason=length, with the tokens it really used), ``stopped``
(speech cut by the repetition or wall-clock guard), or a failed attempt — ``rate_limited``,
``server_error``, ``no_response`` (a stall cut off), ``failed``, ``deadline``.  Each HTTP
attempt is one call, the SDK's own retries included (the role's HTTP client counts them).

Bounds: every call carries a token cap (``llm_max_tokens`` per role; speech from its word
limit) and a total deadline across its retries and repair (``llm_deadlines``); a spoken reply
also has a wall-clock cap (``llm_speech_seconds``) and a repetition guard, and a reply cut
short ends on a sentence boundary (see :func:`stream_text`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
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
from . import structured
from .models import ATTEMPTS, cap_kwargs, role_models
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


def _status_outcome(status: int | None) -> str:
    if status is None:
        return "no_response"
    if status == 429:
        return "rate_limited"
    return "server_error" if status >= 500 else f"http_{status}"


def track_attempts() -> None:
    """Start counting the HTTP attempts of the call about to run in this context."""
    ATTEMPTS.set([])


def _estimate(messages: list[BaseMessage] | None) -> int:
    """Rough prompt tokens (4 characters a token) when the server reported none."""
    return sum(len(str(m.content)) for m in messages or []) // 4


async def record_usage(
    role: str,
    model: str,
    call: str,
    message: BaseMessage | None,
    *,
    outcome: str = "ok",
    messages: list[BaseMessage] | None = None,
) -> None:
    """Log one call's token usage and estimated cost, and its failed attempts before it.

    ``message`` is the reply of the call's last attempt (None when every attempt failed);
    the attempts counted by the role's HTTP client before it are logged as failed calls.
    A reply without usage figures (a stream stopped early) gets estimated ones.
    """
    attempts = ATTEMPTS.get()
    taken = list(attempts or [])
    if attempts:
        attempts.clear()
    failed = taken[:-1] if message is not None else taken
    for i, attempt in enumerate(failed):
        last = message is None and i == len(failed) - 1
        kind = outcome if last and attempt["status"] is None else _status_outcome(attempt["status"])
        await _log_usage(role, model, call, 0, 0, kind)
    if message is None:
        if not failed:
            await _log_usage(role, model, call, 0, 0, outcome)
        return
    usage = getattr(message, "usage_metadata", None) or {}
    # The model that answered: the fallback model's name when it took over.
    model = message.response_metadata.get("model_name") or model
    prompt_tokens = int(usage.get("input_tokens", 0))
    completion_tokens = int(usage.get("output_tokens", 0))
    estimated = False
    if not usage and (message.content or messages):
        prompt_tokens = _estimate(messages)
        completion_tokens = max(1, len(str(message.content)) // 4) if message.content else 0
        estimated = True
    if outcome == "ok" and message.response_metadata.get("finish_reason") == "length":
        outcome = "truncated"
    await _log_usage(role, model, call, prompt_tokens, completion_tokens, outcome, estimated)


async def _log_usage(
    role: str,
    model: str,
    call: str,
    prompt_tokens: int,
    completion_tokens: int,
    outcome: str,
    estimated: bool = False,
) -> None:
    cost = cost_usd(model, prompt_tokens, completion_tokens)
    logger.info(
        "llm call=%s role=%s model=%s outcome=%s prompt_tokens=%d completion_tokens=%d cost=%s",
        call,
        role,
        model,
        outcome,
        prompt_tokens,
        completion_tokens,
        "n/a" if cost is None else f"{cost:.6f}",
    )
    data: dict[str, Any] = {
        "call": call,
        "role": role,
        "model": model,
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "cost_usd": cost,
        "outcome": outcome,
    }
    if estimated:
        data["estimated"] = True
    await _log_event("llm_usage", data)


def _length_reply(exc: openai.LengthFinishReasonError) -> AIMessage:
    """The cut-off reply inside a LengthFinishReasonError, with the tokens it really used."""
    reply = AIMessage(content="", response_metadata={"finish_reason": "length"})
    usage = getattr(getattr(exc, "completion", None), "usage", None)
    if usage is not None:
        reply.usage_metadata = {
            "input_tokens": int(usage.prompt_tokens or 0),
            "output_tokens": int(usage.completion_tokens or 0),
            "total_tokens": int(usage.total_tokens or 0),
        }
    return reply


def deadline(role: str) -> float:
    """Seconds a call of ``role`` may take in total (retries and repair included)."""
    return get_settings().llm_deadlines.get(role, 30.0)


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
    track_attempts()
    error = ""
    try:
        # One bound for the attempt, the SDK's retries and the repair together.
        async with asyncio.timeout(deadline(role)):
            for attempt in range(2):
                reply, error = await _ask(role, schema, prompt, messages)
                if isinstance(reply, schema):
                    return reply
                if not isinstance(reply, BaseMessage) or attempt == 1:
                    break  # None: a transport failure, which the SDK has already retried
                messages = [*messages, reply, _repair(error, schema)]
    except TimeoutError:
        error = f"no usable reply within the {role} deadline of {deadline(role):g} s"
        await record_usage(role, role_models()[role].model, prompt, None, outcome="deadline")
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
    try:
        if read:
            reply = await rm.runnable.ainvoke(messages, config)
        else:  # by the method negotiated for this endpoint and model (see .structured)
            reply = await structured.ainvoke(rm, schema, messages, config)
    except openai.LengthFinishReasonError as exc:
        await record_usage(role, rm.model, prompt, _length_reply(exc), outcome="truncated")
        return AIMessage(content=""), "the reply was cut off (finish_reason=length)"
    except _TRANSPORT as exc:
        await record_usage(role, rm.model, prompt, None, outcome="failed")
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

    The whole call, repair included, is bounded by the role's deadline; whoever waits on
    the result (the reply's gate) does not wait for the repair, which is why a repair here
    is off the critical path (see ``panelist.nodes._gated``).
    """
    rm = role_models()[role]
    messages = _messages(prompt, values)
    config: Any = {"tags": ["nostream", f"role:{role}"], "run_name": prompt}
    method = structured.method_for(rm) if read is None else None
    if method:  # JSON by the endpoint's negotiated method (see .structured)
        kwargs = structured.request_kwargs(schema, method)
        messages = structured.messages_for(messages, schema, method)
    else:
        kwargs = {}
    track_attempts()
    full = AIMessageChunk(content="")
    try:
        async with asyncio.timeout(deadline(role)):
            stream = rm.runnable.astream(messages, config, **kwargs)
            try:
                async for chunk in stream:
                    assert isinstance(chunk, AIMessageChunk)
                    full = full + chunk
                    got = early(str(full.content))
                    if got is not None:
                        task = asyncio.create_task(
                            _drain(stream, full, role, rm.model, prompt, messages)
                        )
                        _BACKGROUND.add(task)
                        task.add_done_callback(_BACKGROUND.discard)
                        return got
            except openai.LengthFinishReasonError:
                full.response_metadata["finish_reason"] = "length"
            except _TRANSPORT as exc:
                await record_usage(role, rm.model, prompt, None, outcome="failed")
                if method and structured.refused(exc, method):
                    structured.note_refusal(rm, method, exc)  # the next call asks otherwise
                return await _fall_back(role, prompt, f"{type(exc).__name__}: {exc}", fallback)
            await record_usage(role, rm.model, prompt, full, messages=messages)
            try:
                return _read(full, schema, read)
            except OutputError as exc:
                error = str(exc)
            bad = AIMessage(content=full.content)
            repair = _repair(error, schema, text=read is not None)
            reply, error = await _ask(role, schema, prompt, [*messages, bad, repair], read)
            if isinstance(reply, schema):
                return reply
    except TimeoutError:
        error = f"no usable reply within the {role} deadline of {deadline(role):g} s"
        await record_usage(role, rm.model, prompt, None, outcome="deadline")
    return await _fall_back(role, prompt, error, fallback)


async def _drain(
    stream: AsyncIterator[Any],
    full: AIMessageChunk,
    role: str,
    model: str,
    prompt: str,
    messages: list[BaseMessage],
) -> None:
    """Finish a stream whose decision was already taken, for its usage figures (bounded)."""
    outcome = "ok"
    try:
        async with asyncio.timeout(deadline(role)):
            async for chunk in stream:
                full = full + chunk
    except openai.LengthFinishReasonError:
        outcome = "truncated"
    except Exception:  # noqa: BLE001  # nothing depends on it any more (a timeout too)
        logger.debug("draining %s failed", prompt, exc_info=True)
        outcome = "stopped"
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            with contextlib.suppress(Exception):
                await aclose()
    try:
        await record_usage(role, model, prompt, full, outcome=outcome, messages=messages)
    except Exception:  # noqa: BLE001  # never crash a background task
        logger.debug("recording %s failed", prompt, exc_info=True)


# A sentence ends at . ! ? or … (then closing quotes/brackets) followed by space or the end.
_SENTENCE_END = re.compile(r"[.!?…][\"'”’)\]]*(?=\s|$)")
_NGRAM = 8  # a repeated run of this many words is a loop, not speech
_TAIL = 0.75  # past this share of the token or time budget, only whole sentences go out


def end_cleanly(text: str) -> str:
    """``text`` cut back to its last sentence boundary (never mid-word).

    Without any boundary, it ends at its last whole word with an ellipsis.
    """
    text = text.rstrip()
    ends = list(_SENTENCE_END.finditer(text))
    if ends:
        return text[: ends[-1].end()]
    cut = text.rsplit(None, 1)[0] if len(text.split()) > 1 else text
    return cut.rstrip(",;:-–— ") + "…" if cut else ""


def _repeats_at(text: str) -> int | None:
    """Where a loop starts: the offset of a run of ``_NGRAM`` words seen earlier, or None."""
    spans = [(m.start(), m.group().lower().strip(".,!?;:\"'")) for m in re.finditer(r"\S+", text)]
    if len(spans) < 2 * _NGRAM:
        return None
    words = [w for _, w in spans]
    last = tuple(words[-_NGRAM:])
    for i in range(len(words) - 2 * _NGRAM + 1):
        if tuple(words[i : i + _NGRAM]) == last:
            return spans[len(words) - _NGRAM][0]
    return None


def _whole_sentences(held: str) -> tuple[str, str]:
    """Split held text into (its complete sentences, the partial one after them)."""
    ends = list(_SENTENCE_END.finditer(held))
    if not ends:
        return "", held
    cut = ends[-1].end()
    return held[:cut], held[cut:]


async def stream_text(
    role: str,
    prompt: str,
    values: dict[str, Any],
    tags: list[str],
    *,
    max_tokens: int | None = None,
    outcome: dict[str, Any] | None = None,
) -> AsyncIterator[str]:
    """Stream ``role``'s reply chunk by chunk, bounded; usage is recorded when it ends.

    Bounds: ``max_tokens`` (else the role's cap), the role's deadline until the first piece,
    ``llm_speech_seconds`` from the first piece to the last, and a repetition guard (a run of
    eight words said before ends the reply).  Past 75 % of the token or time budget only whole
    sentences are sent, so when a bound cuts the reply, what the candidate saw ends on a
    sentence boundary; ``outcome`` (if given) then gets ``outcome`` ("truncated", "stopped")
    and ``text``, the line as it should stand (ending cleanly, without a repeated loop).

    Transport errors and the deadline before the first piece propagate: the caller decides
    what the candidate hears instead.  After it, a failure ends the line where it got to.
    """
    settings = get_settings()
    rm = role_models()[role]
    cap = max_tokens or settings.llm_max_tokens.get(role, 1_000)
    messages = _messages(prompt, values)
    track_attempts()
    stream = rm.runnable.astream(
        messages, {"tags": tags, "run_name": prompt}, **cap_kwargs(settings, cap)
    )
    chunks = aiter(stream)
    loop = asyncio.get_running_loop()
    wall = settings.llm_speech_seconds
    first_at: float | None = None
    last: BaseMessage | None = None
    text = sent = held = ""
    pieces = 0
    why = "ok"
    try:
        while True:
            if first_at is None:
                left = deadline(role)
            else:
                left = first_at + wall - loop.time()
            try:
                # wait_for, not a timeout block: each step of this generator may run in
                # another task (the gate pulls chunks through futures).
                chunk = await asyncio.wait_for(anext(chunks), max(0.0, left))
            except StopAsyncIteration:
                break
            except TimeoutError:
                if first_at is None:
                    await record_usage(role, rm.model, prompt, None, outcome="deadline")
                    raise
                why = "stopped"  # the wall-clock cap
                break
            except _TRANSPORT:
                if first_at is None:
                    await record_usage(role, rm.model, prompt, None, outcome="failed")
                    raise
                why = "stopped"
                break
            assert isinstance(chunk, BaseMessage)
            if getattr(chunk, "usage_metadata", None):
                last = chunk
            if chunk.response_metadata.get("finish_reason") == "length":
                why = "truncated"
            if not (isinstance(chunk.content, str) and chunk.content):
                continue
            if first_at is None:
                first_at = loop.time()
            pieces += 1
            text += chunk.content
            loop_at = _repeats_at(text)
            if loop_at is not None:
                text, why = text[:loop_at], "stopped"
                break
            held += chunk.content
            tail = pieces >= _TAIL * cap or loop.time() - first_at >= _TAIL * wall
            out, held = _whole_sentences(held) if tail else (held, "")
            if out:
                sent += out
                yield out
            if pieces >= cap:
                why = "truncated"  # a server that ignores max_tokens
                break
    finally:
        with contextlib.suppress(Exception):
            await stream.aclose()  # type: ignore[attr-defined]  # an async generator
        if last is not None and why == "ok":
            reply = last
        else:
            reply = AIMessage(content=text, usage_metadata=getattr(last, "usage_metadata", None))
        if first_at is not None or last is not None:
            await record_usage(
                role,
                rm.model,
                prompt,
                reply,
                outcome="ok" if why == "ok" else why,
                messages=messages,
            )
    if why == "ok":
        if held:
            yield held
        return
    final = end_cleanly(text)
    if outcome is not None:
        outcome.update({"outcome": why, "text": final})
    logger.info("speech %s cut (%s): %d pieces, %d chars kept", prompt, why, pieces, len(final))
