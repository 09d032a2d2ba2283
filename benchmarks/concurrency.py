"""Benchmark: N candidates at once over WebSocket; added latency, server CPU and memory.

Run: ``.venv/bin/python benchmarks/concurrency.py [--small] [--sizes 10,100,500]``.

For each N: a fresh server (``uvicorn server:app``, one process, LLM mode) against the stub
LLM in its own process (time to first token ``L = 0.3 s``), and N simulated candidates in this
process, each on its own WebSocket: log in, start an interview, then answer every question
after a think time drawn from 2–5 s of panel silence.  Sessions start over a ramp, then
turns are measured over a fixed window; a turn still waiting for its reply when the window
closes gets a grace period and is counted as unfinished after it.

Reported per N: p50/p99 *added* latency (message sent → first token frame, minus ``L``),
server CPU (from /proc: user + system seconds per wall second, so 1.0 = one core busy), RSS
per session (RSS growth over the idle server / N), the stub's and this client's CPU (all
three share the machine's cores), and errors.  The largest N with p99 added latency
≤ 100 ms is the headline.

The stub replies with instant decoding by default (``--tps 0``): the first token needs only
the first piece of ``speak`` and of the rules screen (see the critical-path section), so a
token rate would only lengthen replies, not the latency measured here.  ``--engine offline``
runs the same load on the offline engine for a quick sanity check (no stub; ``L`` is 0 then).

A size whose sessions cannot all start within ``--start-timeout`` seconds is reported as
such, and larger sizes are skipped.

Writes ``<out>/concurrency.json`` and ``<out>/concurrency.png``; a full run into the
default ``--out`` also rewrites its section of ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # run as a script from anywhere

import _bench as b  # noqa: E402

from interview_graph.plans.loader import resolve_plan  # noqa: E402

NAME = "concurrency"


class Load:
    """The shared clock and tallies of one size's run."""

    def __init__(self, n: int, window_start: float, window_end: float, grace: float) -> None:
        self.n = n
        self.window_start = window_start
        self.window_end = window_end
        self.grace = grace
        self.started = 0
        self.start_latencies: list[float] = []
        self.latencies: list[float] = []  # turns sent inside the window
        self.all_turns = 0
        self.unfinished = 0
        self.errors: dict[str, int] = {}
        self.ended = 0
        self.settled = 0
        self.all_in = asyncio.Event()  # every session started or failed

    def check_in(self) -> None:
        """Note that one more session started or failed to."""
        self.settled += 1
        if self.settled >= self.n:
            self.all_in.set()

    def error(self, kind: str) -> None:
        """Count one error by kind."""
        self.errors[kind] = self.errors.get(kind, 0) + 1


async def candidate(
    i: int, url: str, plan: Any, plan_id: str, load: Load, ramp: float, think: tuple[float, float],
    rng: random.Random,
) -> None:
    """One simulated candidate: start during the ramp, answer until the window closes."""
    await asyncio.sleep(ramp * i / max(1, load.n))  # spread the starts evenly over the ramp
    conv = b.Conversation(url, f"load{i}", plan_id, b.Candidate(plan, rng.choice(
        ["strong", "average", "weak"])))
    loop = asyncio.get_running_loop()
    started = False
    try:
        t0 = loop.time()
        await conv.open()
        load.start_latencies.append(loop.time() - t0)
        load.started += 1
        started = True
        load.check_in()
        while loop.time() < load.window_end:
            try:
                # Waiting for a question when the window closes is how a run ends, not an error.
                asked = await conv.wait_turn(
                    rng.uniform(*think), within=load.window_end - loop.time() + 0.5
                )
            except TimeoutError:
                break
            if not asked:
                load.ended += 1  # the interview finished: start another, like a new candidate
                for e in conv.errors:
                    load.error(e.split(":", 1)[0])
                await conv.close()
                conv = b.Conversation(
                    url, f"load{i}", plan_id, b.Candidate(plan, conv.candidate.level)
                )
                await conv.open()
                continue
            if loop.time() >= load.window_end:
                break
            sent = loop.time()
            try:
                budget = max(1.0, load.window_end + load.grace - sent)
                latency, _wall, _text = await conv.answer(within=budget)
            except TimeoutError:
                if load.window_start <= sent:
                    load.unfinished += 1
                break
            load.all_turns += 1
            if load.window_start <= sent < load.window_end:
                load.latencies.append(latency)
    except TimeoutError:
        load.error("timeout")
    except EOFError:
        load.error("ended_without_reply")
    except RuntimeError:
        pass  # an error frame ended this candidate; it is counted from conv.errors below
    except Exception as exc:  # noqa: BLE001  # a failed client is a result, not a crash
        load.error(type(exc).__name__)
    finally:
        for e in conv.errors:  # error frames the server sent (e.g. "internal")
            load.error(e.split(":", 1)[0])
        if not started:
            load.check_in()
        await conv.close()


