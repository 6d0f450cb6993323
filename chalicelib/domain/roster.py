"""Classes of a school and who teaches and studies in them: one class at a time, or a whole CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from chalicelib.domain.access import AccessControl
from chalicelib.domain.audit import entry
from chalicelib.domain.models import Action, ClassRecord, Principal, is_valid_id, require_id
from chalicelib.domain.names import check_title, nfc, text_problem
from chalicelib.domain.paging import parse_limit
from chalicelib.domain.schema import CLASS
from chalicelib.errors import BadRequestError, ConflictError, PayloadTooLargeError

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from chalicelib.domain.models import AuditEntry, Membership
    from chalicelib.domain.ports import ClassPage

MAX_MEMBERS = 1000
MAX_CLASS_NAME = 200
MAX_IMPORT_BYTES = 5 * 1024 * 1024  # a region's biggest school is ~100 kB of CSV
MAX_REPORTED_ERRORS = 1000
COLUMNS = ("class_id", "class_name", "user_id", "role")


def class_json(record: ClassRecord, include_students: bool) -> dict[str, Any]:
    """The contract's class; students do not receive their classmates' list. `archivedAt` and `year`
    (ours: a closed school year, read-only) only once archived."""
    body = CLASS.to_json(record)
    if not include_students:
        del body["students"]
    if record.archived_at is None:
        del body["archivedAt"], body["year"]
    return body


def _members(body: Mapping[str, Any], field_name: str) -> tuple[str, ...]:
    value = body.get(field_name, [])
    if not isinstance(value, list) or len(value) > MAX_MEMBERS:
        raise BadRequestError(f"{field_name} must be a list of at most {MAX_MEMBERS} user ids.")
    return tuple(dict.fromkeys(require_id(v, f"each of {field_name}") for v in value))


def _class_name(value: object) -> str:
    return check_title(value, "name", MAX_CLASS_NAME)


@dataclass
class _Draft:
    name: str
    line: int
    members: dict[str, tuple[str, int]] = field(default_factory=dict)  # user → (role, line)


@dataclass
class RosterImport:
    """What a CSV says, line by line: the classes it describes and the lines it could not take."""

    classes: dict[str, _Draft] = field(default_factory=dict)
    errors: list[dict[str, Any]] = field(default_factory=list)

    def error(self, line: int, message: str) -> None:
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append({"line": line, "message": message})

    def take(self, line: int, row: dict[str, str]) -> None:
        """Apply one data line, or report why it is refused (a refused line changes nothing)."""
        class_id, name = row["class_id"].strip(), nfc(row["class_name"]).strip()
        user, role = row["user_id"].strip(), row["role"].strip().lower()
        problem = _line_problem(class_id, name, user, role)
        if problem:
            self.error(line, problem)
            return
        draft = self.classes.get(class_id)
        if draft is None:
            draft = self.classes[class_id] = _Draft(name=name, line=line)
        elif draft.name != name:
            self.error(line, f"class {class_id} is named {draft.name!r} on line {draft.line}, not {name!r}")
            return
        if user in draft.members:
            earlier_role, earlier = draft.members[user]
            what = "duplicates" if earlier_role == role else f"contradicts ({earlier_role})"
            self.error(line, f"{user} in {class_id} {what} line {earlier}")
            return
        draft.members[user] = (role, line)

    def records(self, school: str) -> list[ClassRecord]:
        return [
            ClassRecord(
                id=class_id,
                school=school,
                name=draft.name,
                teachers=tuple(u for u, (r, _) in draft.members.items() if r == "teacher"),
                students=tuple(u for u, (r, _) in draft.members.items() if r == "student"),
            )
            for class_id, draft in self.classes.items()
        ]


def _line_problem(class_id: str, name: str, user: str, role: str) -> str | None:
    if not is_valid_id(class_id):
        return "class_id must match [A-Za-z0-9_-]{1,64}"
    if not name or len(name) > MAX_CLASS_NAME:
        return f"class_name must be 1 to {MAX_CLASS_NAME} characters"
    problem = text_problem(name)
    if problem:
        return f"class_name {problem}"
    if not is_valid_id(user):
        return "user_id must match [A-Za-z0-9_-]{1,64}"
    if role not in ("teacher", "student"):
        return f"role must be teacher or student, not {role[:20]!r}"
    return None


def parse_roster(raw: bytes) -> RosterImport:
    """Read the contract's CSV (`class_id,class_name,user_id,role`); a bad header refuses the whole file."""
    if len(raw) > MAX_IMPORT_BYTES:
        raise PayloadTooLargeError(f"A roster import is limited to {MAX_IMPORT_BYTES} bytes.")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadRequestError("The CSV must be UTF-8 text.") from exc
    if "\x00" in text:
        raise BadRequestError("The CSV must be text, not binary data.")
    reader = csv.reader(io.StringIO(text, newline=""))
    header = [h.strip().lower() for h in next(reader, [])]
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise BadRequestError(f"The CSV header must name {','.join(COLUMNS)}; missing: {', '.join(missing)}.")
    result = RosterImport()
    positions = {c: header.index(c) for c in COLUMNS}
    try:
        for row in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                result.error(line, f"expected {len(header)} fields, found {len(row)}")
                continue
            result.take(line, {c: row[i] for c, i in positions.items()})
    except csv.Error as exc:
        result.error(reader.line_num, f"unreadable CSV: {exc}")
    return result


