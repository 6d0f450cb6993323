"""The cost of a page does not grow with the space: count DynamoDB requests, do not time them."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib.adapters.dynamodb import DynamoCatalog, dump, table_definition
from chalicelib.domain.access import AccessControl
from chalicelib.domain.models import Principal, Role, SpaceRef
from chalicelib.domain.permissions import load_rules
from chalicelib.domain.sync import Cursors, SyncService
from local.stack import LocalStack

# Once, in make test's DynamoDB pass: counts DynamoDB requests on a table of its own.
pytestmark = [pytest.mark.integration, pytest.mark.catalog_independent]
SCHOOL = "scale-school"
# A table of its own: moto answers an index query by reading every item of the table, so 20,000
# records in the shared table would slow every later test (DynamoDB itself does not).
TABLE = "cartable-scale"


class Counter:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, event_name: str, **_: Any) -> None:
        self.calls.append(event_name.rsplit(".", 1)[-1])


@pytest.fixture(scope="module")
def counted(stack: LocalStack) -> Iterator[tuple[DynamoCatalog, Counter]]:
    client = stack.aws("dynamodb")
    client.create_table(**table_definition(TABLE))
    counter = Counter()
    client.meta.events.register("before-call.dynamodb.*", counter)
    yield DynamoCatalog(client, TABLE), counter
    client.delete_table(TableName=TABLE)


def fill(stack: LocalStack, user: str, count: int) -> None:
    """`count` files in a user's drive, as positions of its change feed (what the page reads)."""
    client = stack.aws("dynamodb")
    space = f"user:{user}"
    requests = []
    for seq in range(1, count + 1):
        snapshot = {
            "fileId": f"f{seq}",
            "school": SCHOOL,
            "space": space,
            "path": "/",
            "name": f"n{seq:06d}.txt",
            "size": 1,
            "contentType": "text/plain",
            "status": "available",
            "version": 1,
            "owner": user,
            "createdAt": "2026-11-28T17:00:00Z",
            "updatedAt": "2026-11-28T17:00:00Z",
            "objectKey": f"files/f{seq}/u",
        }
        item = {
            "pk": f"CHG#{SCHOOL}#{space}",
            "sk": f"{seq:012d}",
            "op": "upsert",
            "file": snapshot,
            "fileId": f"f{seq}",
        }
        requests.append({"PutRequest": {"Item": dump(item)}})
    for start in range(0, len(requests), 25):
        client.batch_write_item(RequestItems={TABLE: requests[start : start + 25]})


def calls_for_recent_page(catalog: DynamoCatalog, counter: Counter, user: str, count: int) -> list[str]:
    sync = SyncService(catalog, AccessControl(catalog, load_rules()), Cursors("test"))
    principal = Principal(user, SCHOOL, Role.STUDENT)
    recent = Cursors("test").sign(SCHOOL, SpaceRef.parse("me", principal), count - 5, time.time())
    counter.calls.clear()
    page = sync.changes(principal, "me", recent, "100")
    assert len(page["changes"]) == 5 and page["hasMore"] is False
    return list(counter.calls)


def test_changes_after_a_recent_cursor_cost_the_same_for_20_and_20000_files(
    stack: LocalStack, counted: tuple[DynamoCatalog, Counter]
) -> None:
    catalog, counter = counted
    fill(stack, "small-space", 20)
    fill(stack, "large-space", 20_000)
    small = calls_for_recent_page(catalog, counter, "small-space", 20)
    large = calls_for_recent_page(catalog, counter, "large-space", 20_000)
    print(f"DynamoDB requests for a page of changes: 20 files {small}, 20,000 files {large}")
    assert small == large == ["Query"]
