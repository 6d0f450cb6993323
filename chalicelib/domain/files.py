"""Files of a space: upload grants, metadata, download URLs and folder listings."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from chalicelib.domain.access import AccessControl, SpaceAccess
from chalicelib.domain.audit import entry
from chalicelib.domain.models import (
    Action,
    Assignment,
    FileRecord,
    FileStatus,
    Principal,
    SpaceKind,
    SpaceRef,
    UploadRecord,
    base_type,
    is_valid_id,
    iso,
    new_id,
    require_id,
    utcnow,
)
from chalicelib.domain.names import check_name, normalize_path, parent_chain
from chalicelib.domain.paging import parse_limit
from chalicelib.domain.ports import Catalog, CleanCopy, ObjectStore, UploadedPart
from chalicelib.domain.quotas import QuotaPolicy
from chalicelib.domain.telemetry import NullTelemetry, Telemetry

if TYPE_CHECKING:  # the content rules are read by the first grant, never by a listing
    from chalicelib.domain.content import ContentPolicy

from chalicelib.errors import (
    AlreadyExistsError,
    AssignmentClosedError,
    BadRequestError,
    CartableError,
    ConflictError,
    NotAvailableError,
    NotFoundError,
    PayloadTooLargeError,
    QuotaExceededError,
    StaleWriteError,
    UnsupportedMediaTypeError,
)

log = logging.getLogger("cartable.files")

SHA256 = re.compile(r"[0-9a-fA-F]{64}")
CONTENT_TYPE = re.compile(r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}")
MAX_BATCH = 100
INCOMING = "incoming/"
SERVED = "files/"
QUARANTINE = "quarantine/"


MAX_PARTS = 10_000  # S3's limit on the parts of one upload
MIB = 1024 * 1024
GONE_REASONS = ("cancelled", "grant_expired")  # uploads that ended without bytes


@dataclass(frozen=True)
class UploadTerms:
    """How uploads are granted: the largest file, when it goes multipart, and how long grants live."""

    max_size: int
    ttl: int  # a single POST's policy (at most 15 minutes: the contract)
    multipart_threshold: int = 64 * MIB
    part_size: int = 16 * MIB
    multipart_ttl: int = 24 * 3600  # the whole multipart upload; each part URL lives `ttl`

    def part_size_for(self, size: int) -> int:
        """The configured part size, grown in whole MiB when the file would need over 10,000 parts."""
        needed = -(-size // MAX_PARTS)
        return max(self.part_size, -(-needed // MIB) * MIB)


@dataclass(frozen=True)
class GrantRequest:
    """An upload request, checked: where, what, how big."""

    space: SpaceRef
    path: str
    name: str
    size: int
    content_type: str
    sha256: str | None
    feedback_for: str | None = None  # a teacher's feedback on this student's submission
    base_version: int | None = None  # the version the device holds; another current one is a conflict


def incoming_key(file_id: str, upload_id: str) -> str:
    return f"{INCOMING}{file_id}/{upload_id}"


def file_json(file: FileRecord) -> dict[str, Any]:
    """The contract's representation of a file."""
    return {
        "id": file.id,
        "space": str(file.space),
        "path": file.path,
        "name": file.name,
        "size": file.size,
        "contentType": file.content_type,
        "sha256": file.sha256,
        "status": file.status.value,
        "reason": file.reason,
        "version": file.version,
        "owner": file.owner,
        "createdAt": iso(file.created_at),
        "updatedAt": iso(file.updated_at),
    }


def upload_json(upload: UploadRecord) -> dict[str, Any]:
    return {
        "uploadId": upload.id,
        "fileId": upload.file_id,
        "status": upload.status.value,
        "reason": upload.reason,
        "createdAt": iso(upload.created_at),
        "expiresAt": iso(upload.expires_at),
    }


