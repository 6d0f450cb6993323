"""The ports the services depend on: object storage, the catalog, the antivirus, the type sniffer."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from chalicelib.domain.models import ClassRecord, FileRecord

if TYPE_CHECKING:  # annotations only: a listing never loads the content rules or the notifications
    from chalicelib.domain.content import ScanResult, Verdict
    from chalicelib.domain.models import UploadRecord


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


class VerdictWriter(Protocol):
    """Writes an upload's verdict once: the scan, a cancel and an expired grant all end a grant so."""

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
