"""The PostgreSQL catalog without a server: the same methods as the DynamoDB catalog (names and
signatures, whatever each side grows), psycopg loaded only on first use, and the migrations' URL."""

from __future__ import annotations

import inspect
import re
import subprocess
import sys

import pytest

from chalicelib.adapters.dynamodb import DynamoCatalog
from chalicelib.adapters.idempotency import DynamoIdempotencyStore
from chalicelib.adapters.postgres import PostgresCatalog
from chalicelib.adapters.postgres.idempotency import PostgresIdempotencyStore, PostgresRateCounter
from chalicelib.adapters.postgres.migrate import MIGRATIONS, yoyo_url
from chalicelib.adapters.ratelimit import DynamoRateCounter


def methods(cls: type) -> dict[str, inspect.Signature]:
    return {
        name: inspect.signature(member)
        for name, member in inspect.getmembers(cls, inspect.isfunction)
        if not name.startswith("_")
    }


@pytest.mark.parametrize(
    ("dynamo", "postgres"),
    [
        (DynamoCatalog, PostgresCatalog),
        (DynamoIdempotencyStore, PostgresIdempotencyStore),
        (DynamoRateCounter, PostgresRateCounter),
    ],
)
def test_the_postgres_adapters_have_the_dynamodb_ones_methods(dynamo: type, postgres: type) -> None:
    theirs, ours = methods(dynamo), methods(postgres)
    assert {n: theirs[n] for n in theirs} == {n: ours[n] for n in theirs if n in ours}
    assert set(ours) - set(theirs) <= {"expire"}  # TTL's deletes: the one thing DynamoDB does alone


def delegations() -> list[tuple[str, str]]:
    """Each (repository, method) the shared delegation calls (chalicelib/adapters/composed.py)."""
    from chalicelib.adapters import composed

    return sorted(set(re.findall(r"self\.(\w+)\.(\w+)\(", inspect.getsource(composed.ComposedCatalog))))


def repository_classes(package: str) -> dict[str, type]:
    """Each store's repository classes by the attribute the catalog keeps them in."""
    import importlib

    modules = {"files": "files", "classes": "classes", "shares": "shares", "audit": "audit"}
    modules |= {"trash": "trash", "verdicts": "verdicts", "feeds": "feeds"}
    names = {"files": "FileRepository", "classes": "ClassRepository", "shares": "ShareRepository"}
    names |= {"audit": "AuditRepository", "trash": "TrashRepository", "verdicts": "VerdictRepository"}
    names |= {"feeds": "FeedRepository"}
    return {
        attr: getattr(importlib.import_module(f"chalicelib.adapters.{package}.{module}"), names[attr])
        for attr, module in modules.items()
    }


def test_both_stores_repositories_answer_every_delegation_with_the_same_signature() -> None:
    """The delegation is written once (ComposedCatalog), so each store's repository must have each method
    it calls, with the same signature: a method added on one side only fails here, not at run time."""
    dynamo, postgres = repository_classes("dynamodb"), repository_classes("postgres")
    calls = delegations()
    assert len(calls) > 40
    for repo, method in calls:
        theirs, ours = getattr(dynamo[repo], method, None), getattr(postgres[repo], method, None)
        assert theirs is not None and ours is not None, f"{repo}.{method} is missing on one side"
        assert inspect.signature(theirs) == inspect.signature(ours), f"{repo}.{method} differs"


