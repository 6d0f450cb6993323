"""The local stack's patches of moto (stage local and the tests only; never deployed).

moto's server answers on threads and holds no lock of its own, and backs a whole table up before each
action of a transaction. Both are fine for a unit test and wrong for a stack that a whole suite, or thirty
pupils at once, use for an hour: here the table is used one call at a time, as moto's own code assumes,
and a transaction backs up only the items it names.

moto's S3 also reads a whole object into memory before it sends the first byte of a GET: a 1 GiB upload
being scanned held a gigabyte in the stack per read, and the scan waited for the copy (90 ms at 200 MB)
where S3 streams. Here a large object's GET is sent from moto's own spool file as it goes.
"""

from __future__ import annotations

import copy
import functools
import os
import threading
import weakref
from collections.abc import Iterator
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


# -- S3: GET bodies streamed ---------------------------------------------------------------------------
_STREAMED = threading.local()  # set while a GET builds its answer: the object's `value` is then a _FileBody
BODY_CHUNK = 1024 * 1024


def stream_object_bodies() -> None:
    """A GET of an object moto keeps in a spool file (larger than its in-memory buffer, 5 MB by default)
    answers a body read from that file as it is sent, instead of a copy of the whole object. The file is
    opened anew (a duplicate descriptor), so an object replaced or deleted during the GET is still sent
    whole, as S3 sends the version it started with. Ranges (moto slices the body) read only their bytes."""
    from flask import has_request_context
    from moto.s3.models import FakeKey
    from moto.s3.responses import S3Response

    if getattr(S3Response.get_object, "_cartable", False):
        return
    original_get = S3Response.get_object
    moto_value: Any = vars(FakeKey)["value"]  # the property itself (its getter copies the object)

    def get_object(self: Any) -> Any:
        # Only over HTTP (a request of moto's Flask server): mock_aws hands its bodies on as bytes.
        if not has_request_context():
            return original_get(self)
        _STREAMED.on = True
        try:
            return original_get(self)
        finally:
            _STREAMED.on = False

    def value(self: Any) -> Any:
        spool = self._value_buffer
        if not getattr(_STREAMED, "on", False) or not getattr(spool, "_rolled", False):
            return moto_value.fget(self)
        with self.lock:
            spool.flush()  # the end of the last write may still be in Python's buffer, not the file
            return _FileBody(_Descriptor(os.dup(spool.fileno())), 0, self.size)

    get_object._cartable = True  # type: ignore[attr-defined]
    S3Response.get_object = get_object  # type: ignore[method-assign]
    FakeKey.value = property(value, moto_value.fset)  # type: ignore[method-assign,assignment]


class _Descriptor:
    """A file descriptor closed once: by the server when the answer is sent, or when nothing holds it."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.close = weakref.finalize(self, os.close, fd)


class _FileBody:
    """Bytes [start, stop) of a file as a response body: its length, slices (a Range), and its chunks
    read one at a time when the server sends them (WSGI closes it afterwards)."""

    def __init__(self, descriptor: _Descriptor, start: int, stop: int) -> None:
        self._descriptor = descriptor
        self._start = start
        self._stop = stop

    def __len__(self) -> int:
        return self._stop - self._start

    def __getitem__(self, item: slice) -> _FileBody:
        if not isinstance(item, slice) or item.step not in (None, 1):
            raise TypeError("a response body is sliced by a byte range only")
        span = range(self._start, self._stop)[item]
        return _FileBody(self._descriptor, span.start, max(span.start, span.stop))

    def __iter__(self) -> Iterator[bytes]:
        offset = self._start
        while offset < self._stop:
            chunk = os.pread(self._descriptor.fd, min(BODY_CHUNK, self._stop - offset), offset)
            if not chunk:
                raise OSError(f"moto's spool file ended at {offset} of {self._stop}")
            offset += len(chunk)
            yield chunk

    def close(self) -> None:
        self._descriptor.close()
