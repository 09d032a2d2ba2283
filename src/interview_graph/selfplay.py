"""Self-play: the candidate agent drives the interview graph to the end.

Used by ``interview-sim simulate``, the tests and the benchmarks.  ``on_item`` sees every
streamed token and event as it happens (the CLI prints them live).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from .candidate.graph import build_candidate_graph
from .session import InterviewSession

MAX_INPUTS = 2_000  # a guard against a runaway loop, far above any plan's budget

OnItem = Callable[[dict[str, Any]], Awaitable[None] | None]


async def run_selfplay(
    *, plan: str, persona: str, database: str | Path, engine: str = "offline",
    interview_id: str | None = None, on_item: OnItem | None = None,
) -> tuple[str, dict[str, Any]]:
    """Run (or resume) a whole interview with the candidate agent; return (id, report)."""
    candidate = build_candidate_graph().compile()
    session = await InterviewSession.open(
        plan=plan, engine=engine, database=database, interview_id=interview_id
    )
    async with session:
        memory: dict[str, Any] = {}

        async def drain(value: Any = None) -> None:
            async for item in session.step(value):
                if on_item is not None:
                    result = on_item(item)
                    if result is not None:
                        await result

        await drain()
        sent = 0
        while (payload := await session.pending()) is not None:
            out = await candidate.ainvoke(
                {"persona": persona, "plan": plan, "payload": payload, "memory": memory}
            )
            memory = out["memory"]
            for value in out["inputs"]:
                sent += 1
                if sent > MAX_INPUTS:
                    raise RuntimeError(f"interview {session.interview_id} did not finish")
                await drain(value)
        report = await session.report()
        if report is None:
            raise RuntimeError(f"interview {session.interview_id} ended without a report")
        return session.interview_id, report
