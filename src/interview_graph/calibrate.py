"""Calibration: do the engines' scores agree with the plans' labelled sample answers?

Every topic of a shipped plan carries sample answers labelled ``strong``, ``average`` and
``weak`` (coding topics also a solution at each level).  For each plan × round × topic ×
level this module plays the candidate's answer through the engine's decisions the way an
interview does, without the graph around them:

1. ``assess_answer`` on the sample answer, from a fresh topic progress
   (:func:`~interview_graph.master.state.new_progress`), and the progress updated the way
   :func:`~interview_graph.master.topic.complete_topic` folds an answer in (covered,
   first_covered, first_ratio, evidence, and a voiced misconception, which costs the point it
   contradicts);
2. on a coding topic, the level's solution submitted through the activity-analysis subgraph
   (static analysis, the sandboxed visible and hidden tests, approach), so tests count, and the
   submission counted in the progress as the panel's discussion of it does;
3. ``evaluate`` by the topic's panelist (``panel="owner"``, what the interview does) or by
   every panelist of the round (``panel="all"``), giving 1–5 scores per competency.

The level's score is the mean over the competencies scored (and over panelists with
``panel="all"``).  Labels become ordinals (weak 1, average 2, strong 3); a score becomes a
predicted level through two fixed thresholds (:data:`WEAK_MAX`, :data:`AVERAGE_MAX`).  The
figures per engine: Spearman's rank correlation between ordinal and score, exact and
within-one agreement of levels, the 3×3 confusion table, and inversions (a topic whose weaker
answer outscores its stronger one).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import time
from collections.abc import Awaitable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from statistics import mean
from typing import Any, Literal

from rich.console import Console
from rich.table import Table

from .activity import sandbox
from .activity.graph import build_activity_graph
from .context import InterviewContext, close_logs, open_log
from .engine.base import Brain, get_brain
from .master.state import new_progress
from .master.topic import fold_answer
from .plans.loader import resolve_plan
from .plans.models import InterviewPlan, Panelist, QuestionKind, Round, Topic
from .settings import get_settings

Level = Literal["weak", "average", "strong"]
LEVELS: tuple[Level, ...] = ("weak", "average", "strong")
ORDINAL: dict[str, int] = {"weak": 1, "average": 2, "strong": 3}

# Score → level.  Fixed constants, not fitted per run.  They come from the plans' own
# coverage bands (plans/audit.py: weak ≤ 30 % of key points, average 30–70 %, strong ≥ 75 %)
# read through the offline score mapping (score = 1 + number of the thresholds 0.2, 0.4,
# 0.6, 0.8 the effective coverage reaches): a weak answer reaches at most the 0.2 step
# (score ≤ 2), a strong one at least the 0.6 step and usually the 0.8 one (score 4–5).  The
# cut between average and strong sits half-way between score 3 (40–60 %, the middle of the
# average band) and score 4 (the first strong score).
WEAK_MAX = 2.0  # score ≤ 2.0 → weak
AVERAGE_MAX = 3.5  # 2.0 < score ≤ 3.5 → average; above → strong

# Targets (issue 12 §4) for the offline engine.
TARGET_WITHIN_ONE = 0.9
TARGET_INVERSIONS = 0

Panel = Literal["owner", "all"]
LLM_NEEDS = (
    "the llm engine needs an endpoint: set INTERVIEW_LLM_BASE_URL (an OpenAI-compatible "
    "server) or an API key (INTERVIEW_LLM_API_KEY / OPENAI_API_KEY)"
)

# Answers scored at once (a model endpoint sees at most this many evaluations in flight; the
# sandbox caps its own runs).
CONCURRENCY = 8
# The activity nodes resolve services with an event log they never write: keep it in memory.
_DATABASE = ":memory:"


def level_of(score: float) -> Level:
    """The level a mean 1–5 score predicts."""
    if score <= WEAK_MAX:
        return "weak"
    if score <= AVERAGE_MAX:
        return "average"
    return "strong"


def average_ranks(values: Sequence[float]) -> list[float]:
    """1-based ranks of ``values``; tied values share the mean of the ranks they span."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman's rank correlation with ties: Pearson's r on average ranks.

    (SciPy is not a dependency of the project; this is what ``scipy.stats.spearmanr``
    computes.)  Returns NaN when either side is constant or there are fewer than two pairs.
    """
    if len(x) != len(y):
        raise ValueError(f"x and y differ in length ({len(x)} and {len(y)})")
    if len(x) < 2:
        return math.nan
    rx, ry = average_ranks(x), average_ranks(y)
    mx, my = mean(rx), mean(ry)
    sxy = sum((a - mx) * (b - my) for a, b in zip(rx, ry, strict=True))
    sxx = sum((a - mx) ** 2 for a in rx)
    syy = sum((b - my) ** 2 for b in ry)
    if sxx == 0 or syy == 0:
        return math.nan
    return sxy / math.sqrt(sxx * syy)


@dataclass
class Sample:
    """One labelled answer and what the engine made of it."""

    plan: str
    round: str
    topic: str
    kind: str
    level: str
    score: float
    predicted: str
    scores: dict[str, dict[str, int]]  # panelist → competency → 1..5
    covered: list[str]
    key_points: int
    misconception: str | None = None
    tests: dict[str, int] | None = None  # the submission's passed/total, coding topics only
    execution: str | None = None  # why the code did not run ("refused: …"), if it did not
    # Competencies scored 1 although the answer covered something: none of their own key
    # points was covered (why an answer can score below its label).
    unevidenced: list[str] = field(default_factory=list)


@dataclass
class Inversion:
    """A topic whose weaker labelled answer scored above a stronger one."""

    plan: str
    round: str
    topic: str
    lower: str
    higher: str
    lower_score: float
    higher_score: float


@dataclass
class EngineResult:
    """The calibration figures of one engine."""

    engine: str
    panel: str
    samples: list[Sample]
    spearman: float
    exact: float
    within_one: float
    confusion: dict[str, dict[str, int]]  # label → predicted → count
    inversions: list[Inversion]
    ties: list[dict[str, Any]]  # topics where two levels scored the same (not inversions)
    seconds: float
    fallbacks: int = 0  # model decisions that fell back to the offline engine (llm)
    thresholds: dict[str, float] = field(
        default_factory=lambda: {"weak_max": WEAK_MAX, "average_max": AVERAGE_MAX}
    )

    @property
    def meets_targets(self) -> bool:
        """Within-one agreement ≥ 0.9 and no inversions (the offline engine's targets)."""
        return self.within_one >= TARGET_WITHIN_ONE and len(self.inversions) <= TARGET_INVERSIONS

    def to_json(self) -> dict[str, Any]:
        """The figures as plain data (``--json``)."""
        data = asdict(self)
        data["n"] = len(self.samples)
        data["meets_targets"] = self.meets_targets
        data["targets"] = {"within_one": TARGET_WITHIN_ONE, "inversions": TARGET_INVERSIONS}
        data["spearman"] = None if math.isnan(self.spearman) else round(self.spearman, 4)
        data["exact"] = round(self.exact, 4)
        data["within_one"] = round(self.within_one, 4)
        data["seconds"] = round(self.seconds, 2)
        return data


def _panelists(round_: Round, topic: Topic, panel: Panel) -> list[Panelist]:
    if panel == "all":
        return list(round_.panel)
    if topic.panelist:
        return [round_.panelist(topic.panelist)]
    # A plan that names no owner: the interview's rota would pick the closest focus.
    wanted = set(topic.competencies)
    return [min(round_.panel, key=lambda p: (-len(wanted & set(p.focus)), round_.panel.index(p)))]


class _Activity:
    """The activity-analysis subgraph, run on a submission outside an interview.

    Submissions are let through at most as many at once as the sandbox runs globally, so
    its own gate never has to queue one (its semaphores are module-wide and bind to the
    first event loop they make wait, which would break a second calibration in the same
    process, as in the tests).  Each answer has its own interview id, and a submission's
    visible and hidden runs are sequential, so the per-interview cap never waits either.
    """

    def __init__(self) -> None:
        self.graph = build_activity_graph().compile()
        self.gate = asyncio.Semaphore(sandbox.GLOBAL_CONCURRENCY)

    async def submit(
        self, plan_ref: str, round_: Round, topic: Topic, code: str, key: str
    ) -> dict[str, Any]:
        """The analysis of submitting ``code`` for ``topic`` (``key`` names the answer)."""
        context = InterviewContext(plan=plan_ref, engine="offline", database=_DATABASE)
        async with self.gate:
            out = await self.graph.ainvoke(
                {
                    "round_id": round_.id,
                    "question_id": topic.id,
                    "action": "submit",
                    "code": code,
                    "language": "python",
                    "previous": None,
                },
                {"configurable": {"thread_id": f"calibrate-{key}"}},
                context=context,
            )
        analysis: dict[str, Any] = out["analysis"]
        return analysis


async def score_answer(
    brain: Brain,
    activity: _Activity,
    plan_ref: str,
    plan: InterviewPlan,
    round_: Round,
    topic: Topic,
    level: Level,
    panel: Panel = "owner",
) -> Sample:
    """Play ``topic``'s ``level`` sample answer (and solution) through ``brain``; score it."""
    answer = getattr(topic.sample_answers, level)
    owners = _panelists(round_, topic, panel)
    progress = new_progress(topic.id)
    progress["owner"] = owners[0].id
    decision = await brain.assess_answer(
        answer,
        topic,
        progress,
        max_follow_ups=round_.rules.max_follow_ups,
        out_of_turns=False,
        silent=False,
    )
    progress = dict(progress)
    fold_answer(topic, progress, decision)
    analysis: dict[str, Any] | None = None
    tests: dict[str, int] | None = None
    execution: str | None = None
    if topic.kind is QuestionKind.CODING and topic.coding is not None:
        code = getattr(topic.coding.solutions, level)
        analysis = await activity.submit(
            plan_ref, round_, topic, code, f"{plan.id}-{topic.id}-{level}"
        )
        progress["submits"] += 1  # master/coding.discuss counts the submission
        if analysis.get("tests"):
            tests = {k: int(analysis["tests"][k]) for k in ("passed", "total")}
        else:
            visible = analysis.get("visible") or {}
            execution = f"{visible.get('status', 'no result')}: {visible.get('message', '')}"
    scores: dict[str, dict[str, int]] = {}
    for panelist in owners:
        evaluation = await brain.evaluate(panelist, topic, round_, progress, analysis)
        scores[panelist.id] = dict(evaluation.scores)
    per_panelist = [mean(s.values()) for s in scores.values() if s]
    score = mean(per_panelist) if per_panelist else 1.0
    covered = set(progress["covered"])
    unevidenced = []
    if covered:
        for comp in topic.competencies:
            own = [
                kp.id for kp in topic.key_points if (kp.competency or topic.competencies[0]) == comp
            ]
            if own and not covered & set(own) and any(s.get(comp) == 1 for s in scores.values()):
                unevidenced.append(f"{comp} (0/{len(own)} of its key points)")
    return Sample(
        plan=plan.id,
        round=round_.id,
        topic=topic.id,
        kind=str(topic.kind),
        level=level,
        score=round(score, 4),
        predicted=level_of(score),
        scores=scores,
        covered=list(progress["covered"]),
        key_points=len(topic.key_points),
        misconception=progress["misconceptions"][0]["id"] if progress["misconceptions"] else None,
        tests=tests,
        execution=execution,
        unevidenced=unevidenced,
    )


def summarise(
    engine: str, panel: str, samples: list[Sample], seconds: float = 0.0, fallbacks: int = 0
) -> EngineResult:
    """The figures over ``samples``: Spearman, agreement, confusion, inversions."""
    labels = [ORDINAL[s.level] for s in samples]
    predicted = [ORDINAL[s.predicted] for s in samples]
    n = len(samples) or 1
    confusion: dict[str, dict[str, int]] = {lab: dict.fromkeys(LEVELS, 0) for lab in LEVELS}
    for s in samples:
        confusion[s.level][s.predicted] += 1
    by_topic: dict[tuple[str, str, str], dict[str, float]] = {}
    for s in samples:
        by_topic.setdefault((s.plan, s.round, s.topic), {})[s.level] = s.score
    inversions: list[Inversion] = []
    ties: list[dict[str, Any]] = []
    for (plan, round_id, topic_id), got in by_topic.items():
        for lower, higher in (("weak", "average"), ("average", "strong"), ("weak", "strong")):
            if lower not in got or higher not in got:
                continue
            if got[lower] > got[higher]:
                inversions.append(
                    Inversion(plan, round_id, topic_id, lower, higher, got[lower], got[higher])
                )
            elif got[lower] == got[higher]:
                ties.append(
                    {"plan": plan, "round": round_id, "topic": topic_id, "levels": [lower, higher]}
                )
    return EngineResult(
        engine=engine,
        panel=panel,
        samples=samples,
        spearman=spearman(labels, [s.score for s in samples]),
        exact=sum(a == b for a, b in zip(labels, predicted, strict=True)) / n,
        within_one=sum(abs(a - b) <= 1 for a, b in zip(labels, predicted, strict=True)) / n,
        confusion=confusion,
        inversions=inversions,
        ties=ties,
        seconds=seconds,
        fallbacks=fallbacks,
    )


async def calibrate(
    plans: Sequence[str | Path], engine: str = "offline", *, panel: Panel = "owner"
) -> EngineResult:
    """Score every labelled sample answer of ``plans`` with ``engine``; the figures.

    Args:
        plans: plan ids or YAML paths.
        engine: a registered engine (``offline``, ``llm`` — which needs an endpoint — or a
            test's own).
        panel: ``owner`` scores with the topic's panelist, ``all`` with each panelist of the
            round.

    Raises:
        KeyError: unknown engine.
        RuntimeError: ``llm`` without an endpoint or key.
        PlanError: a plan does not load.
    """
    if engine == "llm" and not get_settings().llm_configured:
        raise RuntimeError(LLM_NEEDS)
    started = time.perf_counter()
    brain = get_brain(engine)
    activity = _Activity()
    limit = asyncio.Semaphore(CONCURRENCY)

    async def bounded(job: Awaitable[Sample]) -> Sample:
        async with limit:
            return await job

    jobs = []
    for ref in plans:
        plan = await asyncio.to_thread(resolve_plan, str(ref))
        for round_ in plan.rounds:
            for topic in round_.topics:
                for level in LEVELS:
                    job = score_answer(brain, activity, str(ref), plan, round_, topic, level, panel)
                    jobs.append(bounded(job))
    try:
        # Open the (in-memory) log the activity nodes resolve once, before the tasks start:
        # concurrent first opens of one EventLog would each connect, and the extra
        # connection's thread would keep the process alive at exit.
        await open_log(_DATABASE)
        with _CountFallbacks() as fallbacks:
            samples = list(await asyncio.gather(*jobs))
    finally:
        await close_logs()
    seconds = time.perf_counter() - started
    return summarise(brain.name, panel, samples, seconds, fallbacks.count)


class _CountFallbacks(logging.Handler):
    """Counts the LLM engine's fallbacks to offline decisions (logged as warnings).

    Outside a graph run they are not in any event log; without the count, an endpoint that
    never answers usably would report the offline engine's figures as its own.
    """

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0
        self.logger = logging.getLogger("interview_graph.llm")

    def emit(self, record: logging.LogRecord) -> None:
        if str(record.msg).startswith("llm fallback"):
            self.count += 1

    def __enter__(self) -> _CountFallbacks:
        self.logger.addHandler(self)
        return self

    def __exit__(self, *exc: object) -> None:
        self.logger.removeHandler(self)


# --------------------------------------------------------------------------- the command


def _pct(value: float) -> str:
    return f"{value:.2f}"


def render(result: EngineResult, console: Console) -> None:
    """Print one engine's figures: agreement, confusion table, inversions, disagreements."""
    topics = len({(s.plan, s.round, s.topic) for s in result.samples})
    plans = sorted({s.plan for s in result.samples})
    console.rule(
        f"[bold]Calibration — engine: {result.engine}[/bold] ({len(result.samples)} labelled "
        f"answers, {topics} topics, {len(plans)} plan(s); evaluated by "
        f"{'the topic owner' if result.panel == 'owner' else 'every panelist'})"
    )
    table = Table(title="Agreement with the labels (weak 1, average 2, strong 3)")
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_column("target", justify="right")
    rho = "n/a" if math.isnan(result.spearman) else f"{result.spearman:.3f}"
    table.add_row("Spearman ρ (label ordinal vs score)", rho, "")
    table.add_row("exact agreement of levels", _pct(result.exact), "")
    table.add_row(
        "within-one agreement of levels", _pct(result.within_one), f"≥ {TARGET_WITHIN_ONE:.2f}"
    )
    table.add_row("inversions", str(len(result.inversions)), str(TARGET_INVERSIONS))
    table.add_row("ties between two levels of a topic", str(len(result.ties)), "")
    if result.engine != "offline":
        table.add_row("model decisions that fell back to offline", str(result.fallbacks), "")
    console.print(table)
    console.print(
        f"Levels from the mean 1–5 score: ≤ {WEAK_MAX:g} weak, ≤ {AVERAGE_MAX:g} average, "
        f"above strong. Plans: {', '.join(plans)}."
    )
    confusion = Table(title="Confusion (rows: label, columns: predicted)")
    confusion.add_column("label \\ predicted")
    for level in LEVELS:
        confusion.add_column(level, justify="right")
    for label in LEVELS:
        confusion.add_row(label, *(str(result.confusion[label][p]) for p in LEVELS))
    console.print(confusion)
    if result.inversions:
        inv = Table(title="Inversions: a weaker answer scored above a stronger one")
        for col in ("plan", "topic", "lower label", "score", "higher label", "score "):
            inv.add_column(col)
        for i in result.inversions:
            inv.add_row(
                i.plan, i.topic, i.lower, f"{i.lower_score:.2f}", i.higher, f"{i.higher_score:.2f}"
            )
        console.print(inv)
    else:
        console.print("Inversions: none (no weaker answer scored above a stronger one).")
    off = [s for s in result.samples if s.predicted != s.level]
    if off:
        dis = Table(title="Disagreements (predicted level ≠ label)")
        for col in ("plan", "topic", "label", "score", "predicted", "covered", "why"):
            dis.add_column(col, overflow="fold")
        for s in off:
            why = []
            if s.misconception:
                why.append(f"misconception {s.misconception}")
            if s.tests:
                why.append(f"tests {s.tests['passed']}/{s.tests['total']}")
            if s.execution:
                why.append(f"code not run ({s.execution})")
            if s.unevidenced:
                why.append("scored 1: " + ", ".join(s.unevidenced))
            dis.add_row(
                s.plan,
                s.topic,
                s.level,
                f"{s.score:.2f}",
                s.predicted,
                f"{len(s.covered)}/{s.key_points}",
                "; ".join(why),
            )
        console.print(dis)
    unrun = [s for s in result.samples if s.execution]
    if unrun:
        console.print(
            f"[yellow]warning:[/yellow] {len(unrun)} coding submission(s) did not run "
            f"({unrun[0].execution}); their topics were scored without tests."
        )
    verdict = "[green]met[/green]" if result.meets_targets else "[red]missed[/red]"
    console.print(
        f"Targets (within-one ≥ {TARGET_WITHIN_ONE:.2f}, no inversions): {verdict}. "
        f"{result.seconds:.1f} s."
    )


async def main(args: argparse.Namespace, console: Console) -> int:
    """``interview-sim calibrate``: run, print per engine, optionally write JSON."""
    from .plans.loader import PlanError, plan_files

    engines: list[str] = list(dict.fromkeys(args.engine or ["offline"]))
    if "llm" in engines and not get_settings().llm_configured:
        console.print(f"[red]error:[/red] {LLM_NEEDS}")
        return 2
    plans: list[str] = args.plan or [str(p) for p in plan_files(get_settings().rounds_dir)]
    if not plans:
        console.print(f"[red]error:[/red] no plans in {get_settings().rounds_dir}")
        return 2
    results: list[EngineResult] = []
    for engine in engines:
        try:
            results.append(await calibrate(plans, engine, panel=args.panel))
        except PlanError as exc:
            console.out(str(exc), highlight=False)
            return 2
        render(results[-1], console)
    if args.json:
        out = Path(args.json)
        data = {
            "plans": plans,
            "levels": ORDINAL,
            "thresholds": {"weak_max": WEAK_MAX, "average_max": AVERAGE_MAX},
            "engines": {r.engine: r.to_json() for r in results},
        }
        await asyncio.to_thread(out.parent.mkdir, parents=True, exist_ok=True)
        text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
        await asyncio.to_thread(out.write_text, text, encoding="utf-8")
        console.print(f"Figures written to {out}")
    if args.check and any(r.engine == "offline" and not r.meets_targets for r in results):
        return 1
    return 0
