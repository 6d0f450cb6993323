"""The trash, retention and purges: what the sweeper finds due (`purge_day`, `grant_day`, `retention`)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from chalicelib.adapters.postgres.audit import write_audit
from chalicelib.adapters.postgres.changes import append_change
from chalicelib.adapters.postgres.db import Repository, decode_cursor, due, encode_cursor, second
from chalicelib.adapters.postgres.files import lock_file, release
from chalicelib.adapters.postgres.records import FILE_COLUMNS, file_from_row
from chalicelib.domain.models import AuditEntry, FileRecord, SpaceRef, iso, parse_iso
from chalicelib.domain.quotas import quota_key
from chalicelib.errors import AlreadyExistsError, BadRequestError, StaleWriteError

TRASH_LIFE = timedelta(days=30)  # a deleted file can be restored this long, then it is purged


class TrashRepository(Repository):
    """A trashed file (`trashed_at`, its purge due in `purge_day`/`purge_at`), `retention` and due grants."""

    def trash_file(self, file_id: str, now: datetime, audit: AuditEntry) -> None:
        """Out of listings and name claims, a `delete` in the feed; restorable until purged. The file's
        row lock makes a concurrent writer wait: a delete is never refused for a lost race."""
        day, moment = due(now + TRASH_LIFE)
        with self._db.transaction() as conn:
            file = lock_file(conn, file_id)
            if file is None or file["trashed_at"] is not None:
                raise StaleWriteError("The file was just removed.")
            row = conn.execute(
                f"UPDATE files SET trashed_at = %s, purge_day = %s, purge_at = %s WHERE file_id = %s"  # noqa: S608
                f" RETURNING {FILE_COLUMNS}",
                (second(now), day, moment, file_id),
            ).fetchone()
            assert row is not None
            write_audit(conn, audit)
            if int(file["change_seq"]):
                append_change(conn, file_from_row(row), "delete")

    def restore_file(self, file_id: str, audit: AuditEntry) -> None:
        """Back in its folder under its name (if still free: the name's unique index) and in the feed."""
        from psycopg import errors

        with self._db.transaction() as conn:
            file = lock_file(conn, file_id)
            if file is None or file["trashed_at"] is None or file["purging_at"] is not None:
                raise StaleWriteError("The file is not in the trash.")
            try:
                row = conn.execute(
                    "UPDATE files SET trashed_at = NULL, purge_day = NULL, purge_at = NULL"  # noqa: S608
                    f" WHERE file_id = %s RETURNING {FILE_COLUMNS}",
                    (file_id,),
                ).fetchone()
            except errors.UniqueViolation as exc:
                raise AlreadyExistsError("Another file now has this name in this folder.") from exc
            assert row is not None
            write_audit(conn, audit)
            if int(file["change_seq"]):
                append_change(conn, file_from_row(row), "upsert")

    def get_trashed_file(self, school: str, file_id: str) -> FileRecord | None:
        row = self._db.one(f"SELECT {FILE_COLUMNS} FROM files WHERE file_id = %s", (file_id,))  # noqa: S608
        if row is None or row["school"] != school or row["trashed_at"] is None:
            return None
        return file_from_row(row)

    def list_trash(
        self, school: str, space: SpaceRef, limit: int, cursor: str | None
    ) -> tuple[list[FileRecord], str | None]:
        """The space's trash, most recently deleted first, in keyset pages."""
        partition = f"TRASH#{school}#{space}"
        params: dict[str, Any] = {"school": school, "space": str(space), "n": limit + 1}
        where = "school = %(school)s AND space = %(space)s AND trashed_at IS NOT NULL"
        if cursor:
            stamp, _, last_id = decode_cursor(cursor, {"gsi1pk": partition}, "gsi1sk").partition("#")
            try:
                params.update(at=parse_iso(stamp), last=last_id)
            except ValueError as exc:
                raise BadRequestError("cursor is not valid.") from exc
            where += ' AND (trashed_at, file_id COLLATE "C") < (%(at)s, %(last)s)'
        rows = self._db.all(
            f"SELECT {FILE_COLUMNS} FROM files WHERE {where}"  # noqa: S608 - constants
            ' ORDER BY trashed_at DESC, file_id COLLATE "C" DESC LIMIT %(n)s',
            params,
        )
        next_cursor = None
        if len(rows) > limit:
            rows = rows[:limit]
            last = rows[-1]
            next_cursor = encode_cursor({"gsi1pk": partition, "gsi1sk": f"{iso(last['trashed_at'])}#{last['file_id']}"})
        return [file_from_row(r) for r in rows], next_cursor

    def put_retention_due(self, school: str, year: str, when: datetime) -> None:
        """The day a closed year's pupils' work falls past the school's retention."""
        day, moment = due(when)
        self._db.run(
            "INSERT INTO retention (school, year, due_day, due_at) VALUES (%s, %s, %s, %s)"
            " ON CONFLICT (school, year) DO UPDATE SET due_day = EXCLUDED.due_day, due_at = EXCLUDED.due_at",
            (school, year, day, moment),
        )

    def retention_due(self, day: str, now: datetime, limit: int) -> list[str]:
        """Schools with a closed year whose retention fell due by `now` in that day partition."""
        rows = self._db.all(
            "SELECT school FROM retention WHERE due_day = %s AND due_at <= %s ORDER BY due_at, school LIMIT %s",
            (day, second(now), limit),
        )
        return sorted({str(r["school"]) for r in rows})

    def trash_due(self, day: str, now: datetime, limit: int) -> list[str]:
        """Ids of trashed files whose purge fell due by `now`, oldest first, at most `limit`."""
        rows = self._db.all(
            'SELECT file_id FROM files WHERE purge_day = %s AND purge_at <= %s ORDER BY purge_at, file_id COLLATE "C"'
            " LIMIT %s",
            (day, second(now), limit),
        )
        return [str(r["file_id"]) for r in rows]

    def grants_due(self, day: str, now: datetime, limit: int) -> list[str]:
        """Ids of uploads still without a verdict whose grant expired (with its grace) by `now`."""
        rows = self._db.all(
            "SELECT upload_id FROM uploads WHERE grant_day = %s AND grant_due <= %s"
            ' ORDER BY grant_due, upload_id COLLATE "C" LIMIT %s',
            (day, second(now), limit),
        )
        return [str(r["upload_id"]) for r in rows]

    def begin_purge(self, file_id: str, now: datetime, size: int) -> FileRecord | None:
        """Mark a trashed file as being purged (a restore refuses it from then on) and note the bytes
        its purge gives back to its space's quota; None if it is not in the trash any more."""
        row = self._db.one(
            "UPDATE files SET purging_at = COALESCE(purging_at, %s), purge_bytes = COALESCE(purge_bytes, %s)"  # noqa: S608
            f" WHERE file_id = %s AND trashed_at IS NOT NULL RETURNING {FILE_COLUMNS}",
            (second(now), size, file_id),
        )
        return None if row is None else file_from_row(row)

    def purge_records(self, file_id: str) -> None:
        """The records of a trashed file, once its objects are gone: versions, shares, digests, then the
        file (its bytes leaving its quota's use), in one transaction. The feed keeps its `delete`
        position; safe to run again after a crash."""
        with self._db.transaction() as conn:
            file = lock_file(conn, file_id)
            if file is not None and file["trashed_at"] is None:
                raise StaleWriteError("The file was restored; it is not purged.")
            conn.execute("DELETE FROM versions WHERE file_id = %s", (file_id,))
            conn.execute("DELETE FROM shares WHERE file_id = %s", (file_id,))
            conn.execute("DELETE FROM blobs WHERE file_id = %s", (file_id,))
            if file is None:
                return
            gone = conn.execute("DELETE FROM files WHERE file_id = %s AND purging_at IS NOT NULL", (file_id,))
            if not gone.rowcount:
                raise StaleWriteError("The record changed meanwhile.")
            record = file_from_row(file)
            # A teacher's feedback is charged to nobody; a pupil's submission to that pupil.
            if not record.is_feedback and int(file["purge_bytes"] or 0):
                release(conn, quota_key(record.school, record.space, record.owner), int(file["purge_bytes"]))
