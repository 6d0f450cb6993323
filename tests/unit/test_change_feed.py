"""The change feed without a hot item (chalicelib/adapters/dynamodb/changes.py), on an in-process moto:
writers never refuse one another, and a reader never steps over a position still in flight."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from chalicelib.adapters.dynamodb.changes import GRACE_MS, ChangeFeed
from chalicelib.adapters.dynamodb.records import file_item
from chalicelib.adapters.dynamodb.table import Table
from chalicelib.domain.models import SpaceRef
from chalicelib.errors import StaleWriteError
from tests.records import sample_file

SPACE = SpaceRef.from_stored("class:c1")


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000

    def __call__(self) -> int:
        return self.now


class Serialised:
    """Moto in process serialises nothing: one call at a time, as DynamoDB applies each atomically."""

    def __init__(self, client: Any) -> None:
        self._client, self._lock = client, threading.Lock()

    def __getattr__(self, name: str) -> Any:
        call = getattr(self._client, name)

        def locked(**kwargs: Any) -> Any:
            with self._lock:
                return call(**kwargs)

        return locked


@pytest.fixture(scope="module")
def table() -> Iterator[Table]:
    import boto3
    from moto import mock_aws

    from chalicelib.adapters.dynamodb import table_definition

    with mock_aws():
        client = boto3.client("dynamodb", region_name="eu-west-3")
        client.create_table(**table_definition("feed"))
        yield Table(Serialised(client), "feed")


def state(file_id: str, space: SpaceRef, seq: int = 0) -> dict[str, Any]:
    item = file_item(sample_file(file_id, space, "prof"))
    item["changeSeq"] = seq
    return item


def write(feed: ChangeFeed, item: dict[str, Any], op: str = "upsert") -> int:
    """One change committed alone; answers its position."""
    feed.commit(feed.change(item, op))
    return int(item["changeSeq"])


def test_a_hundred_writers_in_one_space_all_commit_in_a_readable_order(table: Table) -> None:
    space = SpaceRef.from_stored("class:busy")
    feed = ChangeFeed(table)

    def twice(n: int) -> None:
        item = state(f"f{n:03d}", space)
        write(feed, item)
        write(feed, item, "delete" if n % 3 == 0 else "upsert")  # its first position becomes a void

    with ThreadPoolExecutor(max_workers=20) as pool:
        list(pool.map(twice, range(100)))
    changes = feed.read("s1", str(space), 0, 1000)
    assert len(changes) == 100
    assert [c.seq for c in changes] == sorted(c.seq for c in changes)
    assert {c.file.id: c.op for c in changes} == {f"f{n:03d}": "delete" if n % 3 == 0 else "upsert" for n in range(100)}
    assert [c.file.id for c in feed.read("s1", str(space), changes[49].seq, 1000)] == [c.file.id for c in changes[50:]]


def test_a_reader_stops_before_a_position_in_flight_until_it_commits(table: Table) -> None:
    space, clock = SpaceRef.from_stored("class:inflight"), Clock()
    feed = ChangeFeed(table, clock)
    first = write(feed, state("a", space))
    slow = state("b", space)
    actions = feed.change(slow, "upsert")  # b took its number, then stalls before its transaction
    write(feed, state("c", space))
    assert [c.file.id for c in feed.read("s1", str(space), 0, 10)] == ["a"]
    assert feed.read("s1", str(space), first, 10) == []
    feed.commit(actions)
    assert [c.file.id for c in feed.read("s1", str(space), first, 10)] == ["b", "c"]


def test_a_position_whose_writer_died_is_stepped_over_after_the_grace(table: Table) -> None:
    space, clock = SpaceRef.from_stored("class:crash"), Clock()
    feed = ChangeFeed(table, clock)
    feed.change(state("lost", space), "upsert")  # the process dies between its two writes
    write(feed, state("kept", space))
    assert feed.read("s1", str(space), 0, 10) == []
    clock.now += GRACE_MS
    assert [c.file.id for c in feed.read("s1", str(space), 0, 10)] == ["kept"]


def test_a_transaction_that_fails_voids_its_position_at_once(table: Table) -> None:
    space = SpaceRef.from_stored("class:refused")
    feed = ChangeFeed(table)
    taken = state("refused", space)
    actions = feed.change(taken, "upsert")
    refused_key = {"pk": {"S": "FILE#refused"}, "sk": {"S": "FILE"}}
    actions.append({"ConditionCheck": {"Key": refused_key, "ConditionExpression": "attribute_exists(pk)"}})
    with pytest.raises(StaleWriteError):
        feed.commit(actions)
    write(feed, state("next", space))
    assert [c.file.id for c in feed.read("s1", str(space), 0, 10)] == ["next"]


def test_a_page_is_full_even_when_voids_sit_among_the_changes(table: Table) -> None:
    space = SpaceRef.from_stored("class:voids")
    feed = ChangeFeed(table)
    items = [state(f"v{n}", space) for n in range(30)]
    for item in items:
        write(feed, item)
    for item in items[::2]:
        write(feed, item)  # 15 voids among the first 30 positions
    page = feed.read("s1", str(space), 0, 20)
    assert len(page) == 20
    rest = feed.read("s1", str(space), page[-1].seq, 20)
    assert len(page) + len(rest) == 30
