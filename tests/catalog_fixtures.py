"""Both catalogs behind one fixture, for the catalog's contract tests (tests/integration/test_catalog_*,
which load this module and tests/postgres.py with `pytest_plugins`): the DynamoDB catalog on an
in-process moto (a fresh table per module) and the PostgreSQL catalog on a real server (a fresh
database per module), each with its idempotency store and rate counter."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

CATALOGS = ["dynamodb", "postgres"]


@dataclass
class Subject:
    """One catalog under test, with the idempotency store and rate counter on the same storage."""

    kind: str
    catalog: Any
    idempotency: Any
    rate: Any


@pytest.fixture(scope="module", params=CATALOGS)
def subject(request: pytest.FixtureRequest) -> Iterator[Subject]:
    if request.param == "dynamodb":
        import boto3
        from moto import mock_aws

        from chalicelib.adapters.dynamodb import DynamoCatalog, table_definition
        from chalicelib.adapters.idempotency import DynamoIdempotencyStore
        from chalicelib.adapters.ratelimit import DynamoRateCounter

        with mock_aws():
            client = boto3.client("dynamodb", region_name="eu-west-3")
            client.create_table(**table_definition("catalog"))
            yield Subject(
                "dynamodb",
                DynamoCatalog(client, "catalog"),
                DynamoIdempotencyStore(client, "catalog"),
                DynamoRateCounter(client, "catalog"),
            )
        return
    from chalicelib.adapters.postgres import Database, PostgresCatalog
    from chalicelib.adapters.postgres.idempotency import PostgresIdempotencyStore, PostgresRateCounter

    server = request.getfixturevalue("postgres")
    db = Database(server.new_database(), min_size=1, max_size=8)
    try:
        yield Subject("postgres", PostgresCatalog(db), PostgresIdempotencyStore(db), PostgresRateCounter(db))
    finally:
        db.close()


@pytest.fixture
def catalog(subject: Subject) -> Any:
    return subject.catalog
