"""In-memory fakes of the narrow ports (access, audit, shares), for the services' unit tests: the same
answers as the DynamoDB repositories, with no table and in microseconds."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from chalicelib.domain.models import (
    Assignment,
    AuditEntry,
    ClassRecord,
    FileRecord,
    Membership,
    Share,
    UploadRecord,
    iso,
)
from chalicelib.errors import AlreadyExistsError, StaleWriteError


def _stamp(entry: AuditEntry) -> str:
    return f"{entry.at.strftime('%Y-%m-%dT%H:%M:%S.%fZ')}#{entry.id}"


@dataclass
class MemoryCatalog:
    """Files, classes, assignments, shares and the audit trail of one process, in dicts."""

    files: dict[str, FileRecord] = field(default_factory=dict)
    classes: dict[tuple[str, str], ClassRecord] = field(default_factory=dict)
    assignments: dict[tuple[str, str], Assignment] = field(default_factory=dict)
    shares: dict[str, Share] = field(default_factory=dict)
    trail: list[AuditEntry] = field(default_factory=list)

    # -- what tests set up
    def add_file(self, file: FileRecord) -> FileRecord:
        self.files[file.id] = file
        return file

    def add_class(self, record: ClassRecord) -> ClassRecord:
        self.put_class(record)
        return record

    def put_class(self, record: ClassRecord) -> None:
        self.classes[(record.school, record.id)] = record

    def create_file(
        self,
        file: FileRecord,
        upload: UploadRecord,
        folders: Sequence[tuple[str, str]],
        audit: AuditEntry | None = None,
    ) -> None:
        if file.id in self.files:
            raise AlreadyExistsError("A file with that name was just created.")
        self.files[file.id] = file
        if audit is not None:
            self.trail.append(audit)

    def add_assignment(self, assignment: Assignment) -> Assignment:
        self.assignments[(assignment.school, assignment.id)] = assignment
        return assignment

    # -- AccessStore
    def membership(self, school: str, user_id: str) -> Membership:
        mine = [c for (s, _), c in self.classes.items() if s == school]
        studying = frozenset(c.id for c in mine if user_id in c.students)  # both lists: a student, as stored
        teaching = frozenset(c.id for c in mine if user_id in c.teachers and c.id not in studying)
        archived = frozenset(c.id for c in mine if c.archived_at is not None and c.id in teaching | studying)
        return Membership(teaching, studying, archived)

    def get_class(self, school: str, class_id: str) -> ClassRecord | None:
        return self.classes.get((school, class_id))

    def get_assignment(self, school: str, assignment_id: str) -> Assignment | None:
        return self.assignments.get((school, assignment_id))

    def file_shares(self, file_id: str) -> list[Share]:
        return [s for s in self.shares.values() if s.file_id == file_id]

    # -- AuditStore
    def record_audit(self, entry: AuditEntry) -> None:
        self.trail.append(entry)

    def list_audit(
        self, school: str, actor: str | None, limit: int, cursor: str | None
    ) -> tuple[list[AuditEntry], str | None]:
        found = [e for e in self.trail if e.school == school and (actor is None or e.actor == actor)]
        found = sorted((e for e in found if cursor is None or _stamp(e) < cursor), key=_stamp, reverse=True)
        page = found[:limit]
        return page, (_stamp(page[-1]) if len(found) > limit else None)

    # -- ShareStore
    def get_file(self, school: str, file_id: str) -> FileRecord | None:
        file = self.files.get(file_id)
        return file if file is not None and file.school == school and file.trashed_at is None else None

    def get_files(self, school: str, file_ids: Iterable[str]) -> dict[str, FileRecord]:
        return {i: f for i in set(file_ids) if (f := self.get_file(school, i)) is not None}

    def create_share(self, share: Share, audit: AuditEntry) -> None:
        if share.file_id not in self.files or share.id in self.shares:
            raise StaleWriteError("The record changed meanwhile.")
        self.shares[share.id] = share
        self.trail.append(audit)

    def get_share(self, school: str, share_id: str) -> Share | None:
        share = self.shares.get(share_id)
        return share if share is not None and share.school == school else None

    def delete_share(self, share: Share, audit: AuditEntry) -> None:
        self.shares.pop(share.id, None)
        self.trail.append(audit)

    def shares_received(
        self, school: str, targets: Sequence[tuple[str, str]], limit: int, before: str | None = None
    ) -> list[Share]:
        found: list[Share] = []
        for kind, ident in targets:
            mine = [
                s
                for s in self.shares.values()
                if (s.school, s.target_kind, s.target_id) == (school, kind, ident)
                and (before is None or f"{iso(s.created_at)}#{s.id}" < before)
            ]
            found += sorted(mine, key=lambda s: f"{iso(s.created_at)}#{s.id}", reverse=True)[:limit]
        return found

    def shares_given(self, school: str, user_id: str, limit: int, before: str | None = None) -> list[Share]:
        mine = [
            s
            for s in self.shares.values()
            if (s.school, s.created_by) == (school, user_id)
            and (before is None or f"{iso(s.created_at)}#{s.id}" < before)
        ]
        return sorted(mine, key=lambda s: f"{iso(s.created_at)}#{s.id}", reverse=True)[:limit]
