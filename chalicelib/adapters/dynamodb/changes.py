"""Each space's change feed, with no hot item that writers race for.

A change takes its position from the space's counter (`HEAD#…`, one atomic `ADD`, never conditional),
then commits it in the transaction that changes the file. Positions may therefore commit out of order,
and a reader must never step over one still in flight. So:

- a file keeps one live position, its latest change; the one it leaves becomes a `void` in the same
  transaction (never a hole), and a transaction that fails voids the position it took;
- every position records when it was taken (`at`, the writer's clock, after the counter answered);
- a reader walks positions in order and stops before a hole (a position taken but not committed),
  unless the position after the hole was taken more than `GRACE` ago: a writer commits within
  `GRACE` of taking its number or never (its process died between the two writes), so that hole
  will stay one. Voids are not changes: the reader steps over them and they expire after 30 days.

Readers see a change as soon as every earlier one committed (milliseconds); only a writer's crash
makes them wait, at most `GRACE`. Writers in one space never refuse one another: the only
conditions left are each file's own (`put_file_if_unchanged`) and the caller's (a name taken).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import Any

from chalicelib.adapters.dynamodb.records import file_from_item
from chalicelib.adapters.dynamodb.table import Item, Table, dump, load
from chalicelib.domain.ports import Change

GRACE_MS = 120_000  # > the longest a transaction may take with the SDK's retries, clocks' skew included
# Voids are only read over. Once one expires it is a hole again, which a reader passes at once unless the
# position after it is young: a space idle for a month whose first new change then waits GRACE, at worst.
VOID_LIFE_S = 30 * 86_400
_POSITION = "{seq:012d}"


def feed_key(school: str, space: str) -> str:
    return f"CHG#{school}#{space}"


def head_key(school: str, space: str) -> str:
    return f"HEAD#{school}#{space}"


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class ChangeFeed:
    """Takes positions and reads them back in order; the positions' actions go in the callers' transactions."""

    def __init__(self, table: Table, clock: Callable[[], int] = now_ms) -> None:
        self._table = table
        self._clock = clock

    def take(self, school: str, space: str) -> tuple[int, int]:
        """The next position of the space and when it was taken: one unconditional atomic update."""
        answer = self._table.call(
            "update_item",
            TableName=self._table.name,
            Key=dump({"pk": head_key(school, space), "sk": "HEAD"}),
            UpdateExpression="ADD seq :one",
            ExpressionAttributeValues=dump({":one": 1}),
            ReturnValues="UPDATED_NEW",
        )
        return int(load(answer["Attributes"])["seq"]), self._clock()

    def change(self, after: Item, op: str) -> list[dict[str, Any]]:
        """Actions that move a file to the end of its space's feed (its state as of `after`): its new
        position, and a void where its previous one was."""
        school, space = str(after["school"]), str(after["space"])
        seq, at = self.take(school, space)
        actions: list[dict[str, Any]] = []
        previous = int(after.get("changeSeq", 0))
        if previous:
            actions.append({"Put": {"Item": dump(void_item(school, space, previous, at))}})
        after["changeSeq"] = seq
        snapshot = {k: v for k, v in after.items() if k not in ("pk", "sk", "gsi1pk", "gsi1sk")}
        position = {
            "pk": feed_key(school, space),
            "sk": _POSITION.format(seq=seq),
            "op": op,
            "at": at,
            "file": snapshot,
            "fileId": after["fileId"],
        }
        actions.append({"Put": {"Item": dump(position), "ConditionExpression": "attribute_not_exists(pk)"}})
        return actions

    def commit(self, actions: list[dict[str, Any]]) -> None:
        """Send a transaction holding positions; if it does not commit, void the positions it took so
        readers step over them at once (a crash before this leaves a hole: readers wait `GRACE`)."""
        try:
            self._table.transact(actions)
        except BaseException:
            for action in actions:
                item = action.get("Put", {}).get("Item", {})
                if str(item.get("pk", {}).get("S", "")).startswith("CHG#") and "op" in item:
                    if item["op"].get("S") != "void":
                        self._void_taken(item)
            raise

    def _void_taken(self, item: dict[str, Any]) -> None:
        void = {
            "pk": item["pk"],
            "sk": item["sk"],
            "op": {"S": "void"},
            "at": item["at"],
            "ttl": {"N": str(int(time.time()) + VOID_LIFE_S)},
        }
        with contextlib.suppress(Exception):  # at worst a hole: readers wait GRACE
            self._table.call(
                "put_item",
                TableName=self._table.name,
                Item=void,
                ConditionExpression="attribute_not_exists(pk)",
            )

    def read(self, school: str, space: str, after: int, limit: int) -> list[Change]:
        """Up to `limit` changes after position `after`, in order, stopping before a position still in
        flight; voids are stepped over. Consistent reads, page after page of the feed's partition."""
        found: list[Change] = []
        expected, start = after + 1, after
        now = self._clock()
        while len(found) < limit:
            result = self._table.call(
                "query",
                TableName=self._table.name,
                KeyConditionExpression="pk = :p AND sk > :s",
                ExpressionAttributeValues=dump({":p": feed_key(school, space), ":s": _POSITION.format(seq=start)}),
                ConsistentRead=True,
                Limit=max(limit - len(found), 10) + 5,
            )
            items = [load(raw) for raw in result.get("Items", [])]
            for item in items:
                seq = int(item["sk"])
                if seq > expected and now - int(item.get("at", 0)) < GRACE_MS:
                    return found  # a hole before this one: a change may still commit there
                expected, start = seq + 1, seq
                if item["op"] != "void":
                    found.append(Change(seq=seq, op=str(item["op"]), file=file_from_item(item["file"])))
                    if len(found) == limit:
                        return found
            if "LastEvaluatedKey" not in result:
                return found
        return found


def void_item(school: str, space: str, seq: int, at: int) -> Item:
    """Where a file's position was before it moved on: read over, never shown, gone after 30 days."""
    return {
        "pk": feed_key(school, space),
        "sk": _POSITION.format(seq=seq),
        "op": "void",
        "at": at,
        "ttl": int(time.time()) + VOID_LIFE_S,
    }
