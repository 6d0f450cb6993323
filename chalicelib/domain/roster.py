"""Classes of a school and who teaches and studies in them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalicelib.domain.files import parse_limit
from chalicelib.domain.models import ClassRecord, Principal, Role, require_id
from chalicelib.domain.ports import Catalog
from chalicelib.errors import BadRequestError, ForbiddenError

MAX_MEMBERS = 1000
MAX_CLASS_NAME = 200


def class_json(record: ClassRecord, include_students: bool) -> dict[str, Any]:
    """The contract's class; students do not receive their classmates' list."""
    body: dict[str, Any] = {"id": record.id, "name": record.name, "teachers": list(record.teachers)}
    if include_students:
        body["students"] = list(record.students)
    return body


def _members(body: Mapping[str, Any], field: str) -> tuple[str, ...]:
    value = body.get(field, [])
    if not isinstance(value, list) or len(value) > MAX_MEMBERS:
        raise BadRequestError(f"{field} must be a list of at most {MAX_MEMBERS} user ids.")
    members = tuple(dict.fromkeys(require_id(v, f"each of {field}") for v in value))
    return members


class RosterService:
    """Creates, replaces and lists classes; admins manage, members read their own."""

    def __init__(self, catalog: Catalog) -> None:
        self._catalog = catalog

    def put_class(self, principal: Principal, class_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Create or replace a class and its membership; removed members lose access at once."""
        if principal.role is not Role.ADMIN:
            raise ForbiddenError("Only a school admin may change classes.")
        class_id = require_id(class_id, "classId")
        name = body.get("name")
        if not isinstance(name, str) or not name.strip() or len(name) > MAX_CLASS_NAME:
            raise BadRequestError(f"name must be a non-empty string of at most {MAX_CLASS_NAME} characters.")
        teachers = _members(body, "teachers")
        students = _members(body, "students")
        both = set(teachers) & set(students)
        if both:
            raise BadRequestError(f"A user cannot be both teacher and student of a class: {sorted(both)[0]}.")
        record = ClassRecord(class_id, principal.school, name.strip(), teachers, students)
        self._catalog.put_class(record)
        return class_json(record, include_students=True)

    def list_classes(self, principal: Principal, limit: str | None, cursor: str | None) -> dict[str, Any]:
        """Every class for an admin; the caller's own classes for teachers and students."""
        if principal.role is Role.ADMIN:
            page = self._catalog.list_classes(principal.school, parse_limit(limit), cursor or None)
            return {"items": [class_json(c, True) for c in page.classes], "nextCursor": page.next_cursor}
        parse_limit(limit)
        membership = self._catalog.membership(principal.school, principal.user_id)
        classes = self._catalog.get_classes(principal.school, membership.teaching | membership.studying)
        items = [class_json(c, include_students=c.id in membership.teaching) for c in classes]
        return {"items": items, "nextCursor": None}
