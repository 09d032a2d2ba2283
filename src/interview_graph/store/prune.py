"""Retention: deleting the checkpoints of interviews that ended long ago (either store)."""

from __future__ import annotations

import time
from contextlib import AsyncExitStack
from pathlib import Path

import aiosqlite

from .events import is_postgres
from .open import open_store


async def prune(
    database: str | Path, *, older_than_days: float, dry_run: bool, vacuum: bool = False
) -> list[str]:
    """Delete the checkpoints of interviews that ended more than ``older_than_days`` ago.

    The event log (transcript, inputs, the report event) stays; a pruned interview can no
    longer continue, which a finished one never does anyway.  SQLite keeps the freed pages
    for reuse; ``vacuum`` then rewrites the file to give them back to the disk (it holds the
    write lock meanwhile, so interviews on a running server wait: run it off-hours).
    PostgreSQL's autovacuum does that job there, so ``vacuum`` is a no-op.

    Returns:
        The interviews whose checkpoints were (or, with ``dry_run``, would be) deleted.
    """
    async with AsyncExitStack() as stack:
        event_log, saver = await open_store(stack, database)
        cutoff = time.time() - older_than_days * 86_400
        chosen = []
        for interview_id in await event_log.finished_before(cutoff):
            config = {"configurable": {"thread_id": interview_id, "checkpoint_ns": ""}}
            if await saver.aget_tuple(config) is not None:  # type: ignore[arg-type]
                chosen.append(interview_id)
        if not dry_run:
            for interview_id in chosen:
                await saver.adelete_thread(interview_id)
    if vacuum and not dry_run and not is_postgres(database) and str(database) != ":memory:":
        async with aiosqlite.connect(str(database)) as db:
            # execute_fetchall: a PRAGMA returns a row, and a statement left unfinished on the
            # connection makes VACUUM fail ("SQL statements in progress").
            await db.execute_fetchall("PRAGMA busy_timeout=30000")
            await db.execute("VACUUM")
    return chosen
