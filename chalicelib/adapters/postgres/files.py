"""Files, uploads and versions: grants (with their quota), reads, folder listings, digests and the
change feed of each space."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from chalicelib.adapters.postgres.audit import write_audit
from chalicelib.adapters.postgres.db import Repository, Row, decode_cursor, encode_cursor, second
from chalicelib.adapters.postgres.records import (
    FILE_COLUMNS,
    UPLOAD_COLUMNS,
    file_from_row,
    file_from_snapshot,
    file_row,
    insert,
    upload_from_row,
    upload_row,
    version_from_row,
)
from chalicelib.domain.models import AuditEntry, FileRecord, FileStatus, FileVersion, SpaceRef, UploadRecord
from chalicelib.domain.ports import Change, CleanCopy, Page
from chalicelib.domain.quotas import upload_counters
from chalicelib.domain.schema import FILE, UPLOAD, entry, entry_name
from chalicelib.errors import AlreadyExistsError, QuotaExceededError, StaleWriteError, TooManyRequestsError

if TYPE_CHECKING:
    import psycopg

WAITING_RETRY = 60  # seconds, as the DynamoDB catalog's: grants end as their bytes arrive, or within their life
FILE_INSERT_COLUMNS = (*FILE.columns, "entry")
UPLOAD_INSERT_COLUMNS = (*UPLOAD.columns, "grant_day", "grant_due")


def reserve(conn: psycopg.Connection[Row], upload: UploadRecord) -> None:
    """Add the upload's size to its quota's use, on condition it stays within the limit (the quota's
    row is locked meanwhile: concurrent grants cannot overshoot, whatever their order)."""
    if upload.quota_key is None:
        return
    assert upload.quota_limit is not None
    taken = conn.execute(
        "INSERT INTO quotas (quota_key, used) VALUES (%s, %s) ON CONFLICT (quota_key) DO UPDATE"
        " SET used = quotas.used + EXCLUDED.used WHERE quotas.used <= %s RETURNING used",
        (upload.quota_key, upload.size, upload.quota_limit - upload.size),
    ).fetchone()
    if taken is None:
        raise QuotaExceededError("This upload would exceed the storage quota.")


def count_rate(conn: psycopg.Connection[Row], upload: UploadRecord) -> None:
    """The caller's request counted by the grant's own transaction (its window's row locked until it
    ends), or 429 past the caller's budget this minute."""
    if upload.rate is not None:
        from chalicelib.adapters.postgres.idempotency import count_request

        count_request(conn, upload.rate)


def settled(upload: UploadRecord) -> None:
    """The grant committed: its count of the caller's request with it."""
    if upload.rate is not None:
        upload.rate.settled = True


def join_counts(conn: psycopg.Connection[Row], upload: UploadRecord) -> None:
    """Join each count of grants waiting for bytes, on condition it stays under its limit (each count's
    row locked meanwhile, in the grant's order: the user's, then the submission's)."""
    for counter, limit in upload.pending_limits:
        joined = conn.execute(
            "INSERT INTO pending_grants (counter, waiting) VALUES (%s, 1) ON CONFLICT (counter) DO UPDATE"
            " SET waiting = pending_grants.waiting + 1 WHERE pending_grants.waiting < %s RETURNING waiting",
            (counter, limit),
        ).fetchone()
        if joined is None:
            raise TooManyRequestsError(
                "Too many uploads are waiting for their bytes; send or cancel some first.", WAITING_RETRY
            )


def leave_counts(conn: psycopg.Connection[Row], upload: UploadRecord) -> None:
    """A grant's verdict, whatever it is: it no longer waits for bytes."""
    for counter in upload_counters(upload):
        conn.execute(
            "INSERT INTO pending_grants (counter, waiting) VALUES (%s, -1) ON CONFLICT (counter) DO UPDATE"
            " SET waiting = pending_grants.waiting - 1",
            (counter,),
        )


def release(conn: psycopg.Connection[Row], quota_key: str, size: int) -> None:
    conn.execute(
        "INSERT INTO quotas (quota_key, used) VALUES (%s, %s) ON CONFLICT (quota_key) DO UPDATE"
        " SET used = quotas.used + EXCLUDED.used",
        (quota_key, -size),
    )


