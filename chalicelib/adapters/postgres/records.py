"""Files, uploads and versions as rows: the record schemas' columns (chalicelib/domain/schema.py, shared
with the DynamoDB items and the contract's JSON) plus what only this store keeps (no I/O here)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from chalicelib.adapters.postgres.db import Row, due
from chalicelib.domain.models import FileRecord, FileVersion, UploadRecord
from chalicelib.domain.schema import FILE, UPLOAD, VERSION, entry

GRANT_GRACE = timedelta(minutes=30)  # an unused grant is swept this long after it expires

# The file's record and its name in its folder's index (`entry`: the listing's order and the name claim).
FILE_COLUMNS = ", ".join((*FILE.columns, "entry"))
UPLOAD_COLUMNS = ", ".join(UPLOAD.columns)


def file_from_row(row: Row) -> FileRecord:
    return FILE.from_row(row)


def file_row(file: FileRecord) -> Row:
    """A new file's row (nothing served, no change in its feed yet: those columns keep their defaults)."""
    return {**FILE.to_row(file), "entry": entry(file)}


def snapshot(file: FileRecord) -> dict[str, Any]:
    """A file as a change of its space's feed keeps it (JSON)."""
    return FILE.to_snapshot(file)


def file_from_snapshot(data: dict[str, Any]) -> FileRecord:
    return FILE.from_snapshot(data)


def upload_row(upload: UploadRecord) -> Row:
    """A new grant's row, due for the sweeper (with its grace) until its verdict."""
    day, moment = due(upload.expires_at + GRANT_GRACE)
    return {**UPLOAD.to_row(upload), "grant_day": day, "grant_due": moment}


def upload_from_row(row: Row) -> UploadRecord:
    return UPLOAD.from_row(row)


def version_from_row(row: Row) -> FileVersion:
    return VERSION.from_row(row)


def insert(table: str, columns: Iterable[str], suffix: str = "") -> str:
    """An INSERT of columns with named placeholders (the table and columns are ours, never input)."""
    names = list(columns)
    values = ", ".join(f"%({c})s" for c in names)
    return f"INSERT INTO {table} ({', '.join(names)}) VALUES ({values}){suffix}"  # noqa: S608 - constants
