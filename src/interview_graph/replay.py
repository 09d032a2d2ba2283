"""Record a self-play interview with every decision, and replay it through the graph.

``python -m interview_graph.replay record --plan backend_engineer --candidate average OUT.json``
writes a recording; :func:`replay` feeds its inputs and decisions back through a fresh graph.
Tests compare the replayed transcript and report with the recorded ones.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import uuid
from pathlib import Path
from typing import Any

from .engine.base import get_brain, register_engine, unregister_engine
from .engine.recording import RecordingBrain, ReplayBrain
from .selfplay import run_selfplay
from .session import InterviewSession
from .store import Event

FORMAT = 1


def comparable(events: list[Event]) -> list[dict[str, Any]]:
    """Events without the fields that legitimately differ between runs (time, interview id)."""
    return [e.model_dump(exclude={"ts", "interview_id"}) for e in events]


async def record(plan: str, persona: str, *, engine: str = "offline") -> dict[str, Any]:
    """Run a self-play interview with a recording brain; return the recording."""
    brain = RecordingBrain(get_brain(engine))
    name = f"record-{uuid.uuid4().hex[:8]}"
    register_engine(name, lambda: brain)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            database = Path(tmp) / "record.sqlite"
            result = await run_selfplay(plan=plan, persona=persona, database=database, engine=name)
            async with await InterviewSession.open(
                plan=plan, engine=name, database=database, interview_id=result.interview_id
            ) as session:
                transcript = comparable(await session.transcript())
    finally:
        unregister_engine(name)
    return {
        "format": FORMAT,
        "plan": plan,
        "persona": persona,
        "engine": engine,
        "inputs": result.inputs,
        "decisions": brain.decisions,
        "transcript": transcript,
        "report": result.report,
    }


async def replay(
    recording: dict[str, Any], database: str | Path
) -> tuple[list[dict[str, Any]], dict[str, Any] | None, bool]:
    """Replay a recording; return (transcript, report, every decision consumed)."""
    brain = ReplayBrain(recording["decisions"], name=recording["engine"])
    name = f"replay-{uuid.uuid4().hex[:8]}"
    register_engine(name, lambda: brain)
    try:
        async with await InterviewSession.open(
            plan=recording["plan"], engine=name, database=database
        ) as session:
            async for _ in session.step():
                pass
            for value in recording["inputs"]:
                if await session.pending() is None:
                    break
                async for _ in session.step(value):
                    pass
            return comparable(await session.transcript()), await session.report(), brain.exhausted
    finally:
        unregister_engine(name)


def main(argv: list[str] | None = None) -> int:
    """Command line: ``record`` a self-play interview to a JSON file."""
    parser = argparse.ArgumentParser(prog="python -m interview_graph.replay")
    sub = parser.add_subparsers(dest="command", required=True)
    rec = sub.add_parser("record")
    rec.add_argument("--plan", required=True)
    rec.add_argument("--candidate", required=True)
    rec.add_argument("out")
    args = parser.parse_args(argv)
    recording = asyncio.run(record(args.plan, args.candidate))
    Path(args.out).write_text(
        json.dumps(recording, indent=1, sort_keys=True) + "\n", encoding="utf-8"
    )
    print(f"{args.out}: {len(recording['inputs'])} inputs, {len(recording['decisions'])} decisions")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