async def run_size(
    n: int, args: argparse.Namespace, work: Path, stub: b.Proc | None
) -> dict[str, Any]:
    """One size: fresh server, N candidates, measured window; returns the figures."""
    (work / f"n{n}").mkdir()
    server = b.start_server(work / f"n{n}", stub=stub)
    plan = resolve_plan(args.plan)
    url = f"ws://127.0.0.1:{server.port}/ws"
    rng = random.Random(n)
    loop = asyncio.get_running_loop()
    try:
        await asyncio.sleep(1.0)  # let the server settle before its baseline RSS
        rss0 = b.rss_bytes(server.pid)
        ramp = min(args.max_ramp, max(2.0, n / args.ramp_rate))
        now = loop.time()
        load = Load(n, now + ramp + args.settle, now + ramp + args.settle + args.window,
                    args.grace)
        print(f"N={n}: ramp {ramp:.0f} s, window {args.window:.0f} s, load {b.loadavg()}",
              flush=True)
        tasks = [
            asyncio.create_task(
                candidate(i, url, plan, args.plan, load, ramp,
                          (args.think_min, args.think_max), random.Random(rng.random()))
            )
            for i in range(n)
        ]
        # Wait for every session to start, within the start budget.
        try:
            await asyncio.wait_for(load.all_in.wait(), ramp + args.start_timeout)
        except TimeoutError:
            pass
        if load.started < n:
            print(f"  N={n}: only {load.started} sessions started within "
                  f"{args.start_timeout:.0f} s of the ramp; stopping this size", flush=True)
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            return {"n": n, "command": b.command_line(), "completed": False,
                    "started": load.started,
                    "errors": load.errors, "load": b.loadavg(),
                    "start_latency": b.summary(load.start_latencies),
                    "note": f"only {load.started}/{n} sessions started within "
                            f"{args.start_timeout:.0f} s after a {ramp:.0f} s ramp"}
        print(f"  N={n}: all started (p50 start {b.pct(load.start_latencies, 50):.2f} s); "
              "measuring", flush=True)
        await asyncio.sleep(max(0.0, load.window_start - loop.time()))
        cpu = {"server": b.cpu_seconds(server.pid), "client": b.cpu_seconds(os.getpid())}
        if stub is not None:
            cpu["stub"] = b.cpu_seconds(stub.pid)
        t0 = time.perf_counter()
        load_at_start = b.loadavg()
        await asyncio.sleep(max(0.0, load.window_end - loop.time()))
        elapsed = time.perf_counter() - t0
        used = {"server": b.cpu_seconds(server.pid) - cpu["server"],
                "client": b.cpu_seconds(os.getpid()) - cpu["client"]}
        if stub is not None:
            used["stub"] = b.cpu_seconds(stub.pid) - cpu["stub"]
        rss1 = b.rss_bytes(server.pid)
        load_at_end = b.loadavg()
        await asyncio.wait(tasks, timeout=args.grace + 10)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        ttft = 0.0 if stub is None else args.ttft
        added = [x - ttft for x in load.latencies]
        result = {
            "n": n,
            "command": b.command_line(),
            "git": b.git_state(),
            "window": args.window,
            "completed": True,
            "started": load.started,
            "turns": len(load.latencies),
            "turns_per_s": len(load.latencies) / args.window,
            "added": b.summary(added),
            "start_latency": b.summary(load.start_latencies),
            "cpu_per_s": {k: v / elapsed for k, v in used.items()},
            "server_cpu_ms_per_turn": used["server"] / max(1, len(load.latencies)) * 1000,
            "rss_idle_mb": rss0 / 2**20,
            "rss_mb": rss1 / 2**20,
            "rss_per_session_kb": (rss1 - rss0) / n / 1024,
            "unfinished": load.unfinished,
            "errors": load.errors,
            "interviews_finished": load.ended,
            "load_window_start": load_at_start,
            "load_window_end": load_at_end,
            "added_values": added,
        }
        a = result["added"]
        print(f"  N={n}: {result['turns']} turns, added p50 {b.ms(a['p50'])} ms, p99 "
              f"{b.ms(a['p99'])} ms; server CPU {result['cpu_per_s']['server']:.2f}, client "
              f"{result['cpu_per_s']['client']:.2f}, stub {result['cpu_per_s'].get('stub', 0):.2f}"
              f" cores; RSS/session {result['rss_per_session_kb']:.0f} KiB; errors "
              f"{load.errors}; unfinished {load.unfinished}; load {load_at_end}", flush=True)
        return result
    finally:
        server.stop()
        kinds = b.server_error_kinds(server)
        if kinds:
            print(f"  N={n}: server tracebacks: {kinds} (log {server.log})", flush=True)
        result_errors[n] = kinds


