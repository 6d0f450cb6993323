"""The scan of one arrived object: check it against its grant, sniff, scan, then serve or quarantine.

It fails closed: a file becomes available only through a clean verdict written conditionally, and
anything that is not a verdict (clamd down, a lost race, storage busy) raises so the event is retried.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import unquote_plus

from chalicelib.domain.content import (
    HEAD_SIZE,
    ContentPolicy,
    Expected,
    Observed,
    ScanResult,
    Verdict,
    judge,
)
from chalicelib.domain.inspection import Inspection
from chalicelib.domain.keys import INCOMING, QUARANTINE, SERVED
from chalicelib.domain.models import FileStatus, SpaceKind, UploadRecord, utcnow
from chalicelib.domain.ports import ObjectStore, Scanner, Sniffer, StoredObject, VerdictWriter
from chalicelib.domain.telemetry import NullTelemetry, Telemetry
from chalicelib.domain.zipdir import TAIL_SIZE, member_names
from chalicelib.errors import ScannerUnavailableError, StaleWriteError

if TYPE_CHECKING:
    from chalicelib.domain.models import Assignment, ClassRecord

log = logging.getLogger("cartable.scan")

KEY = re.compile(r"incoming/([A-Za-z0-9_-]{1,64})/([A-Za-z0-9_-]{1,64})")
CHUNK = 1024 * 1024
CLOCK_SKEW = timedelta(seconds=60)


class Outcome(StrEnum):
    IGNORED = "ignored"
    STRAY = "stray"
    DUPLICATE = "duplicate"
    GONE = "gone"
    DONE = "done"


def object_keys(body: str) -> list[str]:
    """The object keys an S3 notification (as an SQS message body) names; test events name none."""
    try:
        message = json.loads(body)
    except ValueError:
        log.warning("unreadable event body ignored")
        return []
    if not isinstance(message, dict) or message.get("Event") == "s3:TestEvent":
        return []
    keys = []
    for record in message.get("Records", []):
        if not isinstance(record, dict) or not str(record.get("eventName", "")).startswith("ObjectCreated:"):
            continue
        key = record.get("s3", {}).get("object", {}).get("key")
        if isinstance(key, str):
            # S3 event keys are form-encoded (`+` for space, `%2F` for `/`).
            keys.append(unquote_plus(key))
    return keys


@dataclass
class Tally:
    """Hashes, counts and keeps the head and the tail (where a zip's directory is) of a stream as it
    passes through to the scanner."""

    size: int = 0
    head: bytes = b""
    tail: bytes = b""
    inspection: Inspection | None = None  # the archive and PDF inspectors, fed in the same pass

    def __post_init__(self) -> None:
        self._hash = hashlib.sha256()

    def watch(self, chunks: Iterator[bytes]) -> Iterator[bytes]:
        for chunk in chunks:
            self.size += len(chunk)
            self._hash.update(chunk)
            if len(self.head) < HEAD_SIZE:
                self.head += chunk[: HEAD_SIZE - len(self.head)]
            self.tail = chunk[-TAIL_SIZE:] if len(chunk) >= TAIL_SIZE else (self.tail + chunk)[-TAIL_SIZE:]
            if self.inspection is not None:
                self.inspection.feed(chunk)
            yield chunk

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()


def scan_object(store: ObjectStore, scanner: Scanner, stored: StoredObject, tally: Tally) -> ScanResult:
    """The stored object read once from storage (the next chunks fetched while this one is sent), through
    `tally` (digest, head, tail, inspectors), to the antivirus. The scan handler's path, which the
    throughput figure (bench/scan_throughput.py) measures as it is."""
    return scanner.scan_stream(tally.watch(store.read_chunks(stored.key, stored.etag, CHUNK)))


class VerdictStore(VerdictWriter, Protocol):
    """What the scan needs: the grant of an object, its space's assignment or class, the verdict written once."""

    def get_upload(self, upload_id: str) -> UploadRecord | None: ...

    def get_assignment(self, school: str, assignment_id: str) -> Assignment | None: ...

    def get_class(self, school: str, class_id: str) -> ClassRecord | None: ...


class ScanService:
    """Handles one arrived object at a time; safe to run twice on the same object."""

    def __init__(
        self,
        catalog: VerdictStore,
        store: ObjectStore,
        scanner: Scanner,
        sniffer: Sniffer,
        content: ContentPolicy,
        scan_limit: int | None = None,
        telemetry: Telemetry | None = None,
    ) -> None:
        self._scan_limit = scan_limit
        self._telemetry: Telemetry = telemetry or NullTelemetry()
        self._catalog = catalog
        self._store = store
        self._scanner = scanner
        self._sniffer = sniffer
        self._content = content

    def handle_message(self, record: Any) -> None:
        """Every object one SQS message names (raising leaves the message for a retry); how long it
        waited in the queue is measured."""
        with self._telemetry.scope(message_id=message_id(record)):
            waited = message_age(record, utcnow())
            if waited is not None:
                self._telemetry.queue_age(waited)
            for key in message_keys(record):
                self.handle(key)

    def handle(self, key: str) -> Outcome:
        """Bring one object of `incoming/` to a verdict (or leave it for a retry by raising)."""
        match = KEY.fullmatch(key)
        if match is None:
            log.info("object outside incoming/ ignored")
            return Outcome.IGNORED
        file_id, upload_id = match.groups()
        with self._telemetry.scope(file_id=file_id, upload_id=upload_id):
            try:
                return self._handle(key, file_id, upload_id)
            except Exception:
                log.exception("scan not finished; the message will be retried")
                raise

    def _handle(self, key: str, file_id: str, upload_id: str) -> Outcome:
        upload = self._catalog.get_upload(upload_id)
        if upload is None or upload.file_id != file_id or upload.key != key:
            log.warning("object without a grant removed file=%s upload=%s", file_id, upload_id)
            self._store.delete(key)
            return Outcome.STRAY
        self._telemetry.tag(school=upload.school)
        if upload.status is not FileStatus.PENDING:
            # Already judged: a duplicate event, or a crash after the verdict; finish the cleanup.
            self._store.delete(key)
            return Outcome.DUPLICATE
        stored = self._store.head(key)
        if stored is None:
            log.info("object already gone upload=%s", upload_id)
            return Outcome.GONE
        verdict, sha256 = self._examine(upload, stored)
        if verdict.clean and not self._uploader_still_belongs(upload):
            verdict = Verdict(FileStatus.REJECTED, "access_revoked")
        self._settle(upload, stored, verdict, sha256)
        return Outcome.DONE

    def _uploader_still_belongs(self, upload: UploadRecord) -> bool:
        """A submission (or a teacher's feedback) is served only while its uploader is still in the
        assignment's class: a pupil removed after taking a grant may send bytes, never see them served.
        Other spaces need no such check (a drive's owner keeps it; a class folder takes teachers only)."""
        if upload.space.kind is not SpaceKind.ASSIGNMENT:
            return True
        assignment = self._catalog.get_assignment(upload.school, upload.space.id)
        klass = self._catalog.get_class(upload.school, assignment.class_id) if assignment else None
        return klass is not None and upload.owner in (*klass.students, *klass.teachers)

    def _examine(self, upload: UploadRecord, stored: StoredObject) -> tuple[Verdict, str]:
        """The verdict on the stored bytes, read once and never whole in memory."""
        # The store may not have enforced the signed policy (moto, some S3-compatibles): check here.
        if stored.size != upload.size:
            return Verdict(FileStatus.REJECTED, "size_mismatch"), ""
        if (stored.content_type or "").split(";")[0].strip().lower() != upload.content_type:
            return Verdict(FileStatus.REJECTED, "type_mismatch"), ""
        if stored.last_modified > upload.expires_at + CLOCK_SKEW:
            return Verdict(FileStatus.REJECTED, "grant_expired"), ""
        if self._scan_limit is not None and stored.size > self._scan_limit:
            # Bytes the antivirus cannot read whole are never served (clamd would also refuse them).
            return Verdict(FileStatus.REJECTED, "too_large_to_scan"), ""
        tally = Tally(inspection=Inspection(self._content, self._scan_limit))
        try:
            result = scan_object(self._store, self._scanner, stored, tally)
        except ScannerUnavailableError as exc:
            # Not a verdict: the message comes back. Counted, since every one is clamd failing.
            self._telemetry.clamd_error()
            log.warning("clamd gave no verdict: %s (%s)", exc.audit_reason or exc.message, _cause(exc))
            raise
        sniffed = self._sniffer.sniff(tally.head) if tally.head else "application/x-empty"
        observed = Observed(
            size=tally.size,
            sha256=tally.sha256,
            sniffed_type=sniffed,
            head=tally.head,
            scan=result,
            # A zip is told apart (a Scratch project, an Office document) by its own directory's names.
            members=member_names(tally.tail, tally.size) if self._content.reads_members(sniffed) else None,
            # What clamd misses: a zip's trimmed, ZIP64 or nested members, a PDF's scripts.
            findings=tally.inspection.finish() if tally.inspection is not None else (),
        )
        expected = Expected(
            size=upload.size,
            content_type=upload.content_type,
            sha256=upload.sha256,
            allowed_types=upload.allowed_types,
        )
        verdict = judge(self._content, expected, observed)
        if not verdict.clean:
            log.info("sniffed=%s size=%d", observed.sniffed_type, observed.size)
        return verdict, tally.sha256

    def _settle(self, upload: UploadRecord, stored: StoredObject, verdict: Verdict, sha256: str) -> None:
        """Copy to the served place or quarantine, record the verdict once, then drop the incoming object."""
        prefix = SERVED if verdict.clean else QUARANTINE
        target = f"{prefix}{stored.key[len(INCOMING) :]}"
        # Served with the type the bytes were judged, never the client's claim (a Windows CSV is text/csv).
        self._store.copy(stored.key, target, stored.etag, stored.size, content_type=verdict.content_type)
        try:
            # A single POST's object is stamped by storage when its bytes arrived; a multipart object
            # may carry its initiation time instead, so there it is when its uploader asked to complete
            # (our clock; the verdict's time if that was not recorded).
            arrived = upload.completed_at if upload.multipart_id else stored.last_modified
            now = utcnow()
            verdict = self._catalog.record_verdict(upload, verdict, sha256, target, now, arrived_at=arrived)
            # From the bytes' arrival (the grant's time when a multipart completion was not recorded).
            self._telemetry.verdict(verdict, now - (arrived or upload.created_at))
        except StaleWriteError:
            current = self._catalog.get_upload(upload.id)
            if current is None or current.status is FileStatus.PENDING:
                raise  # a lost race on the file's version: retry the event
            log.info("verdict already recorded upload=%s", upload.id)
        log.info(
            "verdict upload=%s file=%s status=%s reason=%s",
            upload.id,
            upload.file_id,
            verdict.status.value,
            verdict.reason,
        )
        self._store.delete(stored.key)


def message_id(record: Any) -> str:
    """The SQS message id of one record (Chalice's SQSRecord or a raw dict)."""
    raw = record.to_dict() if hasattr(record, "to_dict") else record
    return str(raw.get("messageId", ""))


def message_age(record: Any, now: datetime) -> timedelta | None:
    """How long an SQS record waited since it was first sent (its `SentTimestamp`), if it says."""
    raw = record.to_dict() if hasattr(record, "to_dict") else record
    sent = (raw.get("attributes") or {}).get("SentTimestamp")
    if sent is None:
        return None
    try:
        return now - datetime.fromtimestamp(int(sent) / 1000, UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def _cause(error: BaseException) -> str:
    """The wire error under a domain error (a timeout, a refused connection, a broken pipe), by name."""
    return type(error.__cause__).__name__ if error.__cause__ is not None else "reply"


def message_keys(record: Any) -> list[str]:
    """The object keys named by one SQS record (Chalice's SQSRecord or a raw dict)."""
    body = record.body if hasattr(record, "body") else record.get("body", "")
    return object_keys(str(body))
