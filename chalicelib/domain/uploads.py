"""Upload grants: the caller's right, the terms, the quota reserved with the record, the bytes
deduplicated, and a signed POST or multipart parts for exactly those bytes."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from chalicelib.domain.access import AccessControl, SpaceAccess
from chalicelib.domain.audit import entry
from chalicelib.domain.files import file_json
from chalicelib.domain.grants import MAX_BATCH, GrantRequest, UploadTerms, parse_grant
from chalicelib.domain.keys import incoming_key
from chalicelib.domain.models import (
    Action,
    Assignment,
    FileRecord,
    FileStatus,
    Principal,
    SpaceKind,
    UploadRecord,
    iso,
    new_id,
    utcnow,
)
from chalicelib.domain.multipart import multipart_answer
from chalicelib.domain.names import parent_chain
from chalicelib.domain.ports import CleanCopy, ObjectStore
from chalicelib.domain.quotas import QuotaPolicy
from chalicelib.domain.telemetry import NullTelemetry, Telemetry

if TYPE_CHECKING:  # the content rules are read by the first grant, never by a listing
    from collections.abc import Sequence

    from chalicelib.domain.content import ContentPolicy
    from chalicelib.domain.models import AuditEntry, Membership, SpaceRef
    from chalicelib.domain.ratelimit import RateCharge

from chalicelib.errors import (
    AlreadyExistsError,
    AssignmentClosedError,
    BadRequestError,
    CartableError,
    ConflictError,
    NotFoundError,
    PayloadTooLargeError,
    QuotaExceededError,
    StaleWriteError,
    UnsupportedMediaTypeError,
)

log = logging.getLogger("cartable.files")


class GrantStore(Protocol):
    """What a grant reads and writes: the file under a name, its grants, dedup copies, a pupil's classes."""

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

    def set_multipart(self, upload_id: str, multipart_id: str) -> None: ...

    def clean_copies(self, school: str, space: SpaceRef, sha256: str, limit: int) -> list[CleanCopy]: ...

    def membership(self, school: str, user_id: str) -> Membership: ...


