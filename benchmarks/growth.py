"""Benchmark: does a long interview stay flat?  Prompt tokens and stored bytes per turn.

Run: ``.venv/bin/python benchmarks/growth.py [--small]``.

The design keeps the transcript in an append-only event log and only compact working memory
in graph state, and builds every prompt from the current question, compact memory and the
latest answer (never the transcript).  So a turn late in an interview should cost about as
many prompt tokens, and add about as many stored bytes, as an early one.

How: a synthetic plan made from ``rounds/backend_engineer.yaml`` by repeating every round's
topics with new ids and raising ``rules.max_turns`` (validated with ``load_plan``), one
interview in LLM mode against the stub LLM (instant replies: timing is not the subject), a
candidate answering from the sample answers and key points, 200+ turns.  Per turn:

* prompt tokens: the interview's private ``llm_usage`` events, summed per turn exactly as the
  report's ``usage.by_turn`` does (:func:`interview_graph.usage.summarise_usage`);
* stored bytes: the bytes of every row in the SQLite file (checkpoints, checkpoint writes,
  event log), summed with ``length()`` after each turn; the difference is what the turn added.
  The file's page count is recorded too.

Targets: turn 200 / turn 20 ≤ 1.5 for both (each as the mean of a ±10-turn window, since turns
differ by kind: a topic's last answer also triggers its evaluation).

Writes ``<out>/growth.json`` and ``<out>/growth.png``; a full run into the
default ``--out`` also rewrites its section of ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))  # run as a script from anywhere

import _bench as b  # noqa: E402

NAME = "growth"


def synthetic_plan(directory: Path, repeat: int) -> Path:
    """Write a long plan: every round's topics ``repeat`` times (new ids), a huge turn budget."""
    from interview_graph.plans.loader import ROUNDS_DIR, load_plan

    data = yaml.safe_load((ROUNDS_DIR / "backend_engineer.yaml").read_text())
    data["id"] = "long_backend_engineer"
    data["title"] = "Backend Engineer interview, topics repeated (growth benchmark)"
    for round_ in data["rounds"]:
        topics = round_["topics"]
        round_["topics"] = []
        for k in range(repeat):
            for topic in topics:
                again = copy.deepcopy(topic)
                again["id"] = f"{topic['id']}_{k}"
                round_["topics"].append(again)
        round_.setdefault("rules", {})
        round_["rules"]["max_turns"] = 100_000
        round_["rules"]["max_minutes"] = 100_000
    path = directory / "long_backend_engineer.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    load_plan(path)  # fails loudly, naming the field, if the synthetic plan is invalid
    return path


def stored_bytes(database: Path) -> dict[str, int]:
    """Bytes held in every row of every table, and the file's size in pages."""
    con = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        out: dict[str, int] = {}
        tables = [
            r[0]
            for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")
            if not r[0].startswith("sqlite_") and "_fts" not in r[0]
        ]
        for table in tables:
            cols = [r[1] for r in con.execute(f'PRAGMA table_info("{table}")')]
            if not cols:
                continue
            expr = " + ".join(f'coalesce(length("{c}"), 0)' for c in cols)
            out[table] = int(con.execute(f'SELECT coalesce(sum({expr}), 0) FROM "{table}"')
                             .fetchone()[0])
        if "checkpoints" in tables:
            # Split checkpoint bytes by namespace: the interview graph ("") vs its subgraphs
            # ("panelist:<task id>" → "panelist"), and count the checkpoints themselves.
            rows = con.execute(
                "SELECT checkpoint_ns, count(*), sum(length(checkpoint) + length(metadata)) "
                "FROM checkpoints GROUP BY checkpoint_ns"
            ).fetchall()
            for ns, count, size in rows:
                name = ns.split(":", 1)[0] or "main"
                out[f"_ckpt_bytes:{name}"] = out.get(f"_ckpt_bytes:{name}", 0) + int(size or 0)
                out[f"_ckpt_count:{name}"] = out.get(f"_ckpt_count:{name}", 0) + int(count)
        page_size = con.execute("PRAGMA page_size").fetchone()[0]
        page_count = con.execute("PRAGMA page_count").fetchone()[0]
        out["_file_bytes"] = int(page_size * page_count)
        return out
    finally:
        con.close()


