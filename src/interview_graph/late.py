"""Post-reply work that outlives its turn: its results merge at a later step.

After a reply has streamed, the panel still has work to do for that turn: the rules screen's
verdict (when the gate released the reply under the deterministic verdict first), the
panelist's reflection and the evaluation.  Each is an LLM call in LLM mode, and any of them
can stall.  The turn waits for them at most ``llm_post_reply_wait`` seconds (the offline
engine always finishes well within that, so offline runs are unchanged); what is not done by
then is *deferred* here, per interview, and the next candidate input is answered without
waiting for it.  Later steps collect the finished results and fold them in:

* a screen verdict at the next input's ``check_rules`` (a late WARN/BLOCK becomes a flag, see
  ``master.nodes.apply_late_screens``);
* a reflection when the master next runs a panelist (its memory gets the note);
* an evaluation logs itself when it finishes; ``close_round`` waits (bounded) for the round's
  outstanding evaluations before merging them, and keeps the latest by line number.

Every deferred task has its own total deadline (the LLM calls' ``llm_deadlines``), so nothing
here waits unboundedly.  The registry is process-local: if the process stops, deferred work
is lost and the offline result that stood in for it stays.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")
log = logging.getLogger("interview_graph.late")


@dataclass
class LateWork:
    """One deferred piece of post-reply work."""

    kind: str  # "screen", "reflection" or "evaluation"
    task: asyncio.Future[Any]
    meta: dict[str, Any] = field(default_factory=dict)


_WORK: dict[str, list[LateWork]] = {}


async def settle(work: Awaitable[T], wait: float) -> tuple[asyncio.Future[T], bool]:
    """Run ``work`` as a task and wait for it at most ``wait`` seconds (it is never cancelled).

    Returns:
        The task and whether it finished within ``wait``.
    """
    task = asyncio.ensure_future(work)
    if not task.done():
        await asyncio.wait({task}, timeout=wait)
    return task, task.done()


def defer(interview_id: str, kind: str, task: asyncio.Future[Any], **meta: Any) -> None:
    """Keep ``task`` for a later step of ``interview_id`` to collect."""
    _WORK.setdefault(interview_id, []).append(LateWork(kind, task, meta))
    task.add_done_callback(_log_failure)


def _log_failure(task: asyncio.Future[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("deferred post-reply work failed", exc_info=task.exception())


def collect(interview_id: str, kind: str) -> list[tuple[dict[str, Any], Any]]:
    """The finished (and successful) deferred work of ``kind``, removed from the registry."""
    work = _WORK.get(interview_id, [])
    done = [w for w in work if w.kind == kind and w.task.done()]
    if not done:
        return []
    _WORK[interview_id] = [w for w in work if w not in done]
    if not _WORK[interview_id]:
        del _WORK[interview_id]
    return [
        (w.meta, w.task.result())
        for w in done
        if not w.task.cancelled() and w.task.exception() is None
    ]


def pending(interview_id: str, kind: str | None = None) -> int:
    """How much deferred work of ``kind`` (any kind: None) is still running."""
    return sum(
        1
        for w in _WORK.get(interview_id, [])
        if not w.task.done() and (kind is None or w.kind == kind)
    )


async def wait_for(interview_id: str, kind: str, within: float) -> None:
    """Wait up to ``within`` s for the deferred work of ``kind`` (end of a round, the report)."""
    tasks = [w.task for w in _WORK.get(interview_id, []) if w.kind == kind and not w.task.done()]
    if tasks:
        await asyncio.wait(tasks, timeout=within)


def forget(interview_id: str) -> None:
    """Drop an interview's deferred work (cancelling what still runs)."""
    for w in _WORK.pop(interview_id, []):
        w.task.cancel()
