"""The IdempotencyStore and RateCounter ports on the PostgreSQL catalog: the same rows and conditions as
the DynamoDB adapters (chalicelib/adapters/idempotency.py and ratelimit.py), moments in epoch seconds
as their items' `ttl`; the sweeper's `expire` deletes what DynamoDB's TTL would."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING

from chalicelib.adapters.postgres.db import Database, Row
from chalicelib.domain.idempotency import LIFETIME, Prior, StoredAnswer

if TYPE_CHECKING:
    import psycopg

    from chalicelib.domain.ratelimit import RateCharge


def _seconds(moment: datetime) -> int:
    return int(moment.timestamp())


class PostgresIdempotencyStore:
    """One row per (user, key), claimed under a condition: free, expired (not deleted yet), or claimed
    by a request that died; completed with the answer."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def claim(self, scope: str, key: str, fingerprint: str, now: datetime, stale_before: datetime) -> Prior | None:
        taken = self._db.one(
            "INSERT INTO idempotency (scope, key, fingerprint, state, claimed_at, expires)"
            " VALUES (%(scope)s, %(key)s, %(fp)s, 'running', %(now)s, %(expires)s)"
            " ON CONFLICT (scope, key) DO UPDATE SET fingerprint = EXCLUDED.fingerprint, state = 'running',"
            " claimed_at = EXCLUDED.claimed_at, expires = EXCLUDED.expires, status = NULL, headers = NULL,"
            " body = NULL, is_json = NULL"
            " WHERE idempotency.expires < %(now)s"
            " OR (idempotency.state = 'running' AND idempotency.claimed_at < %(stale)s)"
            " RETURNING scope",
            {
                "scope": scope,
                "key": key,
                "fp": fingerprint,
                "now": _seconds(now),
                "expires": _seconds(now + LIFETIME),  # a dead claim is taken over once stale, not expired
                "stale": _seconds(stale_before),
            },
        )
        if taken is not None:
            return None
        held = self._db.one("SELECT * FROM idempotency WHERE scope = %s AND key = %s", (scope, key))
        if held is None:  # released between the two statements: the next try claims it
            return Prior(fingerprint=fingerprint, answer=None)
        return Prior(fingerprint=held["fingerprint"], answer=_answer(held))

    def complete(self, scope: str, key: str, answer: StoredAnswer, expires: datetime) -> None:
        self._db.run(
            "UPDATE idempotency SET state = 'done', status = %s, headers = %s, body = %s, is_json = %s, expires = %s"
            " WHERE scope = %s AND key = %s",
            (
                answer.status,
                json.dumps(answer.headers, separators=(",", ":")),
                answer.body,
                answer.json,
                _seconds(expires),
                scope,
                key,
            ),
        )

    def release(self, scope: str, key: str) -> None:
        self._db.run("DELETE FROM idempotency WHERE scope = %s AND key = %s", (scope, key))


def _answer(row: Row) -> StoredAnswer | None:
    if row["state"] != "done":
        return None
    return StoredAnswer(
        status=int(row["status"]), headers=json.loads(row["headers"]), body=row["body"], json=bool(row["is_json"])
    )


COUNT_REQUEST = (
    "INSERT INTO rate_windows (scope, window_key, count, expires) VALUES (%s, %s, 1, %s)"
    " ON CONFLICT (scope, window_key) DO UPDATE SET count = rate_windows.count + 1, expires = EXCLUDED.expires"
    " WHERE rate_windows.count < %s RETURNING count"
)


def count_request(conn: psycopg.Connection[Row], charge: RateCharge) -> None:
    """The caller's request counted inside a grant's transaction (its row locked until it ends), or its 429."""
    params = (charge.scope, charge.window, _seconds(charge.expires), charge.limit)
    if conn.execute(COUNT_REQUEST, params).fetchone() is None:
        raise charge.refusal()


class PostgresRateCounter:
    """One row per user and minute, counted under a condition (the row is locked by the increment, so
    concurrent requests cannot overshoot)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def take(self, scope: str, window: str, limit: int, expires: datetime) -> bool:
        return self._db.one(COUNT_REQUEST, (scope, window, _seconds(expires), limit)) is not None