async def channel_sizes(session: Any) -> dict[str, int]:
    """Serialized bytes of each channel of the interview's latest checkpoint.

    Every checkpoint stores the channel values again, so a channel that grows with the
    interview makes every later step's checkpoint bigger: this names it.
    """
    saver = session.checkpointer
    found = await saver.aget_tuple(session.config)
    if found is None:
        return {}
    values = found.checkpoint.get("channel_values", {})
    sizes = {k: len(saver.serde.dumps_typed(v)[1]) for k, v in values.items()}
    return dict(sorted(sizes.items(), key=lambda kv: -kv[1]))


def window(values: list[float], at: int, half: int) -> float:
    """Mean of ``values`` (indexed by turn) over turns ``at - half .. at + half``."""
    lo, hi = max(1, at - half), min(len(values) - 1, at + half)
    picked = values[lo : hi + 1]
    return statistics.fmean(picked) if picked else float("nan")


async def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Drive one long interview; record tokens and bytes per turn."""
    from interview_graph.llm.stub_server import StubConfig, StubServer
    from interview_graph.plans.loader import load_plan
    from interview_graph.session import InterviewSession
    from interview_graph.usage import summarise_usage

    plan_path = synthetic_plan(work, args.repeat)
    plan = load_plan(plan_path)
    topics = sum(len(r.topics) for r in plan.rounds)
    print(f"synthetic plan: {topics} topics in {len(plan.rounds)} rounds ({plan_path})", flush=True)
    database = work / "growth.sqlite"
    per_turn: list[dict[str, Any]] = []
    channels: dict[int, dict[str, int]] = {}
    # The stub runs in a thread of this process: instant replies, only sizes matter here.
    with StubServer(StubConfig(ttft=0.0, tps=0.0, keep_requests=0)) as stub:
        os.environ["INTERVIEW_LLM_BASE_URL"] = stub.base_url
        os.environ["INTERVIEW_LLM_API_KEY"] = "sk-benchmark-not-a-key"
        from interview_graph.settings import get_settings

        get_settings.cache_clear()
        session = await InterviewSession.open(
            plan=str(plan_path), engine="llm", database=database
        )
        candidate = b.Candidate(plan, args.level)
        async with session:
            async for _ in session.step():
                pass
            before = stored_bytes(database)
            started = time.perf_counter()
            while len(per_turn) < args.turns and (payload := await session.pending()):
                text = candidate.reply(payload.get("round_id"), payload.get("question_id"))
                t0 = time.perf_counter()
                async for _ in session.step({"kind": "message", "text": text}):
                    pass
                seconds = time.perf_counter() - t0
                after = stored_bytes(database)
                per_turn.append(
                    {
                        "turn": len(per_turn) + 1,
                        "seconds": seconds,
                        "added": {k: after[k] - before.get(k, 0) for k in after},
                        "file_bytes": after["_file_bytes"],
                    }
                )
                before = after
                if len(per_turn) in (args.early, args.late):
                    channels[len(per_turn)] = await channel_sizes(session)
                if len(per_turn) % 20 == 0:
                    n = len(per_turn)
                    added = sum(
                        v for k, v in per_turn[-1]["added"].items() if not k.startswith("_")
                    )
                    print(f"  turn {n}: {seconds * 1000:.0f} ms, +{added} B stored, file "
                          f"{after['_file_bytes'] / 1e6:.2f} MB, load {b.loadavg()}", flush=True)
            wall = time.perf_counter() - started
            finished = await session.pending() is None
            usage = summarise_usage(await session.transcript())
    by_turn = usage.by_turn  # index 0: before the first answer
    prompt = [float(t.prompt_tokens) for t in by_turn]
    per_call = [t.prompt_tokens / t.calls if t.calls else 0.0 for t in by_turn]
    stored = [0.0] + [
        float(sum(v for k, v in t["added"].items() if not k.startswith("_"))) for t in per_turn
    ]
    return {
        "plan_topics": topics,
        "turns": len(per_turn),
        "finished": finished,
        "wall_s": wall,
        "per_turn": per_turn,
        "prompt_tokens_by_turn": prompt,
        "prompt_tokens_per_call_by_turn": per_call,
        "calls_by_turn": [t.calls for t in by_turn],
        "stored_bytes_by_turn": stored,
        # Per table, so a late growth can be pinned on checkpoints, their writes or the log.
        "stored_by_table": {
            table: [0.0] + [float(t["added"].get(table, 0)) for t in per_turn]
            for table in (per_turn[0]["added"] if per_turn else {})
            if table != "_file_bytes"
        },
        "final_file_bytes": per_turn[-1]["file_bytes"] if per_turn else 0,
        "channel_bytes": {str(k): v for k, v in channels.items()},
        "usage_calls": usage.calls,
        "fallbacks": usage.fallbacks,
    }


def compare(data: dict[str, Any], early: int, late: int, half: int) -> dict[str, Any]:
    """Late / early ratios for each per-turn series."""
    out = {}
    for key in ("prompt_tokens_by_turn", "prompt_tokens_per_call_by_turn", "stored_bytes_by_turn"):
        values = data[key]
        e, lt = window(values, early, half), window(values, late, half)
        out[key] = {"early": e, "late": lt, "ratio": lt / e if e else float("nan")}
    for table, values in data["stored_by_table"].items():
        e, lt = window(values, early, half), window(values, late, half)
        out[f"table:{table}"] = {"early": e, "late": lt, "ratio": lt / e if e else float("nan")}
    return out


def rolling(values: list[float], half: int = 10) -> list[float]:
    """Centred rolling mean (shorter windows at the ends)."""
    out = []
    for i in range(len(values)):
        part = values[max(0, i - half) : i + half + 1]
        out.append(statistics.fmean(part))
    return out


def plot(data: dict[str, Any], path: Path) -> None:
    """Prompt tokens and stored bytes per turn against the turn number."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    turns = list(range(1, len(data["prompt_tokens_by_turn"])))
    ax1.plot(turns, data["prompt_tokens_by_turn"][1:], lw=0.8, label="prompt tokens per turn")
    ax1.plot(turns, data["prompt_tokens_per_call_by_turn"][1:], lw=0.8,
             label="prompt tokens per call")
    ax1.plot(turns, rolling(data["prompt_tokens_by_turn"][1:]), lw=1.6, color="C0",
             label="prompt tokens per turn (21-turn mean)")
    ax1.set_xlabel("turn (candidate message)")
    ax1.set_ylabel("tokens")
    ax1.set_ylim(bottom=0)
    ax1.grid(alpha=0.3)
    ax1.legend(fontsize=8)
    ax1.set_title("prompt tokens")
    stored = data["stored_bytes_by_turn"][1:]
    ax2.plot(turns, [s / 1024 for s in stored], lw=0.8, label="bytes added per turn (KiB)")
    ax2.plot(turns, [s / 1024 for s in rolling(stored)], lw=1.6, color="C0",
             label="21-turn mean (KiB)")
    ax2.set_xlabel("turn (candidate message)")
    ax2.set_ylabel("KiB added")
    ax2.set_ylim(bottom=0)
    ax2.grid(alpha=0.3)
    twin = ax2.twinx()
    twin.plot(turns, [t["file_bytes"] / 2**20 for t in data["per_turn"]], color="grey", ls="--",
              lw=0.8, label="SQLite file (MiB)")
    twin.set_ylabel("MiB")
    twin.set_ylim(bottom=0)
    b.legend_of_both(ax2, twin)
    ax2.set_title("stored bytes (checkpoints + writes + event log)")
    fig.suptitle(f"one interview of {data['turns']} turns in LLM mode (load {data['load_before']})",
                 fontsize=9)
    b.save_figure(fig, path)


