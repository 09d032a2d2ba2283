"""Benchmark: how long a candidate waits for a reply when the model endpoint misbehaves.

Run: ``.venv/bin/python benchmarks/faults.py [--small]``.

The project's stub LLM (its own process) injects random faults into 20 % of requests
(``--fault-rate``): 429 with Retry-After, 500, truncated JSON, schema violations and stalls of
``--stall`` (40) seconds before the first byte; TTFT ``L`` = 0.2 s at 50 tokens/s.  The real
server (``uvicorn server:app``, LLM mode) runs ``--interviews`` interviews at once, each a
candidate over the real WebSocket answering from the plan's sample answers after ``--think``
seconds of panel silence, until the interview ends.

Per answer: the *wait* (message sent → first token of the reply) and the *turn* (message sent
→ the panel's next question, i.e. when the candidate can answer again).  Reported: max, p90,
how many waits exceed 10 s (the target: none), and whether every interview completed.

Writes ``<out>/faults.json``; a full run into the default ``--out`` rewrites the ``faults``
section of ``benchmarks/RESULTS.md``.  ``--label`` names the row (e.g. the commit measured):
rows of earlier runs in the JSON are kept, so a "before" run (this script run against an older
checkout with ``PYTHONPATH=<checkout>/src``) and an "after" run share one table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # run as a script from anywhere

import _bench as b  # noqa: E402

from interview_graph.plans.loader import resolve_plan  # noqa: E402

NAME = "faults"
FAULTS = ["rate_limit", "server_error", "stall", "truncated_json", "invalid_schema"]


def configure(stub: b.Proc, args: argparse.Namespace) -> None:
    """Put the stub's random faults in place."""
    import httpx

    config = {
        "ttft": args.ttft,
        "tps": args.tps,
        "fault_rate": args.fault_rate,
        "seed": args.seed,
        "stall_seconds": args.stall,
        "random_faults": FAULTS,
        "keep_requests": 10,
    }
    r = httpx.post(
        f"http://127.0.0.1:{stub.port}/_control",
        params={"reset_stats": "true"},
        json=config,
        timeout=10,
    )
    r.raise_for_status()


async def interview(url: str, n: int, args: argparse.Namespace) -> dict[str, Any]:
    """One candidate until the interview ends; per-answer wait and turn times."""
    loaded = resolve_plan(args.plan)
    conv = b.Conversation(url, f"faults{n}", args.plan, b.Candidate(loaded, args.level))
    waits: list[float] = []
    turns: list[float] = []
    error = ""
    try:
        await conv.open()
        while len(waits) < args.max_answers and await conv.wait_turn(args.think, within=600):
            sent = time.perf_counter()
            try:
                wait, _, _ = await conv.answer(within=300)
            except EOFError:
                break
            waits.append(wait)
            # Until the panel asks again (its next line with a question).
            conv.asked = False
            async with asyncio.timeout(600):
                while not conv.asked and not conv.ended:
                    conv._note(json.loads(await conv.ws.recv()))
            turns.append(time.perf_counter() - sent)
    except (TimeoutError, RuntimeError, OSError) as exc:
        error = f"{type(exc).__name__}: {exc}"
    finally:
        await conv.close()
    return {"waits": waits, "turns": turns, "ended": conv.ended, "error": error}


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """Start the stub and the server, run the interviews side by side."""
    with tempfile.TemporaryDirectory(prefix="bench-faults-") as tmp:
        work = Path(tmp)
        stub = b.start_stub(work, ttft=args.ttft, tps=args.tps)
        try:
            configure(stub, args)
            server = b.start_server(work, stub=stub)
        except BaseException:
            stub.stop()
            raise
        load_before = b.loadavg()
        started = time.perf_counter()
        try:
            url = f"ws://127.0.0.1:{server.port}/ws"
            results = await asyncio.gather(
                *[interview(url, n, args) for n in range(args.interviews)]
            )
            stats = await b.stub_stats(stub)
        finally:
            server.stop()
            stub.stop()
            errors = b.server_error_kinds(server)
    waits = [w for r in results for w in r["waits"]]
    turns = [t for r in results for t in r["turns"]]
    return {
        "label": args.label,
        "git": b.git_state(),
        "interviews": args.interviews,
        "completed": sum(1 for r in results if r["ended"]),
        "answers": len(waits),
        "wait": b.summary(waits),
        "turn": b.summary(turns),
        "waits_over_10s": sum(1 for w in waits if w > 10),
        "waits_over_20s": sum(1 for w in waits if w > 20),
        "turns_over_10s": sum(1 for t in turns if t > 10),
        "requests": stats.get("requests"),
        "faults": stats.get("faults"),
        "errors": [r["error"] for r in results if r["error"]],
        "server_exceptions": errors,
        "wall_s": time.perf_counter() - started,
        "load_before": load_before,
        "load_after": b.loadavg(),
        "config": {
            k: getattr(args, k)
            for k in ("fault_rate", "stall", "ttft", "tps", "think", "plan", "level", "seed")
        },
    }


