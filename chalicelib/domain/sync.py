"""Device sync: a changes feed per space with signed cursors, a long-poll, trash and restore."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from chalicelib.domain.access import AccessControl, SpaceAccess
from chalicelib.domain.audit import entry
from chalicelib.domain.content import Verdict
from chalicelib.domain.files import file_json
from chalicelib.domain.models import Action, FileRecord, FileStatus, Principal, SpaceRef, is_valid_id, iso, utcnow
from chalicelib.domain.paging import parse_limit
from chalicelib.domain.ports import Change, ObjectStore, VerdictWriter
from chalicelib.errors import (
    AlreadyExistsError,
    BadRequestError,
    ConflictError,
    CursorExpiredError,
    NotFoundError,
    StaleWriteError,
)

if TYPE_CHECKING:
    from chalicelib.domain.models import AuditEntry, FileVersion, UploadRecord

log = logging.getLogger("cartable.sync")

TRASH_LIFE = timedelta(days=30)
CURSOR_LIFETIME = 30 * 24 * 3600  # the contract: valid at least 30 days; the trash is purged after 30
MAX_POLL = 25  # API Gateway's limit on one request
POLL_INTERVAL = 0.5


class Cursors:
    """Opaque, tamper-proof cursors: a position in one space's feed, signed with HMAC-SHA256."""

    def __init__(self, secret: str, previous: tuple[str, ...] = ()) -> None:
        self._key = _cursor_key(secret)
        self._previous = tuple(_cursor_key(old) for old in previous)  # rotated out: their cursors are 410

    def _mac(self, payload: bytes, key: bytes | None = None) -> str:
        return _b64(hmac.new(key or self._key, payload, hashlib.sha256).digest()[:18])

    def sign(self, school: str, space: SpaceRef, seq: int, now: float) -> str:
        payload = json.dumps({"s": school, "p": str(space), "q": seq, "t": int(now)}, separators=(",", ":")).encode()
        return f"{_b64(payload)}.{self._mac(payload)}"

    def read(self, cursor: str, school: str, space: SpaceRef, now: float) -> int:
        """The position a cursor holds; 400 when forged or for another space, 410 when too old."""
        body, _, mac = cursor.partition(".")
        try:
            payload = _unb64(body)
        except (ValueError, binascii.Error) as exc:
            raise BadRequestError("cursor is not valid.") from exc
        if not mac or not hmac.compare_digest(mac, self._mac(payload)):
            if mac and any(hmac.compare_digest(mac, self._mac(payload, old)) for old in self._previous):
                # Signed before the secret's rotation: genuine, but no longer ours to honour.
                raise CursorExpiredError("This cursor has expired; start again without one.")
            raise BadRequestError("cursor is not valid.")
        data = json.loads(payload)
        if data.get("s") != school or data.get("p") != str(space) or not isinstance(data.get("q"), int):
            raise BadRequestError("cursor is not valid for this space.")
        if now - int(data.get("t", 0)) > CURSOR_LIFETIME:
            raise CursorExpiredError("This cursor has expired; start again without one.")
        return int(data["q"])


def _cursor_key(secret: str) -> bytes:
    return hashlib.sha256(f"cartable-cursor:{secret}".encode()).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode((text + "=" * (-len(text) % 4)).encode())


def parse_timeout(raw: str | None) -> int:
    if raw is None or raw == "":
        return MAX_POLL
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_POLL:
        raise BadRequestError(f"timeout must be an integer from 1 to {MAX_POLL} seconds.")
    return int(raw)


class FeedReader(Protocol):
    """What reading a space's change feed needs."""

    def changes(self, school: str, space: SpaceRef, after: int, limit: int) -> list[Change]: ...


