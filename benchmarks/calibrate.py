"""Benchmark: calibration of the engines' scores against the plans' labelled sample answers.

Run: ``.venv/bin/python benchmarks/calibrate.py [--engine offline|llm] [--small]``.  Targets
(issue 12 §4), for the offline engine: within-one agreement ≥ 0.9 and no inversions (a
weaker labelled answer scoring above a stronger one of the same topic).  The same figures as
``interview-sim calibrate --json OUT``; writes ``<out>/calibrate.json`` and
``<out>/calibrate.png``, and a full run into the default ``--out`` rewrites its section of
``benchmarks/RESULTS.md``.  ``--small`` calibrates one plan.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # run as a script from anywhere

import _bench as b  # noqa: E402

from interview_graph.calibrate import (  # noqa: E402
    AVERAGE_MAX,
    LEVELS,
    ORDINAL,
    TARGET_WITHIN_ONE,
    WEAK_MAX,
    calibrate,
)
from interview_graph.plans.loader import plan_files  # noqa: E402

NAME = "calibrate"


def plot(data: dict[str, Any], path: Path) -> None:
    """Each answer's score by its label (jittered), with the two level thresholds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    engines = data["engines"]
    fig, axes = plt.subplots(1, len(engines), figsize=(4.5 * len(engines), 4), squeeze=False)
    for ax, (engine, figures) in zip(axes[0], engines.items(), strict=True):
        for level in LEVELS:
            scores = [s["score"] for s in figures["samples"] if s["level"] == level]
            xs = [ORDINAL[level] + ((i % 9) - 4) * 0.035 for i in range(len(scores))]
            ax.scatter(xs, scores, s=14, alpha=0.7, label=f"{level} ({len(scores)})")
        ax.axhline(WEAK_MAX, color="grey", ls="--", lw=0.8)
        ax.axhline(AVERAGE_MAX, color="grey", ls="--", lw=0.8)
        ax.set_xticks([1, 2, 3], list(LEVELS))
        ax.set_ylim(0.8, 5.2)
        ax.set_xlabel("label")
        ax.set_ylabel("mean 1–5 score")
        rho = figures["spearman"]
        ax.set_title(
            f"{engine}: ρ {rho if rho is None else f'{rho:.3f}'}, "
            f"within-one {figures['within_one']:.2f}",
            fontsize=10,
        )
        ax.grid(alpha=0.3, axis="y")
        ax.legend(fontsize=8, loc="lower right")
    b.save_figure(fig, path)


