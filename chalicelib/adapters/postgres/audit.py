"""The school's audit trail: entries written alone or inside another aggregate's transaction."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from chalicelib.adapters.postgres.db import Repository, Row, decode_cursor, encode_cursor, second
from chalicelib.adapters.postgres.records import insert
from chalicelib.domain.models import AuditEntry
from chalicelib.domain.schema import AUDIT

if TYPE_CHECKING:
    import psycopg

AUDIT_RETENTION = timedelta(days=400)  # a school year and its appeals; then the sweeper deletes it


def audit_position(entry: AuditEntry) -> str:
    return f"{entry.at.strftime('%Y-%m-%dT%H:%M:%S.%fZ')}#{entry.id}"


def audit_row(entry: AuditEntry) -> Row:
    return {**AUDIT.to_row(entry), "position": audit_position(entry), "gone_at": second(entry.at + AUDIT_RETENTION)}


# The same entry written twice (a retried transaction) is one entry, as a DynamoDB Put of the same key.
INSERT_AUDIT = insert(
    "audit",
    (*AUDIT.columns, "position", "gone_at"),
    " ON CONFLICT (school, position) DO NOTHING",
)


def write_audit(conn: psycopg.Connection[Row], entry: AuditEntry | None) -> None:
    if entry is not None:
        conn.execute(INSERT_AUDIT, audit_row(entry))


def audit_from_row(row: Row) -> AuditEntry:
    return AUDIT.from_row(row)


class AuditRepository(Repository):
    """`audit`: one row per entry, newest first by its position, per school or per actor."""

    def record_audit(self, entry: AuditEntry) -> None:
        with self._db.connection() as conn:
            write_audit(conn, entry)

    def list_audit(
        self, school: str, actor: str | None, limit: int, cursor: str | None
    ) -> tuple[list[AuditEntry], str | None]:
        """A school's audit trail, or one of its users', newest first."""
        partition = f"AUDIT#{school}" if actor is None else f"AUDITUSER#{school}#{actor}"
        params: dict[str, Any] = {"school": school, "actor": actor, "n": limit + 1}
        where = "school = %(school)s" + ("" if actor is None else " AND actor = %(actor)s")
        if cursor:
            params["after"] = decode_cursor(cursor, {"pk": partition}, "sk")
            where += " AND position < %(after)s"
        rows = self._db.all(
            f"SELECT * FROM audit WHERE {where} ORDER BY position DESC LIMIT %(n)s",  # noqa: S608 - constant
            params,
        )
        next_cursor = None
        if len(rows) > limit:
            rows = rows[:limit]
            next_cursor = encode_cursor({"pk": partition, "sk": rows[-1]["position"]})
        return [audit_from_row(r) for r in rows], next_cursor
