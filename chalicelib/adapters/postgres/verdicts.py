"""Verdicts and quarantine: the repository locks the file and its upload, `settle` decides (in the
domain), and the settlement is written in the same transaction; a rescan's quarantine likewise.

Where the DynamoDB repository writes on condition nothing changed since it read, and tries again
after a lost race, here the file's row is locked from the read to the commit: a concurrent verdict,
grant or delete of the same file waits, then reads what this one wrote. Locks are taken in one order
(file, upload, quota, the space's feed counter), so two writers never wait for each other."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from chalicelib.adapters.postgres.changes import append_change
from chalicelib.adapters.postgres.classes import assignment_from_row
from chalicelib.adapters.postgres.db import Repository, Row, second
from chalicelib.adapters.postgres.feeds import write_notifications
from chalicelib.adapters.postgres.files import leave_counts, lock_file, release
from chalicelib.adapters.postgres.records import FILE_COLUMNS, file_from_row
from chalicelib.domain.content import Verdict
from chalicelib.domain.models import FileRecord, FileStatus, SpaceKind, UploadRecord
from chalicelib.domain.notifications import Notification
from chalicelib.domain.settlement import FileChange, Served, settle
from chalicelib.errors import StaleWriteError

if TYPE_CHECKING:
    import psycopg


class VerdictRepository(Repository):
    """An upload's verdict, the version it serves, and a rescan's quarantine of a served object."""

    def record_verdict(
        self,
        upload: UploadRecord,
        verdict: Verdict,
        sha256: str,
        object_key: str,
        now: datetime,
        arrived_at: datetime | None = None,
    ) -> Verdict:
        """Write a verdict once: the upload leaves pending (StaleWriteError if it already had one); a
        clean one becomes the served version and a change of its space's feed. `arrived_at` is when
        storage received the bytes (its clock, never the device's); `now` if unknown. Answers the
        verdict written: a clean one may end `rejected` (conflict, superseded, deleted)."""
        arrived = (now if arrived_at is None else min(arrived_at, now)).replace(microsecond=0)
        with self._db.transaction() as conn:
            file = lock_file(conn, upload.file_id)
            if file is None:
                raise StaleWriteError("The file of this upload is gone.")
            held = conn.execute("SELECT status FROM uploads WHERE upload_id = %s FOR UPDATE", (upload.id,)).fetchone()
            if held is None or held["status"] != FileStatus.PENDING.value:
                raise StaleWriteError("The record changed meanwhile.")
            record = file_from_row(file)
            served = Served(
                file=record,
                version=int(file["served_version"]),
                grant_order=str(file["served_grant_order"]),
                trashed=file["trashed_at"] is not None,
            )
            assignment = None
            if record.space.kind is SpaceKind.ASSIGNMENT:
                row = conn.execute(
                    "SELECT * FROM assignments WHERE school = %s AND assignment_id = %s",
                    (record.school, record.space.id),
                ).fetchone()
                assignment = None if row is None else assignment_from_row(row)
            settlement = settle(served, upload, verdict, assignment, now, arrived)
            verdict = settlement.verdict
            if settlement.change is not FileChange.KEEP and file["purging_at"] is not None:
                raise StaleWriteError("The record changed meanwhile.")  # a purge, once begun, is never undone
            conn.execute(
                "UPDATE uploads SET status = %s, reason = %s, sha256 = %s, object_key = %s, updated_at = %s,"
                " grant_day = NULL, grant_due = NULL WHERE upload_id = %s",
                (verdict.status.value, verdict.reason or "", sha256, object_key, second(now), upload.id),
            )
            write_notifications(conn, settlement.notifications)
            if settlement.release and upload.quota_key is not None:
                release(conn, upload.quota_key, settlement.release)  # refused bytes are not kept
            leave_counts(conn, upload)
            if settlement.change is FileChange.SERVE:
                assert settlement.version is not None
                self._serve(conn, upload, verdict, settlement.version, sha256, object_key, now, arrived)
            elif settlement.change is FileChange.DESCRIBE:
                conn.execute(
                    "UPDATE files SET status = %s, reason = %s, updated_at = %s WHERE file_id = %s",
                    (verdict.status.value, verdict.reason or "", second(now), upload.file_id),
                )
        return verdict

    def _serve(
        self,
        conn: psycopg.Connection[Row],
        upload: UploadRecord,
        verdict: Verdict,
        version: int,
        sha256: str,
        object_key: str,
        now: datetime,
        arrived: datetime,
    ) -> None:
        """A clean upload served: the file's new state, its version, its digest, its feed change (last)."""
        judged = verdict.content_type or upload.content_type  # what the bytes were judged is what is served
        row = conn.execute(
            "UPDATE files SET version = %s, served_version = %s, status = %s, size = %s, content_type = %s,"  # noqa: S608
            " sha256 = %s, object_key = %s, updated_at = %s, arrived_at = %s, served_grant_order = %s, reason = NULL"
            f" WHERE file_id = %s RETURNING {FILE_COLUMNS}",
            (
                version,
                version,
                FileStatus.AVAILABLE.value,
                upload.size,
                judged,
                sha256,
                object_key,
                second(now),
                arrived,
                upload.order or "",
                upload.file_id,
            ),
        ).fetchone()
        assert row is not None
        after = file_from_row(row)
        conn.execute(
            "INSERT INTO versions (file_id, version, upload_id, size, content_type, sha256, object_key, owner,"
            " created_at, arrived_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (
                upload.file_id,
                version,
                upload.id,
                upload.size,
                judged,
                sha256,
                object_key,
                upload.owner,
                second(now),
                arrived,
            ),
        )
        conn.execute(
            "INSERT INTO blobs (school, space, sha256, file_id, version, object_key, size, content_type, owner,"
            " subject) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (school, space, sha256, file_id) DO UPDATE"
            " SET version = EXCLUDED.version, object_key = EXCLUDED.object_key, size = EXCLUDED.size,"
            " content_type = EXCLUDED.content_type, owner = EXCLUDED.owner, subject = EXCLUDED.subject",
            (
                after.school,
                str(after.space),
                sha256,
                after.id,
                version,
                object_key,
                after.size,
                after.content_type,
                after.owner,
                after.subject,
            ),
        )
        append_change(conn, after, "upsert")

    def quarantine_object(
        self, object_key: str, quarantine_key: str, signature: str, now: datetime, notes: Sequence[Notification]
    ) -> FileRecord | None:
        """A served object found infected by a rescan, in one transaction: the version that held it now
        points to quarantine; if it was the current one, the file becomes `infected` (a `delete` in its
        space's feed, out of dedup) and the notifications are written. The file as it was, or None."""
        file_id = object_key.split("/")[1]
        with self._db.transaction() as conn:
            file = lock_file(conn, file_id)
            if file is None:
                return None
            before = file_from_row(file)
            conn.execute(
                "UPDATE versions SET object_key = %s, infected = %s WHERE file_id = %s AND object_key = %s",
                (quarantine_key, signature, file_id, object_key),
            )
            if file["object_key"] == object_key and file["status"] == FileStatus.AVAILABLE.value:
                if file["purging_at"] is not None:
                    raise StaleWriteError("The record changed meanwhile.")
                row = conn.execute(
                    "UPDATE files SET status = %s, reason = %s, object_key = %s, updated_at = %s"  # noqa: S608
                    f" WHERE file_id = %s RETURNING {FILE_COLUMNS}",
                    (FileStatus.INFECTED.value, signature, quarantine_key, second(now), file_id),
                ).fetchone()
                assert row is not None
                if file["sha256"]:
                    conn.execute(
                        "DELETE FROM blobs WHERE school = %s AND space = %s AND sha256 = %s AND file_id = %s",
                        (file["school"], file["space"], file["sha256"], file_id),
                    )
                write_notifications(conn, notes)
                if int(file["change_seq"]) and file["trashed_at"] is None:
                    append_change(conn, file_from_row(row), "delete")
        return before
