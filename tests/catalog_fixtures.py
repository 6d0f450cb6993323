"""Both catalogs behind one fixture, for the catalog's contract tests (tests/integration/test_catalog_*,
which load this module and tests/postgres.py with `pytest_plugins`): the DynamoDB catalog on an
in-process moto (a fresh table per module) and the PostgreSQL catalog on a real server (a fresh
database per module), each with its idempotency store and rate counter."""

from __future__ import annotations

import uuid
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

        # moto's state is the process's: the local stack's moto server (another module's, in the same
        # run) keeps its bucket, table and queues in it. So this mock neither resets it on start nor
        # wipes it on stop; its table has a name of its own, dropped at the end.
        mock = mock_aws()
        mock.start(reset=False)
        table = f"catalog-{uuid.uuid4().hex[:8]}"
        try:
            client = boto3.client("dynamodb", region_name="eu-west-3")
            client.create_table(**table_definition(table))
            yield Subject(
                "dynamodb",
                DynamoCatalog(client, table),
                DynamoIdempotencyStore(client, table),
                DynamoRateCounter(client, table),
            )
            client.delete_table(TableName=table)
        finally:
            mock.stop(remove_data=False)
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