def parse_grant(principal: Principal, body: Mapping[str, Any]) -> GrantRequest:
    """An upload request checked field by field (400 with what is wrong)."""
    space_text = body.get("space")
    if not isinstance(space_text, str):
        raise BadRequestError("space is required.")
    path = normalize_path(body.get("path", "/"))
    name = check_name(body.get("name"))
    size = parse_size(body.get("size"))
    content_type = body.get("contentType")
    # Parameters are dropped: MediaRecorder's `audio/webm;codecs=opus` is audio/webm.
    if not isinstance(content_type, str) or len(content_type) > 255:
        raise BadRequestError("contentType must be a MIME type such as application/pdf.")
    if not CONTENT_TYPE.fullmatch(base_type(content_type)):
        raise BadRequestError("contentType must be a MIME type such as application/pdf.")
    sha256 = body.get("sha256")
    if sha256 is not None and (not isinstance(sha256, str) or not SHA256.fullmatch(sha256)):
        raise BadRequestError("sha256 must be 64 hexadecimal characters.")
    return GrantRequest(
        space=SpaceRef.parse(space_text, principal),
        path=path,
        name=name,
        size=size,
        content_type=base_type(content_type),
        sha256=sha256.lower() if sha256 else None,
        feedback_for=_feedback_for(body.get("feedbackFor")),
        base_version=_base_version(body.get("baseVersion")),
    )


def _base_version(value: object) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise BadRequestError("baseVersion must be the version number the device holds (0 for a new file).")
    return value


def _feedback_for(value: object) -> str | None:
    return None if value is None else require_id(value, "feedbackFor")


def parse_parts(body: Mapping[str, Any], count: int) -> list[tuple[int, str]]:
    """`{"parts": [{"partNumber", "etag"}]}`: every part from 1 to `count`, in order, once."""
    parts = body.get("parts")
    if not isinstance(parts, list) or not parts:
        raise BadRequestError("parts must be the list of every part's partNumber and etag.")
    parsed: list[tuple[int, str]] = []
    for index, part in enumerate(parts):
        number = part.get("partNumber") if isinstance(part, dict) else None
        etag = part.get("etag") if isinstance(part, dict) else None
        if not isinstance(number, int) or isinstance(number, bool) or not isinstance(etag, str) or not etag:
            raise BadRequestError(f"parts[{index}] must be {{partNumber: integer, etag: string}}.")
        parsed.append((number, etag if etag.startswith('"') else f'"{etag}"'))
    numbers = [number for number, _ in parsed]
    if numbers != list(range(1, count + 1)):
        raise BadRequestError(f"parts must list parts 1 to {count} in order, each once.")
    return parsed


def check_parts(upload: UploadRecord, parts: list[tuple[int, str]], arrived: list[UploadedPart]) -> None:
    """Each part arrived, is the one the client means, and has its exact length (else 400, nothing lost:
    the client sends that part again)."""
    by_number = {part.number: part for part in arrived}
    problems = []
    for number, etag in parts:
        got = by_number.get(number)
        if got is None:
            problems.append(f"part {number} has not arrived")
        elif got.etag.strip('"') != etag.strip('"'):
            problems.append(f"part {number} arrived with another etag")
        elif got.size != upload.part_length(number):
            problems.append(f"part {number} has {got.size} bytes, not {upload.part_length(number)}")
    if problems:
        shown = "; ".join(problems[:5]) + ("; ..." if len(problems) > 5 else "")
        raise BadRequestError(f"The upload cannot be completed: {shown}.")


def parse_size(raw: object) -> int:
    # bool is an int in Python; `"size": true` is not a size.
    if not isinstance(raw, int) or isinstance(raw, bool):
        raise BadRequestError("size must be an integer number of bytes.")
    if raw < 1:
        raise BadRequestError("size must be at least 1 byte.")
    return raw


