"""The sweeper: the hourly reconciliation of what events and handlers may have left half done.

It never judges bytes itself. Its work, each part safe to run again:
- files in the trash for 30 days are purged (objects, then records);
- grants that expired unused end `rejected`/`grant_expired`, their parts aborted, their quota released;
- an object still in `incoming/` well after a scan would have taken it is announced again to the scan
  handler, which treats it like any event: a pending upload is scanned (an event that was lost, or
  dead-lettered and worth another try), an already judged one's leftover is removed (a crash between
  the verdict and the clean-up), an object without a grant is removed. Since the scan handler deletes
  the incoming object last, a crash between the copy and the record always leaves it there to find;
- pupils' work of a closed school year goes to the trash once past the school's retention.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from chalicelib.domain.keys import INCOMING
from chalicelib.domain.ports import EventQueue, ObjectStore
from chalicelib.domain.rollover import YearService
from chalicelib.domain.sync import TrashService

log = logging.getLogger("cartable.sweeper")

SETTLE = timedelta(minutes=15)  # far longer than a scan takes (10 s locally; minutes for 4 GB)
MAX_REQUEUED = 1000  # per run: a backlog drains over the hourly runs, never floods the scanners


@dataclass(frozen=True)
class SweepReport:
    purged: int
    objects_deleted: int
    skipped: int
    grants_expired: int
    requeued: int
    retained: int = 0

    def as_json(self) -> dict[str, int]:
        return {
            "purged": self.purged,
            "objectsDeleted": self.objects_deleted,
            "skipped": self.skipped,
            "grantsExpired": self.grants_expired,
            "requeued": self.requeued,
            "movedPastRetention": self.retained,
        }


class Sweeper:
    def __init__(
        self, trash: TrashService, store: ObjectStore, queue: EventQueue | None, years: YearService | None = None
    ) -> None:
        self._years = years
        self._trash = trash
        self._store = store
        self._queue = queue

    def requeue_stale(self, now: datetime, settle: timedelta = SETTLE, limit: int = MAX_REQUEUED) -> int:
        """Announce again every object left in incoming/ for longer than `settle`."""
        if self._queue is None:
            log.warning("no uploads queue configured: stale incoming objects are not re-announced")
            return 0
        stale = self._store.list_older(INCOMING, now - settle, limit)
        self._queue.send_object_events([item.key for item in stale])
        log.info("incoming objects re-announced=%d", len(stale))
        return len(stale)

    def run(self, now: datetime) -> SweepReport:
        purge = self._trash.purge(now)
        expired = self._trash.expire_grants(now)
        requeued = self.requeue_stale(now)
        retained = self._years.apply_due_retention(now) if self._years is not None else 0
        return SweepReport(purge.purged, purge.objects_deleted, purge.skipped, expired, requeued, retained)
