"""The ports the services depend on: object storage, the catalog, the antivirus, the type sniffer."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # annotations only: a listing never loads the content rules or the notifications
    from chalicelib.domain.content import ScanResult, Verdict
    from chalicelib.domain.notifications import Notification
from chalicelib.domain.models import (
    Assignment,
    AuditEntry,
    ClassRecord,
    FileRecord,
    FileVersion,
    Membership,
    Share,
    SpaceRef,
    UploadRecord,
)


@dataclass(frozen=True)
class StoredObject:
    """What object storage says of one object, before reading it."""

    key: str
    size: int
    etag: str
    content_type: str | None
    last_modified: datetime


@dataclass(frozen=True)
class UploadedPart:
    """One part of a multipart upload that arrived in the store."""

    number: int
    size: int
    etag: str


@dataclass(frozen=True)
class PresignedPost:
    url: str
    fields: dict[str, str]


@dataclass(frozen=True)
class Page:
    """One page of a folder listing: subfolder names and files, and where to go on."""

    folders: list[str]
    files: list[FileRecord]
    next_cursor: str | None


@dataclass(frozen=True)
class Change:
    """A file's latest change in its space's feed."""

    seq: int
    op: str  # upsert or delete
    file: FileRecord


@dataclass(frozen=True)
class CleanCopy:
    """A version of a file of a space whose bytes were scanned clean, found by their sha256."""

    file_id: str
    object_key: str
    size: int
    content_type: str
    owner: str
    subject: str | None


@dataclass(frozen=True)
class ClassPage:
    classes: list[ClassRecord]
    next_cursor: str | None


class ObjectStore(Protocol):
    def presign_post(self, key: str, size: int, content_type: str, expires_in: int) -> PresignedPost: ...

    def presign_get(self, key: str, filename: str, content_type: str, expires_in: int) -> str: ...

    def head(self, key: str) -> StoredObject | None: ...

    def read_chunks(self, key: str, etag: str, chunk_size: int) -> Iterator[bytes]: ...

    def copy(
        self, source: str, target: str, etag: str | None, size: int | None = None, content_type: str | None = None
    ) -> None: ...

    def delete(self, key: str) -> None: ...

    def exists(self, key: str) -> bool: ...

    def list_older(self, prefix: str, before: datetime, limit: int) -> list[StoredObject]: ...

    def list_after(self, prefix: str, start_after: str, limit: int) -> list[StoredObject]: ...

    def start_multipart(self, key: str, content_type: str) -> str: ...

    def presign_part(self, key: str, multipart_id: str, number: int, size: int, expires_in: int) -> str: ...

    def uploaded_parts(self, key: str, multipart_id: str) -> list[UploadedPart] | None: ...

    def complete_multipart(self, key: str, multipart_id: str, parts: Sequence[tuple[int, str]]) -> None: ...

    def abort_multipart(self, key: str, multipart_id: str) -> None: ...


class Rescanner(Protocol):
    """Reads stored objects again and asks the antivirus, many at once."""

    def signatures(self) -> str: ...

    def scan(self, objects: Sequence[StoredObject]) -> list[ScanResult | Exception]: ...


class EventQueue(Protocol):
    """Where object events wait for the scan handler (SQS in every stage)."""

    def send_object_events(self, keys: Sequence[str]) -> None: ...


class Catalog(Protocol):
    def get_file(self, school: str, file_id: str) -> FileRecord | None: ...

    def find_file_id(
        self, school: str, space: SpaceRef, path: str, name: str, owner: str, feedback: bool = False
    ) -> str | None: ...

    def create_file(
        self,
        file: FileRecord,
        upload: UploadRecord,
        folders: Sequence[tuple[str, str]],
        audit: AuditEntry | None = None,
    ) -> None: ...

    def find_file(
        self, school: str, space: SpaceRef, path: str, name: str, owner: str, feedback: bool = False
    ) -> FileRecord | None: ...

    def add_upload(self, upload: UploadRecord, audit: AuditEntry | None = None, served: bool | None = None) -> None: ...

    def get_upload(self, upload_id: str) -> UploadRecord | None: ...

    def set_multipart(self, upload_id: str, multipart_id: str) -> None: ...

    def set_completed(self, upload_id: str, now: datetime) -> None: ...

    def get_file_anywhere(self, file_id: str) -> FileRecord | None: ...

    def quarantine_object(
        self, object_key: str, quarantine_key: str, signature: str, now: datetime, notes: Sequence[Notification]
    ) -> FileRecord | None: ...

    def rescan_progress(self) -> dict[str, Any] | None: ...

    def save_rescan_progress(self, progress: Mapping[str, Any]) -> None: ...

    def archive_class(
        self, record: ClassRecord, year: str, now: datetime, assignments: Sequence[Assignment]
    ) -> None: ...

    def put_retention_due(self, school: str, year: str, when: datetime) -> None: ...

    def retention_due(self, day: str, now: datetime, limit: int) -> list[str]: ...

    def record_verdict(
        self,
        upload: UploadRecord,
        verdict: Verdict,
        sha256: str,
        object_key: str,
        now: datetime,
        arrived_at: datetime | None = None,
    ) -> Verdict:
        """The verdict written (a clean one may end rejected: conflict, superseded, deleted)."""
        ...

    def list_folder(
        self, school: str, space: SpaceRef, path: str, limit: int, cursor: str | None, owner: str | None = None
    ) -> Page: ...

    def put_assignment(self, assignment: Assignment) -> None: ...

    def get_assignment(self, school: str, assignment_id: str) -> Assignment | None: ...

    def list_assignments(self, school: str, class_id: str) -> list[Assignment]: ...

    def file_versions(self, file_id: str) -> list[FileVersion]: ...

    def trash_file(self, file_id: str, now: datetime, audit: AuditEntry) -> None: ...

    def restore_file(self, file_id: str, audit: AuditEntry) -> None: ...

    def get_trashed_file(self, school: str, file_id: str) -> FileRecord | None: ...

    def changes(self, school: str, space: SpaceRef, after: int, limit: int) -> list[Change]: ...

    def list_trash(
        self, school: str, space: SpaceRef, limit: int, cursor: str | None
    ) -> tuple[list[FileRecord], str | None]: ...

    def trash_due(self, day: str, now: datetime, limit: int) -> list[str]: ...

    def begin_purge(self, file_id: str, now: datetime, size: int) -> FileRecord | None: ...

    def purge_records(self, file_id: str) -> None: ...

    def grants_due(self, day: str, now: datetime, limit: int) -> list[str]: ...

    def quota_used(self, quota_key: str) -> int: ...

    def clean_copies(self, school: str, space: SpaceRef, sha256: str, limit: int) -> list[CleanCopy]: ...

    def membership(self, school: str, user_id: str) -> Membership: ...

    def get_class(self, school: str, class_id: str) -> ClassRecord | None: ...

    def put_class(self, record: ClassRecord) -> None: ...

    def list_classes(self, school: str, limit: int, cursor: str | None) -> ClassPage: ...

    def get_classes(self, school: str, class_ids: Iterable[str]) -> list[ClassRecord]: ...

    def put_roster(self, school: str, classes: Sequence[ClassRecord]) -> int: ...

    def file_shares(self, file_id: str) -> list[Share]: ...

    def create_share(self, share: Share, audit: AuditEntry) -> None: ...

    def get_share(self, school: str, share_id: str) -> Share | None: ...

    def delete_share(self, share: Share, audit: AuditEntry) -> None: ...

    def shares_received(
        self, school: str, targets: Sequence[tuple[str, str]], limit: int, before: str | None = None
    ) -> list[Share]: ...

    def get_files(self, school: str, file_ids: Iterable[str]) -> dict[str, FileRecord]: ...

    def record_audit(self, entry: AuditEntry) -> None: ...

    def list_audit(
        self, school: str, actor: str | None, limit: int, cursor: str | None
    ) -> tuple[list[AuditEntry], str | None]: ...


@dataclass(frozen=True)
class ArchiveEntry:
    """One file of an archive: its name inside the ZIP and where its bytes are."""

    name: str
    key: str
    data: bytes | None = None  # small bytes made on the spot (a manifest), instead of an object
    # The object's size when known: a member under 4 GiB is then written without ZIP64 headers, which
    # clamd cannot read (so an export uploaded again is scanned, not refused as archive_unscannable).
    size: int | None = None


class Archiver(Protocol):
    def archive(self, entries: Sequence[ArchiveEntry], target: str) -> int: ...


class Scanner(Protocol):
    def scan_stream(self, chunks: Iterable[bytes]) -> ScanResult: ...


class Sniffer(Protocol):
    def sniff(self, head: bytes) -> str: ...
