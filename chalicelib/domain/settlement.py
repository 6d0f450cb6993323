"""Settlement: what a content verdict on an upload does to its file, decided without I/O.

The bytes are judged in `content.judge`; the state here. Given the file as it is served (read by the
catalog just before), the upload and the content verdict, `settle` answers the final verdict (a clean
upload may still end `rejected`: `conflict`, `superseded`, `deleted`), the version it makes, the bytes
given back to the upload's quota and the notifications to write. The catalog then writes all of it in
one transaction, on condition the file did not change since it was read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from chalicelib.domain.content import Verdict
from chalicelib.domain.models import Assignment, FileRecord, FileStatus, UploadRecord
from chalicelib.domain.notifications import Notification, verdict_notifications


@dataclass(frozen=True)
class Served:
    """A file as the catalog read it: its record, the version it serves (0: none yet), the grant order
    of the upload that made that version, and whether it is in the trash."""

    file: FileRecord
    version: int
    grant_order: str
    trashed: bool


class FileChange(StrEnum):
    """What the verdict does to the file's own record."""

    SERVE = "serve"  # a new version, served: the file, its version, its digest and its space's feed
    DESCRIBE = "describe"  # never served and not trashed: the file shows its latest attempt's refusal
    KEEP = "keep"  # a refused new version (or a trashed file): the file stays as it was


@dataclass(frozen=True)
class Settlement:
    """What to write: the final verdict, the version a clean one makes (None otherwise), what becomes of
    the file, the bytes released from the upload's quota (0: none) and the notifications."""

    verdict: Verdict
    version: int | None
    change: FileChange
    release: int
    notifications: tuple[Notification, ...]


def final_verdict(served: Served, upload: UploadRecord, verdict: Verdict) -> Verdict:
    """The verdict once the file's state is known: a clean upload that no longer fits it is refused."""
    if not verdict.clean:
        return verdict
    if upload.base_version is not None and served.version != upload.base_version:
        # The file moved on since the device read it: a stale tablet never overwrites silently.
        return Verdict(FileStatus.REJECTED, "conflict")
    if upload.order and upload.order < served.grant_order:
        # Events come out of order: an older upload scanned after a newer one never replaces it.
        return Verdict(FileStatus.REJECTED, "superseded")
    if served.trashed:
        return Verdict(FileStatus.REJECTED, "deleted")  # the file went to the trash meanwhile
    return verdict


def settle(
    served: Served,
    upload: UploadRecord,
    verdict: Verdict,
    assignment: Assignment | None,
    now: datetime,
    arrived: datetime | None = None,
) -> Settlement:
    """Settle a content verdict on an upload against the file as served (see the module).

    `assignment` is the assignment of an assignment space (its due time decides `late`), `arrived` when
    storage received the bytes."""
    final = final_verdict(served, upload, verdict)
    notes = verdict_notifications(served.file, upload.owner, final, served.version + 1, assignment, now, arrived)
    if final.clean:
        change = FileChange.SERVE
    elif served.version == 0 and not served.trashed:
        change = FileChange.DESCRIBE
    else:
        change = FileChange.KEEP
    release = upload.size if not final.clean and upload.quota_key is not None else 0  # refused bytes are not kept
    return Settlement(
        verdict=final,
        version=served.version + 1 if final.clean else None,
        change=change,
        release=release,
        notifications=tuple(notes),
    )
