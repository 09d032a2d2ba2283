"""Self-play: the candidate agent drives the interview graph to the end.

Used by ``interview-sim simulate``, the tests and the benchmarks.  ``on_item`` sees every
streamed token and event as it happens (the CLI prints them live).  The candidate keeps its
memory on its own checkpointed thread, so a stopped simulation resumes exactly.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from langchain_core.runnables import RunnableConfig

from .candidate.graph import build_candidate_graph
from .candidate.state import CandidateInput
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
) -> SelfPlayResult:
    """Run (or resume, by ``interview_id``) an interview with the candidate agent.

    Args:
        plan: plan id or path.
        persona: candidate persona (strong, average, weak, silent, off_topic, injection, paste).
        database: SQLite file for checkpoints and the event log.
        engine: decision engine name.
        interview_id: resume this interview instead of starting a new one.
        on_item: called with every streamed token/event.
        stop_after: stop (resumably) after sending this many inputs — for tests and demos.

    Returns:
        The interview id, the report (None if stopped early) and how many inputs were sent.
    """
    session = await InterviewSession.open(
        plan=plan, engine=engine, database=database, interview_id=interview_id
    )
    async with session:
        candidate = build_candidate_graph().compile(checkpointer=session.checkpointer)
        cand_config: RunnableConfig = {
            "configurable": {"thread_id": f"{session.interview_id}:candidate"}
        }

        async def drain(value: Any = None) -> None:
            async for item in session.step(value):
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
            seen: CandidateInput = {"persona": persona, "plan": plan, "payload": payload}
            out = await candidate.ainvoke(seen, cand_config)
            for value in out["inputs"]:
                sent += 1
                if sent > MAX_INPUTS:
                    raise RuntimeError(f"interview {session.interview_id} did not finish")
                sent_inputs.append(value)
                await drain(value)
        return SelfPlayResult(session.interview_id, await session.report(), sent, sent_inputs)
