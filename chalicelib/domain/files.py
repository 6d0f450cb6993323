"""Files of a space: upload grants, metadata, download URLs and folder listings."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from chalicelib.domain.access import AccessControl
from chalicelib.domain.audit import entry
from chalicelib.domain.content import ContentPolicy, base_type
from chalicelib.domain.models import (
    Action,
    FileRecord,
    FileStatus,
    Principal,
    SpaceRef,
    UploadRecord,
    is_valid_id,
    iso,
    new_id,
    utcnow,
)
from chalicelib.domain.names import check_name, normalize_path, parent_chain
from chalicelib.domain.paging import parse_limit
from chalicelib.domain.ports import Catalog, ObjectStore
from chalicelib.errors import (
    AlreadyExistsError,
    BadRequestError,
    NotAvailableError,
    NotFoundError,
    PayloadTooLargeError,
    UnsupportedMediaTypeError,
)

log = logging.getLogger("cartable.files")

SHA256 = re.compile(r"[0-9a-fA-F]{64}")
CONTENT_TYPE = re.compile(r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}")
INCOMING = "incoming/"
SERVED = "files/"
QUARANTINE = "quarantine/"


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
        content: ContentPolicy,
        max_upload_size: int,
        upload_ttl: int,
        download_ttl: int,
    ) -> None:
        self._catalog = catalog
        self._store = store
        self._access = access
        self._content = content
        self._max_size = max_upload_size
        self._upload_ttl = upload_ttl
        self._download_ttl = download_ttl

    # -- uploads ------------------------------------------------------------------------------
    def grant_upload(self, principal: Principal, body: Mapping[str, Any]) -> dict[str, Any]:
        """Check and record an upload, and sign a POST that can only carry those exact bytes."""
        space_text = body.get("space")
        if not isinstance(space_text, str):
            raise BadRequestError("space is required.")
        path = normalize_path(body.get("path", "/"))
        name = check_name(body.get("name"))
        size = parse_size(body.get("size"))
        content_type = body.get("contentType")
        if not isinstance(content_type, str) or not CONTENT_TYPE.fullmatch(content_type):
            raise BadRequestError("contentType must be a MIME type such as application/pdf.")
        content_type = base_type(content_type)
        sha256 = body.get("sha256")
        if sha256 is not None and (not isinstance(sha256, str) or not SHA256.fullmatch(sha256)):
            raise BadRequestError("sha256 must be 64 hexadecimal characters.")
        space = SpaceRef.parse(space_text, principal)
        existing = self._existing_file(principal, space, path, name)
        if existing is not None:  # a new version: the file's own rights count (an editor share, say)
            self._access.file(principal, existing, Action.UPLOAD).require(Action.UPLOAD)
        else:
            self._access.space(principal, space).require(Action.UPLOAD)
        if size > self._max_size:
            raise PayloadTooLargeError(f"Files are limited to {self._max_size} bytes.")
        if not self._content.accepts(content_type):
            raise UnsupportedMediaTypeError(f"Files of type {content_type} are not accepted.")
        upload = self._record_grant(principal, space, path, name, size, content_type, sha256, existing)
        post = self._store.presign_post(upload.key, size, content_type, self._upload_ttl)
        log.info("upload granted user=%s file=%s upload=%s size=%d", principal.user_id, upload.file_id, upload.id, size)
        return {
            "uploadId": upload.id,
            "fileId": upload.file_id,
            "expiresAt": iso(upload.expires_at),
            "upload": {"method": "POST", "url": post.url, "fields": post.fields},
        }

    def _record_grant(
        self,
        principal: Principal,
        space: SpaceRef,
        path: str,
        name: str,
        size: int,
        content_type: str,
        sha256: str | None,
        existing: FileRecord | None,
    ) -> UploadRecord:
        now = utcnow().replace(microsecond=0)
        for attempt in range(3):  # a concurrent grant may claim the name between our read and write
            if attempt:
                existing = self._existing_file(principal, space, path, name)
            file_id = existing.id if existing else new_id()
            upload_id = new_id()
            upload = UploadRecord(
                id=upload_id,
                file_id=file_id,
                school=principal.school,
                space=space,
                path=path,
                name=name,
                size=size,
                content_type=content_type,
                sha256=sha256.lower() if sha256 else None,
                owner=principal.user_id,
                status=FileStatus.PENDING,
                reason=None,
                created_at=now,
                expires_at=now + timedelta(seconds=self._upload_ttl),
                key=incoming_key(file_id, upload_id),
            )
            audit = entry(principal, "upload.grant", f"file:{file_id}", reason=f"upload {upload_id}, {size} bytes")
            if existing is not None:
                self._catalog.add_upload(upload, audit)
                return upload
            file = FileRecord(
                id=file_id,
                school=principal.school,
                space=space,
                path=path,
                name=name,
                size=size,
                content_type=content_type,
                sha256=None,
                status=FileStatus.PENDING,
                reason=None,
                version=1,
                owner=principal.user_id,
                created_at=now,
                updated_at=now,
            )
            try:
                self._catalog.create_file(file, upload, parent_chain(path), audit)
                return upload
            except AlreadyExistsError:
                continue
        raise AlreadyExistsError("That name is being created by another upload; try again.")

    def _existing_file(self, principal: Principal, space: SpaceRef, path: str, name: str) -> FileRecord | None:
        file_id = self._catalog.find_file_id(principal.school, space, path, name)
        return None if file_id is None else self._catalog.get_file(principal.school, file_id)

    def get_upload(self, principal: Principal, upload_id: str) -> dict[str, Any]:
        """The state of one upload, for its uploader only."""
        upload = self._catalog.get_upload(upload_id) if is_valid_id(upload_id) else None
        if upload is None or upload.school != principal.school or upload.owner != principal.user_id:
            raise NotFoundError()
        return upload_json(upload)

    # -- files --------------------------------------------------------------------------------
    def _visible_file(self, principal: Principal, file_id: str, action: Action) -> FileRecord:
        file = self._catalog.get_file(principal.school, file_id) if is_valid_id(file_id) else None
        if file is None:
            raise NotFoundError()
        access = self._access.file(principal, file, action)
        access.require(action)
        if file.status is not FileStatus.AVAILABLE and not self._may_see_unserved(access, file):
            raise NotFoundError()
        return file

    @staticmethod
    def _may_see_unserved(access: Any, file: FileRecord) -> bool:
        """Pending, infected and rejected files show to their uploader and the space's writers only."""
        return bool(file.owner == access.principal.user_id or access.allows(Action.UPLOAD))

    def get_file(self, principal: Principal, file_id: str) -> dict[str, Any]:
        """A file's metadata."""
        return file_json(self._visible_file(principal, file_id, Action.READ))

    def download_url(self, principal: Principal, file_id: str) -> str:
        """A short-lived signed URL to the served bytes; only a file scanned clean has one."""
        file = self._visible_file(principal, file_id, Action.DOWNLOAD)
        if file.status is not FileStatus.AVAILABLE or file.object_key is None:
            raise NotAvailableError(f"The file is {file.status.value}; it cannot be downloaded.")
        if not file.object_key.startswith(SERVED):
            raise NotAvailableError("The file cannot be downloaded.")  # never sign outside the served prefix
        self._catalog.record_audit(
            entry(principal, "file.download", f"file:{file.id}", reason=f"version {file.version}")
        )
        return self._store.presign_get(file.object_key, file.name, file.content_type, self._download_ttl)

    def list_folder(
        self, principal: Principal, space_text: str, path: str | None, limit: str | None, cursor: str | None
    ) -> dict[str, Any]:
        """One page of a folder: its subfolders' names and its files."""
        space = SpaceRef.parse(space_text, principal)
        folder = normalize_path(path or "/")
        page_size = parse_limit(limit)
        access = self._access.space(principal, space)
        access.require(Action.LIST)
        page = self._catalog.list_folder(principal.school, space, folder, page_size, cursor or None)
        writer = access.allows(Action.UPLOAD)
        items = [
            file_json(f)
            for f in page.files
            if f.status is FileStatus.AVAILABLE or writer or f.owner == principal.user_id
        ]
        return {"items": items, "folders": page.folders, "nextCursor": page.next_cursor}
