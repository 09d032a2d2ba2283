"""Run one interview on a checkpointed thread: start, resume with candidate input, stream events.

A session is the only code that touches the compiled graph at run time; the CLI, self-play
and (later) the WebSocket server drive interviews through it.  State survives the process:
the thread id is the interview id, the checkpointer and the event log share one store (a
SQLite file or PostgreSQL).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any, cast

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command

from .activity.service import ActivityService
from .context import InterviewContext, register_log, unregister_log
from .master.graph import build_interview_graph
from .store import Event, EventStore, open_store


class InterviewSession:
    """One interview thread.  Use :meth:`open` as an async context manager."""

    def __init__(
        self,
        graph: CompiledStateGraph[Any, Any, Any, Any],
        context: InterviewContext,
        interview_id: str,
        log: EventStore,
        stack: AsyncExitStack,
        checkpointer: BaseCheckpointSaver[Any],
    ) -> None:
        self.graph = graph
        self.checkpointer = checkpointer
        self.context = context
        self.interview_id = interview_id
        self.log = log
        self._stack = stack
        self.last_seq = 0
        # The interview's activity agent outside the graph: it pre-runs submitted code in the
        # background so the graph's own run finds the result ready (activity/service.py).
        self.activity = ActivityService(context.plan, interview_id)

    @classmethod
    async def open(
        cls,
        *,
        plan: str,
        engine: str = "offline",
        database: str | Path,
        interview_id: str | None = None,
    ) -> InterviewSession:
        """Open (or reopen, by ``interview_id``) an interview stored in ``database``.

        ``database`` is a SQLite path (or ``:memory:``) or a ``postgresql://`` DSN.
        """
        database = str(database)
        stack = AsyncExitStack()
        log, saver = await open_store(stack, database)
        register_log(database, log)
        stack.callback(unregister_log, database, log)
        graph = build_interview_graph().compile(checkpointer=saver)
        context = InterviewContext(plan=plan, engine=engine, database=database)
        return cls(graph, context, interview_id or uuid.uuid4().hex[:12], log, stack, saver)

    @classmethod
    def on_store(
        cls,
        *,
        graph: CompiledStateGraph[Any, Any, Any, Any],
        context: InterviewContext,
        interview_id: str,
        log: EventStore,
        checkpointer: BaseCheckpointSaver[Any],
    ) -> InterviewSession:
        """A session on a store shared by many interviews (the WebSocket service's)."""
        return cls(graph, context, interview_id, log, AsyncExitStack(), checkpointer)

    async def close(self) -> None:
        """Cancel outstanding background code runs and release the database connections."""
        try:
            await self.activity.aclose()
        finally:
            await self._stack.aclose()

    async def __aenter__(self) -> InterviewSession:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def config(self) -> RunnableConfig:
        """The LangGraph config addressing this interview's thread."""
        return {"configurable": {"thread_id": self.interview_id}, "recursion_limit": 10_000}

    async def started(self) -> bool:
        """Whether this interview already has a checkpoint (i.e. it is being resumed)."""
        return (await self.graph.aget_state(self.config)).created_at is not None

    async def pending(self) -> dict[str, Any] | None:
        """What the interview is waiting for (the interrupt payload), or None if finished."""
        snapshot = await self.graph.aget_state(self.config)
        for task in snapshot.tasks:
            if task.interrupts:
                return dict(task.interrupts[0].value)
        return None

    async def finished(self) -> bool:
        """Whether the interview reached its end."""
        snapshot = await self.graph.aget_state(self.config)
        return snapshot.created_at is not None and not snapshot.next

    async def report(self) -> dict[str, Any] | None:
        """The final report, once finished."""
        snapshot = await self.graph.aget_state(self.config)
        report = snapshot.values.get("report")
        return dict(report) if report else None

    async def step(
        self, value: Any = None, initial: dict[str, Any] | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        """Start the interview (no value) or resume it with a candidate input; stream items.

        Yields ``{"type": "token", ...}`` deltas and ``{"type": "event", "event": Event}``
        items until the graph waits for the candidate again or ends.  Events already seen are
        not yielded twice (nodes re-run after an interrupt re-emit them).  ``initial`` is the
        graph's input when it starts (e.g. ``{"seed": 7}``); it is ignored on a resume.
        """
        if value is None:
            payload: Any = None if await self.started() else dict(initial or {})
        else:
            payload = Command(resume=value)
        # durability="exit": one checkpoint per resume (at the interrupt or the end) instead
        # of one per superstep.  A crash mid-turn loses nothing: the input stays unconsumed in
        # the event log and is fed again, and the re-run's events dedupe on their keys.
        async for _ns, raw in self.graph.astream(
            payload,
            self.config,
            context=self.context,
            stream_mode="custom",
            subgraphs=True,
            durability="exit",
        ):
            chunk = cast(dict[str, Any], raw)  # custom stream items are the dicts nodes wrote
            if chunk.get("type") == "event":
                event = Event.model_validate(chunk["event"])
                if event.seq <= self.last_seq:
                    continue
                self.last_seq = event.seq
                yield {"type": "event", "event": event}
            else:
                yield chunk

    async def transcript(self, *, public_only: bool = False) -> list[Event]:
        """Every event of this interview, in order."""
        return await self.log.events(
            self.interview_id, visibility="public" if public_only else None
        )
