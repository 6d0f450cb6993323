"""Sample records for the service unit tests on the in-memory fakes."""

from __future__ import annotations

from chalicelib.domain.models import FileRecord, FileStatus, SpaceRef, utcnow


def sample_file(file_id: str, space: SpaceRef, owner: str, status: FileStatus = FileStatus.AVAILABLE) -> FileRecord:
    """A one-version PDF of school `s1`, served unless `status` says otherwise."""
    now = utcnow()
    return FileRecord(
        id=file_id,
        school="s1",
        space=space,
        path="/",
        name=f"{file_id}.pdf",
        size=10,
        content_type="application/pdf",
        sha256="0" * 64,
        status=status,
        reason=None,
        version=1,
        owner=owner,
        created_at=now,
        updated_at=now,
        object_key=f"files/{file_id}/1",
    )
