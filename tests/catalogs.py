"""The records the catalog's contract tests make (tests/integration/test_catalog_*; their fixtures are in
tests/catalog_fixtures.py)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.domain.models import (
    AuditEntry,
    FileRecord,
    FileStatus,
    SpaceKind,
    SpaceRef,
    UploadRecord,
)

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def fresh(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def audit(school: str, actor: str, n: int, action: str = "file.grant") -> AuditEntry:
    return AuditEntry(
        fresh("a"), school, actor, "teacher", action, f"file:f{n}", "allow", "", T0 + timedelta(seconds=n)
    )


def records(
    school: str,
    owner: str,
    space: SpaceRef | None = None,
    path: str = "/",
    name: str | None = None,
    size: int = 10,
    quota: tuple[str, int] | None = None,
    subject: str | None = None,
) -> tuple[FileRecord, UploadRecord]:
    """A new file and its first grant."""
    space = space or SpaceRef(SpaceKind.USER, owner)
    file = FileRecord(
        id=fresh("f"),
        school=school,
        space=space,
        path=path,
        name=name or f"{fresh('n')}.pdf",
        size=size,
        content_type="application/pdf",
        sha256=None,
        status=FileStatus.PENDING,
        reason=None,
        version=0,
        owner=owner,
        created_at=T0,
        updated_at=T0,
        subject=subject,
    )
    return file, grant(file, size=size, quota=quota)


def grant(
    file: FileRecord,
    size: int = 10,
    quota: tuple[str, int] | None = None,
    order: str | None = None,
    base: int | None = None,
    at: datetime = T0,
) -> UploadRecord:
    upload_id = fresh("u")
    return UploadRecord(
        id=upload_id,
        file_id=file.id,
        school=file.school,
        space=file.space,
        path=file.path,
        name=file.name,
        size=size,
        content_type="application/pdf",
        sha256=None,
        owner=file.owner,
        status=FileStatus.PENDING,
        reason=None,
        created_at=at,
        expires_at=at + timedelta(minutes=15),
        key=f"incoming/{file.id}/{upload_id}",
        base_version=base,
        quota_key=quota[0] if quota else None,
        quota_limit=quota[1] if quota else None,
        order=order,
    )


def new_file(catalog: Any, school: str, owner: str, **kwargs: Any) -> tuple[FileRecord, UploadRecord]:
    file, upload = records(school, owner, **kwargs)
    catalog.create_file(file, upload, [])
    return file, upload


def serve(catalog: Any, upload: UploadRecord, sha: str = "ab" * 32, at: datetime = T0) -> Any:
    """A clean verdict on an upload: its bytes become the served version."""
    from chalicelib.domain.content import Verdict

    key = f"files/{upload.file_id}/{upload.id}"
    return catalog.record_verdict(upload, Verdict(FileStatus.AVAILABLE, None), sha, key, at)
