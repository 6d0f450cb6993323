"""The PostgreSQL catalog when the database fails it: a server that cannot be reached, a row held too long
by another writer, and a transaction cut in the middle all answer 503 (the client may retry), and
leave nothing half written."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib.adapters.postgres import Database, PostgresCatalog
from chalicelib.errors import ServiceUnavailableError
from tests.catalogs import T0, audit, fresh, new_file, records, serve

# Once, in make test's DynamoDB pass: PostgreSQL's own faults, on a server of its own.
pytestmark = [pytest.mark.integration, pytest.mark.catalog_independent]
pytest_plugins = ["tests.postgres"]


@pytest.fixture(scope="module")
def catalog(postgres_url: str) -> Iterator[PostgresCatalog]:
    db = Database(postgres_url, max_size=4, timeout=2, statement_timeout_ms=1000)
    try:
        yield PostgresCatalog(db)
    finally:
        db.close()


def test_a_database_out_of_reach_is_503() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    db = Database(f"postgresql://cartable@127.0.0.1:{port}/cartable", timeout=0.5)
    try:
        with pytest.raises(ServiceUnavailableError):
            PostgresCatalog(db).get_file("school", "f")
    finally:
        db.close()


def test_a_row_held_too_long_by_another_writer_is_503_and_nothing_is_written(catalog: PostgresCatalog) -> None:
    school = fresh("school")
    file, upload = new_file(catalog, school, "ana")
    serve(catalog, upload)
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with catalog.db.transaction() as conn:
            conn.execute("SELECT 1 FROM files WHERE file_id = %s FOR UPDATE", (file.id,))
            held.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert held.wait(10)
        with pytest.raises(ServiceUnavailableError):  # the statement timeout, not a wait without end
            catalog.trash_file(file.id, T0, audit(school, "ana", 1, "file.delete"))
    finally:
        release.set()
        holder.join()
    assert catalog.get_file(school, file.id) is not None
    assert catalog.list_audit(school, None, 10, None)[0] == []
    catalog.trash_file(file.id, T0, audit(school, "ana", 2, "file.delete"))  # once the row is free
    assert catalog.get_file(school, file.id) is None


def test_a_transaction_cut_midway_leaves_nothing(catalog: PostgresCatalog, monkeypatch: Any) -> None:
    """The connection dies between the file's row and its grant's: neither is there, nor the quota."""
    import psycopg

    school, quota = fresh("school"), fresh("q")
    file, upload = records(school, "ana", quota=(quota, 100))
    calls = {"n": 0}
    real = psycopg.Connection.execute

    def dying(self: Any, query: Any, params: Any = None, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 3:  # reserve, the file, then the grant
            raise psycopg.OperationalError("server closed the connection unexpectedly")
        return real(self, query, params, **kwargs)

    monkeypatch.setattr(psycopg.Connection, "execute", dying)
    with pytest.raises(ServiceUnavailableError):
        catalog.create_file(file, upload, [])
    monkeypatch.undo()
    assert catalog.get_file_anywhere(file.id) is None and catalog.get_upload(upload.id) is None
    assert catalog.quota_used(quota) == 0
    catalog.create_file(file, upload, [])  # the client's retry
    assert catalog.quota_used(quota) == 10


def test_migrations_run_at_once_apply_each_migration_once(postgres: Any) -> None:
    """Two deployments migrating an empty database at the same moment: one applies, the other waits on
    yoyo's lock and finds nothing left; a third run later has nothing to do."""
    import uuid

    from chalicelib.adapters.postgres.migrate import MIGRATIONS, migrate

    name = f"cartable_{uuid.uuid4().hex[:12]}"
    postgres.admin(f'CREATE DATABASE "{name}"')
    url = postgres.url(name)
    results: list[list[str]] = []
    start = threading.Barrier(2)

    def run() -> None:
        start.wait(timeout=30)
        results.append(migrate(url))

    runners = [threading.Thread(target=run) for _ in range(2)]
    for runner in runners:
        runner.start()
    for runner in runners:
        runner.join(timeout=120)
    every = sorted(p.name.removesuffix(".sql") for p in MIGRATIONS.glob("*.sql") if ".rollback." not in p.name)
    assert sorted(results, key=len) == [[], every]
    assert migrate(url) == []
    catalog = PostgresCatalog(Database(url))
    try:
        assert catalog.quota_used("q") == 0  # the schema is there
    finally:
        catalog.db.close()


def test_every_migration_rolls_back_and_applies_again(postgres: Any) -> None:
    import uuid

    from yoyo import get_backend, read_migrations

    from chalicelib.adapters.postgres.migrate import MIGRATIONS, migrate, yoyo_url

    name = f"cartable_{uuid.uuid4().hex[:12]}"
    postgres.admin(f'CREATE DATABASE "{name}"')
    url = postgres.url(name)
    applied = migrate(url)
    backend = get_backend(yoyo_url(url))
    try:
        with backend.lock():
            backend.rollback_migrations(backend.to_rollback(read_migrations(str(MIGRATIONS))))
        tables = backend.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename NOT LIKE '%%yoyo%%'"
        ).fetchone()
    finally:
        backend.connection.close()
    assert tables[0] == 0  # nothing of ours left
    assert migrate(url) == applied