def markdown(data: dict[str, Any]) -> str:
    """The RESULTS.md section."""
    c = data["compare"]
    e, lt = data["early"], data["late"]
    rows = [
        ("prompt tokens per turn", c["prompt_tokens_by_turn"], ""),
        ("prompt tokens per LLM call", c["prompt_tokens_per_call_by_turn"], ""),
        ("stored bytes added per turn", c["stored_bytes_by_turn"], ""),
    ]
    lines = [
        "## Growth over a long interview (issue 6 §1)",
        "",
        f"Command: `{data['command']}`  ",
        f"Machine: {b.machine_line(data['machine'])}. Load {data['load_before']} at the start, "
        f"{data['load_after']} at the end.",
        "",
        f"One interview of {data['turns']} turns (candidate messages) in LLM mode against the "
        f"stub LLM (instant replies) on a synthetic plan: `backend_engineer`'s topics repeated "
        f"×{data['repeat']} ({data['plan_topics']} topics), `max_turns` raised. Each figure is "
        f"the mean over turns {e}±{data['half']} and {lt}±{data['half']}.",
        "",
        f"| per turn | turn {e} | turn {lt} | ratio | target |",
        "|---|---:|---:|---:|---|",
    ]
    for label, row, _ in rows:
        ok = "≤ 1.5 ✓" if row["ratio"] <= 1.5 else "≤ 1.5 ✗"
        lines.append(
            f"| {label} | {row['early']:.0f} | {row['late']:.0f} | {row['ratio']:.2f} | {ok} |"
        )
    tables = [k for k in c if k.startswith("table:") and c[k]["early"]
              and not k.startswith("table:_")]
    spaces = sorted(k.removeprefix("table:_ckpt_bytes:") for k in c
                    if k.startswith("table:_ckpt_bytes:"))
    lines += [
        "",
        "Stored bytes per turn by table (turn "
        f"{e} → {lt}): "
        + "; ".join(
            f"`{k.removeprefix('table:')}` {c[k]['early'] / 1024:.1f} → "
            f"{c[k]['late'] / 1024:.1f} KiB"
            for k in tables
        )
        + ".",
        "",
        "Checkpoints per turn by graph (turn "
        f"{e} → {lt}): "
        + "; ".join(
            f"`{ns}` {c[f'table:_ckpt_count:{ns}']['early']:.1f} → "
            f"{c[f'table:_ckpt_count:{ns}']['late']:.1f} checkpoints, "
            f"{c[f'table:_ckpt_bytes:{ns}']['early'] / 1024:.1f} → "
            f"{c[f'table:_ckpt_bytes:{ns}']['late'] / 1024:.1f} KiB"
            for ns in spaces
        )
        + ".",
        "",
        *channel_lines(data),
        f"SQLite file after {data['turns']} turns: {data['final_file_bytes'] / 2**20:.1f} MiB; "
        f"{data['usage_calls']} LLM calls, {data['fallbacks']} fallbacks; "
        f"{data['wall_s']:.0f} s wall.",
        "",
        "![growth](results/growth.png)",
    ]
    return "\n".join(lines)


