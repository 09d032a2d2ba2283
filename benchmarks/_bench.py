"""Shared plumbing for the benchmarks: processes, a protocol client, /proc probes and results.

Every benchmark writes ``<out>/<name>.json`` (``--out``, default ``benchmarks/results``) and a
PNG beside it; a full run (not ``--small``) also rewrites its own section of
``benchmarks/RESULTS.md``, between ``<!-- bench:<name> -->`` markers, leaving every other
section alone.  The stub LLM and the interview server each run in their own process, as in
production, so the benchmark's client never shares an event loop (or the GIL) with them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import resource
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import websockets

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"
RESULTS_MD = BENCH / "RESULTS.md"
DEFAULT_OUT = BENCH / "results"
PYTHON = sys.executable


# --------------------------------------------------------------------------- machine & load


def loadavg() -> str:
    """The 1/5/15-minute load averages, as ``uptime`` prints them."""
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f}, {five:.2f}, {fifteen:.2f}"


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        from importlib.metadata import version

        versions = {p: version(p) for p in ("langgraph", "langchain-openai", "uvicorn")}
    except Exception:  # noqa: BLE001  # a missing version is not worth failing a benchmark
        versions = {}
    return {
        "git": git_state(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(mem / 2**30, 1),
        "python": platform.python_version(),
        "os": platform.platform(terse=True),
        **versions,
    }


def git_state() -> str:
    """The commit measured, and whether src/ or server.py had uncommitted changes then."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "src", "server.py"], cwd=ROOT,
            capture_output=True, text=True, timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{head}{' + uncommitted changes in src/' if dirty else ''}"


def machine_line(m: dict[str, Any]) -> str:
    """One Markdown line describing the machine."""
    return (
        f"commit {m.get('git', '?')}; {m['cores']} cores ({m['cpu']}), {m['memory_gib']} GiB, "
        f"Python {m['python']}, "
        f"langgraph {m.get('langgraph', '?')}, langchain-openai {m.get('langchain-openai', '?')}, "
        f"uvicorn {m.get('uvicorn', '?')}"
    )


def raise_fd_limit() -> int:
    """Raise this process's open-file limit to its hard limit (children inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def free_port() -> int:
    """A free loopback TCP port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --------------------------------------------------------------------------- /proc probes


_TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far (from /proc/<pid>/stat)."""
    # The command name (field 2) may hold spaces; fields after its closing paren are fixed.
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def rss_bytes(pid: int) -> int:
    """Resident set size of a process (VmRSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


# --------------------------------------------------------------------------- statistics


def pct(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100), linear interpolation; NaN for no values."""
    if not values:
        return float("nan")
    xs = sorted(values)
    if len(xs) == 1:
        return xs[0]
    k = (len(xs) - 1) * q / 100
    lo = int(k)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def summary(values: Sequence[float]) -> dict[str, float]:
    """Count, mean, p50, p90, p99 and max of ``values``."""
    return {
        "n": len(values),
        "mean": statistics.fmean(values) if values else float("nan"),
        "p50": pct(values, 50),
        "p90": pct(values, 90),
        "p99": pct(values, 99),
        "max": max(values) if values else float("nan"),
    }


# --------------------------------------------------------------------------- processes


@dataclass
class Proc:
    """A child process we started (and therefore may stop, by its own pid)."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path
    port: int

    @property
    def pid(self) -> int:
        """The child's pid."""
        return self.popen.pid

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not exit within 10 s."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()


def _wait_http(proc: Proc, url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.popen.poll() is not None:
            raise RuntimeError(f"{proc.name} exited:\n{proc.log.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{proc.name} did not start; see {proc.log}")


def start_stub(work: Path, *, ttft: float, tps: float, keep_requests: int = 50) -> Proc:
    """Start the OpenAI-compatible stub LLM in its own process and configure it."""
    port = free_port()
    log = work / f"stub-{port}.log"
    popen = subprocess.Popen(
        [PYTHON, "-m", "interview_graph.llm.stub_server", "--port", str(port),
         "--log-level", "warning"],
        cwd=ROOT,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )
    proc = Proc("stub", popen, log, port)
    _wait_http(proc, f"http://127.0.0.1:{port}/v1/models")
    configure_stub(proc, ttft=ttft, tps=tps, keep_requests=keep_requests)
    return proc


def configure_stub(
    stub: Proc, *, ttft: float, tps: float, keep_requests: int = 50, reset: bool = True
) -> None:
    """Replace the stub's config (and zero its stats)."""
    config = {"ttft": ttft, "tps": tps, "keep_requests": keep_requests}
    r = httpx.post(
        f"http://127.0.0.1:{stub.port}/_control",
        params={"reset_stats": str(reset).lower()},
        json=config,
        timeout=10,
    )
    r.raise_for_status()


async def stub_stats(stub: Proc) -> dict[str, Any]:
    """The stub's ``/_stats`` (counts and the most recent request bodies)."""
    async with httpx.AsyncClient() as client:
        r = await client.get(f"http://127.0.0.1:{stub.port}/_stats", timeout=30)
        r.raise_for_status()
        return dict(r.json())


async def reset_stub_stats(stub: Proc, *, ttft: float, tps: float, keep_requests: int) -> None:
    """Zero the stub's counters (the config is re-sent unchanged)."""
    async with httpx.AsyncClient() as client:
        r = await client.post(
            f"http://127.0.0.1:{stub.port}/_control",
            params={"reset_stats": "true"},
            json={"ttft": ttft, "tps": tps, "keep_requests": keep_requests},
            timeout=10,
        )
        r.raise_for_status()


def start_server(work: Path, *, stub: Proc | None, extra_env: dict[str, str] | None = None) -> Proc:
    """Start the interview server (``uvicorn server:app``) on a free port, LLM mode if ``stub``."""
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        # A developer's own key or endpoint must never reach a benchmark.
        if not k.startswith(("INTERVIEW_", "OPENAI_", "LANGSMITH_", "LANGCHAIN_"))
    }
    env.update(
        {
            "INTERVIEW_AUTH": "dev",
            "INTERVIEW_DATA_DIR": str(work / "data"),
            "INTERVIEW_LOG_DIR": str(work / "logs"),
            # Benchmark clients are well-behaved; the per-connection rate limit is not the
            # subject here, and the default outbound queue is kept.
            "INTERVIEW_ENGINE": "llm" if stub is not None else "offline",
        }
    )
    if stub is not None:
        env["INTERVIEW_LLM_BASE_URL"] = f"http://127.0.0.1:{stub.port}/v1"
        env["INTERVIEW_LLM_API_KEY"] = "sk-benchmark-not-a-key"
    env.update(extra_env or {})
    log = work / f"server-{port}.log"
    cmd = [PYTHON, "-m", "uvicorn", "server:app", "--host", "127.0.0.1", "--port", str(port),
           "--log-level", "warning"]
    popen = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log.open("ab"),
                             stderr=subprocess.STDOUT)
    proc = Proc("server", popen, log, port)
    _wait_http(proc, f"http://127.0.0.1:{port}/healthz")
    return proc


def server_errors(proc: Proc, limit: int = 4000) -> str:
    """The server log's tracebacks, if any (the tail of the log from the first one)."""
    try:
        text = proc.log.read_text(errors="replace")
    except OSError:
        return ""
    at = text.find("Traceback")
    return "" if at < 0 else text[at : at + limit]


def server_error_kinds(proc: Proc) -> dict[str, int]:
    """Count the exceptions the server logged (a traceback's last line), by text."""
    try:
        text = proc.log.read_text(errors="replace")
    except OSError:
        return {}
    kinds: dict[str, int] = {}
    for line in _EXCEPTION.findall(text):
        kinds[line] = kinds.get(line, 0) + 1
    return kinds


# A traceback's last line: an exception class (possibly dotted) at the start of a line.
_EXCEPTION = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Timeout)\b(?::.*)?)$", re.MULTILINE)


