"""The catalog's delegation, written once for both stores: every narrow port a service declares beside
itself (`GrantStore` in uploads, `FileReads` in files, `VerdictStore` in scanning, `TrashStore` and
`FeedReader` in sync, `AccessStore`, `ShareStore`, `RosterStore`, `AssignmentStore`, `YearStore`,
`RescanStore`, ...) answered by one of the store's repositories per aggregate. `DynamoCatalog` and
`PostgresCatalog` build those repositories; the methods below only say which one answers what."""

# The repositories differ by store (DynamoDB, PostgreSQL) but not by method: each delegation's signature is the
# port's, and tests/unit/test_postgres_catalog.py checks both stores' repositories against it.
# mypy: disable-error-code="no-any-return"

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

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
from chalicelib.domain.ports import Change, ClassPage, CleanCopy, Page

if TYPE_CHECKING:
    from chalicelib.domain.content import Verdict
    from chalicelib.domain.jobs import Job
    from chalicelib.domain.notifications import Notification


class ComposedCatalog:
    """The domain's catalog ports over a store's repositories (same names and signatures in each store:
    tests/unit/test_postgres_catalog.py checks them both ways)."""

    files: Any
    classes: Any
    shares: Any
    audit: Any
    trash: Any
    verdicts: Any
    feeds: Any

    # -- files ---------------------------------------------------------------------------
    def get_file(self, school: str, file_id: str) -> FileRecord | None:
        return self.files.get_file(school, file_id)

    def find_file_id(
        self, school: str, space: SpaceRef, path: str, name: str, owner: str, feedback: bool = False
    ) -> str | None:
        return self.files.find_file_id(school, space, path, name, owner, feedback)

    def create_file(
        self,
        file: FileRecord,
        upload: UploadRecord,
        folders: Sequence[tuple[str, str]],
        audit: AuditEntry | None = None,
    ) -> None:
        self.files.create_file(file, upload, folders, audit)

    def find_file(
        self, school: str, space: SpaceRef, path: str, name: str, owner: str, feedback: bool = False
    ) -> FileRecord | None:
        return self.files.find_file(school, space, path, name, owner, feedback)

    def move_file(
        self,
        file_id: str,
        path: str,
        name: str,
        folders: Sequence[tuple[str, str]],
        now: datetime,
        audit: AuditEntry,
    ) -> FileRecord:
        return self.files.move_file(file_id, path, name, folders, now, audit)

    def add_upload(self, upload: UploadRecord, audit: AuditEntry | None = None, served: bool | None = None) -> None:
        self.files.add_upload(upload, audit, served)

    def set_multipart(self, upload_id: str, multipart_id: str) -> None:
        self.files.set_multipart(upload_id, multipart_id)

    def set_completed(self, upload_id: str, now: datetime) -> None:
        self.files.set_completed(upload_id, now)

    def get_upload(self, upload_id: str) -> UploadRecord | None:
        return self.files.get_upload(upload_id)

    def get_file_anywhere(self, file_id: str) -> FileRecord | None:
        return self.files.get_file_anywhere(file_id)

    def quota_used(self, quota_key: str) -> int:
        return self.files.quota_used(quota_key)

    def clean_copies(self, school: str, space: SpaceRef, sha256: str, limit: int) -> list[CleanCopy]:
        return self.files.clean_copies(school, space, sha256, limit)

    def changes(self, school: str, space: SpaceRef, after: int, limit: int) -> list[Change]:
        return self.files.changes(school, space, after, limit)

    def list_folder(
        self, school: str, space: SpaceRef, path: str, limit: int, cursor: str | None, owner: str | None = None
    ) -> Page:
        return self.files.list_folder(school, space, path, limit, cursor, owner)

    def file_versions(self, file_id: str) -> list[FileVersion]:
        return self.files.file_versions(file_id)

    def get_files(self, school: str, file_ids: Iterable[str]) -> dict[str, FileRecord]:
        return self.files.get_files(school, file_ids)

    # -- classes -------------------------------------------------------------------------
    def membership(self, school: str, user_id: str) -> Membership:
        return self.classes.membership(school, user_id)

    def archive_class(self, record: ClassRecord, year: str, now: datetime, assignments: Sequence[Assignment]) -> None:
        self.classes.archive_class(record, year, now, assignments)

    def get_class(self, school: str, class_id: str) -> ClassRecord | None:
        return self.classes.get_class(school, class_id)

    def put_class(self, record: ClassRecord) -> None:
        self.classes.put_class(record)

    def put_roster(self, school: str, classes: Sequence[ClassRecord]) -> int:
        return self.classes.put_roster(school, classes)

    def list_classes(self, school: str, limit: int, cursor: str | None) -> ClassPage:
        return self.classes.list_classes(school, limit, cursor)

    def get_classes(self, school: str, class_ids: Iterable[str]) -> list[ClassRecord]:
        return self.classes.get_classes(school, class_ids)

    def put_assignment(self, assignment: Assignment) -> None:
        self.classes.put_assignment(assignment)

    def get_assignment(self, school: str, assignment_id: str) -> Assignment | None:
        return self.classes.get_assignment(school, assignment_id)

    def list_assignments(self, school: str, class_id: str) -> list[Assignment]:
        return self.classes.list_assignments(school, class_id)

    def update_assignment(self, assignment: Assignment) -> None:
        self.classes.update_assignment(assignment)

    def delete_assignment(self, school: str, assignment_id: str, now: datetime) -> None:
        self.classes.delete_assignment(school, assignment_id, now)

    # -- shares --------------------------------------------------------------------------
    def file_shares(self, file_id: str) -> list[Share]:
        return self.shares.file_shares(file_id)

    def create_share(self, share: Share, audit: AuditEntry) -> None:
        self.shares.create_share(share, audit)

    def get_share(self, school: str, share_id: str) -> Share | None:
        return self.shares.get_share(school, share_id)

    def delete_share(self, share: Share, audit: AuditEntry) -> None:
        self.shares.delete_share(share, audit)

    def shares_received(
        self, school: str, targets: Sequence[tuple[str, str]], limit: int, before: str | None = None
    ) -> list[Share]:
        return self.shares.shares_received(school, targets, limit, before)

    def shares_given(self, school: str, user_id: str, limit: int, before: str | None = None) -> list[Share]:
        return self.shares.shares_given(school, user_id, limit, before)

    # -- audit ---------------------------------------------------------------------------
    def record_audit(self, entry: AuditEntry) -> None:
        self.audit.record_audit(entry)

    def list_audit(
        self, school: str, actor: str | None, limit: int, cursor: str | None
    ) -> tuple[list[AuditEntry], str | None]:
        return self.audit.list_audit(school, actor, limit, cursor)

    # -- trash ---------------------------------------------------------------------------
    def trash_file(self, file_id: str, now: datetime, audit: AuditEntry) -> None:
        self.trash.trash_file(file_id, now, audit)

    def restore_file(self, file_id: str, audit: AuditEntry) -> None:
        self.trash.restore_file(file_id, audit)

    def get_trashed_file(self, school: str, file_id: str) -> FileRecord | None:
        return self.trash.get_trashed_file(school, file_id)

    def list_trash(
        self, school: str, space: SpaceRef, limit: int, cursor: str | None
    ) -> tuple[list[FileRecord], str | None]:
        return self.trash.list_trash(school, space, limit, cursor)

    def put_retention_due(self, school: str, year: str, when: datetime) -> None:
        self.trash.put_retention_due(school, year, when)

    def retention_due(self, day: str, now: datetime, limit: int) -> list[str]:
        return self.trash.retention_due(day, now, limit)

    def trash_due(self, day: str, now: datetime, limit: int) -> list[str]:
        return self.trash.trash_due(day, now, limit)

    def begin_purge(self, file_id: str, now: datetime, size: int) -> FileRecord | None:
        return self.trash.begin_purge(file_id, now, size)

    def grants_due(self, day: str, now: datetime, limit: int) -> list[str]:
        return self.trash.grants_due(day, now, limit)

    def purge_records(self, file_id: str) -> None:
        self.trash.purge_records(file_id)

    # -- verdicts ------------------------------------------------------------------------
    def record_verdict(
        self,
        upload: UploadRecord,
        verdict: Verdict,
        sha256: str,
        object_key: str,
        now: datetime,
        arrived_at: datetime | None = None,
    ) -> Verdict:
        return self.verdicts.record_verdict(upload, verdict, sha256, object_key, now, arrived_at)

    def quarantine_object(
        self, object_key: str, quarantine_key: str, signature: str, now: datetime, notes: Sequence[Notification]
    ) -> FileRecord | None:
        return self.verdicts.quarantine_object(object_key, quarantine_key, signature, now, notes)

    # -- feeds ---------------------------------------------------------------------------
    def notifications(
        self, school: str, audiences: Sequence[str], before: str | None, limit: int, now: datetime
    ) -> tuple[list[Notification], bool]:
        return self.feeds.notifications(school, audiences, before, limit, now)

    def claim_unpublished(self, day: str, now: datetime, limit: int) -> list[Notification]:
        return self.feeds.claim_unpublished(day, now, limit)

    def unclaim(self, notifications: Sequence[Notification]) -> None:
        self.feeds.unclaim(notifications)

    def put_job(self, job: Job) -> None:
        self.feeds.put_job(job)

    def get_job(self, job_id: str) -> Job | None:
        return self.feeds.get_job(job_id)

    def finish_job(self, job: Job) -> None:
        self.feeds.finish_job(job)

    def rescan_progress(self) -> dict[str, Any] | None:
        return self.feeds.rescan_progress()

    def save_rescan_progress(self, progress: Mapping[str, Any]) -> None:
        self.feeds.save_rescan_progress(progress)
