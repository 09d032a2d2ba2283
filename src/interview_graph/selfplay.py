"""Self-play: the candidate agent drives the interview graph to the end.

Used by ``interview-sim simulate``, the tests and the benchmarks.  ``on_item`` sees every
streamed token and event as it happens (the CLI prints them live).  The candidate keeps its
memory on its own checkpointed thread, so a stopped simulation resumes exactly.

``seed`` makes a run reproducible: it seeds the candidate's choices and, passed into the
interview as its initial state, the panel's wording — the same seed gives the identical
transcript, another seed a different interview.  Without a seed the candidate plays the
same way every time and the panel's wording follows the interview id.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from langchain_core.runnables import RunnableConfig

from .candidate.graph import build_candidate_graph
from .candidate.state import CANDIDATE_ENGINES, LLM_PERSONAS, PERSONAS, CandidateInput
from .session import InterviewSession

MAX_INPUTS = 2_000  # a guard against a runaway loop, far above any plan's budget

OnItem = Callable[[dict[str, Any]], Awaitable[None] | None]


@dataclass
class SelfPlayResult:
    """How a self-play run ended."""

    interview_id: str
    report: dict[str, Any] | None
    inputs_sent: int
    inputs: list[Any]


async def run_selfplay(
    *,
    plan: str,
    persona: str,
    database: str | Path,
    engine: str = "offline",
    interview_id: str | None = None,
    on_item: OnItem | None = None,
    stop_after: int | None = None,
    seed: int | None = None,
    candidate_engine: str = "offline",
) -> SelfPlayResult:
    """Run (or resume, by ``interview_id``) an interview with the candidate agent.

    Args:
        plan: plan id or path.
        persona: candidate persona (strong, average, weak, silent, off_topic, injection, paste,
            adversarial).
        database: SQLite file for checkpoints and the event log.
        engine: decision engine name.
        interview_id: resume this interview instead of starting a new one.
        on_item: called with every streamed token/event.
        stop_after: stop (resumably) after sending this many inputs — for tests and demos.
        seed: seeds the candidate and the panel's wording (a resumed run keeps the seed it
            started with).
        candidate_engine: ``offline`` (plan-driven, reproducible) or ``llm`` (a model plays
            the persona; strong, average, weak or adversarial).

    Returns:
        The interview id, the report (None if stopped early) and how many inputs were sent.

    Raises:
        ValueError: an unknown persona or candidate engine, or a persona the engine cannot
            play.
    """
    if candidate_engine not in CANDIDATE_ENGINES:
        raise ValueError(
            f"unknown candidate engine {candidate_engine!r} (known: {', '.join(CANDIDATE_ENGINES)})"
        )
    known = LLM_PERSONAS if candidate_engine == "llm" else PERSONAS
    if persona not in known:
        raise ValueError(
            f"the {candidate_engine} candidate plays {', '.join(known)}, not {persona!r}"
        )
    session = await InterviewSession.open(
        plan=plan, engine=engine, database=database, interview_id=interview_id
    )
    async with session:
        candidate = build_candidate_graph().compile(checkpointer=session.checkpointer)
        cand_config: RunnableConfig = {
            "configurable": {"thread_id": f"{session.interview_id}:candidate"}
        }

        async def drain(value: Any = None) -> None:
            initial = {"seed": panel_seed(seed)} if seed is not None else None
            async for item in session.step(value, initial):
                if on_item is not None:
                    result = on_item(item)
                    if result is not None:
                        await result

        await drain()
        sent = 0
        sent_inputs: list[Any] = []
        while (payload := await session.pending()) is not None:
            if stop_after is not None and sent >= stop_after:
                return SelfPlayResult(session.interview_id, None, sent, sent_inputs)
            seen: CandidateInput = {
                "persona": persona,
                "plan": plan,
                "payload": payload,
                "seed": seed,
                "engine": candidate_engine,
            }
            out = await candidate.ainvoke(seen, cand_config)
            for value in out["inputs"]:
                sent += 1
                if sent > MAX_INPUTS:
                    raise RuntimeError(f"interview {session.interview_id} did not finish")
                sent_inputs.append(value)
                await drain(value)
        return SelfPlayResult(session.interview_id, await session.report(), sent, sent_inputs)


def panel_seed(seed: int) -> int:
    """The interview's wording seed for a self-play seed (never 0, which means "none")."""
    return int(hashlib.sha256(f"selfplay:{seed}".encode()).hexdigest()[:8], 16) or 1
