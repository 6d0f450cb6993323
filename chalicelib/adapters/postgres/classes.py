"""Classes, memberships, the roster and assignments."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from chalicelib.adapters.postgres.db import Repository, Row, decode_cursor, encode_cursor, second
from chalicelib.adapters.postgres.records import insert
from chalicelib.domain.models import Assignment, ClassRecord, Membership
from chalicelib.domain.ports import ClassPage
from chalicelib.domain.schema import ASSIGNMENT, CLASS
from chalicelib.errors import StaleWriteError

if TYPE_CHECKING:
    import psycopg


def class_from_row(row: Row) -> ClassRecord:
    return CLASS.from_row(row)


def assignment_from_row(row: Row) -> Assignment:
    return ASSIGNMENT.from_row(row)


def _put_member(
    conn: psycopg.Connection[Row], school: str, user: str, class_id: str, role: str, archived: bool
) -> None:
    conn.execute(
        "INSERT INTO members (school, user_id, class_id, role, archived) VALUES (%s, %s, %s, %s, %s)"
        " ON CONFLICT (school, user_id, class_id) DO UPDATE SET role = EXCLUDED.role, archived = EXCLUDED.archived",
        (school, user, class_id, role, archived),
    )


def _lock_roster(conn: psycopg.Connection[Row], school: str) -> None:
    """The school's roster, for the rest of the transaction: its imports and year closings are rare and
    take their turn (an advisory lock: the classes they create have no row to lock yet)."""
    conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"roster#{school}",))


class ClassRepository(Repository):
    """`classes`, `members` and `assignments`."""

    def membership(self, school: str, user_id: str) -> Membership:
        """The caller's classes, as committed: a removal counts on the next request."""
        rows = self._db.all(
            "SELECT class_id, role, archived FROM members WHERE school = %s AND user_id = %s", (school, user_id)
        )
        teaching = frozenset(str(r["class_id"]) for r in rows if r["role"] == "teacher")
        studying = frozenset(str(r["class_id"]) for r in rows if r["role"] != "teacher")
        archived = frozenset(str(r["class_id"]) for r in rows if r["archived"])
        return Membership(teaching, studying, archived)

    def archive_class(self, record: ClassRecord, year: str, now: datetime, assignments: Sequence[Assignment]) -> None:
        """Close a class's school year in one transaction: its members' rows, its assignments, and the
        class last, on condition it exists and was not archived yet (StaleWriteError otherwise, and
        nothing is written; closing again after a crash finds nothing half done)."""
        members = [(u, "teacher") for u in record.teachers] + [(u, "student") for u in record.students]
        with self._db.transaction() as conn:
            _lock_roster(conn, school=record.school)
            for user, role in members:
                _put_member(conn, record.school, user, record.id, role, True)
            for assignment in assignments:
                conn.execute(
                    "UPDATE assignments SET archived_at = %s WHERE school = %s AND assignment_id = %s",
                    (second(now), record.school, assignment.id),
                )
            done = conn.execute(
                "UPDATE classes SET archived_at = %s, year = %s WHERE school = %s AND class_id = %s"
                " AND archived_at IS NULL",
                (second(now), year, record.school, record.id),
            )
            if not done.rowcount:
                raise StaleWriteError("The record changed meanwhile.")

    def get_class(self, school: str, class_id: str) -> ClassRecord | None:
        row = self._db.one("SELECT * FROM classes WHERE school = %s AND class_id = %s", (school, class_id))
        return None if row is None else class_from_row(row)

    def put_class(self, record: ClassRecord) -> None:
        """Create or replace a class; membership rows follow the new lists exactly."""
        self.put_roster(record.school, [record])

    def put_roster(self, school: str, classes: Sequence[ClassRecord]) -> int:
        """Create or replace classes in one transaction; only what changed is written (a replaced class
        loses its archive mark, as a DynamoDB Put of the whole item). The school's roster lock makes two
        imports apply one after the other, each against what the other wrote (a class that does not
        exist yet has no row to lock). Answers the writes made."""
        writes = 0
        with self._db.transaction() as conn:
            _lock_roster(conn, school)
            rows = conn.execute(
                "SELECT * FROM classes WHERE school = %s AND class_id = ANY(%s)",
                (school, sorted({c.id for c in classes})),
            ).fetchall()
            old = {row["class_id"]: class_from_row(row) for row in rows}
            for record in classes:
                before = old.get(record.id)
                wanted = {u: "teacher" for u in record.teachers} | {u: "student" for u in record.students}
                had = {} if before is None else {u: "teacher" for u in before.teachers}
                had |= {} if before is None else {u: "student" for u in before.students}
                for user, role in wanted.items():  # memberships first: they decide access
                    if had.get(user) != role:
                        _put_member(conn, school, user, record.id, role, False)
                        writes += 1
                for user in had.keys() - wanted.keys():
                    conn.execute(
                        "DELETE FROM members WHERE school = %s AND user_id = %s AND class_id = %s",
                        (school, user, record.id),
                    )
                    writes += 1
                if before != record:
                    conn.execute(
                        "INSERT INTO classes (school, class_id, name, teachers, students) VALUES (%s, %s, %s, %s, %s)"
                        " ON CONFLICT (school, class_id) DO UPDATE SET name = EXCLUDED.name,"
                        " teachers = EXCLUDED.teachers, students = EXCLUDED.students, archived_at = NULL, year = NULL",
                        (school, record.id, record.name, list(record.teachers), list(record.students)),
                    )
                    writes += 1
        return writes

    def list_classes(self, school: str, limit: int, cursor: str | None) -> ClassPage:
        partition = f"SCHOOL#{school}"
        params: dict[str, Any] = {"school": school, "n": limit + 1, "after": ""}
        if cursor:
            params["after"] = decode_cursor(cursor, {"pk": partition}, "sk").removeprefix("CLASS#")
        rows = self._db.all(
            "SELECT * FROM classes WHERE school = %(school)s AND class_id > %(after)s ORDER BY class_id LIMIT %(n)s",
            params,
        )
        next_cursor = None
        if len(rows) > limit:
            rows = rows[:limit]
            next_cursor = encode_cursor({"pk": partition, "sk": f"CLASS#{rows[-1]['class_id']}"})
        return ClassPage(classes=[class_from_row(r) for r in rows], next_cursor=next_cursor)

    def get_classes(self, school: str, class_ids: Iterable[str]) -> list[ClassRecord]:
        ids = sorted(set(class_ids))
        if not ids:
            return []
        rows = self._db.all(
            "SELECT * FROM classes WHERE school = %s AND class_id = ANY(%s) ORDER BY class_id", (school, ids)
        )
        return [class_from_row(r) for r in rows]

    def put_assignment(self, assignment: Assignment) -> None:
        """A new assignment (StaleWriteError if its id is taken)."""
        row = ASSIGNMENT.to_row(assignment)
        self._db.run(insert("assignments", row), row)

    def get_assignment(self, school: str, assignment_id: str) -> Assignment | None:
        row = self._db.one(
            "SELECT * FROM assignments WHERE school = %s AND assignment_id = %s", (school, assignment_id)
        )
        return None if row is None else assignment_from_row(row)

    def update_assignment(self, assignment: Assignment) -> None:
        """Write what a teacher may change over an assignment that exists, is not deleted and not
        archived (StaleWriteError otherwise): the last writer wins, and neither a year's closing nor a
        deletion is undone."""
        row = ASSIGNMENT.to_row(assignment)
        done = self._db.run(
            "UPDATE assignments SET title = %(title)s, instructions = %(instructions)s, due_at = %(due_at)s,"
            " closes_at = %(closes_at)s, max_size = %(max_size)s, allowed_types = %(allowed_types)s"
            " WHERE school = %(school)s AND assignment_id = %(assignment_id)s"
            " AND deleted_at IS NULL AND archived_at IS NULL",
            row,
        )
        if not done:
            raise StaleWriteError("The record changed meanwhile.")

    def delete_assignment(self, school: str, assignment_id: str, now: datetime) -> None:
        """Mark an assignment deleted (the first deletion's time stays): it leaves its class's list;
        StaleWriteError if there is no such assignment."""
        done = self._db.run(
            "UPDATE assignments SET deleted_at = COALESCE(deleted_at, %s) WHERE school = %s AND assignment_id = %s",
            (second(now), school, assignment_id),
        )
        if not done:
            raise StaleWriteError("The record changed meanwhile.")

    def list_assignments(self, school: str, class_id: str) -> list[Assignment]:
        """A class's assignments by due date (not the deleted ones)."""
        rows = self._db.all(
            "SELECT * FROM assignments WHERE school = %s AND class_id = %s AND deleted_at IS NULL"
            " ORDER BY due_at, assignment_id",
            (school, class_id),
        )
        return [assignment_from_row(r) for r in rows]
