"""A real PostgreSQL server for the tests (local/postgres.py): one per run, started on first use, and
one fresh migrated database per test module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from local.postgres import PostgresServer, start_postgres


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the whole run."""
    server = start_postgres()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def postgres_url(postgres: PostgresServer) -> str:
    """A fresh, migrated database for one test module."""
    return postgres.new_database()
