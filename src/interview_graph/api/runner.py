"""Interview runners: one task per live interview drives its graph; the hub owns them all.

A runner takes candidate inputs from a bounded queue, one at a time, and resumes the graph
with each; everything the graph streams is mapped to wire events and offered to the attached
connection (if any): transient events (speaker, token) directly, persisted ones by telling the
connection's writer to read the event log onward from what it last sent, so they always go out
in seq order, gapless, however tasks interleave.  Inputs are persisted before they are
acknowledged, and re-fed after a restart if the graph had not consumed them, so an
acknowledged input is never lost; the turn they start again re-speaks lines that are already
stored, and those are not streamed a second time (every stream ends with its ``message``).
Once the graph has logged ``interview_ended`` no input is accepted (the store checks it in the
input's own transaction), so nothing acknowledged after the end goes unread.

A message that arrives while a panelist is still speaking is queued, not an interruption:
the panelist finishes, then the message is answered (docs/protocol.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from pathlib import Path
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph.state import CompiledStateGraph
from pydantic import BaseModel

from ..context import InterviewContext, register_log
from ..inputs import input_event, parse_input
from ..master.graph import build_interview_graph
from ..plans.drafting import dump_plan
from ..plans.loader import PlanError, resolve_plan
from ..plans.models import InterviewPlan
from ..session import InterviewSession
from ..settings import Settings
from ..store import Event, EventStore, Lease, Leases, is_postgres, open_store
from . import protocol as p
from .userlog import UserLogs

log = logging.getLogger("interview_graph.api")


def to_wire(event: Event) -> dict[str, Any] | None:
    """Map a transcript event to a wire event, or None if the candidate must not see it."""
    if event.visibility != "public":
        return None
    d, seq = event.data, event.seq
    wire: BaseModel | None = None
    if event.kind == "round_started":
        wire = p.RoundStarted(
            seq=seq,
            round_id=event.round_id or "",
            index=d["index"],
            title=d["title"],
            description=d["description"],
            panel=[p.PanelistProfile(**x) for x in d["panel"]],
        )
    elif event.kind == "message":
        wire = p.PanelMessage(
            seq=seq,
            message_id=event.key,
            panelist=event.speaker or "",
            name=d.get("name", ""),
            text=event.text,
            question_id=d.get("question_id"),
            question_kind=d.get("question_kind"),
            signature=d.get("signature"),
            round_id=event.round_id,
        )
    elif event.kind.startswith("candidate_"):
        detail = {k: v for k, v in d.items() if k != "code"}
        wire = p.CandidateInput(
            seq=seq, kind=event.kind.removeprefix("candidate_"), text=event.text, detail=detail
        )
    elif event.kind == "code_result":
        wire = p.CodeResult(
            seq=seq,
            question_id=d.get("question_id"),
            status=d.get("status", ""),
            message=event.text,
            tests=d.get("tests", []),
            output=d.get("output", ""),
        )
    elif event.kind in ("rules_warning", "input_rejected", "interview_ending"):
        code = d.get("category") or (
            "invalid_input" if event.kind == "input_rejected" else "ending"
        )
        wire = p.Warning_(seq=seq, code=code, message=event.text)
    elif event.kind == "round_ended":
        wire = p.RoundEnded(
            seq=seq, round_id=event.round_id or "", index=d["index"], title=d["title"]
        )
    elif event.kind == "feedback":
        wire = p.Feedback(seq=seq, feedback=d)
    elif event.kind == "interview_ended":
        wire = p.InterviewEnded(seq=seq)
    return wire.model_dump() if wire is not None else None


class Store:
    """What every runner of this process shares: one checkpointer, one event log, one graph.

    ``database`` is a SQLite path or a ``postgresql://`` DSN; on PostgreSQL the store is
    ``shared`` with other server processes and runners hold a lease per interview.
    """

    def __init__(self, database: str | Path) -> None:
        self.database = str(database)
        self.shared = is_postgres(self.database)
        self.leases = Leases(self.database)
        self._log: EventStore | None = None
        self._stack = contextlib.AsyncExitStack()
        self.saver: BaseCheckpointSaver[Any] | None = None
        self.graph: CompiledStateGraph[Any, Any, Any, Any] | None = None

    @property
    def log(self) -> EventStore:
        """The event log (once open)."""
        if self._log is None:
            raise RuntimeError("the store is not open")
        return self._log

    async def open(self) -> None:
        """Open the database (creating its directory) and compile the graph on it."""
        self._log, self.saver = await open_store(self._stack, self.database)
        register_log(self.database, self._log)
        self.graph = build_interview_graph().compile(checkpointer=self.saver)

    async def close(self) -> None:
        """Close the database connections."""
        await self.leases.close()
        await self._stack.aclose()


class Runner:
    """Drives one interview; at most one connection is attached at a time."""

    def __init__(
        self, hub: Hub, session: InterviewSession, user: str, plan: str, lease: Lease
    ) -> None:
        self.hub = hub
        self.session = session
        self.user = user
        self.plan = plan
        self.lease = lease
        self.touched = time.monotonic()  # last attach or hand-out; idle stops count from here
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=64)
        self.conn: Any = None  # the attached Connection
        self.lock = asyncio.Lock()
        self.finished = False
        self.ending = False
        # Keys of the panel messages already in the log.  A turn re-run after a crash speaks
        # them again (the graph re-runs the interrupted turn), but a message that is stored,
        # and so delivered or replayed, must never stream again: its tokens are dropped.
        self._stored: set[str] = set()
        self.task = asyncio.create_task(self._run(), name=f"interview-{session.interview_id}")

    @property
    def interview_id(self) -> str:
        """The interview id."""
        return self.session.interview_id

    async def attach(self, conn: Any) -> None:
        """Attach ``conn`` (taking over from any previous one) and replay what it missed.

        The connection has already told its writer where in this interview's log to start
        (:meth:`Connection.restart`); the sync marker sends everything from there, in order.
        """
        async with self.lock:
            old, self.conn = self.conn, conn
            if old is not None and old is not conn:
                old.close_later(p.CLOSE_TAKEN_OVER, "taken over by a newer connection")
            self.touched = time.monotonic()
            conn.sync()

    def detach(self, conn: Any) -> None:
        """Forget ``conn`` if it is the attached one."""
        if self.conn is conn:
            self.conn = None
            self.touched = time.monotonic()

    async def ended(self) -> bool:
        """Whether the interview has ended (also before this runner has looked: a restart)."""
        if self.finished:
            return True
        return bool(await self.hub.store.log.events(self.interview_id, kind="interview_ended"))

    async def submit(self, frame: dict[str, Any], client_id: str | None) -> p.Ack:
        """Persist a candidate input, queue it for the graph, and return its ack.

        Raises:
            LookupError: the interview is finished (:class:`InterviewClosed` when the store
                finds its end in the input's own transaction: the graph logged it but this
                runner had not seen it yet).
            asyncio.QueueFull: too many inputs (or background code runs) are waiting.
        """
        if self.finished or self.ending:
            raise LookupError("interview_finished")
        activity = self.session.activity
        if self.queue.full() or activity.full:
            raise asyncio.QueueFull
        inbox, error = parse_input(frame)
        if inbox is None:
            raise ValueError(error)
        # Reserved before the input is persisted: once written down it is never refused.
        slot = activity.reserve() if activity.wants(inbox) else None
        if inbox["kind"] == "control":
            # Nothing after an accepted "end" can be answered; refuse it instead of queueing it.
            self.ending = True
        kind, text, data = input_event(inbox)
        key = f"client:{uuid.uuid4().hex}"
        try:
            event = await self.hub.store.log.record_input(
                self.interview_id, key, kind, text=text, data=data, payload=inbox
            )
        except BaseException:
            if slot is not None:
                slot.release()
            raise
        value = {"input": inbox, "receipt": key, "seq": event.seq}
        if slot is not None:
            # The activity agent runs the tests in the background first: the conversation goes
            # on meanwhile, and the graph picks up the finished result when it reaches this
            # input, which is queued once the run is over (or failed).
            slot.start(inbox, lambda: self.queue.put(value))
        else:
            self.queue.put_nowait(value)
        self.hub.logs.write(self.user, self.interview_id, f"input:{inbox['kind']}", event.seq, text)
        if self.conn is not None:
            self.conn.sync()
        return p.Ack(seq=event.seq, client_id=client_id, input=inbox["kind"], input_seq=event.seq)

    async def _next_input(self) -> dict[str, Any] | None:
        """The next queued input; None when this runner should stop and let another take over.

        On a shared (PostgreSQL) store a runner with no connection, nothing queued and nothing
        running for ``runner_idle_seconds`` stops, releasing its lease so that the process the
        candidate reconnected to can drive the interview.  It also stops if its lease's database
        session died (then another process may already hold the lock).
        """
        if not self.hub.store.shared:
            return await self.queue.get()
        idle = self.hub.settings.runner_idle_seconds
        while True:
            try:
                async with asyncio.timeout(max(0.05, idle / 4)):
                    return await self.queue.get()
            except TimeoutError:
                pass
            if not await self.lease.alive():
                log.warning("interview %s lost its lock; stopping its runner", self.interview_id)
                await self.hub.retire(self, 0, force=True)  # a resume here starts a new one
                if self.conn is not None:
                    # 1012 "service restart": the client reconnects and resumes wherever the
                    # interview is driven now.
                    self.conn.close_later(1012, "the interview moved; resume")
                return None
            if await self.hub.retire(self, idle):
                return None

    async def _run(self) -> None:
        try:
            await self.hub.learn_plan(self.plan)
            self._stored = {
                e.key for e in await self.hub.store.log.events(self.interview_id, kind="message")
            }
            if not await self.session.started() and await self.hub.store.log.events(
                self.interview_id, kind="interview_ended"
            ):
                # Finished and pruned (its checkpoints deleted): nothing left to drive.
                self.finished = True
                return
            if not await self.session.started():
                await self._drive(None)
            else:
                # After a restart: feed acknowledged inputs the graph had not consumed yet (the
                # graph itself skips any it consumed just before the crash).  Once it has
                # ended, the rest (acknowledged while the panel was closing) have no turn left,
                # and resuming an ended thread would not answer them.
                self.finished = await self.session.finished()
                for seq, key, payload in await self.hub.store.log.unconsumed_inputs(
                    self.interview_id
                ):
                    if self.finished:
                        break
                    await self._drive({"input": payload, "receipt": key, "seq": seq})
                    await self.hub.store.log.mark_consumed(self.interview_id, seq)
            self.finished = await self.session.finished()
            while not self.finished:
                next_input = await self._next_input()
                if next_input is None:
                    return
                value = next_input
                # No pending() check here: it would read the checkpoint on the critical path,
                # and `finished`, refreshed after every drive, already says whether the
                # graph is waiting for input.
                await self._drive(value)
                await self.hub.store.log.mark_consumed(self.interview_id, value["seq"])
                self.finished = await self.session.finished()
        except asyncio.CancelledError:
            raise
        except Exception:  # the interview must not die silently; the log says why
            log.exception("interview %s runner failed", self.interview_id)
            if self.conn is not None:
                self.conn.offer(
                    p.Error(
                        seq=self.conn.last_seq,
                        code="internal",
                        message="The interview hit an internal error.",
                    ).model_dump()
                )
        finally:
            self.finished = self.finished or await self._safe_finished()
            await self.lease.release()

    async def _safe_finished(self) -> bool:
        with contextlib.suppress(Exception):
            return await self.session.finished()
        return False

    async def _drive(self, value: Any) -> None:
        speaking: str | None = None
        async for item in self.session.step(value):
            if item["type"] == "token":
                if item["message_id"] in self._stored:
                    continue  # a re-run turn saying a stored line again: it was delivered
                if item["message_id"] != speaking:
                    speaking = item["message_id"]
                    await self._offer_transient(
                        p.Speaker,
                        panelist=item["speaker"],
                        name=self.hub.name_of(item["speaker"]),
                        message_id=item["message_id"],
                    )
                await self._offer_transient(
                    p.Token,
                    message_id=item["message_id"],
                    panelist=item["speaker"],
                    delta=item["delta"],
                )
                continue
            if item["type"] == "status":  # the panel is thinking: a slow reply (transient)
                if item["message_id"] in self._stored:
                    continue  # nor a "thinking" notice for a stored line
                await self._offer_transient(
                    p.Status,
                    status=item["status"],
                    panelist=item["speaker"],
                    message_id=item["message_id"],
                )
                continue
            event: Event = item["event"]
            self.hub.logs.write(self.user, self.interview_id, event.kind, event.seq, event.text)
            if event.kind == "message":
                self._stored.add(event.key)
            elif event.kind == "interview_ended":
                # Refuse inputs from here on (before the client can see the end), not once
                # the run is over: an input accepted now would be acknowledged and never read.
                self.finished = True
            async with self.lock:
                if self.conn is not None:
                    self.conn.sync(event.seq)

    async def _offer_transient(self, model: type[BaseModel], **fields: Any) -> None:
        """Offer a transient event stamped with the connection's latest persisted seq."""
        async with self.lock:
            if self.conn is not None:
                self.conn.offer(model(seq=self.conn.last_seq, **fields).model_dump())