class RosterStore(Protocol):
    """What the roster reads and writes: classes and memberships."""

    def membership(self, school: str, user_id: str) -> Membership: ...

    def get_class(self, school: str, class_id: str) -> ClassRecord | None: ...

    def put_class(self, record: ClassRecord) -> None: ...

    def list_classes(self, school: str, limit: int, cursor: str | None) -> ClassPage: ...

    def get_classes(self, school: str, class_ids: Iterable[str]) -> list[ClassRecord]: ...

    def put_roster(self, school: str, classes: Sequence[ClassRecord]) -> int: ...

    def record_audit(self, entry: AuditEntry) -> None: ...


class RosterService:
    """Creates, replaces and lists classes; admins manage, members read their own."""

    def __init__(self, catalog: RosterStore, access: AccessControl) -> None:
        self._catalog = catalog
        self._access = access

    def put_class(self, principal: Principal, class_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Create or replace a class and its membership; removed members lose access at once."""
        self._access.school(principal).require(Action.MANAGE)
        class_id = require_id(class_id, "classId")
        name = _class_name(body.get("name"))
        teachers = _members(body, "teachers")
        students = _members(body, "students")
        both = set(teachers) & set(students)
        if both:
            raise BadRequestError(f"A user cannot be both teacher and student of a class: {sorted(both)[0]}.")
        record = ClassRecord(class_id, principal.school, name, teachers, students)
        before = self._catalog.get_class(principal.school, class_id)
        if before is not None and before.archived_at is not None:
            raise ConflictError(f"Class {class_id} belongs to the closed year {before.year}; it is read-only.")
        self._catalog.put_class(record)
        return class_json(record, include_students=True)

    def import_roster(self, principal: Principal, raw: bytes) -> dict[str, Any]:
        """Apply the good lines of a roster CSV (each class it names gets exactly its good lines)."""
        self._access.school(principal).require(Action.MANAGE)
        parsed = parse_roster(raw)
        records = parsed.records(principal.school)
        archived = {c.id for c in self._catalog.get_classes(principal.school, [r.id for r in records]) if c.archived_at}
        if archived:
            records = [r for r in records if r.id not in archived]
            parsed.errors.extend(
                {"line": 0, "message": f"class {c} belongs to a closed school year: not changed"}
                for c in sorted(archived)
            )
        self._catalog.put_roster(principal.school, records)
        members = sum(len(r.teachers) + len(r.students) for r in records)
        summary = f"{len(records)} classes, {members} members, {len(parsed.errors)} lines refused"
        self._catalog.record_audit(entry(principal, "roster.import", f"school:{principal.school}", reason=summary))
        return {"classes": len(records), "members": members, "errors": parsed.errors}

    def list_classes(self, principal: Principal, limit: str | None, cursor: str | None) -> dict[str, Any]:
        """Every class for an admin; the caller's own classes for teachers and students."""
        page_size = parse_limit(limit)
        if self._access.school(principal).allows(Action.MANAGE):
            page = self._catalog.list_classes(principal.school, page_size, cursor or None)
            return {"items": [class_json(c, True) for c in page.classes], "nextCursor": page.next_cursor}
        membership = self._catalog.membership(principal.school, principal.user_id)
        classes = self._catalog.get_classes(principal.school, membership.teaching | membership.studying)
        items = [class_json(c, include_students=c.id in membership.teaching) for c in classes]
        return {"items": items, "nextCursor": None}
