"""One WebSocket connection: a reader task, a writer task and a bounded queue between them.

The reader validates frames and hands them to the interview's runner; the writer sends what
the runner offers.  Persisted events are never queued themselves: a ``sync`` marker tells the
writer to read the event log after the last seq it sent, so the client receives them in order
and a resume replays exactly what it missed.  The writer also stamps every transient event
with the seq of the latest persisted event it has sent, at the moment it sends it, so that
rule holds however the runner's and the reader's offers interleave; a ``restart`` marker
points it at another interview's log (a start, or a resume of another interview).  A client
that stops reading fills the bounded queue or hits the send timeout and is closed (4008); the
interview goes on without it, and if the close frame cannot reach the client the socket is
aborted (transport.py) rather than held open.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import MutableMapping
from typing import Any

from fastapi import WebSocket, WebSocketDisconnect
from pydantic import ValidationError

from ..engine.base import get_brain
from ..plans.drafting import DraftError, draft_plan
from ..plans.loader import PlanError, plan_files, resolve_plan
from ..plans.models import InterviewPlan
from . import protocol as p
from .auth import AuthError, authenticate
from .runner import Hub, Runner, to_wire
from .transport import release

log = logging.getLogger("interview_graph.api")
_SYNC = "__sync__"  # the type of the writer's "send the log up to here" markers
_RESTART = "__restart__"  # the writer's "read this interview's log from this seq" markers
# After this many rejected frames in a row, the connection is closed as abusive.
_MAX_STRIKES = 200
# An engine drafting a plan (an LLM call with its own timeouts and retries) gets this long.
_DRAFT_TIMEOUT = 180.0
_LOOKUP_MESSAGES = {
    "not_found": "no such interview",
    "forbidden": "not your interview",
    "interview_busy": "another server is still driving this interview; retry shortly",
}


class _Refused(Exception):
    """A client frame that cannot be used, with the error code the client gets for it."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code, message)
        self.code, self.message = code, message


