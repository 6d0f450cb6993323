"""Rescans that act: when the antivirus learns new signatures, every served object is read again.

A rescan is a *generation*, named by what clamd says of its engine and database (`VERSION`). The
scheduled `rescan_files` (hourly; `python -m local.rescan` by hand) starts a new generation when
that changed since the last one finished, else goes on with the unfinished one: it lists `files/` in
key order from where it stopped, scans a page of objects at a time with bounded concurrency
(aiobotocore, one clamd stream each), and saves its progress after each page, so a run cut short by
its time budget (or a crash) resumes there. The progress record says how far it got.

An object found infected:
1. is copied to `quarantine/` (the copy first: a crash leaves it served and the next page finds it
   again, never a record pointing at nothing);
2. its version points to quarantine; if it was the file's current version the file becomes
   `infected` with the signature, leaves its space's change feed (a `delete`) and dedup, and its
   owner, the class's teachers and whoever it was shared with are notified, in one transaction;
3. every share of the file ends (an audit entry each);
4. the served object is deleted.
Downloads refuse it from step 2 on (only `available` files under `files/` are ever signed).
An object the scan could not judge (clamd down, storage busy, a race) is counted as an error and
kept in the progress record; the page still advances, so one bad object never stalls a rescan, and
once the listing is done those keys are read again, until judged, before the generation finishes.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from chalicelib.domain.audit import entry
from chalicelib.domain.content import ScanOutcome, ScanResult, scan_verdict
from chalicelib.domain.keys import QUARANTINE, SERVED
from chalicelib.domain.models import FileStatus, Principal, Role, SpaceKind, iso, utcnow
from chalicelib.domain.notifications import quarantine_notifications
from chalicelib.domain.ports import ObjectStore, Rescanner, StoredObject
from chalicelib.domain.telemetry import NullTelemetry, Telemetry
from chalicelib.errors import ScannerUnavailableError

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from chalicelib.domain.models import Assignment, AuditEntry, FileRecord, Share
    from chalicelib.domain.notifications import Notification

log = logging.getLogger("cartable.rescan")

PAGE = 200
MAX_RETRY = 2000  # keys kept for another reading (the progress item stays far below 400 KB)
RESCANNER = "cartable-rescan"


@dataclass
class RescanProgress:
    """How far a generation got; saved after every page."""

    generation: str
    started_at: str
    after: str = ""  # the last key fully handled
    scanned: int = 0
    infected: int = 0
    errors: int = 0
    finished_at: str | None = None
    retry: list[str] = field(default_factory=list)  # keys not judged yet: read again before finishing

    @classmethod
    def start(cls, generation: str, now: datetime) -> RescanProgress:
        return cls(generation=generation, started_at=iso(now))

    def as_json(self) -> dict[str, Any]:
        return {
            "generation": self.generation,
            "startedAt": self.started_at,
            "after": self.after,
            "scanned": self.scanned,
            "infected": self.infected,
            "errors": self.errors,
            "waiting": len(self.retry),
            "finishedAt": self.finished_at,
        }


class RescanStore(Protocol):
    """What a rescan needs: its progress, the file of an object, its quarantine, the shares it ends."""

    def get_file_anywhere(self, file_id: str) -> FileRecord | None: ...

    def quarantine_object(
        self, object_key: str, quarantine_key: str, signature: str, now: datetime, notes: Sequence[Notification]
    ) -> FileRecord | None: ...

    def rescan_progress(self) -> dict[str, Any] | None: ...

    def save_rescan_progress(self, progress: Mapping[str, Any]) -> None: ...

    def get_assignment(self, school: str, assignment_id: str) -> Assignment | None: ...

    def file_shares(self, file_id: str) -> list[Share]: ...

    def delete_share(self, share: Share, audit: AuditEntry) -> None: ...

    def record_audit(self, entry: AuditEntry) -> None: ...


class RescanService:
    def __init__(
        self,
        catalog: RescanStore,
        store: ObjectStore,
        rescanner: Rescanner,
        page: int = PAGE,
        telemetry: Telemetry | None = None,
    ) -> None:
        self._telemetry: Telemetry = telemetry or NullTelemetry()
        self._catalog = catalog
        self._store = store
        self._rescanner = rescanner
        self._page = page

    def progress(self) -> RescanProgress | None:
        saved = self._catalog.rescan_progress()
        if saved is None:
            return None
        return RescanProgress(
            generation=str(saved["generation"]),
            started_at=str(saved["started_at"]),
            after=str(saved.get("after", "")),
            scanned=int(saved.get("scanned", 0)),
            infected=int(saved.get("infected", 0)),
            errors=int(saved.get("errors", 0)),
            finished_at=saved.get("finished_at"),
            retry=[str(key) for key in saved.get("retry", [])],
        )

    def run(self, budget_seconds: float, force: bool = False, on_page: Any = None) -> RescanProgress:
        """Go on with the current generation (or start one) until done or out of time."""
        deadline = time.monotonic() + budget_seconds
        try:
            generation = self._rescanner.signatures()
        except ScannerUnavailableError:
            self._telemetry.clamd_error()
            raise
        progress = self.progress()
        if force or progress is None or (progress.finished_at is not None and progress.generation != generation):
            progress = RescanProgress.start(generation, utcnow())
            log.info("rescan started generation=%s", generation)
        elif progress.finished_at is not None:
            return progress  # this database has read everything already
        while time.monotonic() < deadline:
            page = self._store.list_after(SERVED, progress.after, self._page)
            if page:
                progress.after = page[-1].key
            elif progress.retry:
                # The listing is done: what could not be judged is read again until it is.
                keys, progress.retry = progress.retry[: self._page], progress.retry[self._page :]
                page = [found for key in keys if (found := self._store.head(key)) is not None]
            else:
                progress.finished_at = iso(utcnow())
                self._save(progress)
                log.info("rescan finished %s", progress.as_json())
                break
            if page:
                self._judge(page, self._rescanner.scan(page), progress)
            self._save(progress)
            if on_page is not None:
                on_page(progress)
            if progress.retry and not self._store.list_after(SERVED, progress.after, 1):
                time.sleep(min(5.0, max(0.0, deadline - time.monotonic())))  # clamd may be back soon
        return progress

    def _save(self, progress: RescanProgress) -> None:
        self._catalog.save_rescan_progress({k: v for k, v in asdict(progress).items() if v is not None})

    def _judge(self, page: list[StoredObject], results: list[ScanResult | Exception], progress: RescanProgress) -> None:
        clamd_errors = sum(isinstance(result, ScannerUnavailableError) for result in results)
        if clamd_errors:
            self._telemetry.clamd_error(clamd_errors)
        for item, result in zip(page, results, strict=True):
            if isinstance(result, Exception):
                progress.errors += 1
                self._later(progress, item.key)
                log.warning("rescan could not judge key=%s: %s", item.key, result)
                continue
            progress.scanned += 1
            verdict = scan_verdict(result)
            if result.outcome is ScanOutcome.FOUND and verdict is not None and verdict.status is FileStatus.INFECTED:
                try:
                    self.quarantine(item, verdict.reason or "unknown")
                except Exception:  # storage busy, a file changing meanwhile: this key is read again
                    progress.errors += 1
                    self._later(progress, item.key)
                    log.exception("rescan could not quarantine key=%s", item.key)
                    continue
                progress.infected += 1

    @staticmethod
    def _later(progress: RescanProgress, key: str) -> None:
        if key not in progress.retry and len(progress.retry) < MAX_RETRY:
            progress.retry.append(key)

    def quarantine(self, item: StoredObject, signature: str) -> None:
        """Steps 1 to 4 of the module's list, for one object."""
        target = f"{QUARANTINE}{item.key[len(SERVED) :]}"
        try:
            self._store.copy(item.key, target, item.etag, item.size)
        except FileNotFoundError:
            return  # purged meanwhile
        file_id = item.key.split("/")[1]
        shares = self._catalog.file_shares(file_id)
        now = utcnow()
        current = self._catalog.get_file_anywhere(file_id)
        notes = []
        if current is not None and current.object_key == item.key:
            audiences = [f"user:{current.owner}"]
            if current.space.kind is SpaceKind.CLASS:
                audiences.append(f"teachers:{current.space.id}")
            elif current.space.kind is SpaceKind.ASSIGNMENT:
                assignment = self._catalog.get_assignment(current.school, current.space.id)
                if assignment is not None:
                    audiences.append(f"teachers:{assignment.class_id}")
            audiences += [f"{share.target_kind}:{share.target_id}" for share in shares][:20]
            notes = quarantine_notifications(current, signature, audiences, now)
        before = self._catalog.quarantine_object(item.key, target, signature, now, notes)
        if before is not None:
            robot = Principal(user_id=RESCANNER, school=before.school, role=Role.ADMIN)
            for share in shares:
                audit = entry(robot, "share.end", f"share:{share.id}", reason=f"file quarantined: {signature}")
                self._catalog.delete_share(share, audit)
            self._catalog.record_audit(entry(robot, "file.quarantine", f"file:{file_id}", reason=signature))
        self._store.delete(item.key)
        log.warning("rescan quarantined key=%s signature=%s", item.key, signature)
