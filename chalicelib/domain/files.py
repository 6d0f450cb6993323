"""Files of a space: metadata, download URLs, versions, folder listings, renames and moves; uploads are
handed to the upload services, built on the first upload (a listing never loads the grants)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from chalicelib.domain.access import AccessControl
from chalicelib.domain.audit import entry
from chalicelib.domain.keys import INCOMING as INCOMING
from chalicelib.domain.keys import QUARANTINE as QUARANTINE
from chalicelib.domain.keys import SERVED
from chalicelib.domain.models import (
    Action,
    FileRecord,
    FileStatus,
    Principal,
    SpaceKind,
    SpaceRef,
    is_valid_id,
    utcnow,
)
from chalicelib.domain.names import check_name, normalize_path, parent_chain
from chalicelib.domain.paging import parse_limit
from chalicelib.domain.ports import ObjectStore
from chalicelib.domain.schema import FILE, VERSION
from chalicelib.errors import (
    AlreadyExistsError,
    AssignmentClosedError,
    BadRequestError,
    ConflictError,
    NotAvailableError,
    NotFoundError,
    StaleWriteError,
)

if TYPE_CHECKING:
    from chalicelib.domain.models import AuditEntry, FileVersion
    from chalicelib.domain.multipart import PendingUploads
    from chalicelib.domain.ports import Page
    from chalicelib.domain.ratelimit import RateCharge
    from chalicelib.domain.uploads import UploadService


def file_json(file: FileRecord) -> dict[str, Any]:
    """The contract's representation of a file."""
    return FILE.to_json(file)


class FileReads(Protocol):
    """What reading files needs: a file, its versions, a folder's page, the audit trail."""

    def get_file(self, school: str, file_id: str) -> FileRecord | None: ...

    def list_folder(
        self, school: str, space: SpaceRef, path: str, limit: int, cursor: str | None, owner: str | None = None
    ) -> Page: ...

    def file_versions(self, file_id: str) -> list[FileVersion]: ...

    def record_audit(self, entry: AuditEntry) -> None: ...


class FileMoves(Protocol):
    """What renaming or moving a file needs beyond reading it: one write, all or nothing."""

    def move_file(
        self,
        file_id: str,
        path: str,
        name: str,
        folders: Sequence[tuple[str, str]],
        now: datetime,
        audit: AuditEntry,
    ) -> FileRecord: ...


class FileStore(FileReads, FileMoves, Protocol):
    """The file service's port: reads, and a file's rename or move."""


MOVE_FIELDS = frozenset({"name", "path"})


def move_target(body: object) -> tuple[str | None, str | None]:
    """The folder and name a PATCH asks for (None: unchanged), each validated as an upload's; or 400."""
    if not isinstance(body, Mapping) or not body:
        raise BadRequestError("Give the file's new name, its new folder (path), or both.")
    unknown = sorted(set(body) - MOVE_FIELDS)
    if unknown:
        raise BadRequestError(f"Only name and path can change, not {', '.join(unknown)}.")
    if "path" in body and not isinstance(body["path"], str):
        raise BadRequestError("path must be a string starting with '/'.")
    path = normalize_path(body["path"]) if "path" in body else None
    name = check_name(body["name"]) if "name" in body else None
    return path, name


class FileService:
    """What the API does with files; every entry point checks the caller's right first."""

    def __init__(
        self,
        catalog: FileStore,
        store: ObjectStore,
        access: AccessControl,
        download_ttl: int,
        uploads: Callable[[], UploadService],
        pending: Callable[[], PendingUploads],
    ) -> None:
        self._catalog = catalog
        self._store = store
        self._access = access
        self._download_ttl = download_ttl
        self._uploads = uploads
        self._pending = pending

    # -- uploads: the grant service's and the pending uploads', each built on first use ---------
    def grant_upload(
        self, principal: Principal, body: Mapping[str, Any], rate: RateCharge | None = None
    ) -> dict[str, Any]:
        """Check and record an upload (with the caller's `rate` count, when given), and sign a POST that
        can only carry those exact bytes."""
        return self._uploads().grant_upload(principal, body, rate)

    def grant_batch(self, principal: Principal, body: Mapping[str, Any]) -> dict[str, Any]:
        """Up to 100 grants in one call, each answered exactly as a single grant would be."""
        return self._uploads().grant_batch(principal, body)

    def get_upload(self, principal: Principal, upload_id: str) -> dict[str, Any]:
        """The state of one upload, for its uploader only."""
        return self._pending().get_upload(principal, upload_id)

    def complete_upload(self, principal: Principal, upload_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Assemble a multipart upload once every part arrived with its exact length."""
        return self._pending().complete_upload(principal, upload_id, body)

    def cancel_upload(self, principal: Principal, upload_id: str) -> None:
        """Give up an upload: its parts go, its quota is released."""
        self._pending().cancel_upload(principal, upload_id)

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
        items = [VERSION.to_json(v) for v in self._catalog.file_versions(file.id)]
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

    def move(self, principal: Principal, file_id: str, body: object) -> dict[str, Any]:
        """Rename a file or move it to another folder of its space (write right, as a delete); the same
        name and folder change nothing. Only an available file moves; a name taken there answers 409."""
        path, name = move_target(body)
        file = self._movable(principal, file_id, path)
        path, name = path or file.path, name or file.name
        if (path, name) == (file.path, file.name):
            return file_json(file)
        action = "file.rename" if path == file.path else "file.move"
        audit = entry(principal, action, f"file:{file.id}", reason=f"{file.path}{file.name} to {path}{name}")
        try:
            moved = self._catalog.move_file(file.id, path, name, parent_chain(path), utcnow(), audit)
        except AlreadyExistsError as exc:
            raise ConflictError(f"{path}{name} is already taken by another file; choose another name.") from exc
        except StaleWriteError:
            current = self._catalog.get_file(principal.school, file.id)
            if current is None:
                raise NotFoundError() from None  # deleted meanwhile
            if current.status is not FileStatus.AVAILABLE:
                raise NotAvailableError(f"The file is {current.status.value}; it cannot be renamed or moved.") from None
            raise
        return file_json(moved)

    def _movable(self, principal: Principal, file_id: str, path: str | None) -> FileRecord:
        """The file, if the caller may change it (404 unseen, 403 read only) and it may move to `path`."""
        file = self._catalog.get_file(principal.school, file_id) if is_valid_id(file_id) else None
        if file is None:
            raise NotFoundError()
        # 404 unless the caller may read the file (require_file's rule, whatever the action), 403 read only
        access = self._access.require_file(principal, file, Action.DELETE)
        if access.assignment is not None:
            closes_at = access.assignment.closes_at
            if closes_at is not None and utcnow() >= closes_at:
                raise AssignmentClosedError("This assignment is closed; submissions can no longer change.")
            if path not in (None, "/"):
                raise BadRequestError("Submissions stay at the root of the assignment (path /).")
        if file.status is not FileStatus.AVAILABLE:
            raise NotAvailableError(f"The file is {file.status.value}; only an available file can be renamed or moved.")
        return file
