"""The sweeper on the PostgreSQL catalog: its hourly run also deletes what DynamoDB's TTL would have
dropped (expiry.py), after the domain's own work; wiring builds it when CARTABLE_CATALOG=postgres."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING

from chalicelib.domain.sweeper import Sweeper, SweepReport

if TYPE_CHECKING:
    from chalicelib.adapters.postgres.catalog import PostgresCatalog
    from chalicelib.domain.ports import EventQueue, ObjectStore
    from chalicelib.domain.rollover import YearService
    from chalicelib.domain.sync import TrashService

log = logging.getLogger("cartable.sweeper")


class ExpiringSweeper(Sweeper):
    def __init__(
        self,
        catalog: PostgresCatalog,
        trash: TrashService,
        store: ObjectStore,
        queue: EventQueue | None,
        years: YearService | None = None,
    ) -> None:
        super().__init__(trash, store, queue, years)
        self._catalog = catalog

    def run(self, now: datetime) -> SweepReport:
        report = super().run(now)
        expired = self._catalog.expire(now)
        log.info("expired rows deleted=%d %s", expired.total, expired.deleted)
        return report
