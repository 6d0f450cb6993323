"""The catalog as one object: the same methods as `DynamoCatalog` (the domain's catalog ports), composed
of one repository per aggregate over one connection pool. Each repository is built once, on first
use, as in the DynamoDB package; psycopg itself is imported on the first query."""

from __future__ import annotations

from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING

from chalicelib.adapters.composed import ComposedCatalog
from chalicelib.adapters.postgres.audit import AuditRepository
from chalicelib.adapters.postgres.classes import ClassRepository
from chalicelib.adapters.postgres.db import Database
from chalicelib.adapters.postgres.files import FileRepository
from chalicelib.adapters.postgres.shares import ShareRepository

if TYPE_CHECKING:
    from chalicelib.adapters.postgres.expiry import ExpiryReport
    from chalicelib.adapters.postgres.feeds import FeedRepository
    from chalicelib.adapters.postgres.trash import TrashRepository
    from chalicelib.adapters.postgres.verdicts import VerdictRepository


class PostgresCatalog(ComposedCatalog):
    """The catalog's ports over one PostgreSQL database (see the package's docstring)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.files = FileRepository(db)
        self.classes = ClassRepository(db)
        self.shares = ShareRepository(db)
        self.audit = AuditRepository(db)

    @cached_property
    def trash(self) -> TrashRepository:
        from chalicelib.adapters.postgres.trash import TrashRepository

        return TrashRepository(self.db)

    @cached_property
    def verdicts(self) -> VerdictRepository:
        from chalicelib.adapters.postgres.verdicts import VerdictRepository

        return VerdictRepository(self.db)

    @cached_property
    def feeds(self) -> FeedRepository:
        from chalicelib.adapters.postgres.feeds import FeedRepository

        return FeedRepository(self.db)

    # -- expiry (what DynamoDB's TTL does) ------------------------------------------------
    def expire(self, now: datetime, limit: int = 1000) -> ExpiryReport:
        """Delete what DynamoDB's TTL would have dropped by `now` (at most `limit` rows of each kind)."""
        from chalicelib.adapters.postgres.expiry import expire

        return expire(self.db, now, limit)