def _summary_rows(engines: dict[str, Any]) -> list[str]:
    lines = [
        "| engine | answers | Spearman ρ | exact | within-one | inversions | ties | seconds |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for engine, f in engines.items():
        rho = "n/a" if f["spearman"] is None else f"{f['spearman']:.3f}"
        lines.append(
            f"| {engine} | {f['n']} | {rho} | {f['exact']:.2f} | {f['within_one']:.2f} | "
            f"{len(f['inversions'])} | {len(f['ties'])} | {f['seconds']:.1f} |"
        )
    return lines


def _confusion(f: dict[str, Any]) -> list[str]:
    lines = ["| label \\ predicted | weak | average | strong |", "|---|---:|---:|---:|"]
    for label in LEVELS:
        row = f["confusion"][label]
        lines.append(f"| {label} | " + " | ".join(str(row[p]) for p in LEVELS) + " |")
    return lines


def _disagreements(f: dict[str, Any]) -> list[str]:
    off = [s for s in f["samples"] if s["predicted"] != s["level"]]
    if not off:
        return ["Every answer's predicted level matches its label."]
    two_off = sum(abs(ORDINAL[s["level"]] - ORDINAL[s["predicted"]]) > 1 for s in off)
    lines = [
        f"Answers whose predicted level differs from the label ({two_off} of them two levels "
        "off):",
        "",
        "| plan | topic | label | score | predicted | key points covered | note |",
        "|---|---|---|---:|---|---:|---|",
    ]
    for s in off:
        note = []
        if s["misconception"]:
            note.append(f"voices misconception `{s['misconception']}`")
        if s["tests"]:
            note.append(f"code passes {s['tests']['passed']}/{s['tests']['total']} tests")
        if s["execution"]:
            note.append(f"code not run ({s['execution']})")
        if s.get("unevidenced"):
            note.append("scored 1 on " + ", ".join(s["unevidenced"]))
        lines.append(
            f"| {s['plan']} | {s['topic']} | {s['level']} | {s['score']:.2f} | "
            f"{s['predicted']} | {len(s['covered'])}/{s['key_points']} | {'; '.join(note)} |"
        )
    return lines


def markdown(data: dict[str, Any]) -> str:
    """The RESULTS.md section."""
    engines = data["engines"]
    parts = [
        "## Calibration: scores against the plans' labelled sample answers (issue 12 §4)",
        "",
        f"Command: `{data['command']}` (the same figures: `interview-sim calibrate`)  ",
        f"Machine: {b.machine_line(data['machine'])}. Plans: {', '.join(data['plans'])}.",
        "",
        "Each topic's strong, average and weak sample answer (on coding topics with the "
        "solution at that level submitted through the activity analysis and the sandboxed "
        "tests) goes through the engine's `assess_answer` and the topic owner's `evaluate`; "
        "the answer's score is the mean over the topic's competencies. Labels are ordinals "
        f"(weak 1, average 2, strong 3); a score predicts weak when ≤ {WEAK_MAX:g}, average "
        f"when ≤ {AVERAGE_MAX:g}, else strong (fixed thresholds, see "
        "`src/interview_graph/calibrate.py`). An inversion is a topic whose weaker answer "
        "outscores a stronger one. Targets for the offline engine: within-one agreement "
        f"≥ {TARGET_WITHIN_ONE:.2f}, no inversions.",
        "",
        *_summary_rows(engines),
    ]
    for engine, f in engines.items():
        verdict = "met" if f["meets_targets"] else "**missed**"
        parts += [
            "",
            f"**{engine}** — targets {verdict}. Confusion (rows: label, columns: predicted):",
            "",
            *_confusion(f),
            "",
            *_disagreements(f),
        ]
        if engine == "llm":
            parts += ["", f"Model decisions that fell back to offline: {f['fallbacks']}."]
    parts += [
        "",
        "`tests/test_calibrate.py` holds the offline engine to its targets on the shipped plans "
        "(a scoring or coverage change that makes a weaker answer outscore a stronger one "
        "fails it).",
        "",
        "![calibration](results/calibrate.png)",
    ]
    return "\n".join(parts)


async def _run(plans: list[str], engines: list[str]) -> dict[str, Any]:
    results = {}
    for engine in engines:
        result = await calibrate(plans, engine)
        results[result.engine] = result.to_json()
    return results


def main() -> None:
    """Calibrate each engine; print the summary, write JSON/PNG and RESULTS.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--engine", action="append", choices=("offline", "llm"), help="repeatable; default offline"
    )
    parser.add_argument("--small", action="store_true", help="one plan only")
    parser.add_argument("--out", type=Path, default=b.DEFAULT_OUT)
    b.add_report_flag(parser, NAME)
    args = parser.parse_args()
    if args.report:
        b.rerender(args.out, NAME, plot, markdown)
        return
    plans = [p.stem for p in plan_files()]
    if args.small:
        plans = plans[:1]
    engines = list(dict.fromkeys(args.engine or ["offline"]))
    print(f"machine: {b.machine_line(b.machine())}; load {b.loadavg()}", flush=True)
    figures = asyncio.run(_run(plans, engines))
    data = {
        "benchmark": NAME,
        "command": b.command_line(),
        "machine": b.machine(),
        "small": args.small,
        "plans": plans,
        "thresholds": {"weak_max": WEAK_MAX, "average_max": AVERAGE_MAX},
        "engines": figures,
    }
    print("\n".join(_summary_rows(figures)), flush=True)
    b.publish(args.out, NAME, data, plot, markdown, small=args.small)


if __name__ == "__main__":
    main()
