"""Homework: teachers set assignments, students turn in, teachers collect."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from chalicelib.domain.access import AccessControl
from chalicelib.domain.audit import entry
from chalicelib.domain.content import ContentPolicy, type_allowed
from chalicelib.domain.files import file_json
from chalicelib.domain.models import (
    Action,
    Assignment,
    FileRecord,
    FileStatus,
    Principal,
    SpaceKind,
    SpaceRef,
    iso,
    new_id,
    parse_iso,
    require_id,
    utcnow,
)
from chalicelib.domain.names import check_title, nfc, text_problem
from chalicelib.domain.paging import decode_position, encode_position, parse_limit
from chalicelib.domain.ports import ArchiveEntry, Archiver, ObjectStore
from chalicelib.domain.schema import ASSIGNMENT
from chalicelib.errors import BadRequestError, ForbiddenError, NotFoundError, StaleWriteError

if TYPE_CHECKING:
    from chalicelib.domain.models import AuditEntry, ClassRecord
    from chalicelib.domain.ports import Page

TYPE_PATTERN = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/(\*|[a-z0-9][a-z0-9!#$&^_.+-]{0,126})")
MAX_TITLE = 200
MAX_INSTRUCTIONS = 10_000
PAGE = 1000
EDITABLE = ("title", "instructions", "dueAt", "closesAt", "maxSize", "allowedTypes")


def assignment_json(assignment: Assignment) -> dict[str, Any]:
    """The contract's assignment."""
    return ASSIGNMENT.to_json(assignment)


def _time(body: Mapping[str, Any], name: str, required: bool) -> datetime | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise BadRequestError(f"{name} must be an RFC 3339 UTC time such as 2026-12-01T17:00:00Z.")
    try:
        return parse_iso(value)
    except ValueError as exc:
        raise BadRequestError(f"{name} must be an RFC 3339 UTC time such as 2026-12-01T17:00:00Z.") from exc


