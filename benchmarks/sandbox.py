"""Benchmark: sandbox overhead per run, and the cost of analysing a typical submission.

Run: ``.venv/bin/python benchmarks/sandbox.py [--runs N]``.  Target: ≤ 50 ms overhead per run.
"Overhead" is the wall time of a sandboxed run of a trivial function minus nothing: it
includes bubblewrap's namespace set-up, prlimit, the interpreter's start and the harness.
Each run's code differs by a comment: ``run_tests`` shares the result of identical recent
requests, so repeating the same code would time a dictionary look-up, not the sandbox.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from interview_graph.activity import sandbox
from interview_graph.activity.static import analyse, resemblance
from interview_graph.plans.loader import resolve_plan


async def main(runs: int) -> None:
    """Time ``runs`` trivial sandboxed runs, submissions and static analyses; print a table."""
    reason = await sandbox.why_unavailable()
    if reason:
        raise SystemExit(f"sandbox unavailable: {reason}")
    trivial = []
    for i in range(runs):
        start = time.perf_counter()
        result = await sandbox.run_tests(
            f"def f():\n    return 1  # {i}\n", "python", "f", [("t", False, [], 1)]
        )
        trivial.append((time.perf_counter() - start) * 1000)
        assert result.tests[0].passed
    topic = resolve_plan("backend_engineer").rounds[0].topics[0]
    assert topic.coding is not None
    code = topic.coding.solutions.average
    tests = [
        (f"t{i}", i >= len(topic.coding.visible_tests), list(t.args), t.expected)
        for i, t in enumerate([*topic.coding.visible_tests, *topic.coding.hidden_tests])
    ]
    submit, static = [], []
    for i in range(runs):
        start = time.perf_counter()
        analyse(code, topic.coding)
        resemblance(code, topic.coding)
        static.append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        await sandbox.run_tests(f"{code}\n# {i}\n", "python", topic.coding.function_name, tests)
        submit.append((time.perf_counter() - start) * 1000)
    q = lambda xs: (statistics.median(xs), sorted(xs)[int(len(xs) * 0.95) - 1])  # noqa: E731
    print(f"sandbox: {result.sandbox}, runs: {runs}")
    print("| measurement | median ms | p95 ms |")
    print("|---|---:|---:|")
    for name, xs in (
        ("trivial run (overhead)", trivial),
        (f"submission: {len(tests)} tests", submit),
        ("static analysis of the submission", static),
    ):
        median, p95 = q(xs)
        print(f"| {name} | {median:.1f} | {p95:.1f} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=100)
    asyncio.run(main(parser.parse_args().runs))
