"""The activity agent's background service: pre-runs a candidate's code while the talk goes on.

When code arrives with action ``run`` or ``submit``, its tests are started in the sandbox at
once, in the background, so the conversation never waits for them.  The graph's
``execute_code`` later asks the sandbox for the very same run (same code, function and tests)
and gets the finished result from the sandbox's cache of recent runs, or joins the run still
in flight.  So the transport only hands the input over (see :meth:`ActivityService.schedule`);
only the activity agent knows about plans' coding specs and the sandbox.

One service exists per interview (an :class:`~interview_graph.session.InterviewSession` owns
it).  It is bounded: at most ``concurrency`` runs at once and at most ``limit`` outstanding
(running, waiting for a slot, or reserved), beyond which new inputs are refused with
:class:`asyncio.QueueFull` rather than piling up behind an endless loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from ..plans.loader import resolve_plan
from . import sandbox
from .runs import execute

log = logging.getLogger("interview_graph.activity")

# Outstanding runs per interview before inputs are refused: a candidate pressing "run" on an
# endless loop eight times has made the point; more would only queue sandbox time.
MAX_PENDING = 8

OnDone = Callable[[], Awaitable[None]]


class Slot:
    """A place reserved in an :class:`ActivityService` for one run not yet started.

    Reserving before the input is persisted, and starting after, keeps the bound exact even
    when several inputs are being persisted at once: the check and the reservation happen
    with no ``await`` in between, so nothing is refused once it has been written down.
    """

    def __init__(self, service: ActivityService) -> None:
        self._service: ActivityService | None = service

    def start(self, inbox: dict[str, Any], on_done: OnDone) -> None:
        """Start the run of ``inbox`` in this slot; ``on_done`` is awaited once it is over.

        Raises:
            RuntimeError: the slot was already used or released, or the service is closed.
        """
        service = self._take()
        service._start(inbox, on_done)

    def release(self) -> None:
        """Give the slot back unused (the input could not be persisted, say).  Idempotent."""
        if self._service is not None:
            self._take()._reserved -= 1

    def _take(self) -> ActivityService:
        if self._service is None:
            raise RuntimeError("this slot was already used or released")
        service, self._service = self._service, None
        return service


class ActivityService:
    """Schedules one interview's code runs in the background, bounded.

    Args:
        plan: The interview's plan reference (an id or a file), as in its runtime context.
        interview_id: The interview; the sandbox's per-interview cap is keyed on it.
        concurrency: Runs executing at once (others wait for a slot, in order).
        limit: Runs outstanding at once (running, waiting or reserved) before
            :meth:`reserve` and :meth:`schedule` refuse with :class:`asyncio.QueueFull`.
    """

    def __init__(
        self,
        plan: str,
        interview_id: str,
        *,
        concurrency: int = sandbox.PER_INTERVIEW,
        limit: int = MAX_PENDING,
    ) -> None:
        self.plan = plan
        self.interview_id = interview_id
        self.limit = limit
        self._concurrency = concurrency
        # Created on first use: a session may be built outside a running event loop.
        self._slots: asyncio.Semaphore | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._reserved = 0
        self._closed = False

    @staticmethod
    def wants(inbox: dict[str, Any]) -> bool:
        """Whether ``inbox`` (a parsed candidate input) is code to run before the graph sees it."""
        return inbox.get("kind") == "code" and inbox.get("action") in ("run", "submit")

    @property
    def pending(self) -> int:
        """Runs not over yet: reserved, waiting, running, or calling back."""
        return len(self._tasks) + self._reserved

    @property
    def full(self) -> bool:
        """Whether a further run would be refused."""
        return self.pending >= self.limit

    def reserve(self) -> Slot:
        """Reserve a place for one run, to be started with :meth:`Slot.start`.

        Raises:
            asyncio.QueueFull: ``limit`` runs are outstanding already.
            RuntimeError: the service is closed.
        """
        if self._closed:
            raise RuntimeError(f"the activity service of {self.interview_id} is closed")
        if self.full:
            raise asyncio.QueueFull
        self._reserved += 1
        return Slot(self)

    def schedule(self, inbox: dict[str, Any], on_done: OnDone) -> None:
        """Run ``inbox``'s tests in the background, then await ``on_done``.

        Returns at once.  ``on_done`` is awaited exactly once when the run is over, whether it
        succeeded, the sandbox reported a failure, or preparing it raised (logged): the caller
        relies on it to pass the input on, and an input must never be lost.  It is not called
        when :meth:`aclose` cancels the run; an input persisted before then is still in the
        event log, unconsumed, and is fed to the graph again when the interview is resumed.

        Raises:
            asyncio.QueueFull: ``limit`` runs are outstanding already.
            RuntimeError: the service is closed.
        """
        self.reserve().start(inbox, on_done)

    async def aclose(self) -> None:
        """Refuse new runs, cancel outstanding ones and wait until they are gone."""
        self._closed = True
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        # return_exceptions: a cancelled run is the expected outcome here, not an error.
        await asyncio.gather(*tasks, return_exceptions=True)

    def _start(self, inbox: dict[str, Any], on_done: OnDone) -> None:
        self._reserved -= 1
        if self._closed:
            raise RuntimeError(f"the activity service of {self.interview_id} is closed")
        task = asyncio.create_task(
            self._run_then_call_back(inbox, on_done), name=f"activity-{self.interview_id}"
        )
        self._tasks.add(task)  # also keeps a strong reference: the loop holds tasks weakly
        task.add_done_callback(self._tasks.discard)

    async def _run_then_call_back(self, inbox: dict[str, Any], on_done: OnDone) -> None:
        try:
            await self._run(inbox)
        except asyncio.CancelledError:
            raise  # closing: see schedule() for why on_done is not called
        except Exception:  # the graph runs (and reports) it again; never lose the input
            log.exception("background run for interview %s failed", self.interview_id)
        try:
            await on_done()
        except asyncio.CancelledError:
            raise
        except Exception:  # the caller's failure; the service must go on serving the others
            log.exception("callback after a run for interview %s failed", self.interview_id)

    async def _run(self, inbox: dict[str, Any]) -> None:
        """Run the tests the graph will ask for, so that its request is served from the cache."""
        if self._slots is None:
            self._slots = asyncio.Semaphore(self._concurrency)
        async with self._slots:
            plan = await asyncio.to_thread(resolve_plan, self.plan)
            topic = next(
                (t for r in plan.rounds for t in r.topics if t.id == inbox.get("question_id")),
                None,
            )
            if topic is None or topic.coding is None:
                return  # not a coding question: the graph has nothing to execute either
            # Exactly the arguments execute_code passes, or the sandbox's cache would miss.
            await execute(
                inbox["code"],
                inbox.get("language", "python"),
                topic.coding,
                inbox["action"],
                interview_id=self.interview_id,
            )
