"""Files, uploads and versions as rows: how each is written and read back (no I/O here)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from chalicelib.adapters.postgres.db import Row, due, opt_second, second, utc
from chalicelib.domain.models import FileRecord, FileStatus, FileVersion, SpaceKind, SpaceRef, UploadRecord, iso

GRANT_GRACE = timedelta(minutes=30)  # an unused grant is swept this long after it expires

FILE_COLUMNS = (
    "file_id, school, space, path, entry, name, size, content_type, sha256, status, reason, version, owner,"
    " subject, created_at, updated_at, object_key, arrived_at, trashed_at"
)


def entry_name(space: SpaceRef, belongs_to: str, name: str, feedback: bool = False) -> str:
    """A file's name in its folder's index: students' submissions (and their feedback) never collide or mix."""
    if space.kind is not SpaceKind.ASSIGNMENT:
        return name
    return f"{belongs_to}/~feedback/{name}" if feedback else f"{belongs_to}/{name}"


def entry(file: FileRecord) -> str:
    return entry_name(file.space, file.belongs_to, file.name, file.is_feedback)


def file_from_row(row: Row) -> FileRecord:
    created, updated = utc(row["created_at"]), utc(row["updated_at"])
    assert created is not None and updated is not None
    return FileRecord(
        id=row["file_id"],
        school=row["school"],
        space=SpaceRef.from_stored(row["space"]),
        path=row["path"],
        name=row["name"],
        size=int(row["size"]),
        content_type=row["content_type"],
        sha256=row["sha256"],
        status=FileStatus(row["status"]),
        reason=row["reason"] or None,
        version=int(row["version"]),
        owner=row["owner"],
        created_at=created,
        updated_at=updated,
        object_key=row["object_key"],
        subject=row["subject"],
        trashed_at=utc(row["trashed_at"]),
        arrived_at=utc(row["arrived_at"]),
    )


def file_row(file: FileRecord) -> Row:
    """A new file's row (nothing served, no change in its feed yet)."""
    return {
        "file_id": file.id,
        "school": file.school,
        "space": str(file.space),
        "path": file.path,
        "entry": entry(file),
        "name": file.name,
        "size": file.size,
        "content_type": file.content_type,
        "sha256": file.sha256,
        "status": file.status.value,
        "reason": file.reason,
        "version": file.version,
        "owner": file.owner,
        "subject": file.subject,
        "created_at": second(file.created_at),
        "updated_at": second(file.updated_at),
    }


def snapshot(file: FileRecord) -> dict[str, Any]:
    """A file as a change of its space's feed keeps it (JSON)."""
    return {
        "id": file.id,
        "school": file.school,
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
        "objectKey": file.object_key,
        "subject": file.subject,
        "trashedAt": iso(file.trashed_at) if file.trashed_at else None,
        "arrivedAt": iso(file.arrived_at) if file.arrived_at else None,
    }


def file_from_snapshot(data: dict[str, Any]) -> FileRecord:
    from chalicelib.domain.models import parse_iso

    return FileRecord(
        id=data["id"],
        school=data["school"],
        space=SpaceRef.from_stored(data["space"]),
        path=data["path"],
        name=data["name"],
        size=int(data["size"]),
        content_type=data["contentType"],
        sha256=data.get("sha256"),
        status=FileStatus(data["status"]),
        reason=data.get("reason") or None,
        version=int(data["version"]),
        owner=data["owner"],
        created_at=parse_iso(data["createdAt"]),
        updated_at=parse_iso(data["updatedAt"]),
        object_key=data.get("objectKey"),
        subject=data.get("subject"),
        trashed_at=parse_iso(data["trashedAt"]) if data.get("trashedAt") else None,
        arrived_at=parse_iso(data["arrivedAt"]) if data.get("arrivedAt") else None,
    )


UPLOAD_COLUMNS = (
    "upload_id, file_id, school, space, path, name, size, content_type, sha256, owner, status, reason,"
    " created_at, expires_at, key, allowed_types, base_version, quota_key, multipart_id, grant_order,"
    " completed_at, part_size"
)


def upload_row(upload: UploadRecord) -> Row:
    day, moment = due(upload.expires_at + GRANT_GRACE)
    return {
        "upload_id": upload.id,
        "file_id": upload.file_id,
        "school": upload.school,
        "space": str(upload.space),
        "path": upload.path,
        "name": upload.name,
        "size": upload.size,
        "content_type": upload.content_type,
        "sha256": upload.sha256,
        "owner": upload.owner,
        "status": upload.status.value,
        "reason": upload.reason,
        "created_at": second(upload.created_at),
        "expires_at": second(upload.expires_at),
        "key": upload.key,
        "allowed_types": list(upload.allowed_types) if upload.allowed_types is not None else None,
        "base_version": upload.base_version,
        "quota_key": upload.quota_key,
        "multipart_id": upload.multipart_id,
        "grant_order": upload.order,
        "completed_at": opt_second(upload.completed_at),
        "part_size": upload.part_size,
        "grant_day": day,
        "grant_due": moment,
    }


def upload_from_row(row: Row) -> UploadRecord:
    created, expires = utc(row["created_at"]), utc(row["expires_at"])
    assert created is not None and expires is not None
    return UploadRecord(
        id=row["upload_id"],
        file_id=row["file_id"],
        school=row["school"],
        space=SpaceRef.from_stored(row["space"]),
        path=row["path"],
        name=row["name"],
        size=int(row["size"]),
        content_type=row["content_type"],
        sha256=row["sha256"],
        owner=row["owner"],
        status=FileStatus(row["status"]),
        reason=row["reason"] or None,
        created_at=created,
        expires_at=expires,
        key=row["key"],
        allowed_types=tuple(row["allowed_types"]) if row["allowed_types"] is not None else None,
        base_version=row["base_version"],
        quota_key=row["quota_key"],
        multipart_id=row["multipart_id"],
        order=row["grant_order"],
        completed_at=utc(row["completed_at"]),
        part_size=int(row["part_size"]) if row["part_size"] is not None else None,
    )


def version_from_row(row: Row) -> FileVersion:
    created = utc(row["created_at"])
    assert created is not None
    return FileVersion(
        file_id=row["file_id"],
        version=int(row["version"]),
        size=int(row["size"]),
        content_type=row["content_type"],
        sha256=row["sha256"],
        object_key=row["object_key"],
        owner=row["owner"],
        created_at=created,
    )


def insert(table: str, columns: Iterable[str], suffix: str = "") -> str:
    """An INSERT of columns with named placeholders (the table and columns are ours, never input)."""
    names = list(columns)
    values = ", ".join(f"%({c})s" for c in names)
    return f"INSERT INTO {table} ({', '.join(names)}) VALUES ({values}){suffix}"  # noqa: S608 - constants
