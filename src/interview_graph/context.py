"""Per-interview runtime context and the services it resolves to.

The context is plain data (plan, engine, database) so LangGraph Studio can send it as JSON;
nodes turn it into services (plan, brain, knowledge base, event log) through
:func:`services`, which caches them per event loop.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace
from typing import Any

from langgraph.runtime import Runtime

from .engine.base import Brain, get_brain
from .knowledge import KnowledgeBase, knowledge_for
from .plans.loader import resolve_plan
from .plans.models import InterviewPlan
from .settings import get_settings
from .store import EventStore, event_log_for


@dataclass(frozen=True)
class InterviewContext:
    """What an interview run is configured with (LangGraph runtime context)."""

    plan: str = "backend_engineer"
    engine: str = "offline"
    database: str = ""


@dataclass
class Services:
    """What nodes use; built from an :class:`InterviewContext`."""

    plan: InterviewPlan
    brain: Brain
    knowledge: KnowledgeBase
    log: EventStore = field(default=None)  # type: ignore[assignment]  # set per call


_LOGS: dict[tuple[int, str], EventStore] = {}


async def open_log(database: str) -> EventStore:
    """The event log for ``database``, opened once per event loop."""
    key = (id(asyncio.get_running_loop()), database)
    log = _LOGS.get(key)
    if log is None:
        log = _LOGS[key] = event_log_for(database)
    return await log.open()


def register_log(database: str, log: EventStore) -> None:
    """Use an already-open ``log`` for ``database`` on the running loop (sessions share theirs)."""
    _LOGS[(id(asyncio.get_running_loop()), database)] = log


async def close_logs() -> None:
    """Close every log opened on the running loop (its connection threads would outlive it)."""
    loop_id = id(asyncio.get_running_loop())
    for key in [k for k in _LOGS if k[0] == loop_id]:
        await _LOGS.pop(key).close()


def unregister_log(database: str, log: EventStore) -> None:
    """Forget ``log`` (its session is closing)."""
    key = (id(asyncio.get_running_loop()), database)
    if _LOGS.get(key) is log:
        del _LOGS[key]


_SERVICES: dict[tuple[int, InterviewContext], Services] = {}


async def services(runtime: Runtime[Any]) -> Services:
    """Resolve the run's context into services; works with no context at all (Studio).

    Resolved once per context and event loop: a plan does not change under a running
    interview, and nodes run often enough that re-resolving would show up in latency.
    """
    ctx = (
        runtime.context
        if isinstance(runtime.context, InterviewContext)
        else InterviewContext(**(runtime.context or {}))
    )
    database = ctx.database or get_settings().store
    key = (id(asyncio.get_running_loop()), ctx)
    cached = _SERVICES.get(key)
    if cached is None:
        plan = await asyncio.to_thread(resolve_plan, ctx.plan)
        cached = Services(
            plan=plan,
            brain=get_brain(ctx.engine),
            knowledge=await asyncio.to_thread(knowledge_for, plan),
        )
        if len(_SERVICES) > 256:
            _SERVICES.clear()
        _SERVICES[key] = cached
    # The log is looked up every time: a session may have closed and reopened it.
    return replace(cached, log=await open_log(database))


def interview_id(runtime: Runtime[Any]) -> str:
    """The interview id is the LangGraph thread id."""
    info = runtime.execution_info
    return (info.thread_id if info and info.thread_id else None) or "local"