def channel_lines(data: dict[str, Any]) -> list[str]:
    """Which state channels grew between the early and the late turn (top five by growth)."""
    early = data.get("channel_bytes", {}).get(str(data["early"]), {})
    late = data.get("channel_bytes", {}).get(str(data["late"]), {})
    if not early or not late:
        return []
    growth = sorted(late, key=lambda k: -(late[k] - early.get(k, 0)))[:5]
    total_e, total_l = sum(early.values()), sum(late.values())
    return [
        f"The interview's latest checkpoint holds {total_e / 1024:.1f} KiB of channel values "
        f"at turn {data['early']} and {total_l / 1024:.1f} KiB at turn {data['late']}; "
        "the channels that grew most: "
        + ", ".join(
            f"`{k}` {early.get(k, 0) / 1024:.1f} → {late[k] / 1024:.1f} KiB" for k in growth
        )
        + ".",
        "",
    ]


def main() -> None:
    """Parse the flags, run, write the JSON, the PNG and (full runs) RESULTS.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="a few turns, for a smoke test")
    parser.add_argument("--turns", type=int, default=220)
    parser.add_argument("--repeat", type=int, default=12, help="copies of each round's topics")
    parser.add_argument("--early", type=int, default=20)
    parser.add_argument("--late", type=int, default=200)
    parser.add_argument("--half", type=int, default=10, help="half-width of the turn window")
    parser.add_argument("--level", default="average", choices=["strong", "average", "weak"])
    parser.add_argument("--out", type=Path, default=b.DEFAULT_OUT)
    b.add_report_flag(parser, NAME)
    args = parser.parse_args()
    if args.report:
        b.rerender(args.out, NAME, plot, markdown)
        return
    if args.small:
        args.turns, args.repeat, args.early, args.late, args.half = 12, 2, 3, 10, 1
    print(f"machine: {b.machine_line(b.machine())}; load {b.loadavg()}", flush=True)
    load_before = b.loadavg()
    with tempfile.TemporaryDirectory(prefix="bench-growth-") as tmp:
        data = asyncio.run(run(args, Path(tmp)))
    if data["turns"] < args.late + args.half:
        print(f"warning: only {data['turns']} turns (the plan ran out); raise --repeat")
    data.update(
        {
            "benchmark": NAME,
            "command": b.command_line(),
            "machine": b.machine(),
            "small": args.small,
            "repeat": args.repeat,
            "early": args.early,
            "late": args.late,
            "half": args.half,
            "load_before": load_before,
            "load_after": b.loadavg(),
        }
    )
    data["compare"] = compare(data, args.early, args.late, args.half)
    for key, row in data["compare"].items():
        print(f"- {key}: turn {args.early} {row['early']:.0f}, turn {args.late} "
              f"{row['late']:.0f}, ratio {row['ratio']:.2f}")
    b.publish(args.out, NAME, data, plot, markdown, small=args.small)


if __name__ == "__main__":
    main()