def lock_file(conn: psycopg.Connection[Row], file_id: str) -> Row | None:
    """The file's row, locked until the transaction ends (every writer of a file takes it first)."""
    return conn.execute("SELECT * FROM files WHERE file_id = %s FOR UPDATE", (file_id,)).fetchone()


class FileRepository(Repository):
    """`files`, `uploads`, `versions`, `folders`, `blobs`, `quotas` and the feed (`changes`)."""

    def get_file(self, school: str, file_id: str) -> FileRecord | None:
        """A file of the school; one in the trash is not found."""
        row = self._db.one(f"SELECT {FILE_COLUMNS} FROM files WHERE file_id = %s", (file_id,))  # noqa: S608
        if row is None or row["school"] != school or row["trashed_at"] is not None:
            return None
        return file_from_row(row)

    def get_file_anywhere(self, file_id: str) -> FileRecord | None:
        """A file whatever its school (for the platform's own work: rescans)."""
        row = self._db.one(f"SELECT {FILE_COLUMNS} FROM files WHERE file_id = %s", (file_id,))  # noqa: S608
        return None if row is None else file_from_row(row)

    def get_files(self, school: str, file_ids: Iterable[str]) -> dict[str, FileRecord]:
        """Several files by id, in one query."""
        ids = sorted(set(file_ids))
        if not ids:
            return {}
        rows = self._db.all(
            f"SELECT {FILE_COLUMNS} FROM files WHERE file_id = ANY(%s) AND school = %s"  # noqa: S608
            " AND trashed_at IS NULL",
            (ids, school),
        )
        return {row["file_id"]: file_from_row(row) for row in rows}

    def find_file_id(
        self, school: str, space: SpaceRef, path: str, name: str, owner: str, feedback: bool = False
    ) -> str | None:
        row = self._db.one(
            "SELECT file_id FROM files WHERE school = %s AND space = %s AND path = %s AND entry = %s"
            " AND trashed_at IS NULL",
            (school, str(space), path, entry_name(space, owner, name, feedback)),
        )
        return None if row is None else str(row["file_id"])

    def find_file(
        self, school: str, space: SpaceRef, path: str, name: str, owner: str, feedback: bool = False
    ) -> FileRecord | None:
        """The live file under a name, in one query."""
        row = self._db.one(
            f"SELECT {FILE_COLUMNS} FROM files WHERE school = %s AND space = %s AND path = %s"  # noqa: S608
            " AND entry = %s AND trashed_at IS NULL",
            (school, str(space), path, entry_name(space, owner, name, feedback)),
        )
        return None if row is None else file_from_row(row)

    def create_file(
        self,
        file: FileRecord,
        upload: UploadRecord,
        folders: Sequence[tuple[str, str]],
        audit: AuditEntry | None = None,
    ) -> None:
        """A new file (its name claimed by the unique index), its first grant, its folders, its audit
        entry and its quota reservation, in one transaction. A full quota is told apart from a name
        taken (it is checked first, as the DynamoDB transaction's failed quota action wins)."""
        try:
            with self._db.transaction() as conn:
                count_rate(conn, upload)  # the caller's budget first, a full quota, too many waiting, a name taken
                reserve(conn, upload)
                join_counts(conn, upload)
                conn.execute(insert("files", FILE_INSERT_COLUMNS), file_row(file))
                conn.execute(insert("uploads", UPLOAD_INSERT_COLUMNS), upload_row(upload))
                for parent, name in folders:
                    conn.execute(
                        "INSERT INTO folders (school, space, path, parent, name) VALUES (%s, %s, %s, %s, %s)"
                        " ON CONFLICT DO NOTHING",
                        (file.school, str(file.space), f"{parent}{name}/", parent, name),
                    )
                write_audit(conn, audit)
        except StaleWriteError as exc:
            raise AlreadyExistsError("A file with that name was just created.") from exc
        settled(upload)

    def move_file(
        self,
        file_id: str,
        path: str,
        name: str,
        folders: Sequence[tuple[str, str]],
        now: datetime,
        audit: AuditEntry,
    ) -> FileRecord:
        """A served file under a new name or folder of its space, in one transaction: its row (the name's
        unique index: AlreadyExistsError if taken), the folders, the audit entry and an `upsert` in its
        space's feed. StaleWriteError if the file is not live and available. Its row's lock makes a
        verdict or another rename of the file wait, never fail."""
        from psycopg import errors

        from chalicelib.adapters.postgres.changes import append_change

        with self._db.transaction() as conn:
            file = lock_file(conn, file_id)
            if file is None or file["trashed_at"] is not None or file["status"] != FileStatus.AVAILABLE.value:
                raise StaleWriteError("The file is not available.")
            before = file_from_row(file)
            moved = replace(before, path=path, name=name)
            if (moved.path, entry(moved)) == (before.path, entry(before)):
                return before
            try:
                row = conn.execute(
                    "UPDATE files SET path = %s, name = %s, entry = %s, updated_at = %s"  # noqa: S608 - constants
                    f" WHERE file_id = %s RETURNING {FILE_COLUMNS}",
                    (path, name, entry(moved), second(now), file_id),
                ).fetchone()
            except errors.UniqueViolation as exc:
                raise AlreadyExistsError("A file with that name is already in that folder.") from exc
            assert row is not None
            for parent, folder in folders:
                conn.execute(
                    "INSERT INTO folders (school, space, path, parent, name) VALUES (%s, %s, %s, %s, %s)"
                    " ON CONFLICT DO NOTHING",
                    (moved.school, str(moved.space), f"{parent}{folder}/", parent, folder),
                )
            write_audit(conn, audit)
            if int(file["change_seq"]):
                append_change(conn, file_from_row(row), "upsert")  # last: the space's feed head
            return file_from_row(row)

    def add_upload(self, upload: UploadRecord, audit: AuditEntry | None = None, served: bool | None = None) -> None:
        """A new grant for an existing file; a file never served shows the new grant's state. The file's
        row is locked and read here, so `served` (what the caller read) is only checked against it."""
        with self._db.transaction() as conn:
            count_rate(conn, upload)  # the caller's budget first, as the DynamoDB transaction's
            file = lock_file(conn, upload.file_id)
            if file is None or file.get("trashed_at") is not None:
                raise StaleWriteError("The file was just removed.", [0])
            if served is not None and served != (int(file["served_version"]) > 0):
                raise StaleWriteError("The file was served meanwhile.", [0])
            if (file["path"], file["name"]) != (upload.path, upload.name):
                raise StaleWriteError("The file was renamed meanwhile.", [0])  # the old name makes a new file
            reserve(conn, upload)
            join_counts(conn, upload)
            conn.execute(insert("uploads", UPLOAD_INSERT_COLUMNS), upload_row(upload))
            if int(file["served_version"]) == 0:
                # Nothing served yet: the file describes its latest attempt.
                conn.execute(
                    "UPDATE files SET status = %s, size = %s, content_type = %s, updated_at = %s, reason = NULL,"
                    " sha256 = NULL WHERE file_id = %s",
                    (
                        FileStatus.PENDING.value,
                        upload.size,
                        upload.content_type,
                        second(upload.created_at),
                        upload.file_id,
                    ),
                )
            write_audit(conn, audit)
        settled(upload)

    def set_multipart(self, upload_id: str, multipart_id: str) -> None:
        """Name the store's multipart upload on a pending grant, once."""
        count = self._db.run(
            "UPDATE uploads SET multipart_id = %s WHERE upload_id = %s AND status = %s AND multipart_id IS NULL",
            (multipart_id, upload_id, FileStatus.PENDING.value),
        )
        if not count:
            raise StaleWriteError("The record changed meanwhile.")

    def set_completed(self, upload_id: str, now: datetime) -> None:
        """When a multipart upload's uploader asked to assemble it: its bytes' arrival, by our clock."""
        count = self._db.run(
            "UPDATE uploads SET completed_at = %s WHERE upload_id = %s AND status = %s",
            (second(now), upload_id, FileStatus.PENDING.value),
        )
        if not count:
            raise StaleWriteError("The record changed meanwhile.")

    def get_upload(self, upload_id: str) -> UploadRecord | None:
        row = self._db.one(f"SELECT {UPLOAD_COLUMNS} FROM uploads WHERE upload_id = %s", (upload_id,))  # noqa: S608
        return None if row is None else upload_from_row(row)

    def file_versions(self, file_id: str) -> list[FileVersion]:
        """Every available version of a file, newest first."""
        rows = self._db.all("SELECT * FROM versions WHERE file_id = %s ORDER BY version DESC", (file_id,))
        return [version_from_row(row) for row in rows]

    def quota_used(self, quota_key: str) -> int:
        """Bytes reserved or kept against a quota."""
        row = self._db.one("SELECT used FROM quotas WHERE quota_key = %s", (quota_key,))
        return 0 if row is None else int(row["used"])

    def clean_copies(self, school: str, space: SpaceRef, sha256: str, limit: int) -> list[CleanCopy]:
        """Versions of files of the space that hold clean bytes with this digest."""
        rows = self._db.all(
            "SELECT * FROM blobs WHERE school = %s AND space = %s AND sha256 = %s ORDER BY file_id LIMIT %s",
            (school, str(space), sha256.lower(), limit),
        )
        return [
            CleanCopy(
                file_id=row["file_id"],
                object_key=row["object_key"],
                size=int(row["size"]),
                content_type=row["content_type"],
                owner=row["owner"],
                subject=row["subject"] or None,
            )
            for row in rows
        ]

    def changes(self, school: str, space: SpaceRef, after: int, limit: int) -> list[Change]:
        """Files whose latest change is after position `after`, in order: one statement, one snapshot
        (a prefix of the feed: see `changes.py`)."""
        rows = self._db.all(
            "SELECT seq, op, file FROM changes WHERE school = %s AND space = %s AND seq > %s ORDER BY seq LIMIT %s",
            (school, str(space), after, limit),
        )
        return [Change(seq=int(r["seq"]), op=str(r["op"]), file=file_from_snapshot(r["file"])) for r in rows]

    def list_folder(
        self, school: str, space: SpaceRef, path: str, limit: int, cursor: str | None, owner: str | None = None
    ) -> Page:
        """Subfolders then files of one folder, in name order (byte order, as DynamoDB's sort keys), only
        `owner`'s files when given; keyset pages whose cursor holds the last entry returned."""
        partition = f"{school}#{space}#{path}"
        after = decode_cursor(cursor, {"gsi1pk": partition}, "gsi1sk") if cursor else ""
        params: dict[str, Any] = {"school": school, "space": str(space), "path": path}
        folders: list[str] = []
        if owner is None and after < "F#":
            params.update(after=after.removeprefix("D#"), n=limit + 1)
            folders = [
                str(r["name"])
                for r in self._db.all(
                    "SELECT name FROM folders WHERE school = %(school)s AND space = %(space)s AND parent = %(path)s"
                    " AND name > %(after)s ORDER BY name LIMIT %(n)s",
                    params,
                )
            ]
        rows: list[Row] = []
        room = limit + 1 - len(folders)
        if room > 0:
            where = "school = %(school)s AND space = %(space)s AND path = %(path)s AND trashed_at IS NULL"
            params.update(after=after.removeprefix("F#") if after.startswith("F#") else "", n=room)
            if owner is not None:
                params["prefix"] = f"{owner}/"
                where += " AND starts_with(entry, %(prefix)s)"
            rows = self._db.all(
                f"SELECT {FILE_COLUMNS} FROM files WHERE {where} AND entry > %(after)s"  # noqa: S608 - constants
                " ORDER BY entry LIMIT %(n)s",
                params,
            )
        keys = [f"D#{name}" for name in folders] + [f"F#{row['entry']}" for row in rows]
        next_cursor = None
        if len(keys) > limit:
            next_cursor = encode_cursor({"gsi1pk": partition, "gsi1sk": keys[limit - 1]})
            folders, rows = folders[:limit], rows[: max(0, limit - len(folders))]
        return Page(folders=folders, files=[file_from_row(r) for r in rows], next_cursor=next_cursor)
