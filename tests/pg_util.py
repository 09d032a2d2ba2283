"""A throwaway PostgreSQL schema per test (skips with the DSN named when none is reachable)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote

import pytest

PG_DSN = os.environ.get("INTERVIEW_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")


def _connect() -> object:
    import psycopg

    return psycopg.connect(PG_DSN, autocommit=True, connect_timeout=3)


def pg_available() -> str | None:
    """None if PostgreSQL answers at ``PG_DSN``, else why not."""
    try:
        conn = _connect()
    except Exception as exc:  # any failure: no database to test against
        return f"{type(exc).__name__}: {exc}".splitlines()[0]
    conn.close()  # type: ignore[attr-defined]
    return None


@contextmanager
def pg_schema() -> Iterator[str]:
    """A DSN whose search_path is a fresh schema, dropped afterwards (runs never collide)."""
    why = pg_available()
    if why is not None:
        pytest.skip(f"no PostgreSQL at {PG_DSN} (set INTERVIEW_TEST_PG_DSN): {why}")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    conn = _connect()
    conn.execute(f"CREATE SCHEMA {schema}")  # type: ignore[attr-defined]
    try:
        yield f"{PG_DSN}?options={quote(f'-csearch_path={schema}')}"
    finally:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")  # type: ignore[attr-defined]
        conn.close()  # type: ignore[attr-defined]