def command_line() -> str:
    """The command that ran this benchmark, as typed from the repo root."""
    script = Path(sys.argv[0]).resolve()
    try:
        script_s = str(script.relative_to(ROOT))
    except ValueError:
        script_s = str(script)
    return " ".join([".venv/bin/python", script_s, *map(shlex.quote, sys.argv[1:])])


# --------------------------------------------------------------------------- protocol client


@dataclass
class Candidate:
    """Answers from the plan like the candidate agent: the sample answer, then key points.

    Cheaper than running the candidate graph per turn, which matters with thousands of
    simulated candidates sharing the benchmark's one event loop.
    """

    plan: Any  # InterviewPlan
    level: str = "average"
    answered: set[str] = field(default_factory=set)
    said: dict[str, int] = field(default_factory=dict)

    def reply(self, round_id: str | None, question_id: str | None) -> str:
        """What to say to the latest panel line about ``question_id``."""
        from interview_graph.plans.models import Level

        topic = None
        if round_id and question_id:
            topic = next(
                (t for r in self.plan.rounds if r.id == round_id for t in r.topics
                 if t.id == question_id),
                None,
            )
        if topic is None:
            return "Ready when you are."
        if topic.id not in self.answered:
            self.answered.add(topic.id)
            return str(topic.sample_answers.at(Level(self.level)))
        # A follow-up: say the next key point's text (a strong candidate knows them all).
        i = self.said.get(topic.id, 0)
        self.said[topic.id] = i + 1
        return str(topic.key_points[i % len(topic.key_points)].text)


class Conversation:
    """One candidate's WebSocket: log in, start, then answer the panel turn by turn.

    A turn: wait until the panel has asked (a persisted ``message`` with a ``question_id``)
    and nothing else has arrived for ``think`` seconds, send the answer, and time the first
    ``token`` frame after it.  Restarting the think timer on every panel frame keeps us from
    answering while the panel is still busy (a message sent then would be queued behind the
    panel's work and measure that instead of the reply's critical path).
    """

    def __init__(self, url: str, user: str, plan: str, candidate: Candidate) -> None:
        self.url = url
        self.user = user
        self.plan = plan
        self.candidate = candidate
        self.ws: Any = None
        self.interview_id = ""
        self.ended = False
        self.errors: list[str] = []
        self.last_question: tuple[str | None, str | None] = (None, None)
        self.asked = False  # the panel's latest line is one we can answer

    async def open(self) -> None:
        """Connect, log in and start the interview (the server opens the first round)."""
        self.ws = await websockets.connect(
            self.url, max_size=None, open_timeout=60, ping_interval=None
        )
        await self.ws.send(json.dumps({"type": "login", "user": self.user}))
        await self._until("session")
        await self.ws.send(json.dumps({"type": "start", "plan": self.plan}))
        session = await self._until("session")
        self.interview_id = session.get("interview_id", "")

    async def _until(self, kind: str, within: float = 120) -> dict[str, Any]:
        try:
            async with asyncio.timeout(within):
                while True:
                    event = self._note(json.loads(await self.ws.recv()))
                    if event["type"] == kind:
                        return event
                    if event["type"] == "error":
                        raise RuntimeError(f"{self.user}: waiting for {kind}: {self.errors[-1]}")
        except TimeoutError:
            raise TimeoutError(f"{self.user}: no {kind} within {within} s") from None

    def _note(self, event: dict[str, Any]) -> dict[str, Any]:
        kind = event["type"]
        if kind == "message":
            self.asked = bool(event.get("question_id"))
            self.last_question = (event.get("round_id"), event.get("question_id"))
        elif kind in ("speaker", "token", "round_started", "round_ended"):
            self.asked = False
        elif kind in ("interview_ended", "report"):
            self.ended = True
        elif kind == "error":
            self.errors.append(f"{event.get('code')}: {event.get('message')}")
        return event

    async def wait_turn(self, think: float, within: float = 300) -> bool:
        """Wait until the panel has asked and been quiet for ``think`` s; False if it ended."""
        deadline = time.monotonic() + within
        while not self.ended:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"{self.user}: no question within {within} s")
            try:
                async with asyncio.timeout(think if self.asked else left):
                    raw = await self.ws.recv()
            except TimeoutError:
                if self.asked:
                    return True
                continue
            self._note(json.loads(raw))
        return False

    async def answer(self, within: float = 120) -> tuple[float, float, str]:
        """Send the answer; return (latency to the first token in s, wall time sent, text)."""
        text = self.candidate.reply(*self.last_question)
        frame = json.dumps({"type": "message", "text": text})
        self.asked = False
        sent_wall = time.time()
        sent = time.perf_counter()
        await self.ws.send(frame)
        async with asyncio.timeout(within):
            while True:
                raw = await self.ws.recv()
                # Token frames dominate the traffic: recognise them without a full parse.
                if '"type":"token"' in raw[:40] or '"type": "token"' in raw[:40]:
                    latency = time.perf_counter() - sent
                    return latency, sent_wall, text
                event = self._note(json.loads(raw))
                if event["type"] == "interview_ended":
                    raise EOFError("the interview ended without a reply")

    async def close(self) -> None:
        """Close the socket (the interview stays stored on the server)."""
        if self.ws is not None:
            try:
                await asyncio.wait_for(self.ws.close(), 5)
            except Exception:  # noqa: BLE001  # closing a dead socket is not a result
                pass