class UploadService:
    """What the API does with upload requests; every grant checks the caller's right first."""

    def __init__(
        self,
        catalog: GrantStore,
        store: ObjectStore,
        access: AccessControl,
        content: Callable[[], ContentPolicy],
        terms: UploadTerms,
        quotas: QuotaPolicy | None = None,
        telemetry: Telemetry | None = None,
    ) -> None:
        self._quotas = quotas
        self._telemetry: Telemetry = telemetry or NullTelemetry()
        self._catalog = catalog
        self._store = store
        self._access = access
        self._content = content
        self._terms = terms
        self._max_size = terms.max_size
        self._upload_ttl = terms.ttl

    # -- uploads ------------------------------------------------------------------------------
    def grant_upload(
        self, principal: Principal, body: Mapping[str, Any], rate: RateCharge | None = None
    ) -> dict[str, Any]:
        """Check and record an upload, and sign a POST that can only carry those exact bytes. `rate`, the
        caller's count of POSTs, is written with the grant (one transaction), or left unsettled if refused."""
        try:
            return self._grant_upload(principal, body, rate)
        except QuotaExceededError:
            self._telemetry.quota_refused()
            log.info("grant refused: quota exceeded")
            raise

    def _grant_upload(self, principal: Principal, body: Mapping[str, Any], rate: RateCharge | None) -> dict[str, Any]:
        grant = parse_grant(principal, body)
        existing = self._existing_file(principal, grant)
        access = self._grant_access(principal, grant, existing)
        if grant.size > self._max_size:
            raise PayloadTooLargeError(f"Files are limited to {self._max_size} bytes.")
        if not self._content().accepts(grant.content_type):
            raise UnsupportedMediaTypeError(f"Files of type {grant.content_type} are not accepted.")
        if grant.base_version is not None:
            current = existing.version if existing is not None and existing.object_key else 0
            if current != grant.base_version:
                raise ConflictError(f"The file moved on: its current version is {current}.")
        multipart = grant.size > self._terms.multipart_threshold
        lifetime, allowed = self._terms.multipart_ttl if multipart else self._upload_ttl, None
        if grant.feedback_for is None:
            lifetime, allowed = self._assignment_terms(access.assignment, grant, utcnow(), lifetime)
        source = self._clean_copy(access, grant)
        if multipart and source is None:
            upload = self._record_multipart_grant(principal, grant, existing, lifetime, allowed, rate)
        else:
            part_size = self._terms.part_size_for(grant.size) if multipart else None
            upload = self._record_grant(principal, grant, existing, lifetime, allowed, part_size, rate)
        answer = {"uploadId": upload.id, "fileId": upload.file_id, "expiresAt": iso(upload.expires_at)}
        if source is not None and self._serve_copy(upload, source):
            log.info("upload deduplicated user=%s file=%s upload=%s", principal.user_id, upload.file_id, upload.id)
            file = self._catalog.get_file(principal.school, upload.file_id)
            return {**answer, "upload": {"method": "NONE"}, "file": file_json(file) if file else None}
        self._granted(principal, upload)
        if multipart:
            if upload.multipart_id is None:  # the identical bytes vanished meanwhile: they must come after all
                multipart_id = self._store.start_multipart(upload.key, grant.content_type)
                self._catalog.set_multipart(upload.id, multipart_id)
                upload = replace(upload, multipart_id=multipart_id)
            return {**answer, "upload": multipart_answer(self._store, upload, None, self._upload_ttl)}
        post = self._store.presign_post(upload.key, grant.size, grant.content_type, lifetime)
        return {**answer, "upload": {"method": "POST", "url": post.url, "fields": post.fields}}

    def _granted(self, principal: Principal, upload: UploadRecord) -> None:
        """The grant's ids on the request's one log line, or a line of their own (no request, a batch)."""
        if not self._telemetry.fold(upload_id=upload.id, file_id=upload.file_id):
            log.info("upload granted user=%s file=%s upload=%s", principal.user_id, upload.file_id, upload.id)

    # -- multipart uploads ----------------------------------------------------------------------
    def _record_multipart_grant(
        self,
        principal: Principal,
        grant: GrantRequest,
        existing: FileRecord | None,
        lifetime: int,
        allowed_types: tuple[str, ...] | None,
        rate: RateCharge | None = None,
    ) -> UploadRecord:
        """The grant first (its quota reserved), then the store's multipart upload, then its id on the
        grant. A crash in between leaves a grant without parts, which expires like any unused grant,
        or parts without a grant, which the bucket's lifecycle rule aborts."""
        part_size = self._terms.part_size_for(grant.size)
        upload = self._record_grant(principal, grant, existing, lifetime, allowed_types, part_size, rate)
        multipart_id = self._store.start_multipart(upload.key, grant.content_type)
        try:
            self._catalog.set_multipart(upload.id, multipart_id)
        except BaseException:
            self._store.abort_multipart(upload.key, multipart_id)
            raise
        return replace(upload, multipart_id=multipart_id)

    def _clean_copy(self, access: SpaceAccess, grant: GrantRequest) -> CleanCopy | None:
        """Clean bytes with the declared sha256, size and type already in the space, that the caller
        may read (a digest never reveals a classmate's submission)."""
        if grant.sha256 is None:
            return None
        for copy in self._catalog.clean_copies(access.principal.school, grant.space, grant.sha256, 20):
            readable = access.for_file(copy.owner, subject=copy.subject).allows(Action.READ)
            if readable and copy.size == grant.size and copy.content_type == grant.content_type:
                return copy
        return None

    def _serve_copy(self, upload: UploadRecord, source: CleanCopy) -> bool:
        """Fill the grant from bytes scanned clean before: a server-side copy into the grant's own
        place in `incoming/`, so the scan judges them as if sent (with today's signatures), and only
        the scanner ever writes what is served. False (the client sends the bytes) if the source is gone."""
        try:
            self._store.copy(source.object_key, upload.key, None, source.size)
        except FileNotFoundError:
            return False
        return True

    def _grant_access(self, principal: Principal, grant: GrantRequest, existing: FileRecord | None) -> SpaceAccess:
        """The right to write: feedback, a new version (the file's own rights count: an editor share,
        say) or a new file in the space."""
        if grant.feedback_for is not None:
            return self._feedback_access(principal, grant)
        if existing is not None:
            access = self._access.file(principal, existing, Action.UPLOAD)
        else:
            access = self._access.space(principal, grant.space)
        access.require(Action.UPLOAD)
        return access

    def grant_batch(self, principal: Principal, body: Mapping[str, Any]) -> dict[str, Any]:
        """Up to 100 grants in one call, each answered exactly as a single grant would be."""
        uploads = body.get("uploads")
        if not isinstance(uploads, list) or not 1 <= len(uploads) <= MAX_BATCH:
            raise BadRequestError(f"uploads must be a list of 1 to {MAX_BATCH} upload requests.")
        items: list[dict[str, Any]] = []
        for request in uploads:
            try:
                if not isinstance(request, dict):
                    raise BadRequestError("Each upload request must be a JSON object.")
                items.append({"status": 201, **self.grant_upload(principal, request)})
            except CartableError as error:
                if error.status >= 500:
                    raise  # a part is down: the whole batch is retried, not half-answered
                items.append({"status": error.status, "error": {"code": error.code, "message": error.message}})
        return {"items": items}

    def _feedback_access(self, principal: Principal, grant: GrantRequest) -> SpaceAccess:
        """A teacher's feedback goes to a student of the assignment's class, in that student's submission."""
        if grant.space.kind is not SpaceKind.ASSIGNMENT or grant.path != "/":
            raise BadRequestError("feedbackFor is for the root of an assignment space.")
        access = self._access.space(principal, grant.space)
        access.require(Action.FEEDBACK)
        assert access.assignment is not None and grant.feedback_for is not None
        student = self._catalog.membership(principal.school, grant.feedback_for)
        if access.assignment.class_id not in student.studying:
            raise NotFoundError().because("feedback for someone not a student of the class")
        return access

    def _assignment_terms(
        self, assignment: Assignment | None, grant: GrantRequest, now: datetime, lifetime: int
    ) -> tuple[int, tuple[str, ...] | None]:
        """The grant's lifetime and allowed types: an assignment's limits, and never past its closing."""
        if assignment is None:
            return lifetime, None
        if grant.path != "/":
            raise BadRequestError("Submissions go at the root of the assignment (path /).")
        if assignment.closes_at is not None and now >= assignment.closes_at:
            raise AssignmentClosedError("This assignment is closed; submissions are no longer accepted.")
        if assignment.max_size is not None and grant.size > assignment.max_size:
            raise PayloadTooLargeError(f"This assignment accepts files of at most {assignment.max_size} bytes.")
        # A Windows CSV (application/vnd.ms-excel) may be judged text/csv, and bytes of no declared type
        # anything: the scan checks the judged type against the assignment's.
        from chalicelib.domain.content import grant_allowed

        if not grant_allowed(self._content(), assignment.allowed_types, grant.content_type):
            raise UnsupportedMediaTypeError(f"This assignment does not accept {grant.content_type}.")
        if assignment.closes_at is not None:
            lifetime = max(1, min(lifetime, int((assignment.closes_at - now).total_seconds())))
        return lifetime, assignment.allowed_types

    def _record_grant(
        self,
        principal: Principal,
        grant: GrantRequest,
        existing: FileRecord | None,
        lifetime: int,
        allowed_types: tuple[str, ...] | None,
        part_size: int | None = None,
        rate: RateCharge | None = None,
    ) -> UploadRecord:
        now = utcnow().replace(microsecond=0)
        charge = (
            None
            if self._quotas is None or grant.feedback_for
            else self._quotas.charge(principal.school, grant.space, principal.user_id)
        )
        if charge is not None and grant.size > charge[1]:
            raise QuotaExceededError("This file is larger than the storage quota.")
        waiting = () if self._quotas is None else self._quotas.pending(principal.school, grant.space, principal.user_id)
        for attempt in range(3):  # a concurrent grant may claim the name between our read and write
            if attempt:
                existing = self._existing_file(principal, grant, consistent=True)
            file_id = existing.id if existing else new_id()
            upload_id = new_id()
            upload = UploadRecord(
                id=upload_id,
                file_id=file_id,
                school=principal.school,
                space=grant.space,
                path=grant.path,
                name=grant.name,
                size=grant.size,
                content_type=grant.content_type,
                sha256=grant.sha256,
                owner=principal.user_id,
                status=FileStatus.PENDING,
                reason=None,
                created_at=now,
                expires_at=now + timedelta(seconds=lifetime),
                key=incoming_key(file_id, upload_id),
                allowed_types=allowed_types,
                base_version=grant.base_version,
                quota_key=charge[0] if charge else None,
                quota_limit=charge[1] if charge else None,
                pending_limits=() if self._quotas is None else waiting,
                part_size=part_size,
                order=f"{time.time_ns():020d}",
                rate=rate,
            )
            audit = entry(
                principal, "upload.grant", f"file:{file_id}", reason=f"upload {upload_id}, {grant.size} bytes"
            )
            if existing is not None:
                try:
                    self._catalog.add_upload(upload, audit, served=existing.object_key is not None)
                except StaleWriteError as lost:
                    if not lost.failed:
                        raise
                    continue  # the file was served, trashed or removed meanwhile: read it again
                return upload
            file = FileRecord(
                id=file_id,
                school=principal.school,
                space=grant.space,
                path=grant.path,
                name=grant.name,
                size=grant.size,
                content_type=grant.content_type,
                sha256=None,
                status=FileStatus.PENDING,
                reason=None,
                version=1,
                owner=principal.user_id,
                created_at=now,
                updated_at=now,
                subject=grant.feedback_for,
            )
            try:
                self._catalog.create_file(file, upload, parent_chain(grant.path), audit)
                return upload
            except AlreadyExistsError:
                continue
        raise AlreadyExistsError("That name is being created by another upload; try again.")

    def _existing_file(self, principal: Principal, grant: GrantRequest, consistent: bool = False) -> FileRecord | None:
        """The file the grant would add a version to: one read of the folder's index first (the grant's
        transaction checks what it relies on); after a lost race, the name's claim and the file itself."""
        belongs_to = grant.feedback_for or principal.user_id
        feedback = grant.feedback_for is not None
        where = (principal.school, grant.space, grant.path, grant.name, belongs_to, feedback)
        if not consistent:
            return self._catalog.find_file(*where)
        file_id = self._catalog.find_file_id(*where)
        return None if file_id is None else self._catalog.get_file(principal.school, file_id)