def test_importing_the_catalog_loads_no_driver() -> None:
    """A Lambda's cold start pays for psycopg only when it first queries."""
    code = (
        "import sys\n"
        "from chalicelib.adapters.postgres import Database, PostgresCatalog\n"
        "PostgresCatalog(Database('postgresql://nobody@127.0.0.1:1/none'))\n"
        "assert 'psycopg' not in sys.modules and 'psycopg_pool' not in sys.modules, sorted(sys.modules)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_the_migrations_are_sql_files_applied_in_order() -> None:
    files = sorted(p.name for p in MIGRATIONS.glob("*.sql") if not p.name.endswith(".rollback.sql"))
    assert files and files[0].startswith("0001.")
    assert yoyo_url("postgresql://u:p@db:5432/cartable?sslmode=require") == (
        "postgresql+psycopg://u:p@db:5432/cartable?sslmode=require"
    )
    with pytest.raises(ValueError, match="postgresql://"):
        yoyo_url("mysql://db/cartable")


def test_the_settings_choose_the_catalog() -> None:
    from chalicelib.errors import ConfigurationError
    from chalicelib.settings import Settings

    base = {"CARTABLE_STAGE": "local", "AWS_DEFAULT_REGION": "eu-west-3", "CARTABLE_BUCKET": "b"}
    assert Settings.from_env({**base, "CARTABLE_TABLE": "t"}).catalog == "dynamodb"
    url = "postgresql://cartable@db:5432/cartable"
    chosen = Settings.from_env({**base, "CARTABLE_CATALOG": "postgres", "CARTABLE_DATABASE_URL": url})
    assert (chosen.catalog, chosen.database_url, chosen.database_pool_size, chosen.table) == ("postgres", url, 2, "")
    workers = Settings.from_env(
        {**base, "CARTABLE_CATALOG": "postgres", "CARTABLE_DATABASE_URL": url, "CARTABLE_DATABASE_POOL_SIZE": "8"}
    )
    assert workers.database_pool_size == 8
    with pytest.raises(ConfigurationError, match="CARTABLE_DATABASE_URL is required"):
        Settings.from_env({**base, "CARTABLE_CATALOG": "postgres"})
    with pytest.raises(ConfigurationError, match="CARTABLE_CATALOG must be one of dynamodb, postgres"):
        Settings.from_env({**base, "CARTABLE_TABLE": "t", "CARTABLE_CATALOG": "mongo"})


def test_the_wiring_builds_the_postgres_catalog_and_its_stores(monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib import wiring
    from chalicelib.settings import Settings

    env = {
        "CARTABLE_STAGE": "local",
        "AWS_DEFAULT_REGION": "eu-west-3",
        "CARTABLE_BUCKET": "b",
        "CARTABLE_CATALOG": "postgres",
        "CARTABLE_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none",
    }
    monkeypatch.setattr(wiring, "settings", lambda: Settings.from_env(env))
    built = [f for f in vars(wiring).values() if callable(getattr(f, "cache_clear", None))]
    for cached in built:  # whatever this process built before is built again on these settings, and after
        cached.cache_clear()
    try:
        assert isinstance(wiring.catalog(), PostgresCatalog)
        assert isinstance(wiring.rate_limit()._counter, PostgresRateCounter)
        assert isinstance(wiring.idempotency()._store, PostgresIdempotencyStore)
        assert wiring.database()._sizes == (1, 2)  # a function's pool: one connection, two at most
        from chalicelib.adapters.postgres.sweeping import ExpiringSweeper

        assert isinstance(wiring.sweeper(), ExpiringSweeper)  # the hourly run also does TTL's work
    finally:
        for cached in built:
            cached.cache_clear()


def test_database_errors_become_the_catalogs_errors() -> None:
    import psycopg
    from psycopg import errors
    from psycopg_pool import PoolTimeout

    from chalicelib.adapters.postgres.db import translate
    from chalicelib.errors import ContentionError, ServiceUnavailableError, StaleWriteError

    assert type(translate(errors.UniqueViolation())) is StaleWriteError  # a key taken: a lost race
    assert type(translate(errors.DeadlockDetected())) is ContentionError  # two transactions met
    assert type(translate(errors.SerializationFailure())) is ContentionError
    for busy in (errors.QueryCanceled(), errors.LockNotAvailable(), psycopg.OperationalError(), PoolTimeout()):
        assert type(translate(busy)) is ServiceUnavailableError
    bug = errors.UndefinedColumn()
    assert translate(bug) is bug  # a bug is not a 503