class Connection:
    """Reader and writer for one socket."""

    def __init__(self, ws: WebSocket, hub: Hub) -> None:
        self.ws = ws
        self.hub = hub
        self.settings = hub.settings
        self.out: asyncio.Queue[dict[str, Any]] = asyncio.Queue(
            maxsize=self.settings.outbound_queue
        )
        # The writer's place in the interview's log (private events included) and the seq of
        # the latest persisted event it sent (what transient events carry).
        self.last_seq = 0
        self.last_sent = 0
        self._log_of: str | None = None  # the interview whose log the writer reads
        self.interview_id: str | None = None  # the interview the reader last attached to
        self.user: str | None = None
        self.runner: Runner | None = None
        self.closing: tuple[int, str] | None = None
        # The newest queued sync marker, and whether anything was queued after it: a marker
        # with nothing behind it can stretch to cover a newer event; one with streamed tokens
        # behind it cannot (their message would overtake them).
        self._sync_marker: dict[str, Any] | None = None
        self._offered_since_sync = False
        self._tokens = float(self.settings.rate_burst)
        self._refill = time.monotonic()
        self._strikes = 0
        self._done = asyncio.Event()
        self._drafting: asyncio.Task[None] | None = None

    # --- called by the runner -------------------------------------------------------

    def offer(self, event: dict[str, Any]) -> None:
        """Queue a transient event; a client too slow to drain its queue is closed."""
        if self.closing:
            return
        try:
            self.out.put_nowait(event)
        except asyncio.QueueFull:
            self.close_later(p.CLOSE_SLOW_CONSUMER, "client is not reading")
            return
        if event.get("type") != _SYNC:
            self._offered_since_sync = True

    def sync(self, upto: int | None = None) -> None:
        """Ask the writer to send persisted events after the last one it sent, up to ``upto``.

        ``upto`` (the seq of the event just stored; None: everything) keeps the log and the
        transient stream in the order they happened: tokens queued before their message's
        marker go out before the message, never after it.
        """
        marker = self._sync_marker
        if marker is not None and not self._offered_since_sync:
            if upto is None or marker["upto"] is None:
                marker["upto"] = None
            else:
                marker["upto"] = max(marker["upto"], upto)
            return
        self._sync_marker = {"type": _SYNC, "upto": upto}
        self._offered_since_sync = False
        self.offer(self._sync_marker)

    def restart(self, interview_id: str, after: int) -> None:
        """Have the writer send ``interview_id``'s events after ``after`` from now on.

        Queued, not applied at once: events already queued for the previous interview still
        go out first, stamped with that interview's seq.
        """
        self.interview_id = interview_id
        self.offer({"type": _RESTART, "interview_id": interview_id, "after": after})

    def close_later(self, code: int, reason: str) -> None:
        """Close the socket from the writer (never from another connection's task)."""
        if self.closing is None:
            self.closing = (code, reason)
            self._done.set()

    # --- tasks ------------------------------------------------------------------------

    async def serve(self) -> None:
        """Run reader and writer until either ends; then close and detach."""
        reader = asyncio.create_task(self._reader())
        writer = asyncio.create_task(self._writer())
        closer = asyncio.create_task(self._done.wait())
        await asyncio.wait({reader, writer, closer}, return_when=asyncio.FIRST_COMPLETED)
        reader.cancel()
        if self.closing and self.closing[0] != p.CLOSE_SLOW_CONSUMER and not writer.done():
            # Let the client read why it is being closed (the error event) before the close.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1):
                    while not self.out.empty() and not writer.done():  # noqa: ASYNC110
                        await asyncio.sleep(0.01)  # a short, bounded poll during close
        tasks = {reader, writer, closer} | ({self._drafting} if self._drafting else set())
        for task in tasks:
            task.cancel()
        # Never wait unboundedly on a cancelled task: a stuck one must not block shutdown.
        await asyncio.wait(tasks, timeout=2)
        if self.runner is not None:
            self.runner.detach(self)
        code, reason = self.closing or (1000, "bye")
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.ws.close(code=code, reason=reason), 2)
        # A peer that does not read never receives that close, and the socket would stay
        # open for as long as the peer likes: bounded, it is aborted instead.
        await release(self.ws)
        if self.user:
            self.hub.logs.write(
                self.user,
                self.runner.interview_id if self.runner else None,
                "disconnected",
                self.last_seq,
                f"code={code} {reason}",
            )

    async def _writer(self) -> None:
        while True:
            event = await self.out.get()
            if event.get("type") == _SYNC:
                if event is self._sync_marker:
                    self._sync_marker = None
                await self._send_log(event["upto"])
                continue
            if event.get("type") == _RESTART:
                self._log_of = event["interview_id"]
                self.last_seq = self.last_sent = event["after"]
                continue
            # Stamped now, not when queued: a persisted event queued after this one may have
            # gone out first, and one the client never sees (private) must not count.
            if event.get("seq") != self.last_sent:
                event = {**event, "seq": self.last_sent}
            await self._send(event)

    async def _send_log(self, upto: int | None = None) -> None:
        if self._log_of is None:
            return
        for event in await self.hub.store.log.events(self._log_of, after=self.last_seq):
            if upto is not None and event.seq > upto:
                break  # a later marker sends it, after what was streamed before it
            wire = to_wire(event)
            self.last_seq = event.seq
            if wire is not None:
                await self._send(wire)
                self.last_sent = event.seq

    async def _send(self, event: dict[str, Any]) -> None:
        # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation that
        # lands as the send completes, leaving the writer alive after serve() cancelled it.
        try:
            async with asyncio.timeout(self.settings.send_timeout):
                await self.ws.send_text(json.dumps(event))
        except TimeoutError:
            self.close_later(p.CLOSE_SLOW_CONSUMER, "send timed out")
            raise asyncio.CancelledError from None

    def _error(self, code: str, message: str) -> None:
        self.offer(p.Error(seq=self.last_seq, code=code, message=message).model_dump())

    async def _reader(self) -> None:
        try:
            first = await asyncio.wait_for(self.ws.receive(), self.settings.login_timeout)
        except TimeoutError:
            self.close_later(p.CLOSE_LOGIN_TIMEOUT, "no login in time")
            return
        if not await self._login(first):
            return
        while True:
            message = await self.ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            frame = self._parse(message)
            if frame is None:
                if self._strikes >= _MAX_STRIKES:
                    self.close_later(p.CLOSE_ABUSE, "too many bad frames")
                    return
                continue
            self._strikes = 0
            try:
                await self._handle(frame)
            except Exception:  # a bug must cost this frame, not the connection or the interview
                log.exception("handling a %s frame failed", type(frame).__name__)
                self._error("internal", "That request failed; the interview is unaffected.")

    def _parse(self, message: MutableMapping[str, Any]) -> Any:
        """Validate one frame; on failure send an error event and return None."""
        try:
            return self._validate(message)
        except _Refused as exc:
            return self._reject(exc.code, exc.message)

    def _validate(self, message: MutableMapping[str, Any]) -> Any:
        """The client frame ``message`` holds.

        Raises:
            _Refused: not a valid frame (with the error code it gets).
            WebSocketDisconnect: the client went away.
        """
        if message["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(message.get("code", 1000))
        text = message.get("text")
        if text is None:
            # The protocol is JSON text; a binary frame is not read, whatever it holds.
            raise _Refused("bad_json", "frames must be JSON text; binary frames are refused")
        if len(text.encode("utf-8", "surrogatepass")) > self.settings.max_frame_bytes:
            raise _Refused(
                "frame_too_large", f"frame larger than {self.settings.max_frame_bytes} bytes"
            )
        if not self._take_token():
            raise _Refused("rate_limited", "too many frames; slow down")
        try:
            raw = json.loads(text)
        except (ValueError, RecursionError):
            raise _Refused("bad_json", "not valid JSON") from None
        if not isinstance(raw, dict) or not isinstance(raw.get("type"), str):
            raise _Refused("unknown_type", "a frame is a JSON object with a 'type'")
        try:
            return p.CLIENT.validate_python(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            if first["type"] == "union_tag_invalid":
                raise _Refused("unknown_type", f"unknown frame type {raw['type'][:40]!r}") from None
            where = ".".join(str(x) for x in first["loc"][1:]) or "frame"
            raise _Refused("invalid_fields", f"{where}: {first['msg']}") from None

    def _reject(self, code: str, message: str) -> None:
        self._strikes += 1
        self._error(code, message)
        return None

    def _take_token(self) -> bool:
        now = time.monotonic()
        rate, burst = self.settings.rate_per_second, self.settings.rate_burst
        self._tokens = min(burst, self._tokens + (now - self._refill) * rate)
        self._refill = now
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False

    async def _login(self, message: MutableMapping[str, Any]) -> bool:
        if message["type"] == "websocket.disconnect":
            return False
        try:
            frame, why = self._validate(message), ""
        except _Refused as exc:  # whatever is wrong with it, it is not a login
            frame, why = None, f" ({exc.code}: {exc.message})"
        if not isinstance(frame, p.Login):
            self._error("not_logged_in", f"the first frame must be a valid login{why}")
            self.close_later(p.CLOSE_AUTH, "the first frame must be login")
            return False
        try:
            self.user = authenticate(self.settings, frame.token, frame.user)
        except AuthError as exc:
            self._error("auth_failed", str(exc))
            self.close_later(p.CLOSE_AUTH, "authentication failed")
            return False
        plans = []
        for path in await asyncio.to_thread(plan_files, self.settings.rounds_dir):
            with contextlib.suppress(PlanError):
                plan = await asyncio.to_thread(resolve_plan, path)
                plans.append({"id": plan.id, "title": plan.title, "role": plan.role})
        self.offer(p.Session(seq=0, user=self.user, plans=plans, status="logged_in").model_dump())
        self.hub.logs.write(self.user, None, "login", 0)
        return True

    async def _handle(self, frame: Any) -> None:
        assert self.user is not None
        if isinstance(frame, p.Ping):
            self.offer(p.Pong(seq=self.last_seq).model_dump())
        elif isinstance(frame, p.Login):
            self._error("already_logged_in", "this connection is already logged in")
        elif isinstance(frame, p.Start | p.Resume) and self._drafting and not self._drafting.done():
            self._error("busy", "a plan is still being drafted for this connection's start")
        elif isinstance(frame, p.Start):
            await self._start(frame)
        elif isinstance(frame, p.Resume):
            await self._resume(frame)
        else:
            await self._input(frame)

    async def _start(self, frame: p.Start) -> None:
        assert self.user is not None
        if frame.job_description is not None:
            # Drafting may take an LLM call: run it beside the reader, so pings and other
            # frames are still answered meanwhile; the session event follows when it is ready.
            self._drafting = asyncio.create_task(
                self._start_drafted(frame.job_description, frame.mode)
            )
            return
        try:
            plan = await asyncio.to_thread(
                resolve_plan, self.settings.rounds_dir / f"{frame.plan}.yaml"
            )
        except PlanError:
            self._error("unknown_plan", f"no plan {frame.plan!r}")
            return
        await self._begin(await self.hub.start(self.user, plan.id, mode=frame.mode), plan)

    async def _start_drafted(self, job_description: str, mode: str | None = None) -> None:
        assert self.user is not None
        try:
            async with asyncio.timeout(_DRAFT_TIMEOUT):
                brain = get_brain(self.settings.engine)
                plan = await draft_plan(job_description, brain, self.settings.rounds_dir)
            runner = await self.hub.start_drafted(self.user, plan, mode)
        except DraftError as exc:
            if exc.code == "bad_job_description":
                self._error("bad_job_description", str(exc))
            else:  # the engine's fault, not the candidate's: details go to the server log
                log.warning("drafting a plan failed: %s", exc)
                self._error("draft_failed", "No valid plan could be drafted; try again.")
            return
        except Exception:  # a timeout or an engine failure must cost this start only
            log.exception("drafting a plan failed")
            self._error("draft_failed", "No plan could be drafted; try again.")
            return
        await self._begin(runner, plan)

    async def _begin(self, runner: Runner, plan: InterviewPlan) -> None:
        """Attach to a just-started interview and tell the client."""
        assert self.user is not None
        if self.runner is not None:
            self.runner.detach(self)
        self.runner = runner
        self.restart(runner.interview_id, 0)  # a new interview: its own seq, from the start
        self.offer(
            p.Session(
                seq=0,
                user=self.user,
                interview_id=runner.interview_id,
                plan=plan.id,
                engine=self.settings.engine_name,
                plans=[{"id": plan.id, "title": plan.title, "role": plan.role}],
                status="started",
                drafting=plan.drafting,
            ).model_dump()
        )
        await runner.attach(self)

    async def _resume(self, frame: p.Resume) -> None:
        assert self.user is not None
        try:
            runner = await self.hub.get(self.user, frame.interview_id)
        except LookupError as exc:
            code = str(exc.args[0])
            self._error(code, _LOOKUP_MESSAGES.get(code, code))
            return
        if self.runner is not None and self.runner is not runner:
            self.runner.detach(self)
        self.runner = runner
        if self.interview_id != runner.interview_id:
            self.restart(runner.interview_id, frame.last_seq)
        # else: this connection is already in that interview's log; it continues from what
        # it has sent (replaying from last_seq again would send lower seqs, and repeats).
        self.offer(
            p.Session(
                seq=frame.last_seq,  # restamped by the writer, like every transient event
                user=self.user,
                interview_id=runner.interview_id,
                plan=await self.hub.plan_id(runner.plan),
                engine=self.settings.engine_name,
                status="finished" if await runner.ended() else "resumed",
            ).model_dump()
        )
        await runner.attach(self)

    async def _input(self, frame: Any) -> None:
        if self.runner is None:
            self._error("no_interview", "start or resume an interview first")
            return
        if isinstance(frame, p.Control) and frame.action == "pause":
            self.offer(
                p.Ack(seq=self.last_seq, client_id=frame.client_id, input="pause").model_dump()
            )
            return
        body = frame.model_dump(exclude={"client_id"})
        body["kind"] = body.pop("type")
        try:
            ack = await self.runner.submit(body, frame.client_id)
        except LookupError:
            self._error("interview_finished", "this interview has ended")
            return
        except asyncio.QueueFull:
            self._error("busy", "too many inputs waiting; try again shortly")
            return
        except ValueError as exc:
            self._error("invalid_fields", str(exc))
            return
        self.offer(ack.model_dump())
