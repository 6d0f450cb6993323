"""The table core: one DynamoDB table's calls, transactions, batches, item (de)serialisation, error
translation, cursors, due keys and definition. No domain rule lives here; the repositories use it."""

from __future__ import annotations

import base64
import json
import logging
import random
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.adapters.cursors import read_cursor
from chalicelib.adapters.dynamodb.values import deserialize, serialize
from chalicelib.domain.models import iso
from chalicelib.errors import ContentionError, ServiceUnavailableError, StaleWriteError

log = logging.getLogger("cartable.catalog")

DIR_INDEX = "dir"
DUE_INDEX = "due"
THROTTLING = {
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "InternalServerError",
    "ServiceUnavailable",
    "500",  # an endpoint's bare HTTP error (a proxy, an S3-compatible gateway, moto under load)
    "502",
    "503",
    "504",
}
_BIGGEST = 10**38  # DynamoDB's numbers hold 38 digits: larger integers go to `serialize` (which refuses them)

Item = dict[str, Any]


def dump(item: Mapping[str, Any]) -> dict[str, Any]:
    """A plain dict to DynamoDB's wire form; None values are left out. Strings, nearly all of the values,
    are written here without a call each (a grant writes ~60 values)."""
    wire: dict[str, Any] = {}
    for name, value in item.items():
        if type(value) is str:
            wire[name] = {"S": value}
        elif value is not None:
            wire[name] = _wire(value)
    return wire


def _wire(value: Any) -> dict[str, Any]:
    """One value in wire form: strings and ordinary integers (nearly all of ours) directly, the same
    as `values.serialize` makes them; anything else (sets, lists, maps, Decimals...) by it."""
    kind = type(value)
    if kind is str:
        return {"S": value}
    if kind is int and -_BIGGEST < value < _BIGGEST:
        return {"N": str(value)}
    return serialize(value)


def load(raw: Mapping[str, Any]) -> Item:
    return {k: deserialize(v) for k, v in raw.items()}


def translate(exc: ClientError) -> Exception:
    """A wire error as a domain error: lost races become StaleWriteError, throttling 503."""
    code = exc.response.get("Error", {}).get("Code", "")
    if code == "ConditionalCheckFailedException":
        return StaleWriteError("The record changed meanwhile.")
    if code == "TransactionCanceledException":
        reasons = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
        if "ConditionalCheckFailed" in reasons:
            failed = [i for i, code in enumerate(reasons) if code == "ConditionalCheckFailed"]
            return StaleWriteError("The record changed meanwhile.", failed)
        if "TransactionConflict" in reasons:
            return ContentionError("The catalog is busy; try again shortly.")
        return ServiceUnavailableError("The catalog is busy; try again shortly.")
    if code == "TransactionConflictException":
        return ContentionError("The catalog is busy; try again shortly.")
    if code in THROTTLING:
        return ServiceUnavailableError("The catalog is busy; try again shortly.")
    return exc


def encode_cursor(key: Mapping[str, Any]) -> str:
    raw = json.dumps(load(key), separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, expected: Mapping[str, str]) -> dict[str, Any]:
    """An ExclusiveStartKey from a cursor; only string keys, pinned to the partition asked for."""
    return dump(read_cursor(cursor, expected))


def due_key(kind: str, when: datetime) -> tuple[str, str]:
    """The day partition and sort key of work of a kind due at `when` in the sparse `due` index."""
    stamp = iso(when)
    return f"DUE#{kind}#{stamp[:10]}", stamp