def markdown(data: dict[str, Any]) -> str:
    """The RESULTS.md section."""
    cfg = data["runs"][-1]["config"]
    lines = [
        "## Waits under faults (issue 13 §2)",
        "",
        f"Command: `{data['command']}`  ",
        f"Machine: {b.machine_line(data['machine'])}.  ",
        f"Stub LLM with {cfg['fault_rate']:.0%} random faults (429, 500, truncated JSON, schema "
        f"violations, stalls of {cfg['stall']:g} s), L = {cfg['ttft']:g} s at {cfg['tps']:g} "
        f"tok/s; interviews side by side over the real WebSocket, plan `{cfg['plan']}`, "
        f"{cfg['think']:g} s of panel silence before each answer. Wait = message sent → first "
        "token of the reply; turn = message sent → the panel's next question.",
        "",
        "| run | commit | interviews completed | answers | wait max s | wait p90 s | wait p50 s "
        "| waits > 10 s | waits > 20 s | turn max s | turn p90 s | turns > 10 s | load |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in data["runs"]:
        w, t = r["wait"], r["turn"]
        lines.append(
            f"| {r['label']} | {r['git']} | {r['completed']}/{r['interviews']} | {r['answers']} "
            f"| {w['max']:.1f} | {w['p90']:.1f} | {w['p50']:.2f} | {r['waits_over_10s']} "
            f"| {r['waits_over_20s']} | {t['max']:.1f} | {t['p90']:.1f} | {r['turns_over_10s']} "
            f"| {r['load_before']} |"
        )
    lines.append("")
    for r in data["runs"]:
        lines.append(
            f"- {r['label']}: {r['requests']} requests, faults {r['faults']}; "
            f"client errors {r['errors'] or 'none'}; server exceptions "
            f"{r['server_exceptions'] or 'none'}; {r['wall_s']:.0f} s wall."
        )
    return "\n".join(lines)


def main() -> None:
    """Parse the flags, run, merge with earlier rows, write the JSON and RESULTS.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true")
    parser.add_argument("--label", default="after")
    parser.add_argument("--interviews", type=int, default=4)
    parser.add_argument("--max-answers", type=int, default=30)
    parser.add_argument("--fault-rate", type=float, default=0.2)
    parser.add_argument("--stall", type=float, default=40.0)
    parser.add_argument("--ttft", type=float, default=0.2)
    parser.add_argument("--tps", type=float, default=50.0)
    parser.add_argument("--think", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--plan", default="backend_engineer")
    parser.add_argument("--level", default="average")
    parser.add_argument("--out", type=Path, default=b.DEFAULT_OUT)
    parser.add_argument("--fresh", action="store_true", help="drop rows of earlier runs")
    args = parser.parse_args()
    if args.small:
        args.interviews, args.max_answers, args.stall, args.think = 2, 4, 5.0, 0.3
    result = asyncio.run(run(args))
    print(json.dumps({k: v for k, v in result.items() if k != "config"}, indent=1))
    path = args.out / f"{NAME}.json"
    old = json.loads(path.read_text()) if path.exists() and not args.fresh else {"runs": []}
    runs = [r for r in old["runs"] if r["label"] != args.label] + [result]
    data = {"runs": runs, "command": b.command_line(), "machine": b.machine()}
    b.write_json(args.out, NAME, data)
    if not args.small and args.out.resolve() == b.DEFAULT_OUT.resolve():
        b.update_results(NAME, markdown(data))


if __name__ == "__main__":
    main()
