"""Databases for the tests: a fresh one per test on each engine the index supports.

PostgreSQL: the server at DISBURSE_TEST_PG_URL (default postgresql://postgres@127.0.0.1:5432/
test; in a network namespace, reach it by its socket: postgresql://postgres@/test?host=/var/run/
postgresql); each test gets a database of its own, dropped after it. When no server answers, the
PostgreSQL tests fail under CI (CI=true: the machine provides one, so a missing server is a
broken run, never a silent skip) and are skipped elsewhere with the reason printed.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from disburse.index.store import with_database

PG_URL = os.environ.get("DISBURSE_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


def _pg_admin() -> psycopg.Connection[Any]:
    return psycopg.connect(PG_URL, autocommit=True, connect_timeout=3)


def postgres_available() -> str | None:
    """None when the server answers, else why not."""
    try:
        with _pg_admin():
            return None
    except psycopg.Error as exc:
        return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def require_postgres() -> None:
    why = postgres_available()
    if why is None:
        return
    message = f"PostgreSQL is not reachable at {PG_URL} ({why})"
    if os.environ.get("CI"):
        pytest.fail(f"{message}: CI must run the PostgreSQL tests", pytrace=False)
    pytest.skip(f"{message}: start a server or set DISBURSE_TEST_PG_URL")


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A new, empty PostgreSQL database for this test, as a URL."""
    require_postgres()
    name = f"disburse_idx_{uuid.uuid4().hex[:12]}"
    with _pg_admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield with_database(PG_URL, name)
    finally:
        with _pg_admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new, empty index database on each engine."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.db'}"
    url: str = request.getfixturevalue("pg_url")
    return url
