"""Shares: by their file, by their id, by whom they were made to and by whom they were made (newest first)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from chalicelib.adapters.postgres.audit import write_audit
from chalicelib.adapters.postgres.db import Repository, Row, second
from chalicelib.adapters.postgres.records import insert
from chalicelib.domain.models import AuditEntry, Share, iso
from chalicelib.domain.schema import SHARE
from chalicelib.errors import StaleWriteError

SHARE_COLUMNS = ", ".join(SHARE.columns)


def share_from_row(row: Row) -> Share:
    return SHARE.from_row(row)


class ShareRepository(Repository):
    """`shares`. An expired share is still read (the domain checks `live`), until the sweeper deletes it
    a day after it expired, as DynamoDB's TTL would."""

    def file_shares(self, file_id: str) -> list[Share]:
        """Every share of a file, as committed: a revocation counts on the next request."""
        rows = self._db.all(
            f'SELECT {SHARE_COLUMNS} FROM shares WHERE file_id = %s ORDER BY share_id COLLATE "C"',  # noqa: S608 - constant
            (file_id,),
        )
        return [share_from_row(r) for r in rows]

    def create_share(self, share: Share, audit: AuditEntry) -> None:
        """The share and the audit entry together, on condition its file exists (trashed or not) and its
        id is new (StaleWriteError otherwise)."""
        with self._db.transaction() as conn:
            if conn.execute("SELECT 1 FROM files WHERE file_id = %s FOR SHARE", (share.file_id,)).fetchone() is None:
                raise StaleWriteError("The record changed meanwhile.", [0])
            row = {
                **SHARE.to_row(share),
                "position": f"{iso(share.created_at)}#{share.id}",
                "gone_at": None if share.expires_at is None else second(share.expires_at + timedelta(days=1)),
            }
            conn.execute(insert("shares", row), row)
            write_audit(conn, audit)

    def get_share(self, school: str, share_id: str) -> Share | None:
        row = self._db.one(f"SELECT {SHARE_COLUMNS} FROM shares WHERE share_id = %s", (share_id,))  # noqa: S608
        if row is None or row["school"] != school:
            return None
        return share_from_row(row)

    def delete_share(self, share: Share, audit: AuditEntry) -> None:
        with self._db.transaction() as conn:
            conn.execute("DELETE FROM shares WHERE share_id = %s", (share.id,))
            write_audit(conn, audit)

    def shares_received(
        self, school: str, targets: Sequence[tuple[str, str]], limit: int, before: str | None = None
    ) -> list[Share]:
        """Shares made to any of the targets (the user, their classes), newest first, at most `limit` of
        each (older than the position `before`): one query per target, merged by the caller."""
        found: list[Share] = []
        for kind, ident in targets:
            rows = self._db.all(
                f"SELECT {SHARE_COLUMNS} FROM shares WHERE school = %s AND target_kind = %s"  # noqa: S608
                " AND target_id = %s AND position < %s ORDER BY position DESC LIMIT %s",
                (school, kind, ident, "\U0010ffff" if before is None else before, limit),
            )
            found.extend(share_from_row(r) for r in rows)
        return found

    def shares_given(self, school: str, user_id: str, limit: int, before: str | None = None) -> list[Share]:
        """Shares the user made, newest first, at most `limit` (older than the position `before`): one
        query on the `shares_creator` index (migration 0003)."""
        rows = self._db.all(
            f"SELECT {SHARE_COLUMNS} FROM shares WHERE school = %s AND created_by = %s"  # noqa: S608
            " AND position < %s ORDER BY position DESC LIMIT %s",
            (school, user_id, "\U0010ffff" if before is None else before, limit),
        )
        return [share_from_row(r) for r in rows]