class Table:
    """One DynamoDB table through an injected low-level client: calls with their errors translated,
    transactions, and batches retried on what DynamoDB left unprocessed."""

    def __init__(self, client: Any, table: str) -> None:
        self._db = client
        self._table = table

    @property
    def name(self) -> str:
        return self._table

    def call(self, operation: str, **kwargs: Any) -> dict[str, Any]:
        try:
            result: dict[str, Any] = getattr(self._db, operation)(**kwargs)
        except ClientError as exc:
            raise translate(exc) from exc
        return result

    def get(self, pk: str, sk: str) -> Item | None:
        raw = self.call("get_item", TableName=self._table, Key=dump({"pk": pk, "sk": sk}), ConsistentRead=True).get(
            "Item"
        )
        return load(raw) if raw else None

    def transact(self, actions: list[dict[str, Any]]) -> None:
        for action in actions:
            next(iter(action.values()))["TableName"] = self._table
        self.call("transact_write_items", TransactItems=actions)

    def batch_write(self, requests: list[dict[str, Any]]) -> None:
        for start in range(0, len(requests), 25):
            pending: dict[str, Any] = {self._table: requests[start : start + 25]}
            for attempt in range(8):
                result = self.call("batch_write_item", RequestItems=pending)
                pending = result.get("UnprocessedItems") or {}
                if not pending:
                    break
                time.sleep(random.uniform(0, 0.05 * 2**attempt))  # noqa: S311 - jitter, not a secret
            if pending:
                raise ServiceUnavailableError("The catalog is busy; try again shortly.")

    def batch_get(self, keys: list[dict[str, Any]]) -> list[Item]:
        found: list[Item] = []
        for start in range(0, len(keys), 100):
            pending: dict[str, Any] = {self._table: {"Keys": keys[start : start + 100], "ConsistentRead": True}}
            for _ in range(8):
                result = self.call("batch_get_item", RequestItems=pending)
                found.extend(load(raw) for raw in result.get("Responses", {}).get(self._table, []))
                pending = result.get("UnprocessedKeys") or {}
                if not pending:
                    break
            if pending:
                raise ServiceUnavailableError("The catalog is busy; try again shortly.")
        return found


RACE_ATTEMPTS = 12  # with the pauses below, about 2.5 s at the most before a race becomes a 503
RACE_PAUSE_CAP = 0.4


def pause_after_race(attempt: int) -> None:
    """Full jitter, doubling from 10 ms up to a cap: writers that met on one item spread out instead of
    meeting again, and a hundred of them in one space settle within the bound (see test_busy_folder)."""
    log.info("race retried attempt=%d", attempt + 1)
    time.sleep(random.uniform(0, min(RACE_PAUSE_CAP, 0.01 * 2**attempt)))  # noqa: S311 - jitter, not a secret


def lost_race(error: Exception) -> bool:
    """A refusal that is not the caller's: a transaction's condition on a shared record (the space's feed
    head) failed because another writer moved it, or two transactions met on one item."""
    return isinstance(error, ContentionError) or (isinstance(error, StaleWriteError) and bool(error.failed))


def retried_on_races[T](once: Callable[[], T], attempts: int = RACE_ATTEMPTS) -> T:
    """`once()`, tried again after a jittered pause while it loses a race (`lost_race`). `once` reads what
    it needs again each time, so a precondition of the caller's that really fails is then raised as its
    own error. Anything else is raised at once, and so is the last attempt's refusal."""
    for attempt in range(attempts):
        try:
            return once()
        except (StaleWriteError, ContentionError) as error:
            if not lost_race(error) or attempt == attempts - 1:
                raise
            pause_after_race(attempt)
    raise AssertionError("unreachable: the last attempt raises")


class Repository:
    """What every repository shares: one table, its calls under the names the repositories use."""

    def __init__(self, table: Table) -> None:
        self._table = table.name
        self._call = table.call
        self._get = table.get
        self._transact = table.transact
        self._batch_write = table.batch_write
        self._batch_get = table.batch_get


def table_definition(table: str) -> dict[str, Any]:
    """The table and its index, as CreateTable takes them (used by the local stack and tests)."""
    return {
        "TableName": table,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [
            {"AttributeName": name, "AttributeType": "S"}
            for name in ("pk", "sk", "gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk")
        ],
        "KeySchema": [
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        "GlobalSecondaryIndexes": [
            {
                "IndexName": DIR_INDEX,
                "KeySchema": [
                    {"AttributeName": "gsi1pk", "KeyType": "HASH"},
                    {"AttributeName": "gsi1sk", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            },
            {
                # Work that falls due on a day (a trashed file's purge): sparse, read by the sweeper.
                "IndexName": DUE_INDEX,
                "KeySchema": [
                    {"AttributeName": "gsi2pk", "KeyType": "HASH"},
                    {"AttributeName": "gsi2sk", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            },
        ],
    }
