"""Domain knowledge panelists consult before asking: SQLite FTS5 over the plan's documents.

The index is built in memory once per plan and queried off the event loop (SQLite calls
block).  The lookups the plan itself implies (each topic's question, alone or with one of its
key points) are answered when the index is built, so the turn's critical path finds them in
a table instead of paying a worker-thread round trip; other queries (a model's own) still
go to the index.  Results are private notes for the panelist; they never reach the
candidate.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
import threading
from dataclasses import dataclass

from .plans.models import Document, InterviewPlan, KeyPoint, Topic

_TOKEN = re.compile(r"[A-Za-z0-9]{3,}")


@dataclass(frozen=True)
class Hit:
    """One retrieved document."""

    doc_id: str
    title: str
    snippet: str


def knowledge_query(topic: Topic, key_point: KeyPoint | None) -> str:
    """What a panelist looks up for ``topic`` (and the key point it probes, if any)."""
    return " ".join(filter(None, [topic.question, key_point.text if key_point else ""]))


class KnowledgeBase:
    """An FTS5 (BM25-ranked) index of a plan's knowledge documents."""

    def __init__(self, documents: list[Document], topics: list[Topic] | None = None) -> None:
        self._lock = threading.Lock()
        self._db = sqlite3.connect(":memory:", check_same_thread=False)
        self._db.execute(
            "CREATE VIRTUAL TABLE docs USING fts5(doc_id UNINDEXED, title, tags, text)"
        )
        self._db.executemany(
            "INSERT INTO docs VALUES (?, ?, ?, ?)",
            [(d.id, d.title, " ".join(d.tags), d.text) for d in documents],
        )
        self.size = len(documents)
        self._known: dict[tuple[str, tuple[str, ...], int], list[Hit]] = {}
        for topic in topics or []:
            tags = list(topic.knowledge_tags)
            for kp in [None, *topic.key_points]:
                query = knowledge_query(topic, kp)
                self._known[(query, tuple(tags), 2)] = self.search_sync(query, tags)

    def search_sync(self, query: str, tags: list[str] | None = None, limit: int = 2) -> list[Hit]:
        """Best documents for ``query``; documents carrying one of ``tags`` rank first."""
        terms = {t.lower() for t in _TOKEN.findall(query)} | {
            t.replace("-", " ") for t in tags or []
        }
        if not terms:
            return []
        # Quote every term: candidate-derived text must never be parsed as FTS5 syntax.
        match = " OR ".join('"' + t.replace('"', "") + '"' for t in sorted(terms))
        with self._lock:
            rows = self._db.execute(
                "SELECT doc_id, title, snippet(docs, 3, '', '', ' … ', 24) FROM docs "
                "WHERE docs MATCH ? ORDER BY bm25(docs, 0.0, 2.0, 4.0, 1.0) LIMIT ?",
                (match, limit),
            ).fetchall()
        return [Hit(doc_id=r[0], title=r[1], snippet=r[2]) for r in rows]

    async def search(self, query: str, tags: list[str] | None = None, limit: int = 2) -> list[Hit]:
        """Async wrapper: answered from the table if known, else in a worker thread."""
        known = self._known.get((query, tuple(tags or ()), limit))
        if known is not None:
            return list(known)
        return await asyncio.to_thread(self.search_sync, query, tags, limit)


_CACHE: dict[int, tuple[InterviewPlan, KnowledgeBase]] = {}


def knowledge_for(plan: InterviewPlan) -> KnowledgeBase:
    """The knowledge base of ``plan``, built once per loaded plan object."""
    entry = _CACHE.get(id(plan))
    if entry is None or entry[0] is not plan:
        if len(_CACHE) > 64:
            _CACHE.clear()
        topics = [t for r in plan.rounds for t in r.topics]
        entry = _CACHE[id(plan)] = (plan, KnowledgeBase(list(plan.knowledge), topics))
    return entry[1]
