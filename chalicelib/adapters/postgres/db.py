"""The database core: a psycopg 3 connection pool, transactions, error translation, cursors and the
time helpers every repository shares. No domain rule lives here; the repositories use it.

Connections are autocommit: a single statement is its own transaction, and what DynamoDB does in one
TransactWriteItems runs in `transaction()`, all or nothing. Conditions are `WHERE` clauses (a row
count of 0 is a failed condition) or row locks (`SELECT … FOR UPDATE`) taken in one order everywhere:
the file, then its upload, then the space's feed counter last (see `changes.py`)."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from chalicelib.adapters.cursors import read_cursor
from chalicelib.domain.models import iso
from chalicelib.errors import BadRequestError, ContentionError, ServiceUnavailableError, StaleWriteError

if TYPE_CHECKING:
    import psycopg
    from psycopg_pool import ConnectionPool

Row = dict[str, Any]
BUSY = "The catalog is busy; try again shortly."


def translate(exc: Exception) -> Exception:
    """A database error as a domain error: a unique key taken is a lost race (StaleWriteError); a
    deadlock or a serialization failure is contention (ContentionError, a 503), as DynamoDB's
    TransactionConflict; a lock or statement timeout, a lost connection or an exhausted pool is 503
    (the client may retry). Anything else (a bug) is raised as it is."""
    import psycopg
    from psycopg import errors
    from psycopg_pool import PoolTimeout

    if isinstance(exc, errors.UniqueViolation):
        return StaleWriteError("The record changed meanwhile.")
    if isinstance(exc, errors.SerializationFailure | errors.DeadlockDetected):
        # Two transactions met (never expected: locks are taken in one order, at READ COMMITTED).
        return ContentionError(BUSY)
    if isinstance(
        exc,
        errors.LockNotAvailable
        | errors.QueryCanceled
        | errors.AdminShutdown
        | errors.CannotConnectNow
        | errors.TooManyConnections,
    ):
        return ServiceUnavailableError(BUSY)
    if isinstance(exc, PoolTimeout | psycopg.OperationalError | psycopg.InterfaceError):
        return ServiceUnavailableError(BUSY)
    return exc


class Database:
    """A pool of connections to one database (made on first use), with autocommit connections whose
    session time zone is UTC, and statements that time out rather than wait forever on a lock."""

    def __init__(
        self,
        url: str,
        min_size: int = 1,
        max_size: int = 2,
        timeout: float = 10.0,
        statement_timeout_ms: int = 15_000,
    ) -> None:
        self._url = url
        self._sizes = (min_size, max(min_size, max_size))
        self._timeout = timeout
        self._statement_timeout_ms = statement_timeout_ms
        self._pool: ConnectionPool[psycopg.Connection[Row]] | None = None
        self._opening = threading.Lock()

    @property
    def pool(self) -> ConnectionPool[psycopg.Connection[Row]]:
        """The pool, opened by the first caller (once, whatever the threads asking at once)."""
        if self._pool is not None:
            return self._pool
        with self._opening:
            if self._pool is not None:
                return self._pool
            from psycopg.rows import dict_row
            from psycopg_pool import ConnectionPool

            options = f"-c TimeZone=UTC -c statement_timeout={self._statement_timeout_ms}"
            pool: ConnectionPool[psycopg.Connection[Row]] = ConnectionPool(
                self._url,
                min_size=self._sizes[0],
                max_size=self._sizes[1],
                timeout=self._timeout,
                kwargs={"autocommit": True, "row_factory": dict_row, "options": options},
                open=True,
                name="cartable-catalog",
            )
            self._pool = pool
            return pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection[Row]]:
        """A connection for single statements (each its own transaction), errors translated."""
        try:
            with self.pool.connection() as conn:
                yield conn
        except Exception as exc:
            translated = translate(exc)
            if translated is exc:
                raise
            raise translated from exc

    @contextmanager
    def transaction(self) -> Iterator[psycopg.Connection[Row]]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        with self.connection() as conn, conn.transaction():
            yield conn

    def one(self, sql: str, params: Mapping[str, Any] | tuple[Any, ...] = ()) -> Row | None:
        with self.connection() as conn:
            return conn.execute(sql, params).fetchone()

    def all(self, sql: str, params: Mapping[str, Any] | tuple[Any, ...] = ()) -> list[Row]:
        with self.connection() as conn:
            return conn.execute(sql, params).fetchall()

    def run(self, sql: str, params: Mapping[str, Any] | tuple[Any, ...] = ()) -> int:
        """A statement's row count."""
        with self.connection() as conn:
            return conn.execute(sql, params).rowcount


class Repository:
    """What every repository shares: one database."""

    def __init__(self, db: Database) -> None:
        self._db = db


# -- time ----------------------------------------------------------------------------------------
def second(moment: datetime) -> datetime:
    """A moment as the DynamoDB items keep it (RFC 3339 to the second, UTC)."""
    return moment.astimezone(UTC).replace(microsecond=0)


def due(when: datetime) -> tuple[str, datetime]:
    """The day (YYYY-MM-DD, UTC) and the moment (to the second) of work due at `when`, as DynamoDB's
    sparse `due` index keys it; a query for `now` finds what is due at or before `now`'s second."""
    return iso(when)[:10], second(when)


# -- cursors -------------------------------------------------------------------------------------
def encode_cursor(key: Mapping[str, str]) -> str:
    """An opaque cursor of the same shape as the DynamoDB catalog's: URL-safe base64 of a JSON object
    of strings (the partition it is pinned to and the last position returned)."""
    raw = json.dumps(dict(key), separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, expected: Mapping[str, str], position: str) -> str:
    """The last position of a cursor, pinned to the partition asked for (400 otherwise)."""
    data = read_cursor(cursor, expected)
    if not isinstance(data.get(position), str):
        raise BadRequestError("cursor is not valid.")
    return str(data[position])
