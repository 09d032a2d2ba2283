"""Where interviews are stored: the event log and the checkpoints, on SQLite or PostgreSQL.

* :mod:`.events` — the data model (:class:`Event`, :class:`InterviewSummary`, …) and the
  :class:`EventStore` protocol both stores implement;
* :mod:`.sqlite` — the SQLite event log (one file, one process);
* :mod:`.postgres` — the PostgreSQL event log (shared by several processes; imports psycopg);
* :mod:`.open` — opening a database's event log and LangGraph checkpointer together;
* :mod:`.leases` — which process drives an interview (advisory locks on PostgreSQL);
* :mod:`.prune` — retention of finished interviews' checkpoints.
"""

from .events import (
    COLUMNS,
    REVIEW_KIND,
    Event,
    EventStore,
    InterviewClosed,
    InterviewPage,
    InterviewQuery,
    InterviewSummary,
    Status,
    Visibility,
    events_query,
    is_postgres,
)
from .leases import Lease, Leases
from .open import event_log_for, open_saver, open_store
from .prune import prune
from .sqlite import EventLog

__all__ = [
    "COLUMNS",
    "REVIEW_KIND",
    "Event",
    "EventLog",
    "EventStore",
    "InterviewClosed",
    "InterviewPage",
    "InterviewQuery",
    "InterviewSummary",
    "Lease",
    "Leases",
    "Status",
    "Visibility",
    "event_log_for",
    "events_query",
    "is_postgres",
    "open_saver",
    "open_store",
    "prune",
]
