"""What DynamoDB's TTL does, as deletes: the sweeper's hourly run calls `PostgresCatalog.expire(now)`.

Each kind of row that has a lifetime in the DynamoDB table has a moment past which it goes here too:
notifications 90 days after they happened, jobs a day after their ZIP goes, shares a day after they
expire, audit entries after 400 days, idempotency keys after 24 h and rate windows after 2 minutes.
Reads treat them as DynamoDB's reads treat an expired item not yet deleted: the feed of notifications
never shows an expired one, a stale idempotency key is claimable again, an expired share is read but
not `live` (the domain checks), a job or an audit entry is shown until deleted."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from chalicelib.adapters.postgres.db import Database

# (table, the condition of a row past its lifetime); the moment is a timestamptz or epoch seconds.
EXPIRING = (
    ("notifications", "expires_at <= %(now)s"),
    ("jobs", "gone_at <= %(now)s"),
    ("shares", "gone_at <= %(now)s"),
    ("audit", "gone_at <= %(now)s"),
    ("idempotency", "expires < %(epoch)s"),
    ("rate_windows", "expires < %(epoch)s"),
)


@dataclass(frozen=True)
class ExpiryReport:
    deleted: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.deleted.values())


def expire(db: Database, now: datetime, limit: int = 1000) -> ExpiryReport:
    """Delete up to `limit` rows of each kind past their lifetime at `now`; the rest goes next run."""
    params = {"now": now, "epoch": int(now.timestamp()), "n": limit}
    deleted: dict[str, int] = {}
    for table, condition in EXPIRING:
        deleted[table] = db.run(
            f"DELETE FROM {table} WHERE ctid IN (SELECT ctid FROM {table} WHERE {condition} LIMIT %(n)s)",  # noqa: S608
            params,
        )
    return ExpiryReport(deleted)
