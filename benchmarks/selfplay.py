"""Benchmark: wall time of a full interview on the offline engine, per plan and persona.

Run: ``.venv/bin/python benchmarks/selfplay.py [--repeat N]``.  Results go to stdout as a
Markdown table; record notable figures in benchmarks/RESULTS.md with the machine description.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from interview_graph.plans.loader import plan_files
from interview_graph.selfplay import run_selfplay


async def once(plan: str, persona: str) -> tuple[float, int]:
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        result = await run_selfplay(plan=plan, persona=persona, database=Path(tmp) / "b.sqlite")
        assert result.report is not None
        return time.perf_counter() - start, result.inputs_sent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--personas", default="strong,average,weak")
    args = parser.parse_args()
    print("| plan | persona | inputs | median s | max s |")
    print("|---|---|---:|---:|---:|")
    for plan in [p.stem for p in plan_files()]:
        for persona in args.personas.split(","):
            runs = [asyncio.run(once(plan, persona)) for _ in range(args.repeat)]
            times = [t for t, _ in runs]
            print(f"| {plan} | {persona} | {runs[0][1]} | {statistics.median(times):.2f} "
                  f"| {max(times):.2f} |")


if __name__ == "__main__":
    main()