# --------------------------------------------------------------------------- results


def write_json(out: Path, name: str, data: dict[str, Any]) -> Path:
    """Write ``<out>/<name>.json``."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.json"
    path.write_text(json.dumps(data, indent=2, default=float) + "\n")
    return path


def update_results(name: str, markdown: str, path: Path = RESULTS_MD) -> None:
    """Replace (or append) the section between this benchmark's markers in RESULTS.md."""
    begin, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    block = f"{begin}\n{markdown.strip()}\n{end}"
    text = path.read_text() if path.exists() else "# Benchmark results\n"
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _m: block, text)
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    path.write_text(text)


def save_figure(fig: Any, path: Path) -> None:
    """Lay out, write (PNG, 110 dpi) and close a matplotlib figure."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def legend_of_both(ax: Any, twin: Any) -> None:
    """One legend on ``ax`` for the lines of ``ax`` and of its twin axis."""
    handles = ax.get_legend_handles_labels()[0] + twin.get_legend_handles_labels()[0]
    ax.legend(handles, [str(h.get_label()) for h in handles], fontsize=8, loc="upper left")


def add_report_flag(parser: argparse.ArgumentParser, name: str) -> None:
    """``--report``: re-render a benchmark's PNG and RESULTS.md section from its JSON."""
    parser.add_argument(
        "--report",
        action="store_true",
        help=f"only re-render the PNG and the RESULTS.md section from <out>/{name}.json",
    )


Render = Callable[[dict[str, Any]], str]
Plot = Callable[[dict[str, Any], Path], None]


def rerender(
    out: Path,
    name: str,
    plot: Plot,
    markdown: Render,
    refresh: Callable[[dict[str, Any]], None] | None = None,
) -> None:
    """``--report``: re-render from ``<out>/<name>.json``.

    ``refresh`` updates the data first (e.g. recomputes findings; saved back), then the PNG
    is plotted and the RESULTS.md section rewritten.
    """
    data = json.loads((out / f"{name}.json").read_text())
    if refresh is not None:
        refresh(data)
        write_json(out, name, data)
    plot(data, out / f"{name}.png")
    update_results(name, markdown(data))


def publish(
    out: Path, name: str, data: dict[str, Any], plot: Plot, markdown: Render, *, small: bool
) -> None:
    """Write the JSON and the PNG, and (a full run into the default folder) RESULTS.md.

    A smoke run (``small``), or a run written elsewhere with ``--out``, leaves RESULTS.md
    alone.
    """
    path = write_json(out, name, data)
    plot(data, out / f"{name}.png")
    if not small and out.resolve() == DEFAULT_OUT.resolve():
        update_results(name, markdown(data))
    print(f"wrote {path}", flush=True)


def ms(seconds: float) -> str:
    """Seconds as milliseconds with one decimal."""
    return f"{seconds * 1000:.1f}"