def _allowed_types(value: object, content: ContentPolicy) -> tuple[str, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not value or len(value) > 50:
        raise BadRequestError("allowedTypes must be a list of 1 to 50 types such as application/pdf or image/*.")
    patterns = []
    for item in value:
        if not isinstance(item, str) or not TYPE_PATTERN.fullmatch(item.lower()):
            raise BadRequestError(f"allowedTypes: {str(item)[:40]!r} is not a type such as image/png or image/*.")
        pattern = item.lower()
        if not any(type_allowed((pattern,), accepted) for accepted in content.accepted):
            raise BadRequestError(f"allowedTypes: Cartable accepts no file of type {pattern}.")
        patterns.append(pattern)
    return tuple(dict.fromkeys(patterns))


def _instructions(value: object) -> str | None:
    """What the students read about the homework: NFC text up to MAX_INSTRUCTIONS characters (line
    breaks and tabs allowed, no other control), or None when empty."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadRequestError(f"instructions must be a string of at most {MAX_INSTRUCTIONS} characters.")
    text = nfc(value).strip()
    problem = text_problem(text.replace("\r\n", "\n").replace("\n", " ").replace("\t", " "))
    if problem:
        raise BadRequestError(f"instructions {problem}.")
    if len(text) > MAX_INSTRUCTIONS:
        raise BadRequestError(f"instructions must be a string of at most {MAX_INSTRUCTIONS} characters.")
    return text or None


def submitted_at_of(file: FileRecord) -> datetime:
    """When a submission was turned in: its served bytes' arrival in storage (the server's clock, not the
    tablet's, and not when the scan ended); a file never served, its last change."""
    return file.arrived_at or file.updated_at


def is_late(file: FileRecord, assignment: Assignment) -> bool:
    """Turned in after the due time (the same rule for the submissions list and receipts)."""
    return submitted_at_of(file) > assignment.due_at


def zip_segment(text: str) -> str:
    """A name safe inside a ZIP on every system: no separators, controls or reserved characters."""
    cleaned = "".join("_" if c in '/\\:*?"<>|' or ord(c) < 32 else c for c in text).strip(" .")
    return cleaned[:120] or "_"


STUDENT_POSITION = re.compile(r"[A-Za-z0-9_-]{1,64}")


def submission_json(assignment: Assignment, student: str, files: list[FileRecord]) -> dict[str, Any]:
    """One student's line of the submissions: their files, when they turned in, late or missing."""
    own = [f for f in files if not f.is_feedback]
    returned = [f for f in files if f.is_feedback and f.status is FileStatus.AVAILABLE]
    if not own:
        return {"student": student, "files": [], "submittedAt": None, "late": False, "missing": True, "feedback": []}
    available = [f for f in own if f.status is FileStatus.AVAILABLE]
    submitted_at = max(submitted_at_of(f) for f in (available or own))
    return {
        "student": student,
        "files": [file_json(f) for f in own],
        "submittedAt": iso(submitted_at),
        "late": submitted_at > assignment.due_at,
        "missing": False,
        "feedback": [file_json(f) for f in returned],
    }


def archive_entries(folder: str, files: list[FileRecord]) -> list[ArchiveEntry]:
    """`Class - Assignment/Student - file.ext` for each file, made unique."""
    entries: list[ArchiveEntry] = []
    seen: set[str] = set()
    for file in sorted(files, key=lambda f: (f.owner, f.name)):
        base = f"{folder}/{zip_segment(file.owner)} - {zip_segment(file.name)}"
        name, n = base, 1
        while name in seen:
            n += 1
            stem, dot, ext = base.rpartition(".")
            name = f"{stem} ({n}).{ext}" if dot and "/" not in ext else f"{base} ({n})"
        seen.add(name)
        assert file.object_key is not None
        entries.append(ArchiveEntry(name=name, key=file.object_key, size=file.size))
    return entries


class AssignmentStore(Protocol):
    """What assignments need: classes, assignments, submissions' folders, the audit trail."""

    def list_folder(
        self, school: str, space: SpaceRef, path: str, limit: int, cursor: str | None, owner: str | None = None
    ) -> Page: ...

    def put_assignment(self, assignment: Assignment) -> None: ...

    def update_assignment(self, assignment: Assignment) -> None: ...

    def delete_assignment(self, school: str, assignment_id: str, now: datetime) -> None: ...

    def trash_file(self, file_id: str, now: datetime, audit: AuditEntry) -> None: ...

    def list_assignments(self, school: str, class_id: str) -> list[Assignment]: ...

    def get_class(self, school: str, class_id: str) -> ClassRecord | None: ...

    def record_audit(self, entry: AuditEntry) -> None: ...


class AssignmentService:
    """Creates and lists assignments and gathers their submissions."""

    def __init__(
        self,
        catalog: AssignmentStore,
        access: AccessControl,
        content: ContentPolicy,
        max_size: int,
        store: ObjectStore,
        archiver: Archiver,
        download_ttl: int,
    ) -> None:
        self._catalog = catalog
        self._access = access
        self._content = content
        self._max_size = max_size
        self._store = store
        self._archiver = archiver
        self._download_ttl = download_ttl

    def create(self, principal: Principal, class_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """A new assignment of a class; its teachers only."""
        class_id = require_id(class_id, "classId")
        self._access.space(principal, SpaceRef(SpaceKind.CLASS, class_id)).require(Action.ASSIGN)
        due_at = _time(body, "dueAt", required=True)
        assert due_at is not None
        draft = Assignment(
            id=new_id(),
            school=principal.school,
            class_id=class_id,
            title="",
            due_at=due_at,
            closes_at=None,
            max_size=None,
            allowed_types=None,
            created_by=principal.user_id,
            created_at=utcnow().replace(microsecond=0),
        )
        assignment = self._apply(draft, {"title": body.get("title"), **body})
        self._catalog.put_assignment(assignment)
        return assignment_json(assignment)

    def _apply(self, assignment: Assignment, body: Mapping[str, Any]) -> Assignment:
        """The assignment with the fields `body` gives (of EDITABLE; null clears an optional one), each
        validated as at creation, and closesAt still not before dueAt; or 400."""
        changes: dict[str, Any] = {}
        if "title" in body:
            changes["title"] = check_title(body["title"], "title", MAX_TITLE)
        if "instructions" in body:
            changes["instructions"] = _instructions(body["instructions"])
        if "dueAt" in body:
            changes["due_at"] = _time(body, "dueAt", required=True)
        if "closesAt" in body:
            changes["closes_at"] = _time(body, "closesAt", required=False)
        if "maxSize" in body:
            max_size = body["maxSize"]
            if max_size is not None and (
                not isinstance(max_size, int) or isinstance(max_size, bool) or not 1 <= max_size <= self._max_size
            ):
                raise BadRequestError(f"maxSize must be an integer from 1 to {self._max_size}.")
            changes["max_size"] = max_size
        if "allowedTypes" in body:
            changes["allowed_types"] = _allowed_types(body["allowedTypes"], self._content)
        changed = replace(assignment, **changes)
        if changed.closes_at is not None and changed.closes_at < changed.due_at:
            raise BadRequestError("closesAt must not be before dueAt.")
        return changed

    def get(self, principal: Principal, assignment_id: str) -> dict[str, Any]:
        """One assignment: the class's teachers and students (404 for anyone else, and once deleted)."""
        access = self._access.space(principal, SpaceRef(SpaceKind.ASSIGNMENT, require_id(assignment_id, "id")))
        access.require(Action.LIST)
        assert access.assignment is not None
        return assignment_json(access.assignment)

    def _for_teacher(self, principal: Principal, assignment_id: str) -> Assignment:
        """The assignment, if the caller may change it: 404 if they cannot see it, 403 if they only
        read it (a student) or its year is closed."""
        access = self._access.space(principal, SpaceRef(SpaceKind.ASSIGNMENT, require_id(assignment_id, "id")))
        access.require(Action.LIST)
        access.for_class().require(Action.ASSIGN)
        assert access.assignment is not None
        return access.assignment

    def update(self, principal: Principal, assignment_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Change an assignment (its class's teachers). `late` is computed from dueAt whenever
        submissions are read, so a new due date re-marks them all at once. Concurrent changes: the last
        writer wins."""
        assignment = self._for_teacher(principal, assignment_id)
        if not body:
            raise BadRequestError(f"Give at least one of {', '.join(EDITABLE)}.")
        unknown = sorted(set(body) - set(EDITABLE))
        if unknown:
            raise BadRequestError(f"{unknown[0][:40]!r} cannot be changed; only {', '.join(EDITABLE)} can.")
        changed = self._apply(assignment, body)
        if changed != assignment:
            try:
                self._catalog.update_assignment(changed)
            except StaleWriteError as exc:  # deleted or archived meanwhile
                raise NotFoundError().because("the assignment was deleted or archived meanwhile") from exc
            fields = ",".join(k for k in EDITABLE if k in body)
            self._catalog.record_audit(
                entry(principal, "assignment.update", f"assignment:{assignment.id}", reason=fields)
            )
        return assignment_json(changed)

    def delete(self, principal: Principal, assignment_id: str) -> None:
        """Send an assignment to the trash with its submissions (its class's teachers): each file goes
        to the trash as a DELETE of it would (purged 30 days later), then the assignment is marked
        deleted: it leaves the class's list and its routes answer 404. Neither comes back (a file's
        restore needs its space, and the contract offers no undelete); the trash of its space stays
        listed for its teachers until the purge. A crash midway leaves the assignment with fewer files;
        deleting again finishes."""
        assignment = self._for_teacher(principal, assignment_id)
        now = utcnow()
        cursor = None
        while True:
            page = self._catalog.list_folder(principal.school, assignment.space, "/", PAGE, cursor)
            for file in page.files:
                audit = entry(principal, "file.delete", f"file:{file.id}", reason=f"assignment:{assignment.id}")
                try:
                    self._catalog.trash_file(file.id, now, audit)
                except StaleWriteError:
                    continue  # deleted meanwhile: in the trash already
            cursor = page.next_cursor
            if cursor is None:
                break
        try:
            self._catalog.delete_assignment(principal.school, assignment.id, now)
        except StaleWriteError as exc:
            raise NotFoundError().because("no such assignment") from exc
        self._catalog.record_audit(entry(principal, "assignment.delete", f"assignment:{assignment.id}"))

    def list_for_class(self, principal: Principal, class_id: str) -> dict[str, Any]:
        """The assignments of a class, by due date; its members (and admins) only."""
        class_id = require_id(class_id, "classId")
        self._access.space(principal, SpaceRef(SpaceKind.CLASS, class_id)).require(Action.LIST)
        items = [assignment_json(a) for a in self._catalog.list_assignments(principal.school, class_id)]
        return {"items": items, "nextCursor": None}

    def submissions(
        self, principal: Principal, assignment_id: str, limit: str | None = None, cursor: str | None = None
    ) -> dict[str, Any]:
        """A teacher of the class: every student of the class, a page at a time in student order, with
        their submission or `missing`; a student: their own submission only (one page)."""
        access = self._access.space(principal, SpaceRef(SpaceKind.ASSIGNMENT, require_id(assignment_id, "id")))
        access.require(Action.LIST)
        assignment = access.assignment
        assert assignment is not None
        size = parse_limit(limit)
        if not access.sees_every_file():
            own = self._files_of(principal.school, assignment, principal.user_id)
            return {"items": [submission_json(assignment, principal.user_id, own)] if own else [], "nextCursor": None}
        klass = self._catalog.get_class(principal.school, assignment.class_id)
        after = decode_position(cursor, STUDENT_POSITION) if cursor else ""
        roster = sorted(s for s in (klass.students if klass else ()) if s > after)
        page = roster[:size]
        items = [submission_json(assignment, s, self._files_of(principal.school, assignment, s)) for s in page]
        more = len(roster) > size
        return {"items": items, "nextCursor": encode_position(page[-1]) if more else None}

    def _files_of(self, school: str, assignment: Assignment, student: str) -> list[FileRecord]:
        """One student's files in the assignment (submissions and feedback): a query or two, whatever
        the class's size."""
        files: list[FileRecord] = []
        cursor = None
        while True:
            page = self._catalog.list_folder(school, assignment.space, "/", PAGE, cursor, student)
            files.extend(page.files)
            cursor = page.next_cursor
            if cursor is None:
                return files

    def archive(self, principal: Principal, assignment_id: str) -> str:
        """Every available submission as one ZIP in storage; answers a short-lived URL to it (teachers)."""
        target, name = self.build_archive(principal, assignment_id)
        return self._store.presign_get(target, name, "application/zip", self._download_ttl)

    def check_archive(self, principal: Principal, assignment_id: str) -> None:
        """The caller may collect every submission (a teacher of the class), else 404/403."""
        access = self._access.space(principal, SpaceRef(SpaceKind.ASSIGNMENT, require_id(assignment_id, "id")))
        access.require(Action.LIST)
        if not access.sees_every_file():
            raise ForbiddenError("Only the class's teachers may collect every submission.")

    def build_archive(self, principal: Principal, assignment_id: str) -> tuple[str, str]:
        """Write the ZIP of every available submission into `exports/`: its key and download name."""
        assignment, files = self.submitted_files(principal, assignment_id, teachers_only=True)
        klass = self._catalog.get_class(principal.school, assignment.class_id)
        folder = zip_segment(f"{klass.name if klass else assignment.class_id} - {assignment.title}")
        available = [f for f in files if f.status is FileStatus.AVAILABLE and f.object_key and not f.is_feedback]
        target = f"exports/{principal.school}/{assignment.id}/{new_id()}.zip"
        size = self._archiver.archive(archive_entries(folder, available), target)
        reason = f"{len(available)} files, {size} bytes"
        self._catalog.record_audit(entry(principal, "assignment.archive", f"assignment:{assignment.id}", reason=reason))
        return target, f"{folder}.zip"

    def submitted_files(
        self, principal: Principal, assignment_id: str, teachers_only: bool = False
    ) -> tuple[Assignment, list[FileRecord]]:
        """The assignment and the files the caller may see in it (a student: their own)."""
        access = self._access.space(principal, SpaceRef(SpaceKind.ASSIGNMENT, require_id(assignment_id, "id")))
        access.require(Action.LIST)
        assert access.assignment is not None
        if teachers_only and not access.sees_every_file():
            raise ForbiddenError("Only the class's teachers may collect every submission.")
        owner = None if access.sees_every_file() else principal.user_id
        files: list[FileRecord] = []
        cursor = None
        while True:
            page = self._catalog.list_folder(principal.school, access.assignment.space, "/", PAGE, cursor, owner)
            files.extend(page.files)
            cursor = page.next_cursor
            if cursor is None:
                return access.assignment, files