# The server's logged exceptions per size, filled in run_size's cleanup.
result_errors: dict[int, dict[str, int]] = {}


def plot(data: dict[str, Any], path: Path) -> None:
    """Added latency (p50, p99) and server CPU against N."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    done = [r for r in data["runs"] if r.get("completed") and r["turns"]]
    fig, ax = plt.subplots(figsize=(7.5, 4.4))
    if done:
        ns = [r["n"] for r in done]
        ax.plot(ns, [r["added"]["p50"] * 1000 for r in done], "o-", label="p50 added latency")
        ax.plot(ns, [r["added"]["p99"] * 1000 for r in done], "s-", label="p99 added latency")
        for r in done:  # the machine's 1-min load at the window's end, next to each point
            ax.annotate(f"load {r['load_window_end'].split(',')[0]}",
                        (r["n"], r["added"]["p99"] * 1000), textcoords="offset points",
                        xytext=(4, 6), fontsize=7, color="grey")
        ax.axhline(100, color="red", ls="--", lw=0.8, label="100 ms (p99 target)")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("simultaneous candidates N")
        ax.set_ylabel("first token − L (ms)")
        twin = ax.twinx()
        twin.plot(ns, [r["cpu_per_s"]["server"] for r in done], "^:", color="grey",
                  label="server CPU (cores)")
        twin.set_ylabel("server CPU (cores)")
        twin.set_ylim(0, 2)
        b.legend_of_both(ax, twin)
    ax.grid(alpha=0.3, which="both")
    ax.set_title(f"N candidates over WebSocket, {data['engine']} engine, L = {data['ttft']} s",
                 fontsize=10)
    b.save_figure(fig, path)


def markdown(data: dict[str, Any]) -> str:
    """The RESULTS.md section."""
    decode = "instant decode" if not data["tps"] else f"{data['tps']:g} tok/s"

    def runs_of(window: float) -> list[dict[str, Any]]:
        return [r for r in data["runs"] if r.get("window", 60.0) == window]

    lines = [
        "## Concurrency: N candidates over WebSocket (issue 6 §1)",
        "",
        "Commands: "
        + ", ".join(
            f"`{c}`" for c in dict.fromkeys(r.get("command", data["command"]) for r in data["runs"])
        )
        + "  ",
        f"Machine: {b.machine_line(data['machine'])}; server, stub LLM and the load generator "
        "share these cores. Commits measured: "
        + ", ".join(
            f"{g} (N = {', '.join(str(r['n']) for r in data['runs'] if r.get('git') == g)})"
            for g in dict.fromkeys(r.get("git", "?") for r in data["runs"])
        )
        + ".",
        "",
        f"One server process (LLM mode unless noted), stub LLM at L = {data['ttft']} s "
        f"({decode}), think time "
        f"{data['think'][0]:g}–{data['think'][1]:g} s, measured over a window of "
        + ", ".join(
            f"{w:g} s (N = {', '.join(str(r['n']) for r in runs_of(w))})"
            for w in dict.fromkeys(r.get("window", 60.0) for r in data["runs"])
        )
        + " after every session started. Added latency = message → first token − L.",
        "",
        "| N | turns | turns/s | added p50 ms | added p99 ms | server CPU (cores) | client CPU "
        "| stub CPU | server ms CPU/turn | RSS/session KiB | errors | unfinished | load (1/5/15) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---|",
    ]
    for r in data["runs"]:
        if not r.get("completed"):
            lines.append(f"| {r['n']} | – | – | – | – | – | – | – | – | – | "
                         f"{r.get('errors') or 0} | – | {r.get('load', '')} |")
            continue
        a, c = r["added"], r["cpu_per_s"]
        lines.append(
            f"| {r['n']} | {r['turns']} | {r['turns_per_s']:.1f} | {b.ms(a['p50'])} | "
            f"{b.ms(a['p99'])} | {c['server']:.2f} | {c['client']:.2f} | {c.get('stub', 0):.2f} "
            f"| {r['server_cpu_ms_per_turn']:.0f} | {r['rss_per_session_kb']:.0f} | "
            f"{r['errors'] or 0} | {r['unfinished']} | {r['load_window_end']} |"
        )
    done = [r for r in data["runs"] if r.get("completed")]
    slopes = [
        f"{(b2['rss_mb'] - b1['rss_mb']) * 1024 / (b2['n'] - b1['n']):.0f} KiB "
        f"({b1['n']}→{b2['n']})"
        for b1, b2 in zip(done, done[1:], strict=False)
    ]
    if slopes:
        # RSS growth / N includes one-time warm-up (models, HTTP clients, plan caches); the
        # slope between sizes is closer to what one more session costs.
        lines += ["", "Marginal server RSS per extra session between sizes: "
                  + ", ".join(slopes) + "."]
    lines += ["", "![concurrency](results/concurrency.png)", ""]
    lines += [f"- {f}" for f in data["findings"]]
    return "\n".join(lines)


def findings(data: dict[str, Any]) -> list[str]:
    """The headline and what did not run."""
    out = []
    measured = [r for r in data["runs"] if r.get("completed") and r["turns"]]
    fast = [r for r in measured if r["added"]["p99"] <= 0.100]
    clean = [r for r in fast if not r["errors"] and not r["unfinished"]]
    out.append(
        f"Largest N with p99 added latency ≤ 100 ms and no errors: {max(r['n'] for r in clean)}."
        if clean else "No N ran with p99 added latency ≤ 100 ms and no errors."
    )
    largest_clean = max((r["n"] for r in clean), default=0)
    if fast and max(r["n"] for r in fast) > largest_clean:
        out.append(
            "Counting only the answers that got a reply, p99 ≤ 100 ms held up to N = "
            f"{max(r['n'] for r in fast)} ("
            + ", ".join(f"N={r['n']}: {b.ms(r['added']['p99'])} ms" for r in fast)
            + "), but those runs lost answers (errors/unfinished columns)."
        )
    locked = [r for r in data["runs"] if any("database is locked" in k
                                             for k in (r.get("server_exceptions") or {}))]
    if locked:
        out.append(
            "Errors and unfinished answers at N = "
            + ", ".join(str(r["n"]) for r in locked)
            + " come from the event log failing writes with `database is locked` "
            "(SQLITE_BUSY_SNAPSHOT: its own connection pinning a stale read snapshot), which "
            "stalled every interview for ~18 s at interviews' ends until commit 53a5bb9 made "
            "every event-log read a single `execute_fetchall`. Seeing it again means that fix "
            "regressed (tests/test_transcript.py guards it)."
        )
    for r in data["runs"]:
        if not r.get("completed"):
            out.append(f"N={r['n']}: did not run: {r['note']}.")
        elif r["unfinished"] > r["turns"]:
            out.append(
                f"N={r['n']}: far past saturation: {r['unfinished']} answers sent in the window "
                f"had no first token {data.get('grace', 30):g} s after it closed (only "
                f"{r['turns']} did); most sessions were still waiting for their opening "
                "lines, so this row is a lower bound on latency, not a steady state."
            )
    # Saturated: answers wait seconds for their first token (the queue, not the work).
    busy = [r for r in data["runs"] if r.get("completed") and r["turns"]
            and r["added"]["p50"] > 1.0]
    if busy:
        out.append(
            "Past saturation the server process used "
            + ", ".join(f"{r['cpu_per_s']['server']:.2f}" for r in busy)
            + f" cores (N = {', '.join(str(r['n']) for r in busy)}) while latency grew to "
            "seconds: one event loop runs all the graph work (Python: one core), with SQLite's "
            "and the HTTP client's threads beside it; throughput stopped growing at "
            f"≈{max(r['turns_per_s'] for r in busy):.0f} turns/s."
        )
    for r in data["runs"]:
        for kind, count in (r.get("server_exceptions") or {}).items():
            out.append(f"N={r['n']}: the server logged {count} × `{kind}`.")
    unsaturated = [r for r in measured if r["added"]["p50"] < 0.2 and r["turns_per_s"] > 0]
    if unsaturated and busy:
        # Offered load per session, from the runs that kept up; capacity from saturation.
        per_session = max(r["turns_per_s"] / r["n"] for r in unsaturated)
        capacity = max(r["turns_per_s"] for r in busy)
        cpu = statistics.median(r["server_cpu_ms_per_turn"] for r in unsaturated)
        out.append(
            f"Capacity: a session offers ≈{per_session:.3f} turns/s (think time plus the "
            f"reply), so N = 1000 offers ≈{per_session * 1000:.0f} turns/s; one server "
            f"process saturates at ≈{capacity:.0f} turns/s, at ≈{cpu:.0f} ms of CPU per turn "
            "(the graph's steps, four model calls through langchain-openai, event-log and "
            f"checkpoint writes). That caps one process near N ≈ {capacity / per_session:.0f} "
            "at this think time; more needs more processes (PostgreSQL scale-out, one "
            "instance per core behind nginx) or less CPU per turn."
        )
    out += [f"N={n}: skipped after a smaller size could not start." for n in data["skipped"]]
    return out


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    """Run every size in turn; stop at the first size that cannot start."""
    with tempfile.TemporaryDirectory(prefix="bench-conc-") as tmp:
        work = Path(tmp)
        stub = None
        if args.engine == "llm":
            stub = b.start_stub(work, ttft=args.ttft, tps=args.tps, keep_requests=0)
        runs: list[dict[str, Any]] = []
        skipped: list[int] = []
        try:
            sizes = [int(s) for s in args.sizes.split(",")]
            for k, n in enumerate(sizes):
                result = await run_size(n, args, work, stub)
                result["server_exceptions"] = result_errors.get(n, {})
                runs.append(result)
                if not result.get("completed"):
                    skipped = sizes[k + 1 :]
                    break
        finally:
            if stub is not None:
                stub.stop()
    return {"runs": runs, "skipped": skipped}


def main() -> None:
    """Parse the flags, run, write the JSON, the PNG and (full runs) RESULTS.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="two tiny sizes, for a smoke test")
    parser.add_argument("--sizes", default="10,25,50,100,500,1000,2000")
    parser.add_argument("--engine", default="llm", choices=["llm", "offline"])
    parser.add_argument("--ttft", type=float, default=0.3)
    parser.add_argument("--tps", type=float, default=0.0)
    parser.add_argument("--think-min", type=float, default=2.0)
    parser.add_argument("--think-max", type=float, default=5.0)
    parser.add_argument("--ramp-rate", type=float, default=20.0, help="session starts per second")
    parser.add_argument("--max-ramp", type=float, default=60.0)
    parser.add_argument("--settle", type=float, default=5.0, help="seconds after the ramp")
    parser.add_argument("--window", type=float, default=60.0)
    parser.add_argument("--grace", type=float, default=30.0)
    parser.add_argument("--start-timeout", type=float, default=120.0)
    parser.add_argument("--merge", action="store_true",
                        help="keep other sizes' results from an earlier run's JSON")
    parser.add_argument("--plan", default="backend_engineer")
    parser.add_argument("--out", type=Path, default=b.DEFAULT_OUT)
    b.add_report_flag(parser, NAME)
    args = parser.parse_args()
    if args.report:
        b.rerender(args.out, NAME, plot, markdown, lambda d: d.update(findings=findings(d)))
        return
    if args.small:
        args.sizes, args.ttft = "2,4", 0.05
        args.think_min, args.think_max = 0.3, 0.5
        args.settle, args.window, args.grace, args.start_timeout = 0.5, 3.0, 5.0, 30.0
    fds = b.raise_fd_limit()
    print(f"machine: {b.machine_line(b.machine())}; load {b.loadavg()}; fd limit {fds}",
          flush=True)
    if args.engine == "offline":
        args.ttft = 0.0
    data = asyncio.run(main_async(args))
    if args.merge and (args.out / f"{NAME}.json").exists():
        # Rerun only some sizes (e.g. one perturbed by other load) and keep the others.
        old = json.loads((args.out / f"{NAME}.json").read_text())
        fresh = {r["n"] for r in data["runs"]}
        kept = [r for r in old["runs"] if r["n"] not in fresh]
        data["runs"] = sorted([*kept, *data["runs"]], key=lambda r: r["n"])
        data["skipped"] = [n for n in data["skipped"] if n not in {r["n"] for r in kept}]
    data.update(
        {
            "benchmark": NAME,
            "command": b.command_line(),
            "machine": b.machine(),
            "small": args.small,
            "engine": args.engine,
            "ttft": args.ttft,
            "tps": args.tps,
            "think": [args.think_min, args.think_max],
            "window": args.window,
            "grace": args.grace,
            "fd_limit": fds,
        }
    )
    data["findings"] = findings(data)
    for f in data["findings"]:
        print("-", f)
    b.publish(args.out, NAME, data, plot, markdown, small=args.small)


if __name__ == "__main__":
    main()
