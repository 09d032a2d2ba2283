"""Benchmark: wall time of a full interview on the offline engine, per plan and persona.

Run: ``.venv/bin/python benchmarks/selfplay.py [--repeat N] [--small]``.  Target (issue 2):
every shipped plan completes offline in under 10 s.  Prints a Markdown table, writes
``<out>/selfplay.json`` and ``<out>/selfplay.png``; a full run into the
default ``--out`` also rewrites its section of ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # run as a script from anywhere

import _bench as b  # noqa: E402

from interview_graph.plans.loader import plan_files  # noqa: E402
from interview_graph.selfplay import run_selfplay  # noqa: E402

NAME = "selfplay"


async def once(plan: str, persona: str) -> tuple[float, int]:
    """One full self-play interview on a fresh database: (seconds, candidate inputs)."""
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        result = await run_selfplay(plan=plan, persona=persona, database=Path(tmp) / "b.sqlite")
        assert result.report is not None
        return time.perf_counter() - start, result.inputs_sent


def plot(data: dict[str, Any], path: Path) -> None:
    """Median seconds per plan and persona, with the 10 s target."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = data["rows"]
    plans = sorted({r["plan"] for r in rows})
    personas = list(dict.fromkeys(r["persona"] for r in rows))
    fig, ax = plt.subplots(figsize=(7.5, 4))
    width = 0.8 / max(1, len(personas))
    for k, persona in enumerate(personas):
        xs = [i + k * width for i in range(len(plans))]
        ys = [next(r["median_s"] for r in rows if r["plan"] == p and r["persona"] == persona)
              for p in plans]
        ax.bar(xs, ys, width, label=persona)
    ax.axhline(10, color="red", ls="--", lw=0.8, label="10 s target")
    ax.set_xticks([i + width * (len(personas) - 1) / 2 for i in range(len(plans))], plans)
    ax.set_ylabel("median seconds per interview")
    ax.set_title(f"offline self-play, full interview (load {data['load_before']})", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, axis="y")
    b.save_figure(fig, path)


def table(rows: list[dict[str, Any]]) -> list[str]:
    """The Markdown table of the rows."""
    lines = ["| plan | persona | inputs | median s | max s |", "|---|---|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['plan']} | {r['persona']} | {r['inputs']} | {r['median_s']:.2f} "
                     f"| {r['max_s']:.2f} |")
    return lines


def markdown(data: dict[str, Any]) -> str:
    """The RESULTS.md section."""
    rows = data["rows"]
    worst = max(r["max_s"] for r in rows)
    per_input = statistics.median(r["median_s"] / r["inputs"] for r in rows) * 1000
    return "\n".join(
        [
            '## Offline self-play (issue 2: "completes each shipped plan offline in under 10 s")',
            "",
            f"Command: `{data['command']}`  ",
            f"Machine: {b.machine_line(data['machine'])}. Load {data['load_before']} at the "
            f"start, {data['load_after']} at the end.",
            "",
            *table(rows),
            "",
            f"Every full 3-round interview finishes in at most {worst:.2f} s, well under the "
            f"10 s target; a median {per_input:.0f} ms per candidate input (each input runs "
            "≈10–20 graph steps including the panelist subgraph, with checkpoint writes).",
            "",
            "![self-play](results/selfplay.png)",
        ]
    )


def main() -> None:
    """Run every plan × persona ``--repeat`` times; print, write JSON/PNG and RESULTS.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--personas", default="strong,average,weak")
    parser.add_argument("--small", action="store_true", help="one plan, one persona, once")
    parser.add_argument("--out", type=Path, default=b.DEFAULT_OUT)
    b.add_report_flag(parser, NAME)
    args = parser.parse_args()
    if args.report:
        b.rerender(args.out, NAME, plot, markdown)
        return
    plans = [p.stem for p in plan_files()]
    if args.small:
        plans, args.personas, args.repeat = plans[:1], "strong", 1
    load_before = b.loadavg()
    print(f"machine: {b.machine_line(b.machine())}; load {load_before}", flush=True)
    rows: list[dict[str, Any]] = []
    print("| plan | persona | inputs | median s | max s |")
    print("|---|---|---:|---:|---:|")
    for plan in plans:
        for persona in args.personas.split(","):
            runs = [asyncio.run(once(plan, persona)) for _ in range(args.repeat)]
            times = [t for t, _ in runs]
            rows.append({"plan": plan, "persona": persona, "inputs": runs[0][1],
                         "median_s": statistics.median(times), "max_s": max(times),
                         "times": times})
            print(table(rows[-1:])[-1], flush=True)
    data = {
        "benchmark": NAME,
        "command": b.command_line(),
        "machine": b.machine(),
        "small": args.small,
        "repeat": args.repeat,
        "rows": rows,
        "load_before": load_before,
        "load_after": b.loadavg(),
    }
    b.publish(args.out, NAME, data, plot, markdown, small=args.small)


if __name__ == "__main__":
    main()