class FileService:
    """What the API does with files; every entry point checks the caller's right first."""

    def __init__(
        self,
        catalog: Catalog,
        store: ObjectStore,
        access: AccessControl,
        content: Callable[[], ContentPolicy],
        terms: UploadTerms,
        download_ttl: int,
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
        self._download_ttl = download_ttl

    # -- uploads ------------------------------------------------------------------------------
    def grant_upload(self, principal: Principal, body: Mapping[str, Any]) -> dict[str, Any]:
        """Check and record an upload, and sign a POST that can only carry those exact bytes."""
        try:
            return self._grant_upload(principal, body)
        except QuotaExceededError:
            self._telemetry.quota_refused()
            log.info("grant refused: quota exceeded")
            raise

    def _grant_upload(self, principal: Principal, body: Mapping[str, Any]) -> dict[str, Any]:
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
            upload = self._record_multipart_grant(principal, grant, existing, lifetime, allowed)
        else:
            part_size = self._terms.part_size_for(grant.size) if multipart else None
            upload = self._record_grant(principal, grant, existing, lifetime, allowed, part_size)
        answer = {"uploadId": upload.id, "fileId": upload.file_id, "expiresAt": iso(upload.expires_at)}
        if source is not None and self._serve_copy(upload, source):
            log.info("upload deduplicated user=%s file=%s upload=%s", principal.user_id, upload.file_id, upload.id)
            file = self._catalog.get_file(principal.school, upload.file_id)
            return {**answer, "upload": {"method": "NONE"}, "file": file_json(file) if file else None}
        log.info("upload granted user=%s file=%s upload=%s", principal.user_id, upload.file_id, upload.id)
        if multipart:
            if upload.multipart_id is None:  # the identical bytes vanished meanwhile: they must come after all
                multipart_id = self._store.start_multipart(upload.key, grant.content_type)
                self._catalog.set_multipart(upload.id, multipart_id)
                upload = replace(upload, multipart_id=multipart_id)
            return {**answer, "upload": self._multipart_answer(upload, None)}
        post = self._store.presign_post(upload.key, grant.size, grant.content_type, lifetime)
        return {**answer, "upload": {"method": "POST", "url": post.url, "fields": post.fields}}

    # -- multipart uploads ----------------------------------------------------------------------
    def _record_multipart_grant(
        self,
        principal: Principal,
        grant: GrantRequest,
        existing: FileRecord | None,
        lifetime: int,
        allowed_types: tuple[str, ...] | None,
    ) -> UploadRecord:
        """The grant first (its quota reserved), then the store's multipart upload, then its id on the
        grant. A crash in between leaves a grant without parts, which expires like any unused grant,
        or parts without a grant, which the bucket's lifecycle rule aborts."""
        part_size = self._terms.part_size_for(grant.size)
        upload = self._record_grant(principal, grant, existing, lifetime, allowed_types, part_size)
        multipart_id = self._store.start_multipart(upload.key, grant.content_type)
        try:
            self._catalog.set_multipart(upload.id, multipart_id)
        except BaseException:
            self._store.abort_multipart(upload.key, multipart_id)
            raise
        return replace(upload, multipart_id=multipart_id)

    def _multipart_answer(self, upload: UploadRecord, arrived: list[UploadedPart] | None) -> dict[str, Any]:
        """Part URLs for the parts still missing (every part at first), each signed for its exact length."""
        assert upload.multipart_id is not None and upload.part_size is not None
        done = {part.number for part in arrived or []}
        lifetime = max(1, min(self._upload_ttl, int((upload.expires_at - utcnow()).total_seconds())))
        parts = [
            {
                "partNumber": number,
                "url": self._store.presign_part(
                    upload.key, upload.multipart_id, number, upload.part_length(number), lifetime
                ),
            }
            for number in range(1, upload.part_count + 1)
            if number not in done
        ]
        return {
            "method": "MULTIPART",
            "partSize": upload.part_size,
            "partCount": upload.part_count,
            "parts": parts,
            "urlsExpireAt": iso(utcnow().replace(microsecond=0) + timedelta(seconds=lifetime)),
        }

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
    ) -> UploadRecord:
        now = utcnow().replace(microsecond=0)
        charge = (
            None if self._quotas is None or grant.feedback_for else self._quotas.charge(principal.school, grant.space)
        )
        if charge is not None and grant.size > charge[1]:
            raise QuotaExceededError("This file is larger than the storage quota.")
        for attempt in range(3):  # a concurrent grant may claim the name between our read and write
            if attempt:
                existing = self._existing_file(principal, grant)
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
                part_size=part_size,
                order=f"{time.time_ns():020d}",
            )
            audit = entry(
                principal, "upload.grant", f"file:{file_id}", reason=f"upload {upload_id}, {grant.size} bytes"
            )
            if existing is not None:
                self._catalog.add_upload(upload, audit)
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

    def _existing_file(self, principal: Principal, grant: GrantRequest) -> FileRecord | None:
        belongs_to = grant.feedback_for or principal.user_id
        feedback = grant.feedback_for is not None
        file_id = self._catalog.find_file_id(
            principal.school, grant.space, grant.path, grant.name, belongs_to, feedback
        )
        return None if file_id is None else self._catalog.get_file(principal.school, file_id)

    def _own_upload(self, principal: Principal, upload_id: str) -> UploadRecord:
        upload = self._catalog.get_upload(upload_id) if is_valid_id(upload_id) else None
        if upload is None or upload.school != principal.school or upload.owner != principal.user_id:
            raise NotFoundError()
        return upload

    def get_upload(self, principal: Principal, upload_id: str) -> dict[str, Any]:
        """The state of one upload, for its uploader only; a multipart upload still open also says which
        parts arrived and signs fresh URLs for the missing ones, so a tablet resumes where it stopped."""
        upload = self._own_upload(principal, upload_id)
        answer = upload_json(upload)
        if upload.multipart_id is not None:
            answer["multipart"] = self._multipart_state(upload)
        return answer

    def _multipart_state(self, upload: UploadRecord) -> dict[str, Any]:
        assert upload.multipart_id is not None
        state: dict[str, Any] = {"partSize": upload.part_size, "partCount": upload.part_count}
        arrived = self._store.uploaded_parts(upload.key, upload.multipart_id)
        if upload.status is not FileStatus.PENDING or arrived is None or utcnow() >= upload.expires_at:
            return {**state, "open": False, "received": [], "parts": []}  # completed, aborted or expired
        answer = self._multipart_answer(upload, arrived)
        received = [{"partNumber": p.number, "size": p.size, "etag": p.etag} for p in arrived]
        return {
            **state,
            "open": True,
            "received": received,
            "parts": answer["parts"],
            "urlsExpireAt": answer["urlsExpireAt"],
        }

    def complete_upload(self, principal: Principal, upload_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Assemble a multipart upload once every part arrived with its exact length; the scan follows.
        A repeated call after success answers the upload again."""
        upload = self._own_upload(principal, upload_id)
        if upload.multipart_id is None:
            raise BadRequestError("This upload is a single POST; there is nothing to complete.")
        parts = parse_parts(body, upload.part_count)
        if upload.status is not FileStatus.PENDING:
            if upload.reason in GONE_REASONS:
                raise ConflictError(f"This upload ended ({upload.reason}); ask for a new one.")
            return upload_json(upload)
        arrived = self._store.uploaded_parts(upload.key, upload.multipart_id)
        if arrived is None:
            # Closed while pending: completed already, the scan on its way (an abort ends the grant too).
            return upload_json(upload)
        if utcnow() >= upload.expires_at:
            raise ConflictError("This upload's grant expired; ask for a new one.")
        check_parts(upload, parts, arrived)
        try:
            # The arrival of the bytes (for the late flag and receipts) by our clock, before assembling:
            # a scan, however long, never makes a submission completed in time late.
            self._catalog.set_completed(upload.id, utcnow())
        except StaleWriteError:
            return upload_json(self._own_upload(principal, upload_id))  # judged meanwhile
        try:
            self._store.complete_multipart(upload.key, upload.multipart_id, parts)
        except FileNotFoundError:
            log.info("multipart closed meanwhile upload=%s", upload.id)  # a concurrent completion or abort
            return upload_json(self._own_upload(principal, upload_id))
        self._catalog.record_audit(
            entry(principal, "upload.complete", f"file:{upload.file_id}", reason=f"upload {upload.id}")
        )
        log.info("multipart completed user=%s upload=%s parts=%d", principal.user_id, upload.id, len(parts))
        return upload_json(upload)

    def cancel_upload(self, principal: Principal, upload_id: str) -> None:
        """Give up an upload: its parts go, its quota is released, bytes arriving later are dropped."""
        upload = self._own_upload(principal, upload_id)
        if upload.status is not FileStatus.PENDING:
            raise ConflictError(f"This upload already ended ({upload.status.value}).")
        if upload.multipart_id is not None:
            self._store.abort_multipart(upload.key, upload.multipart_id)
        try:
            from chalicelib.domain.content import Verdict

            self._catalog.record_verdict(upload, Verdict(FileStatus.REJECTED, "cancelled"), "", "", utcnow())
        except StaleWriteError:
            current = self._catalog.get_upload(upload.id)
            if current is None or current.status is FileStatus.PENDING:
                raise
            raise ConflictError(f"This upload already ended ({current.status.value}).") from None
        self._catalog.record_audit(entry(principal, "upload.cancel", f"file:{upload.file_id}", reason=upload.id))

    # -- files --------------------------------------------------------------------------------
    def _visible_file(self, principal: Principal, file_id: str, action: Action) -> FileRecord:
        file = self._catalog.get_file(principal.school, file_id) if is_valid_id(file_id) else None
        if file is None:
            raise NotFoundError()
        self._access.require_file(principal, file, action)
        return file

    def get_file(self, principal: Principal, file_id: str) -> dict[str, Any]:
        """A file's metadata."""
        return file_json(self._visible_file(principal, file_id, Action.READ))

    def download_url(self, principal: Principal, file_id: str, version: str | None = None) -> str:
        """A short-lived signed URL to the served bytes (or an earlier version); only clean bytes have one."""
        file = self._visible_file(principal, file_id, Action.DOWNLOAD)
        if file.status is not FileStatus.AVAILABLE or file.object_key is None:
            raise NotAvailableError(f"The file is {file.status.value}; it cannot be downloaded.")
        key, number, content_type = file.object_key, file.version, file.content_type
        if version is not None:
            if not version.isdigit() or int(version) < 1:
                raise BadRequestError("version must be a positive integer.")
            match = [v for v in self._catalog.file_versions(file.id) if v.version == int(version)]
            if not match:
                raise NotFoundError()
            key, number, content_type = match[0].object_key, match[0].version, match[0].content_type
        if not key.startswith(SERVED):
            raise NotAvailableError("The file cannot be downloaded.")  # never sign outside the served prefix
        self._catalog.record_audit(entry(principal, "file.download", f"file:{file.id}", reason=f"version {number}"))
        return self._store.presign_get(key, file.name, content_type, self._download_ttl)

    def versions(self, principal: Principal, file_id: str) -> dict[str, Any]:
        """Every available version of a file, newest first."""
        file = self._visible_file(principal, file_id, Action.READ)
        items = [
            {
                "version": v.version,
                "size": v.size,
                "contentType": v.content_type,
                "sha256": v.sha256,
                "owner": v.owner,
                "createdAt": iso(v.created_at),
            }
            for v in self._catalog.file_versions(file.id)
        ]
        return {"items": items, "nextCursor": None}

    def list_folder(
        self, principal: Principal, space_text: str, path: str | None, limit: str | None, cursor: str | None
    ) -> dict[str, Any]:
        """One page of a folder: its subfolders' names and its files."""
        space = SpaceRef.parse(space_text, principal)
        folder = normalize_path(path or "/")
        page_size = parse_limit(limit)
        access = self._access.space(principal, space)
        access.require(Action.LIST)
        owner = None if access.sees_every_file() or space.kind is not SpaceKind.ASSIGNMENT else principal.user_id
        page = self._catalog.list_folder(principal.school, space, folder, page_size, cursor or None, owner)
        items = [file_json(f) for f in page.files if access.sees_unserved(f)]
        return {"items": items, "folders": page.folders, "nextCursor": page.next_cursor}
