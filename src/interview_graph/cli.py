"""``interview-sim``: simulate interviews, draft plans from job descriptions, validate plans."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from .candidate.state import CANDIDATE_ENGINES, PERSONAS
from .engine.base import get_brain
from .plans.audit import audit_plan
from .plans.drafting import DraftError, draft_plan, dump_plan
from .plans.loader import PlanError, load_plan, plan_files, resolve_plan
from .plans.models import InterviewPlan
from .selfplay import run_selfplay
from .settings import get_settings

console = Console(highlight=False)


class LivePrinter:
    """Prints the live transcript: who speaks, round and topic progress, timing."""

    def __init__(self, plan_ref: str) -> None:
        self.plan = resolve_plan(plan_ref)
        self.started = time.perf_counter()
        self.streaming: str | None = None
        self.names: dict[str, str] = {}

    def _stamp(self) -> str:
        return f"[dim]{time.perf_counter() - self.started:6.2f}s[/dim]"

    def _end_stream(self) -> None:
        if self.streaming is not None:
            console.print()
            self.streaming = None

    def __call__(self, item: dict[str, Any]) -> None:
        """Handle one streamed item."""
        if item["type"] == "token":
            if self.streaming != item["message_id"]:
                self._end_stream()
                self.streaming = item["message_id"]
                name = self.names.get(item["speaker"], item["speaker"])
                console.print(f"{self._stamp()} [bold cyan]{name}[/bold cyan]: ", end="")
            console.out(item["delta"], end="", highlight=False)
            return
        if item["type"] == "status":  # a transient "thinking" notice: the stream shows enough
            return
        event = item["event"]
        kind = event.kind
        if kind == "message":
            self._end_stream()  # the streamed line is complete
            return
        self._end_stream()
        if kind == "interview_started":
            console.rule(f"[bold]{event.data['title']}[/bold] — engine: {event.data['engine']}")
        elif kind == "round_started":
            index, panel = event.data["index"], event.data["panel"]
            self.names.update({p["id"]: p["name"] for p in panel})
            console.rule(f"Round {index + 1}/{len(self.plan.rounds)}: {event.data['title']}")
            console.print("Panel: " + ", ".join(f"{p['name']} ({p['title']})" for p in panel))
        elif kind == "candidate_message":
            text = event.text or "[silence]"
            console.print(f"{self._stamp()} [bold green]Candidate[/bold green]: ", end="")
            console.out(text, highlight=False)
        elif kind == "candidate_code":
            console.print(
                f"{self._stamp()} [dim]… code {event.data['action']} "
                f"({event.data.get('lines', 0)} lines)[/dim]"
            )
        elif kind == "code_result":
            console.print(f"{self._stamp()} [magenta]Code[/magenta]: ", end="")
            console.out(event.text, highlight=False)
        elif kind == "rules_warning":
            console.print(f"{self._stamp()} [bold yellow]Moderator[/bold yellow]: ", end="")
            console.out(event.text, highlight=False)
        elif kind == "topic_completed":
            round_ = self.plan.round(event.round_id)
            done = [t.id for t in round_.topics].index(event.data["topic_id"]) + 1
            console.print(
                f"[dim]  ✓ topic {done}/{len(round_.topics)} complete ({event.text})[/dim]"
            )
        elif kind == "round_ended":
            console.print(f"[dim]  Round {event.data['index'] + 1} ended.[/dim]")
        elif kind == "input_rejected":
            console.print(f"[red]{event.text}[/red]")


def _score(value: float | None) -> str:
    return "not assessed" if value is None else f"{value:.2f}"


def _print_report(report: dict[str, Any]) -> None:
    table = Table(title=f"Report — {report['role']} (engine: {report['engine']})")
    table.add_column("Round")
    table.add_column("Score", justify="right")
    table.add_column("Competencies")
    for r in report["rounds"]:
        comps = ", ".join(
            f"{c['name']} {c['score'] if c['score'] is not None else 'not assessed'}"
            for c in r["competencies"]
        )
        table.add_row(r["title"], _score(r["score"]), comps)
    console.print(table)
    rec = report["recommendation"]
    console.print(
        f"Overall {_score(report['overall'])}/5 — [bold]{rec['decision']}[/bold]: "
        f"{rec['rationale']}"
    )
    if report["integrity_flags"]:
        console.print(f"[yellow]{len(report['integrity_flags'])} flag(s) for review[/yellow]")


async def _simulate(args: argparse.Namespace) -> int:
    settings = get_settings()
    database = args.database or settings.store
    printer = LivePrinter(args.plan) if not args.quiet else None
    try:
        result = await run_selfplay(
            plan=args.plan,
            persona=args.candidate,
            database=database,
            engine=args.engine,
            interview_id=args.resume,
            on_item=printer,
            stop_after=args.stop_after,
            seed=args.seed,
            candidate_engine=args.candidate_engine,
        )
    except KeyError as exc:  # unknown engine
        console.print(f"[red]error:[/red] {exc.args[0]}")
        return 2
    except ValueError as exc:  # a persona the candidate engine cannot play
        console.print(f"[red]error:[/red] {exc}")
        return 2
    if result.report is None:
        engine = "" if args.candidate_engine == "offline" else " --candidate-engine llm"
        console.print(
            f"\nStopped after {result.inputs_sent} inputs. Resume with: "
            f"interview-sim simulate --plan {args.plan} --candidate {args.candidate}{engine} "
            f"--resume {result.interview_id}"
        )
        return 0
    out = Path(args.out)
    text = json.dumps(result.report, indent=2) + "\n"
    await asyncio.to_thread(out.parent.mkdir, parents=True, exist_ok=True)
    await asyncio.to_thread(out.write_text, text, encoding="utf-8")
    _print_report(result.report)
    console.print(f"Interview {result.interview_id}: report written to {out}")
    return 0


def _print_notes(plan: InterviewPlan) -> None:
    """What drafting recognised, chose and could not cover, in plain words."""
    notes = plan.drafting
    if notes is None:
        return

    def say(text: str) -> None:
        console.out(text, highlight=False)

    names = {r.id: r.name for r in notes.recognised}
    if notes.recognised:
        say(
            "Skills recognised: "
            + ", ".join(
                f"{r.name} ({'; '.join(repr(m) for m in r.matched[:2])}, "
                f"{r.section.replace('_', ' ')})"
                for r in notes.recognised
            )
        )
    else:
        say("Skills recognised: none")
    say(f"Role family: {notes.family_name}: {notes.family_reason}.")
    say(f"Seniority: {notes.seniority} ({notes.seniority_reason}).")
    for c in notes.covered:
        how = " (related skill)" if c.how == "related" else ""
        say(f"  covered  {names.get(c.skill, c.skill)}{how}: {', '.join(c.topics)}")
    if notes.uncovered:
        say("Not covered (no catalogue topic): " + ", ".join(names[s] for s in notes.uncovered))
    say(f"Coverage of the description's skill weight: {notes.coverage:.0%}")
    for w in notes.warnings:
        console.print("[yellow]warning:[/yellow] ", end="")
        say(w)


def _print_plan(plan: InterviewPlan) -> None:
    console.print(f"[bold]{plan.title}[/bold] ({plan.id})")
    console.out(plan.summary, highlight=False)
    _print_notes(plan)
    table = Table()
    table.add_column("Round")
    table.add_column("Panel")
    table.add_column("Topics")
    for r in plan.rounds:
        table.add_row(
            f"{r.title} ({r.kind})",
            "\n".join(p.name for p in r.panel),
            "\n".join(f"{t.id} ({t.kind})" for t in r.topics),
        )
    console.print(table)


async def _plan(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if out.suffix not in (".yaml", ".yml"):
        console.print(f"[red]error:[/red] --out must name a .yaml file (got {out})")
        return 2
    if not args.force and await asyncio.to_thread(out.exists):
        console.print(f"[red]error:[/red] {out} already exists; pass --force to overwrite it")
        return 2
    try:
        if args.jd == "-":
            text = await asyncio.to_thread(sys.stdin.read)
        else:
            text = await asyncio.to_thread(Path(args.jd).read_text, encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        console.print(f"[red]error:[/red] cannot read the job description {args.jd}: {reason}")
        return 2
    try:
        brain = get_brain(args.engine)
        plan = await draft_plan(text, brain, get_settings().rounds_dir)
    except KeyError as exc:  # unknown engine
        console.print(f"[red]error:[/red] {exc.args[0]}")
        return 2
    except DraftError as exc:
        console.print("[red]error:[/red] ", end="")
        console.out(str(exc), highlight=False)
        return 2
    comment = (
        f"Interview plan drafted from {args.jd} by `interview-sim plan` (engine: {brain.name}).\n"
        "Review the questions, panel and budgets before using it."
    )
    try:
        await asyncio.to_thread(dump_plan, plan, out, overwrite=args.force, comment=comment)
    except FileExistsError:
        console.print(f"[red]error:[/red] {out} already exists; pass --force to overwrite it")
        return 2
    except OSError as exc:
        console.print(f"[red]error:[/red] cannot write {out}: {exc.strerror or exc}")
        return 2
    _print_plan(plan)
    console.print(f"Engine: {brain.name}. Plan written to {out}")
    console.print(
        f"Check it with: interview-sim validate {out}\n"
        f"Run it with:   interview-sim simulate --plan {out}"
    )
    return 0


def _validate(args: argparse.Namespace) -> int:
    files = [Path(f) for f in args.files] or plan_files(get_settings().rounds_dir)
    failed = 0
    for f in files:
        try:
            plan = load_plan(f)
            problems = audit_plan(plan) if args.audit else []
        except PlanError as exc:
            console.out(str(exc), highlight=False)
            failed += 1
            continue
        for p in problems:
            console.out(f"  - {p}", highlight=False)
        failed += bool(problems)
        status = "[red]content problems[/red]" if problems else "[green]ok[/green]"
        console.print(
            f"{f}: {status} ({len(plan.rounds)} rounds, "
            f"{sum(len(r.topics) for r in plan.rounds)} topics)"
        )
    return 1 if failed else 0


async def _prune(args: argparse.Namespace) -> int:
    from .store import prune

    database = args.database or get_settings().store
    ids = await prune(
        database, older_than_days=args.finished_before, dry_run=args.dry_run, vacuum=args.vacuum
    )
    for interview_id in ids:
        console.out(interview_id, highlight=False)
    verb = "would prune" if args.dry_run else "pruned"
    console.out(f"{verb} {len(ids)} finished interview(s)' checkpoints", highlight=False)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for tests and docs)."""
    parser = argparse.ArgumentParser(prog="interview-sim", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sim = sub.add_parser("simulate", help="run a whole interview with the candidate agent")
    sim.add_argument("--plan", default=get_settings().default_plan, help="plan id or YAML path")
    sim.add_argument("--candidate", default="strong", choices=PERSONAS, help="candidate persona")
    sim.add_argument("--out", default="report.json", help="where to write the JSON report")
    sim.add_argument("--resume", metavar="ID", help="continue a stopped interview")
    sim.add_argument(
        "--engine", default=get_settings().engine, help="decision engine: auto, offline or llm"
    )
    sim.add_argument(
        "--database",
        help="SQLite file or postgresql:// DSN (default: $INTERVIEW_DATABASE_URL, else "
        "$INTERVIEW_DATA_DIR/interviews.sqlite)",
    )
    sim.add_argument("--stop-after", type=int, metavar="N", help="stop after N candidate inputs")
    sim.add_argument(
        "--seed",
        type=int,
        metavar="N",
        help="seed the candidate's choices and the panel's wording: the same seed replays the "
        "same interview, another seed plays a different one (a resumed run keeps its seed)",
    )
    sim.add_argument(
        "--candidate-engine",
        default="offline",
        choices=CANDIDATE_ENGINES,
        help="who plays the candidate: offline (the plan's material, reproducible) or llm (a "
        "model plays the persona from prompts/candidate.md; strong, average, weak, adversarial)",
    )
    sim.add_argument("--quiet", action="store_true", help="print only the final report")
    srv = sub.add_parser("serve", help="run the WebSocket service and web client (uvicorn)")
    srv.add_argument("--host", default="127.0.0.1")
    srv.add_argument("--port", type=int, default=8000)
    drf = sub.add_parser("plan", help="draft an interview plan from a job description")
    drf.add_argument(
        "--jd", required=True, metavar="FILE", help="the job description, a text file ('-': stdin)"
    )
    drf.add_argument("--out", required=True, help="where to write the plan (a .yaml file)")
    drf.add_argument("--engine", default=get_settings().engine, help="engine that drafts it")
    drf.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    prn = sub.add_parser(
        "prune", help="delete finished interviews' checkpoints (the transcript and report stay)"
    )
    prn.add_argument(
        "--finished-before",
        type=float,
        required=True,
        metavar="DAYS",
        help="prune interviews that ended more than DAYS days ago",
    )
    prn.add_argument("--database", help="SQLite file or postgresql:// DSN (default: settings)")
    prn.add_argument("--dry-run", action="store_true", help="only list what would be pruned")
    prn.add_argument(
        "--vacuum",
        action="store_true",
        help="SQLite: then shrink the file (VACUUM; writers wait meanwhile, so run it off-hours)",
    )
    cal = sub.add_parser(
        "calibrate",
        help="score every plan's labelled sample answers with an engine; print the agreement",
    )
    cal.add_argument(
        "--engine",
        action="append",
        choices=("offline", "llm"),
        help="engine to calibrate (repeatable; default offline; llm needs "
        "INTERVIEW_LLM_BASE_URL or an API key)",
    )
    cal.add_argument(
        "--plan",
        action="append",
        metavar="PLAN",
        help="plan id or YAML path (repeatable; default: every plan in rounds/)",
    )
    cal.add_argument(
        "--panel",
        choices=("owner", "all"),
        default="owner",
        help="who evaluates: the topic's panelist, as in an interview (default), or every "
        "panelist of the round",
    )
    cal.add_argument("--json", metavar="OUT", help="also write the figures as JSON to OUT")
    cal.add_argument(
        "--check", action="store_true", help="exit 1 if the offline engine misses its targets"
    )
    val = sub.add_parser("validate", help="validate plan files (default: every file in rounds/)")
    val.add_argument("files", nargs="*")
    val.add_argument(
        "--audit",
        action="store_true",
        help="also check sample answers and reference solutions behave as labelled",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``interview-sim``."""
    args = build_parser().parse_args(argv)
    if args.command == "validate":
        return _validate(args)
    if args.command == "plan":
        return asyncio.run(_plan(args))
    if args.command == "prune":
        return asyncio.run(_prune(args))
    if args.command == "calibrate":
        from .calibrate import main as calibrate

        return asyncio.run(calibrate(args, console))
    if args.command == "serve":
        import uvicorn

        from .api.app import create_app

        try:
            app = create_app()
        except RuntimeError as exc:
            console.print(f"[red]error:[/red] {exc}")
            return 2
        console.print(f"Open http://{args.host}:{args.port}/ in a browser.")
        uvicorn.run(app, host=args.host, port=args.port, ws_max_size=1024 * 1024)
        return 0
    try:
        return asyncio.run(_simulate(args))
    except PlanError as exc:
        console.out(str(exc), highlight=False)
        return 2
    except KeyboardInterrupt:
        console.print("\n[yellow]Interrupted.[/yellow] Resume with --resume and the interview id.")
        return 130


if __name__ == "__main__":
    sys.exit(main())
