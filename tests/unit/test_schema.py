"""One schema per record type (chalicelib/domain/schema.py): every record reads back as written from a
DynamoDB item, a PostgreSQL row and a change snapshot, with and without its optional fields, and the
contract's JSON keeps its keys, their order and their values."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.adapters.dynamodb.audit import audit_item
from chalicelib.adapters.dynamodb.feeds import _job_item, notification_item
from chalicelib.adapters.dynamodb.records import file_item, upload_item, version_from_item
from chalicelib.adapters.dynamodb.table import dump, load
from chalicelib.domain.assignments import assignment_json
from chalicelib.domain.audit import entry_json
from chalicelib.domain.files import file_json
from chalicelib.domain.grants import upload_json
from chalicelib.domain.jobs import JOB, Job, job_json
from chalicelib.domain.models import (
    Assignment,
    AuditEntry,
    ClassRecord,
    FileRecord,
    FileStatus,
    FileVersion,
    Share,
    ShareRole,
    SpaceKind,
    SpaceRef,
    UploadRecord,
)
from chalicelib.domain.notifications import NOTIFICATION, Notification, NotificationType, notification_json
from chalicelib.domain.roster import class_json
from chalicelib.domain.schema import ASSIGNMENT, AUDIT, CLASS, FILE, SHARE, UPLOAD, VERSION, Schema, entry
from chalicelib.domain.sharing import share_json

AT = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
LATER = AT + timedelta(days=2, microseconds=123456)  # rows and items keep moments to the second
SECOND = LATER.replace(microsecond=0)
STAMP, LATER_STAMP = "2026-03-04T05:06:07Z", "2026-03-06T05:06:07Z"

FILE_BARE = FileRecord(
    "f1", "s1", SpaceRef(SpaceKind.USER, "u1"), "/", "a.pdf", 3, "application/pdf", None,
    FileStatus.PENDING, None, 1, "u1", AT, AT,
)  # fmt: skip
FILE_FULL = FileRecord(
    "f2", "s1", SpaceRef(SpaceKind.ASSIGNMENT, "a1"), "/x/", "b.png", 30, "image/png", "ab" * 32,
    FileStatus.AVAILABLE, "kept", 4, "t1", AT, SECOND, "files/f2/4", "u2", SECOND, AT,
)  # fmt: skip
UPLOAD_BARE = UploadRecord(
    "up1", "f1", "s1", SpaceRef(SpaceKind.USER, "u1"), "/", "a.pdf", 3, "text/plain", None, "u1",
    FileStatus.PENDING, None, AT, SECOND, "incoming/f1/up1",
)  # fmt: skip
UPLOAD_FULL = UploadRecord(
    "up2", "f2", "s1", SpaceRef(SpaceKind.CLASS, "c1"), "/", "b", 3, "image/png", "cd" * 32, "t1",
    FileStatus.INFECTED, "Eicar-Signature", AT, SECOND, "incoming/f2/up2", ("image/*", "application/pdf"), 3,
    "user#t1", None, "mp-1", "00000000000000000001", SECOND, 16,
)  # fmt: skip
VERSION_ONE = FileVersion("f2", 4, 30, "image/png", "ab" * 32, "files/f2/4", "t1", SECOND)
NOTE_BARE = Notification(
    "n1", "s1", "user:u1", NotificationType.UPLOAD_AVAILABLE, LATER, "f1", "user:u1", "a.pdf"
)  # fmt: skip
NOTE_FULL = Notification(
    "n2", "s1", "teachers:c1", NotificationType.SUBMISSION_RECEIVED, LATER, "f2", "assignment:a1", "b.png",
    4, "late one", True, "u2",
)  # fmt: skip
JOB_BARE = Job("j1", "s1", "t1", "teacher", "archive", "a1", "pending", AT)
JOB_FULL = Job(
    "j2", "s1", "a1", "admin", "export", "u2", "ready", AT, SECOND, "exports/j2.zip", "u2.zip", None, {"n": 3}
)
ASSIGNMENT_BARE = Assignment("a1", "s1", "c1", "Essay", SECOND, None, None, None, "t1", AT)
ASSIGNMENT_FULL = Assignment("a2", "s1", "c1", "Photo", AT, SECOND, 1000, ("image/*",), "t1", AT, SECOND)
CLASS_BARE = ClassRecord("c1", "s1", "5B", (), ())
CLASS_FULL = ClassRecord("c2", "s1", "4A", ("t1",), ("u1", "u2"), SECOND, "2025-2026")
SHARE_BARE = Share("sh1", "s1", "f1", "user", "u2", ShareRole.VIEWER, None, "u1", AT)
SHARE_FULL = Share("sh2", "s1", "f1", "class", "c1", ShareRole.EDITOR, SECOND, "u1", AT)
AUDIT_BARE = AuditEntry("e1", "s1", "u1", "student", "file.download", "file:f1", "allow", "", AT)
AUDIT_FULL = AuditEntry("e2", "s1", "u1", "student", "access.denied", "route:GET /", "deny", "http 403", SECOND)

CASES: list[tuple[Schema[Any], Any]] = [
    (FILE, FILE_BARE),
    (FILE, FILE_FULL),
    (UPLOAD, UPLOAD_BARE),
    (UPLOAD, UPLOAD_FULL),
    (VERSION, VERSION_ONE),
    (NOTIFICATION, NOTE_BARE),
    (NOTIFICATION, NOTE_FULL),
    (JOB, JOB_BARE),
    (JOB, JOB_FULL),
    (ASSIGNMENT, ASSIGNMENT_BARE),
    (ASSIGNMENT, ASSIGNMENT_FULL),
    (CLASS, CLASS_BARE),
    (CLASS, CLASS_FULL),
    (SHARE, SHARE_BARE),
    (SHARE, SHARE_FULL),
    (AUDIT, AUDIT_BARE),
    (AUDIT, AUDIT_FULL),
]
IDS = [f"{type(record).__name__}-{'full' if i % 2 else 'bare'}" for i, (_, record) in enumerate(CASES)]


def wire(item: dict[str, Any]) -> dict[str, Any]:
    """What DynamoDB answers for an item: None values left out, numbers as Decimal."""
    return load(dump(item))


@pytest.mark.parametrize(("schema", "record"), CASES, ids=IDS)
def test_a_record_reads_back_from_its_item(schema: Schema[Any], record: Any) -> None:
    assert schema.from_item(wire(schema.to_item(record))) == record


@pytest.mark.parametrize(("schema", "record"), CASES, ids=IDS)
def test_a_record_reads_back_from_its_row(schema: Schema[Any], record: Any) -> None:
    """Rows hold datetimes (to the second, but a feed's microseconds), never text."""
    row = schema.to_row(record)
    assert schema.from_row(row) == record
    assert not any(isinstance(v, str) and v.endswith("Z") and v[:4] == "2026" for v in row.values())


@pytest.mark.parametrize(("schema", "record"), CASES, ids=IDS)
def test_a_record_reads_back_from_its_snapshot(schema: Schema[Any], record: Any) -> None:
    assert schema.from_snapshot(schema.to_snapshot(record)) == record


def test_rows_keep_moments_to_the_second_as_items_do() -> None:
    record = replace(FILE_BARE, updated_at=LATER)
    assert FILE.to_row(record)["updated_at"] == SECOND
    assert FILE.from_row(FILE.to_row(record)).updated_at == FILE.from_item(FILE.to_item(record)).updated_at
    assert NOTIFICATION.to_row(NOTE_BARE)["at"] == LATER  # a feed's position keeps its microseconds


def test_rows_are_named_by_snake_case_columns() -> None:
    assert FILE.columns[:3] == ("file_id", "school", "space")
    assert "grant_order" in UPLOAD.to_row(UPLOAD_FULL) and "quota_limit" not in UPLOAD.columns
    assert NOTIFICATION.to_row(NOTE_FULL)["by_user"] == "u2"
    assert JOB.to_row(JOB_FULL)["finished_at"] == SECOND


def test_an_empty_reason_reads_back_as_none() -> None:
    item = {**wire(FILE.to_item(FILE_FULL)), "reason": ""}
    assert FILE.from_item(item).reason is None
    assert UPLOAD.from_row({**UPLOAD.to_row(UPLOAD_FULL), "reason": ""}).reason is None
    assert AUDIT.from_item(wire(AUDIT.to_item(AUDIT_BARE))).reason == ""  # an audit line's reason is text


def test_a_class_item_without_members_has_none() -> None:
    assert CLASS.from_item({"classId": "c1", "school": "s1", "name": "5B"}) == CLASS_BARE


def test_a_required_field_missing_is_an_error_not_a_none() -> None:
    item = wire(FILE.to_item(FILE_BARE))
    del item["owner"]
    with pytest.raises(KeyError):
        FILE.from_item(item)


def test_the_file_item_keeps_its_keys_and_counters() -> None:
    item = wire(file_item(FILE_BARE))
    assert item == {
        "pk": "FILE#f1",
        "sk": "FILE",
        "gsi1pk": "s1#user:u1#/",
        "gsi1sk": "F#a.pdf",
        "fileId": "f1",
        "school": "s1",
        "space": "user:u1",
        "path": "/",
        "name": "a.pdf",
        "size": 3,
        "contentType": "application/pdf",
        "status": "pending",
        "version": 1,
        "servedVersion": 0,
        "changeSeq": 0,
        "owner": "u1",
        "createdAt": STAMP,
        "updatedAt": STAMP,
    }


def test_the_upload_item_is_in_the_due_index_after_its_grace() -> None:
    item = wire(upload_item(UPLOAD_FULL))
    assert item["pk"] == "UPLOAD#up2" and item["uploadId"] == "up2" and item["grantOrder"] == "00000000000000000001"
    assert item["gsi2pk"] == "DUE#grant#2026-03-06"
    assert item["gsi2sk"] == "2026-03-06T05:36:07Z#up2"
    assert item["allowedTypes"] == ["image/*", "application/pdf"] and item["partSize"] == 16
    assert "quotaLimit" not in item and "pendingLimits" not in item


def test_a_version_item_names_its_file_by_its_key() -> None:
    item = {k: v for k, v in VERSION.to_item(VERSION_ONE).items() if k != "fileId"}
    assert version_from_item(wire({**item, "pk": "FILE#f2", "sk": "VERSION#00000004", "uploadId": "x"})) == VERSION_ONE


def test_notification_and_job_items_keep_their_time_to_live() -> None:
    note = wire(notification_item(NOTE_FULL))
    assert note["at"] == "2026-03-06T05:06:07.123456Z" and note["sk"] == NOTE_FULL.position
    assert note["ttl"] == int((LATER + timedelta(days=90)).timestamp()) and note["late"] is True
    assert note["gsi2pk"] == "DUE#notify#2026-03-06"
    job = wire(_job_item(JOB_BARE))
    assert job["ttl"] == int(AT.timestamp()) + 2 * 86400 and "finishedAt" not in job
    entry = wire(audit_item(AUDIT_BARE))
    assert entry["sk"] == entry["gsi1sk"] == "2026-03-04T05:06:07.000000Z#e1" and entry["at"] == STAMP


def test_a_job_s_counts_read_back_as_whole_numbers_not_decimals() -> None:
    summary = {"classes": 2, "files": [1, 2], "by": {"late": 0}}
    job = JOB.from_item(wire(JOB.to_item(Job(**{**JOB_FULL.__dict__, "summary": summary}))))
    assert job.summary == summary
    assert type(job.summary["classes"]) is int and type(job.summary["by"]["late"]) is int  # JSON 2, not 2.0
    assert [type(n) for n in job.summary["files"]] == [int, int]


def test_the_contract_json_keeps_its_keys_order_and_values() -> None:
    assert list(file_json(FILE_FULL).items()) == [
        ("id", "f2"),
        ("space", "assignment:a1"),
        ("path", "/x/"),
        ("name", "b.png"),
        ("size", 30),
        ("contentType", "image/png"),
        ("sha256", "ab" * 32),
        ("status", "available"),
        ("reason", "kept"),
        ("version", 4),
        ("owner", "t1"),
        ("createdAt", STAMP),
        ("updatedAt", LATER_STAMP),
    ]
    assert list(upload_json(UPLOAD_BARE).items()) == [
        ("uploadId", "up1"),
        ("fileId", "f1"),
        ("status", "pending"),
        ("reason", None),
        ("createdAt", STAMP),
        ("expiresAt", LATER_STAMP),
    ]
    assert list(VERSION.to_json(VERSION_ONE)) == ["version", "size", "contentType", "sha256", "owner", "createdAt"]
    assert list(notification_json(NOTE_FULL).items()) == [
        ("id", "n2"),
        ("type", "submission.received"),
        ("at", LATER_STAMP),
        ("fileId", "f2"),
        ("space", "assignment:a1"),
        ("name", "b.png"),
        ("version", 4),
        ("reason", "late one"),
        ("late", True),
        ("by", "u2"),
    ]
    assert list(job_json(JOB_FULL).items()) == [
        ("id", "j2"),
        ("kind", "export"),
        ("subject", "u2"),
        ("status", "ready"),
        ("reason", None),
        ("createdAt", STAMP),
        ("finishedAt", LATER_STAMP),
        ("expiresAt", "2026-03-05T05:06:07Z"),
        ("result", {"n": 3}),
    ]
    assert list(assignment_json(ASSIGNMENT_FULL).items()) == [
        ("id", "a2"),
        ("classId", "c1"),
        ("title", "Photo"),
        ("dueAt", STAMP),
        ("closesAt", LATER_STAMP),
        ("maxSize", 1000),
        ("allowedTypes", ["image/*"]),
        ("space", "assignment:a2"),
        ("instructions", None),
    ]
    bare = assignment_json(ASSIGNMENT_BARE)
    assert bare["closesAt"] is None and bare["maxSize"] is None and bare["allowedTypes"] is None
    assert list(share_json(SHARE_FULL).items()) == [
        ("id", "sh2"),
        ("fileId", "f1"),
        ("with", {"type": "class", "id": "c1"}),
        ("role", "editor"),
        ("expiresAt", LATER_STAMP),
        ("createdBy", "u1"),
        ("createdAt", STAMP),
    ]
    assert list(entry_json(AUDIT_BARE).items()) == [
        ("id", "e1"),
        ("actor", "u1"),
        ("role", "student"),
        ("action", "file.download"),
        ("target", "file:f1"),
        ("decision", "allow"),
        ("reason", ""),
        ("at", STAMP),
    ]


def test_a_class_json_hides_classmates_from_students_and_says_a_closed_year() -> None:
    assert class_json(CLASS_FULL, include_students=True) == {
        "id": "c2",
        "name": "4A",
        "teachers": ["t1"],
        "students": ["u1", "u2"],
        "archivedAt": LATER_STAMP,
        "year": "2025-2026",
    }
    assert class_json(replace(CLASS_FULL, archived_at=None, year=None), include_students=False) == {
        "id": "c2",
        "name": "4A",
        "teachers": ["t1"],
    }


def test_a_file_is_named_in_its_folder_by_whose_submission_it_is_part_of() -> None:
    assert entry(FILE_BARE) == "a.pdf"
    assert entry(FILE_FULL) == "u2/~feedback/b.png"  # a teacher's feedback on u2's submission
    assert entry(replace(FILE_FULL, owner="u2")) == "u2/b.png"
