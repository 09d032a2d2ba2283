"""The LLM candidate: a model plays a persona (``prompts/candidate.md``) against the panel.

It sees only what a real candidate sees — the panel's public lines, the round title, the
question's kind and signature — never the plan's key points, answers or tests.  It keeps a
short running transcript on its own thread, so its prompts stay bounded however long the
interview runs.  On a coding question it talks through its approach first; when the panel
asks for the code, it answers with a fenced block, which is extracted and sent as edits, a
run and a submission.

Its model calls go to the ``candidate`` role (any OpenAI-compatible endpoint, see
:mod:`interview_graph.llm.models`).  They run outside the interview's run context: the
candidate is not part of the interview, so its usage is not counted in the interview's report.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import re
from typing import Any

import openai

from ..llm.calls import stream_text
from ..plans.loader import resolve_plan
from .reading import asks_for_code
from .state import LLM_PERSONAS, CandidateState

logger = logging.getLogger("interview_graph.candidate")

HISTORY = 14  # lines of the conversation the model is shown
MAX_WORDS = 120
_FENCE = re.compile(r"```[ \t]*(?:python|py|python3)?[ \t]*\n(.*?)(?:```|\Z)", re.DOTALL)
_FENCE_ANYWHERE = re.compile(r"```.*?(?:```|\Z)", re.DOTALL)
_MOVES = {
    "approach": "This is a coding question. Explain your approach in words first: the idea, "
    "the data structures and the cost. Do not write any code yet.",
    "code": "Write your complete solution now: the whole function in one fenced ```python "
    "block, starting from the signature. Add nothing else.",
    "code_again": "The interviewer is waiting for your code. Reply with only the complete "
    "function in one fenced ```python block.",
    "talk": "Reply to the interviewer's last line.",
}
_FALLBACK = "Sorry, I lost my train of thought there. Could you repeat the question?"


def extract_code(text: str, signature: str | None = None) -> str | None:
    """The code in a reply: its fenced block, else from the ``def`` of the signature on."""
    m = _FENCE.search(text)
    if m and m.group(1).strip():
        return m.group(1).strip("\n") + "\n"
    if signature:
        name = re.match(r"\s*def\s+(\w+)", signature)
        at = text.find(f"def {name.group(1)}") if name else -1
        if at >= 0:
            return text[at:].strip() + "\n"
    return None


def without_code(text: str) -> str:
    """A reply with any code block taken out (the approach is talked, not coded)."""
    return " ".join(_FENCE_ANYWHERE.sub(" ", text).split())


def conversation(history: list[dict[str, str]]) -> str:
    """The running transcript as the candidate remembers it."""
    if not history:
        return "(nothing yet)"
    who = {"panel": "Interviewer", "me": "You"}
    return "\n".join(f"{who.get(h['who'], h['who'])}: {h['text']}" for h in history)


def prompt_values(
    *, role: str, persona: str, payload: dict[str, Any], history: list[dict[str, str]], move: str
) -> dict[str, Any]:
    """The values of ``prompts/candidate.md`` for one turn (public material only)."""
    return {
        "role": role,
        "persona": persona,
        "max_words": MAX_WORDS,
        "round": payload.get("round_title") or payload.get("round_id") or "",
        "kind": payload.get("question_kind") or "conversation",
        "signature": payload.get("signature") or "none",
        "conversation": conversation(history),
        "move": _MOVES[move],
    }


async def say(values: dict[str, Any]) -> str:
    """One reply of the candidate's model ("" when the endpoint fails)."""

    async def call() -> str:
        chunks = [
            c
            async for c in stream_text(
                "candidate", "candidate", values, ["nostream", "role:candidate"]
            )
        ]
        return "".join(chunks).strip()

    try:
        # A fresh context: outside the interview's run, nothing is logged to its event log.
        return await asyncio.create_task(call(), context=contextvars.Context())
    except (openai.APIError, TimeoutError, ConnectionError) as exc:
        logger.warning("candidate model failed: %s", exc)
        return ""


async def turn(
    state: CandidateState, memory: dict[str, Any], lines: list[str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """This turn's reply (text or code) and the updated memory."""
    persona = state["persona"]
    if persona not in LLM_PERSONAS:
        raise ValueError(f"the LLM candidate plays {', '.join(LLM_PERSONAS)}, not {persona!r}")
    payload = state["payload"]
    plan = await asyncio.to_thread(resolve_plan, state["plan"])  # its role title only: public
    # Lines heard before its code went in (no message since) are still in ``recent``.
    heard = list(memory.get("heard", []))
    if lines[: len(heard)] == heard:
        lines = lines[len(heard) :]
    history = [*memory.get("history", []), *({"who": "panel", "text": t} for t in lines)]
    key = f"{payload.get('round_id')}/{payload.get('question_id')}"
    topics = dict(memory.get("topics") or {})
    tmem = dict(topics.get(key) or {"answered": False, "code": False})
    signature = payload.get("signature")
    coding = payload.get("question_kind") == "coding" and bool(signature)
    move = "talk"
    if coding and not tmem["code"]:
        if not tmem["answered"]:
            move = "approach"
        elif asks_for_code(lines):
            move = "code"
    values = prompt_values(
        role=plan.role, persona=persona, payload=payload, history=history[-HISTORY:], move=move
    )
    text = await say(values)
    code = extract_code(text, signature) if coding and move != "approach" else None
    if move == "code" and code is None:
        text = await say({**values, "move": _MOVES["code_again"]})
        code = extract_code(text, signature)
    reply: dict[str, Any]
    if code is not None and not tmem["code"]:
        tmem["code"] = True
        reply = {"text": None, "code": code}
        history.append({"who": "me", "text": "[submits the code]"})
        heard = [*heard, *lines]
    else:
        heard = []
        said = without_code(text)
        tmem["answered"] = tmem["answered"] or bool(said)
        said = said or _FALLBACK
        reply = {"text": said, "code": None}
        history.append({"who": "me", "text": said})
    topics[key] = tmem
    return reply, {**memory, "history": history[-HISTORY:], "topics": topics, "heard": heard}
