"""The catalog as one object over one DynamoDB table: one repository per aggregate over one table
core, answering every narrow port of the domain through `ComposedCatalog`'s delegation
(adapters/composed.py). Each repository is built once, on first use, so a request loads only what
it needs: a listing never imports the verdict's settlement, the notifications or the jobs."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

from chalicelib.adapters.composed import ComposedCatalog
from chalicelib.adapters.dynamodb.audit import AuditRepository
from chalicelib.adapters.dynamodb.classes import ClassRepository
from chalicelib.adapters.dynamodb.files import FileRepository
from chalicelib.adapters.dynamodb.shares import ShareRepository
from chalicelib.adapters.dynamodb.table import Table

if TYPE_CHECKING:
    from chalicelib.adapters.dynamodb.feeds import FeedRepository
    from chalicelib.adapters.dynamodb.trash import TrashRepository
    from chalicelib.adapters.dynamodb.verdicts import VerdictRepository


class DynamoCatalog(ComposedCatalog):
    """The domain's catalog ports over one DynamoDB table, with an injected low-level client."""

    def __init__(self, client: Any, table: str) -> None:
        self._db = client
        self._table = table
        self.table = Table(client, table)
        self.files = FileRepository(self.table)
        self.classes = ClassRepository(self.table)
        self.shares = ShareRepository(self.table)
        self.audit = AuditRepository(self.table)

    @cached_property
    def trash(self) -> TrashRepository:
        from chalicelib.adapters.dynamodb.trash import TrashRepository

        return TrashRepository(self.table, self.files)

    @cached_property
    def verdicts(self) -> VerdictRepository:
        from chalicelib.adapters.dynamodb.verdicts import VerdictRepository

        return VerdictRepository(self.table, self.files, self.classes)

    @cached_property
    def feeds(self) -> FeedRepository:
        from chalicelib.adapters.dynamodb.feeds import FeedRepository

        return FeedRepository(self.table)
