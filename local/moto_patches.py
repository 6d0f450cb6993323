"""The local stack's patches of moto's DynamoDB (stage local and the tests only; never deployed).

moto's server answers on threads and holds no lock of its own, and backs a whole table up before each
action of a transaction. Both are fine for a unit test and wrong for a stack that a whole suite, or thirty
pupils at once, use for an hour: here the table is used one call at a time, as moto's own code assumes,
and a transaction backs up only the items it names.
"""

from __future__ import annotations

import copy
import functools
import threading
from typing import Any

# A transaction's backup taken while another thread writes fails ("dictionary changed size during
# iteration"), and thirty copies at once grew the stack to 12 GB: one lock around every DynamoDB operation.
_CATALOG_LOCK = threading.RLock()
_SERIALISED = (
    "get_item",
    "batch_get_item",
    "query",
    "scan",
    "put_item",
    "update_item",
    "delete_item",
    "batch_write_item",
    "transact_get_items",
    "transact_write_items",
)


def back_up_only_what_a_transaction_names() -> None:
    """moto deep-copies the whole table before each action of a TransactWriteItems, so the local stack
    slowed down as its table grew: late in `make test` a grant waited tens of seconds behind other
    transactions' copies. Back up only the items the transaction names and put those back if it fails:
    the same all-or-nothing outcome, since every operation is serialised (nothing else changes an item
    between the copy and the rollback)."""
    from moto.dynamodb import models
    from moto.dynamodb.models.table import Table

    if getattr(models.DynamoDBBackend.transact_write_items, "_cartable", False):
        return
    original = models.DynamoDBBackend.transact_write_items

    class _NoTableCopy:
        """moto's `copy` in its DynamoDB models: a table is not copied (its named items are, below)."""

        def __getattr__(self, name: str) -> Any:
            return getattr(copy, name)

        @staticmethod
        def deepcopy(value: Any, memo: Any = None) -> Any:
            return value if isinstance(value, Table) else copy.deepcopy(value, memo)

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> Any:
        saved = _items_named(self.tables, transact_items)
        try:
            return original(self, transact_items)
        except Exception:
            _put_back(saved)
            raise

    transact_write_items._cartable = True  # type: ignore[attr-defined]
    models.copy = _NoTableCopy()  # type: ignore[attr-defined,assignment]
    models.DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    _serialise_the_catalog(models.DynamoDBBackend)


def _items_named(tables: dict[str, Any], transact_items: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """(table, hash key, range key, a copy of the item or None) for each item the transaction names."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    saved = []
    for action in transact_items:
        op = next(iter(action.values()))
        table = tables.get(op.get("TableName"))
        key = op.get("Key") or op.get("Item")
        if table is None or not key or table.hash_key_attr not in key:
            continue  # moto refuses such a transaction before it writes anything
        hash_key = DynamoType(key[table.hash_key_attr])
        range_key = DynamoType(key[table.range_key_attr]) if table.range_key_attr in key else None
        saved.append((table, hash_key, range_key, copy.deepcopy(table.get_item(hash_key, range_key))))
    return saved


def _put_back(saved: list[tuple[Any, ...]]) -> None:
    """Each named item as it was before the transaction (gone if it did not exist)."""
    for table, hash_key, range_key, item in reversed(saved):
        if table.get_item(hash_key, range_key) is not None:
            table.delete_item(hash_key, range_key)
        if item is None:
            continue
        if range_key is None:
            table.items[hash_key] = item
        else:
            table.items.setdefault(hash_key, {})[range_key] = item


def _serialise_the_catalog(backend: Any) -> None:
    for name in _SERIALISED:
        method = getattr(backend, name)
        if getattr(method, "_serialised", False):
            continue

        def locked(*args: Any, _method: Any = method, **kwargs: Any) -> Any:
            with _CATALOG_LOCK:
                return _method(*args, **kwargs)

        wrapper = functools.wraps(method)(locked)
        wrapper._serialised = True  # type: ignore[attr-defined]
        setattr(backend, name, wrapper)
