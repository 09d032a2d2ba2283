"""Every benchmark runs in its ``--small`` mode and writes its JSON (no timing is asserted).

Benchmarks are not timed tests: this only keeps the scripts from rotting.  They run side by
side as subprocesses, each writing into a temporary ``--out`` (never into RESULTS.md).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ["critical_path", "concurrency", "growth", "selfplay"]

pytestmark = pytest.mark.slow


def test_each_benchmark_runs_small_and_writes_its_json(tmp_path: Path) -> None:
    procs = {}
    for name in BENCHMARKS:
        out = tmp_path / name
        log = (tmp_path / f"{name}.log").open("wb")
        procs[name] = (
            subprocess.Popen(
                [sys.executable, str(ROOT / "benchmarks" / f"{name}.py"), "--small",
                 "--out", str(out)],
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
            ),
            out,
        )
    failures = []
    for name, (proc, out) in procs.items():
        try:
            code = proc.wait(timeout=240)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            code = "timeout"
        output = (tmp_path / f"{name}.log").read_text()[-2000:]
        if code != 0:
            failures.append(f"{name}: exit {code}\n{output}")
            continue
        data = json.loads((out / f"{name}.json").read_text())
        assert data["benchmark"] == name and data["small"] is True
        assert (out / f"{name}.png").stat().st_size > 0
    assert not failures, "\n\n".join(failures)