class Hub:
    """All runners of this process, by interview id."""

    def __init__(self, settings: Settings, store: Store, logs: UserLogs) -> None:
        self.settings = settings
        self.store = store
        self.logs = logs
        self.runners: dict[str, Runner] = {}
        self._names: dict[str, str] = {}
        self._lock = asyncio.Lock()

    def name_of(self, panelist: str) -> str:
        """Display name of a panelist id."""
        return self._names.get(panelist, panelist)

    async def learn_plan(self, plan: str) -> None:
        """Know every panelist name of ``plan`` (speaker events right after a restart)."""
        loaded = await asyncio.to_thread(resolve_plan, plan)
        self._names.update({x.id: x.name for r in loaded.rounds for x in r.panel})

    def _session(self, interview_id: str, plan: str) -> InterviewSession:
        assert self.store.graph is not None and self.store.saver is not None
        context = InterviewContext(
            plan=plan, engine=self.settings.engine, database=self.store.database
        )
        return InterviewSession.on_store(
            graph=self.store.graph,
            context=context,
            interview_id=interview_id,
            log=self.store.log,
            checkpointer=self.store.saver,
        )

    async def start(
        self, user: str, plan: str, interview_id: str | None = None, mode: str | None = None
    ) -> Runner:
        """Create an interview of plan ``plan`` (an id or a file) for ``user``; start its runner.

        ``mode`` (practice or assessment) overrides the plan's; it is stored in the event log
        before the interview starts, so a crash at any point cannot change it.
        """
        interview_id = interview_id or uuid.uuid4().hex[:16]
        await self.store.log.create_interview(interview_id, user, plan)
        if mode is not None:
            await self.store.log.append(
                interview_id,
                "interview:options",
                "interview_options",
                visibility="private",
                data={"mode": mode},
            )
        lease = await self.store.leases.try_lease(interview_id)
        if lease is None:  # a fresh id: nobody else can hold it
            raise RuntimeError(f"interview {interview_id} is already locked")
        runner = Runner(self, self._session(interview_id, plan), user, plan, lease)
        self.runners[interview_id] = runner
        return runner

    async def start_drafted(
        self, user: str, plan: InterviewPlan, mode: str | None = None
    ) -> Runner:
        """Store a drafted ``plan`` with a new interview for ``user`` and start its runner.

        The plan is written to ``<data_dir>/plans/<interview_id>.yaml`` and that file's path
        is the interview's plan reference (its interviews row and runtime context), so a
        resume or a restarted server resolves it like any plan file.
        """
        interview_id = uuid.uuid4().hex[:16]
        path = (self.settings.data_dir / "plans" / f"{interview_id}.yaml").resolve()
        await asyncio.to_thread(
            dump_plan,
            plan,
            path,
            overwrite=False,
            comment=f"Drafted from a job description for interview {interview_id}.",
        )
        return await self.start(user, str(path), interview_id, mode)

    async def plan_id(self, ref: str) -> str:
        """The id of the plan ``ref`` names (a drafted plan's reference is its file path)."""
        if not Path(ref).suffix:
            return ref
        try:
            return (await asyncio.to_thread(resolve_plan, ref)).id
        except PlanError:
            return Path(ref).stem

    async def get(self, user: str, interview_id: str) -> Runner:
        """The runner of an interview this user owns (restarted from storage if needed).

        On a shared store the interview may be driven by another process: its lock is
        retried for ``lease_wait_seconds`` (that process's runner releases it once it has been
        idle without a connection for ``runner_idle_seconds``, or at once if it died).

        Raises:
            LookupError: ``not_found``, ``forbidden`` or ``interview_busy`` (another process
                still drives it; retry).
        """
        deadline = time.monotonic() + self.settings.lease_wait_seconds
        while True:
            async with self._lock:
                owner = await self.store.log.interview(interview_id)
                if owner is None:
                    raise LookupError("not_found")
                if owner[0] != user:
                    raise LookupError("forbidden")
                runner = self.runners.get(interview_id)
                if runner is not None:
                    runner.touched = time.monotonic()
                    return runner
                lease = await self.store.leases.try_lease(interview_id)
                if lease is not None:
                    session = self._session(interview_id, owner[1])
                    runner = Runner(self, session, user, owner[1], lease)
                    self.runners[interview_id] = runner
                    return runner
            if time.monotonic() >= deadline:
                raise LookupError("interview_busy")
            await asyncio.sleep(0.25)

    async def retire(self, runner: Runner, idle: float, *, force: bool = False) -> bool:
        """Forget ``runner`` if it has been idle and unattached for ``idle`` seconds.

        Decided under the hub's lock, so a concurrent :meth:`get` either hands the runner out
        first (refreshing ``touched``) or creates a new one after it is gone.  ``force`` drops
        it regardless (it lost its lease).
        """
        async with self._lock:
            if not force and (
                runner.conn is not None
                or runner.session.activity.pending
                or not runner.queue.empty()
                or time.monotonic() - runner.touched < idle
            ):
                return False
            if self.runners.get(runner.interview_id) is runner:
                del self.runners[runner.interview_id]
            return True

    async def close(self) -> None:
        """Stop every runner and its interview's background code runs."""
        for runner in self.runners.values():
            runner.task.cancel()
        for runner in self.runners.values():
            with contextlib.suppress(BaseException):
                await runner.session.close()  # cancels and awaits its activity's runs
            with contextlib.suppress(BaseException):
                await runner.task