class SyncService:
    """What devices call to follow a space; each answer costs what it returns, not the space's size."""

    def __init__(
        self,
        catalog: FeedReader,
        access: AccessControl,
        cursors: Cursors,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._catalog = catalog
        self._access = access
        self._cursors = cursors
        self._clock = clock
        self._sleep = sleep

    def _follow(self, principal: Principal, space_text: str, cursor: str | None) -> tuple[SpaceAccess, int]:
        space = SpaceRef.parse(space_text, principal)
        access = self._access.space(principal, space)
        access.require(Action.LIST)  # a space the caller lost access to answers 404, cursor or not
        after = self._cursors.read(cursor, principal.school, space, self._clock()) if cursor else 0
        return access, after

    @staticmethod
    def _visible(access: SpaceAccess, change: Change) -> bool:
        return access.for_file(change.file.owner, subject=change.file.subject).allows(Action.READ)

    def changes(self, principal: Principal, space_text: str, cursor: str | None, limit: str | None) -> dict[str, Any]:
        """The changes after the cursor, in order; without one, the current state as upserts."""
        access, after = self._follow(principal, space_text, cursor)
        page = parse_limit(limit)
        found = self._catalog.changes(principal.school, access.resource.space, after, page + 1)
        has_more = len(found) > page
        found = found[:page]
        last = found[-1].seq if found else after
        items = [
            {"op": c.op, "file": file_json(c.file)}
            for c in found
            if self._visible(access, c) and (cursor or c.op != "delete")
        ]
        next_cursor = self._cursors.sign(principal.school, access.resource.space, last, self._clock())
        return {"changes": items, "cursor": next_cursor, "hasMore": has_more}

    def poll(self, principal: Principal, space_text: str, cursor: str | None, timeout: str | None) -> dict[str, Any]:
        """Answer as soon as something the caller can see changed after the cursor, or at the timeout."""
        seconds = parse_timeout(timeout)
        access, after = self._follow(principal, space_text, cursor)
        deadline = self._clock() + seconds
        while True:
            found = self._catalog.changes(principal.school, access.resource.space, after, 50)
            if any(self._visible(access, c) for c in found):
                return {"changes": True}
            if found:
                after = found[-1].seq  # only others' changes (an assignment's classmates): keep waiting
            remaining = deadline - self._clock()
            if remaining <= 0:
                return {"changes": False}
            self._sleep(min(POLL_INTERVAL, remaining))


def live_changes(
    catalog: FeedReader, school: str, space: SpaceRef, after: int = 0, page: int = 500
) -> Iterator[Change]:
    """The feed positions (one per file) of a space's files that were ever available and are not in
    the trash, after sequence `after`, page after page."""
    while True:
        changes = catalog.changes(school, space, after, page)
        yield from (change for change in changes if change.op == "upsert")
        if len(changes) < page:
            return
        after = changes[-1].seq


def live_files(catalog: FeedReader, school: str, space: SpaceRef) -> Iterator[FileRecord]:
    """Every file of a space that was ever available and is not in the trash."""
    return (change.file for change in live_changes(catalog, school, space))


def due_days(now: datetime, lookback_days: int) -> list[str]:
    """The day partitions of due work a sweep reads: oldest first, up to today (a missed run is caught up)."""
    return [(now - timedelta(days=back)).date().isoformat() for back in range(lookback_days, -1, -1)]


@dataclass(frozen=True)
class PurgeReport:
    purged: int
    objects_deleted: int
    skipped: int


class TrashStore(VerdictWriter, Protocol):
    """What the trash and its sweeper need: files in and out of the trash, purges, grants due."""

    def get_file(self, school: str, file_id: str) -> FileRecord | None: ...

    def get_upload(self, upload_id: str) -> UploadRecord | None: ...

    def file_versions(self, file_id: str) -> list[FileVersion]: ...

    def trash_file(self, file_id: str, now: datetime, audit: AuditEntry) -> None: ...

    def restore_file(self, file_id: str, audit: AuditEntry) -> None: ...

    def get_trashed_file(self, school: str, file_id: str) -> FileRecord | None: ...

    def list_trash(
        self, school: str, space: SpaceRef, limit: int, cursor: str | None
    ) -> tuple[list[FileRecord], str | None]: ...

    def trash_due(self, day: str, now: datetime, limit: int) -> list[str]: ...

    def begin_purge(self, file_id: str, now: datetime, size: int) -> FileRecord | None: ...

    def purge_records(self, file_id: str) -> None: ...

    def grants_due(self, day: str, now: datetime, limit: int) -> list[str]: ...


class TrashService:
    """DELETE moves a file to the trash; restore brings it back within 30 days; then it is purged."""

    def __init__(self, catalog: TrashStore, access: AccessControl, store: ObjectStore | None = None) -> None:
        self._catalog = catalog
        self._access = access
        self._store = store

    def list_trash(
        self, principal: Principal, space_text: str, limit: str | None, cursor: str | None
    ) -> dict[str, Any]:
        """What the caller deleted, or may restore, in a space: newest first, with the purge date."""
        space = SpaceRef.parse(space_text, principal)
        access = self._access.space(principal, space, deleted=True)  # a deleted assignment's submissions
        access.require(Action.LIST)
        files, next_cursor = self._catalog.list_trash(principal.school, space, parse_limit(limit), cursor or None)
        items = []
        gone = access.assignment is not None and access.assignment.deleted_at is not None
        for file in files:
            # A deleted assignment's submissions show to its teachers too, who sent them there.
            if not access.for_file(file.owner, subject=file.subject).allows(Action.DELETE) and not (
                gone and access.sees_every_file()
            ):
                continue
            assert file.trashed_at is not None
            items.append(
                {
                    **file_json(file),
                    "trashedAt": iso(file.trashed_at),
                    "purgeAt": iso(file.trashed_at + TRASH_LIFE),
                }
            )
        return {"items": items, "nextCursor": next_cursor}

    def purge(self, now: datetime, lookback_days: int = 60, limit: int = 2000) -> PurgeReport:
        """Delete the objects, then the records, of files trashed 30 days ago or more. A crash between
        the two leaves a trashed record that the next run finishes; a restored file is never purged."""
        if self._store is None:
            raise RuntimeError("purging needs the object store")
        purged = deleted = skipped = 0
        for day in due_days(now, lookback_days):
            for file_id in self._catalog.trash_due(day, now, limit):
                versions = self._catalog.file_versions(file_id)
                file = self._catalog.begin_purge(file_id, now, sum(v.size for v in versions))
                if file is None:
                    skipped += 1
                    continue
                keys = {v.object_key for v in versions}
                if file.object_key:
                    keys.add(file.object_key)
                for key in sorted(keys):
                    self._store.delete(key)
                    deleted += 1
                self._catalog.purge_records(file_id)
                purged += 1
        log.info("trash purge purged=%d objects=%d skipped=%d", purged, deleted, skipped)
        return PurgeReport(purged, deleted, skipped)

    def expire_grants(self, now: datetime, lookback_days: int = 7, limit: int = 5000) -> int:
        """Grants that expired unused: the upload ends `rejected`/`grant_expired` and its quota
        reservation is released. Bytes that did arrive are left to the scan, never dropped here."""
        if self._store is None:
            raise RuntimeError("sweeping grants needs the object store")
        expired = 0
        for day in due_days(now, lookback_days):
            for upload_id in self._catalog.grants_due(day, now, limit):
                upload = self._catalog.get_upload(upload_id)
                if upload is None or upload.status is not FileStatus.PENDING:
                    continue
                if upload.multipart_id is not None:
                    # Parts of an abandoned upload go; a completion that beat us left an object (below).
                    self._store.abort_multipart(upload.key, upload.multipart_id)
                if self._store.exists(upload.key):
                    continue
                try:
                    self._catalog.record_verdict(upload, Verdict(FileStatus.REJECTED, "grant_expired"), "", "", now)
                    expired += 1
                except StaleWriteError:
                    continue  # judged meanwhile
        log.info("grants expired unused=%d", expired)
        return expired

    def delete(self, principal: Principal, file_id: str) -> None:
        file = self._catalog.get_file(principal.school, file_id) if is_valid_id(file_id) else None
        if file is None:
            raise NotFoundError()
        self._access.require_file(principal, file, Action.DELETE)
        self._catalog.trash_file(file.id, utcnow(), entry(principal, "file.delete", f"file:{file.id}"))

    def restore(self, principal: Principal, file_id: str) -> dict[str, Any]:
        file = self._catalog.get_trashed_file(principal.school, file_id) if is_valid_id(file_id) else None
        if file is None:
            raise NotFoundError()
        self._access.require_file(principal, file, Action.DELETE)
        if file.trashed_at is not None and utcnow() >= file.trashed_at + TRASH_LIFE:
            raise NotFoundError().because("past the trash's 30 days")
        try:
            self._catalog.restore_file(file.id, entry(principal, "file.restore", f"file:{file.id}"))
        except AlreadyExistsError as exc:
            raise ConflictError("Another file now has this name in this folder; rename it first.") from exc
        restored = self._catalog.get_file(principal.school, file.id)
        if restored is None:
            raise NotFoundError()
        return file_json(restored)
