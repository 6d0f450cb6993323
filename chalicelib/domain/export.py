"""The right of access (GDPR art. 15): a ZIP of everything a user owns, with a JSON manifest.

What a user owns: the files they uploaded that were scanned clean at least once, wherever they are:
their drive, their submissions to their classes' assignments, the material they put in the class
folders they teach. The manifest (`manifest.json`, first in the ZIP) gives each file's metadata and
where it is in the ZIP, and every audit entry of the user's own actions. Nothing of anyone else:
classmates' submissions, feedback written by teachers, and others' files shared with the user stay
out (they belong to their owners; the manifest says so).

The ZIP is written by the streaming archiver into `exports/` (bounded memory, whatever the total),
then the caller is sent a short-lived URL to it, as for a submissions archive.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Protocol

from chalicelib.domain.access import AccessControl
from chalicelib.domain.assignments import zip_segment
from chalicelib.domain.audit import entry, entry_json
from chalicelib.domain.files import file_json
from chalicelib.domain.models import (
    Action,
    FileRecord,
    Principal,
    SpaceKind,
    SpaceRef,
    iso,
    new_id,
    require_id,
    utcnow,
)
from chalicelib.domain.ports import ArchiveEntry, Archiver, ObjectStore
from chalicelib.domain.sync import live_files
from chalicelib.errors import NotFoundError

if TYPE_CHECKING:
    from chalicelib.domain.models import Assignment, AuditEntry, Membership
    from chalicelib.domain.ports import Change

AUDIT_PAGE = 1000


class ExportStore(Protocol):
    """What an export needs: a user's classes and assignments, the feeds, the audit trail."""

    def list_assignments(self, school: str, class_id: str) -> list[Assignment]: ...

    def changes(self, school: str, space: SpaceRef, after: int, limit: int) -> list[Change]: ...

    def membership(self, school: str, user_id: str) -> Membership: ...

    def record_audit(self, entry: AuditEntry) -> None: ...

    def list_audit(
        self, school: str, actor: str | None, limit: int, cursor: str | None
    ) -> tuple[list[AuditEntry], str | None]: ...


class ExportService:
    def __init__(
        self, catalog: ExportStore, access: AccessControl, store: ObjectStore, archiver: Archiver, download_ttl: int
    ) -> None:
        self._catalog = catalog
        self._access = access
        self._store = store
        self._archiver = archiver
        self._download_ttl = download_ttl

    def export(self, principal: Principal, user_id: str | None = None) -> str:
        """The caller's own export, or (an admin of the school) one user's; a URL to the ZIP."""
        target, name = self.build(principal, user_id)
        return self._store.presign_get(target, name, "application/zip", self._download_ttl)

    def check(self, principal: Principal, user_id: str | None = None) -> str:
        """Whose export the caller may have: their own, or any user's of the school for an admin."""
        subject = principal.user_id
        if user_id is not None:
            subject = require_id(user_id, "userId")
            if subject != principal.user_id and not self._access.school(principal).allows(Action.MANAGE):
                raise NotFoundError().because("export of another user by a non-admin")
        return subject

    def build(self, principal: Principal, user_id: str | None = None) -> tuple[str, str]:
        """Write the export into `exports/`: its key and download name."""
        subject = self.check(principal, user_id)
        files = sorted(self.owned_files(principal.school, subject), key=lambda f: (str(f.space), f.path, f.name))
        entries, listed = self._entries(files)
        audit = [entry_json(e) for e in self._audit(principal.school, subject)]
        manifest = {
            "user": subject,
            "school": principal.school,
            "exportedAt": iso(utcnow()),
            "exportedBy": principal.user_id,
            "files": listed,
            "audit": audit,
            "notIncluded": "Files of other people, shared with you or about you (teachers' feedback), "
            "belong to their owners; ask them or the school.",
        }
        data = json.dumps(manifest, ensure_ascii=False, indent=1).encode()
        target = f"exports/{principal.school}/users/{subject}/{new_id()}.zip"
        size = self._archiver.archive([ArchiveEntry("manifest.json", "", data), *entries], target)
        reason = f"{len(entries)} files, {len(audit)} audit entries, {size} bytes"
        self._catalog.record_audit(entry(principal, "user.export", f"user:{subject}", reason=reason))
        return target, f"cartable-{zip_segment(subject)}-{utcnow().date().isoformat()}.zip"

    def owned_files(self, school: str, user_id: str) -> Iterator[FileRecord]:
        """The user's files in their drive, their classes' assignments and the class folders they teach."""
        membership = self._catalog.membership(school, user_id)
        spaces = [SpaceRef(SpaceKind.USER, user_id)]
        for class_id in sorted(membership.studying | membership.teaching):
            if class_id in membership.teaching:
                spaces.append(SpaceRef(SpaceKind.CLASS, class_id))
            spaces += [SpaceRef(SpaceKind.ASSIGNMENT, a.id) for a in self._catalog.list_assignments(school, class_id)]
        for space in spaces:
            for file in live_files(self._catalog, school, space):
                if file.owner == user_id and file.object_key:
                    yield file

    def _audit(self, school: str, user_id: str) -> Iterator[Any]:
        cursor: str | None = None
        while True:
            items, cursor = self._catalog.list_audit(school, user_id, AUDIT_PAGE, cursor)
            yield from items
            if cursor is None:
                return

    @staticmethod
    def _entries(files: list[FileRecord]) -> tuple[list[ArchiveEntry], list[dict[str, Any]]]:
        """`files/<space>/<path>/<name>` for each file, made unique; and the manifest's list."""
        entries: list[ArchiveEntry] = []
        listed: list[dict[str, Any]] = []
        seen: set[str] = set()
        for file in files:
            folders = [zip_segment(str(file.space))] + [zip_segment(p) for p in file.path.strip("/").split("/") if p]
            base = "/".join(["files", *folders, zip_segment(file.name)])
            name, n = base, 1
            while name in seen:
                n += 1
                name = f"{base} ({n})"
            seen.add(name)
            assert file.object_key is not None
            entries.append(ArchiveEntry(name=name, key=file.object_key, size=file.size))
            listed.append({**file_json(file), "zipName": name})
        return entries, listed
