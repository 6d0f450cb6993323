"""Settlement as a table: the file as served, the upload and the content verdict in; the final verdict,
the version, the file's change, the bytes released and the notifications out. No I/O."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.domain.content import Verdict
from chalicelib.domain.models import Assignment, FileRecord, FileStatus, SpaceKind, SpaceRef, UploadRecord
from chalicelib.domain.settlement import FileChange, Served, settle

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
DUE = NOW - timedelta(hours=1)
CLEAN = Verdict(FileStatus.AVAILABLE, None, "application/pdf")
INFECTED = Verdict(FileStatus.INFECTED, "Eicar-Signature")
REJECTED = Verdict(FileStatus.REJECTED, "type_mismatch")
CANCELLED = Verdict(FileStatus.REJECTED, "cancelled")
ASSIGNMENT = Assignment("a1", "s1", "c1", "Essay", DUE, None, None, None, "teacher", NOW - timedelta(days=7))


def served(
    kind: SpaceKind = SpaceKind.USER, version: int = 0, order: str = "", trashed: bool = False, **file: Any
) -> Served:
    space = {SpaceKind.USER: "u1", SpaceKind.CLASS: "c1", SpaceKind.ASSIGNMENT: "a1"}[kind]
    record = FileRecord(
        id="f1",
        school="s1",
        space=SpaceRef(kind, space),
        path="/",
        name="essay.pdf",
        size=10,
        content_type="application/pdf",
        sha256=None,
        status=FileStatus.AVAILABLE if version else FileStatus.PENDING,
        reason=None,
        version=version,
        owner="u1",
        created_at=NOW - timedelta(days=1),
        updated_at=NOW - timedelta(days=1),
        trashed_at=NOW if trashed else None,
    )
    return Served(file=replace(record, **file), version=version, grant_order=order, trashed=trashed)


def upload(
    quota: str | None = "user#s1#u1", base: int | None = None, order: str | None = "0002", **fields: Any
) -> UploadRecord:
    record = UploadRecord(
        id="up1",
        file_id="f1",
        school="s1",
        space=SpaceRef(SpaceKind.USER, "u1"),
        path="/",
        name="essay.pdf",
        size=1234,
        content_type="application/pdf",
        sha256=None,
        owner="u1",
        status=FileStatus.PENDING,
        reason=None,
        created_at=NOW - timedelta(minutes=5),
        expires_at=NOW + timedelta(minutes=10),
        key="incoming/f1/up1",
        base_version=base,
        quota_key=quota,
        order=order,
    )
    return replace(record, **fields)


SERVE, DESCRIBE, KEEP = FileChange.SERVE, FileChange.DESCRIBE, FileChange.KEEP
# name: (served, upload, verdict, assignment, arrived) -> (status, reason, version, change, release, notes)
CASES: dict[str, tuple[Any, ...]] = {
    "clean first upload": (
        served(),
        upload(),
        CLEAN,
        None,
        None,
        ("available", None, 1, SERVE, 0, [("user:u1", "upload.available")]),
    ),
    "new version": (
        served(version=3, order="0001"),
        upload(base=3),
        CLEAN,
        None,
        None,
        ("available", None, 4, SERVE, 0, [("user:u1", "upload.available")]),
    ),
    "stale baseVersion: conflict": (
        served(version=4, order="0001"),
        upload(base=3),
        CLEAN,
        None,
        None,
        ("rejected", "conflict", None, KEEP, 1234, [("user:u1", "upload.rejected")]),
    ),
    "conflict before the first version is served describes the file": (
        served(version=0),
        upload(base=1),
        CLEAN,
        None,
        None,
        ("rejected", "conflict", None, DESCRIBE, 1234, [("user:u1", "upload.rejected")]),
    ),
    "an older upload finishing after a newer one: superseded": (
        served(version=2, order="0003"),
        upload(order="0002"),
        CLEAN,
        None,
        None,
        ("rejected", "superseded", None, KEEP, 1234, [("user:u1", "upload.rejected")]),
    ),
    "an upload without order is never superseded": (
        served(version=2, order="0003"),
        upload(order=None),
        CLEAN,
        None,
        None,
        ("available", None, 3, SERVE, 0, [("user:u1", "upload.available")]),
    ),
    "file deleted meanwhile": (
        served(version=1, order="0001", trashed=True),
        upload(),
        CLEAN,
        None,
        None,
        ("rejected", "deleted", None, KEEP, 1234, [("user:u1", "upload.rejected")]),
    ),
    "never served, deleted meanwhile": (
        served(trashed=True),
        upload(),
        CLEAN,
        None,
        None,
        ("rejected", "deleted", None, KEEP, 1234, [("user:u1", "upload.rejected")]),
    ),
    "a conflict wins over the trash": (
        served(version=2, trashed=True),
        upload(base=1),
        CLEAN,
        None,
        None,
        ("rejected", "conflict", None, KEEP, 1234, [("user:u1", "upload.rejected")]),
    ),
    "infected first upload: bytes released, file describes it": (
        served(),
        upload(),
        INFECTED,
        None,
        None,
        ("infected", "Eicar-Signature", None, DESCRIBE, 1234, [("user:u1", "upload.infected")]),
    ),
    "infected new version: the served one stays": (
        served(version=2, order="0001"),
        upload(base=2),
        INFECTED,
        None,
        None,
        ("infected", "Eicar-Signature", None, KEEP, 1234, [("user:u1", "upload.infected")]),
    ),
    "rejected in a class folder: the teachers are not told": (
        served(SpaceKind.CLASS),
        upload(quota="class#s1#c1"),
        REJECTED,
        None,
        None,
        ("rejected", "type_mismatch", None, DESCRIBE, 1234, [("user:u1", "upload.rejected")]),
    ),
    "infected in a class folder: the teachers are told": (
        served(SpaceKind.CLASS),
        upload(quota="class#s1#c1"),
        INFECTED,
        None,
        None,
        (
            "infected",
            "Eicar-Signature",
            None,
            DESCRIBE,
            1234,
            [("user:u1", "upload.infected"), ("teachers:c1", "upload.infected")],
        ),
    ),
    "material added in a class folder": (
        served(SpaceKind.CLASS),
        upload(quota="class#s1#c1"),
        CLEAN,
        None,
        None,
        ("available", None, 1, SERVE, 0, [("user:u1", "upload.available"), ("class:c1", "material.added")]),
    ),
    "cancelled: nobody is told": (
        served(),
        upload(),
        CANCELLED,
        None,
        None,
        ("rejected", "cancelled", None, DESCRIBE, 1234, []),
    ),
    "submission on time (no quota: nothing released)": (
        served(SpaceKind.ASSIGNMENT),
        upload(quota=None),
        CLEAN,
        ASSIGNMENT,
        DUE - timedelta(minutes=1),
        ("available", None, 1, SERVE, 0, [("user:u1", "upload.available"), ("teachers:c1", "submission.received")]),
    ),
    "submission late": (
        served(SpaceKind.ASSIGNMENT),
        upload(quota=None),
        CLEAN,
        ASSIGNMENT,
        DUE + timedelta(minutes=1),
        ("available", None, 1, SERVE, 0, [("user:u1", "upload.available"), ("teachers:c1", "submission.received")]),
    ),
    "submission refused: no quota to give back": (
        served(SpaceKind.ASSIGNMENT),
        upload(quota=None),
        INFECTED,
        ASSIGNMENT,
        None,
        (
            "infected",
            "Eicar-Signature",
            None,
            DESCRIBE,
            0,
            [("user:u1", "upload.infected"), ("teachers:c1", "upload.infected")],
        ),
    ),
    "feedback returned to its student": (
        served(SpaceKind.ASSIGNMENT, owner="teacher", subject="u1"),
        upload(quota=None, owner="teacher"),
        CLEAN,
        ASSIGNMENT,
        None,
        (
            "available",
            None,
            1,
            SERVE,
            0,
            [("user:teacher", "upload.available"), ("user:u1", "feedback.returned")],
        ),
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_settlement(name: str) -> None:
    state, grant, verdict, assignment, arrived, expected = CASES[name]
    status, reason, version, change, release, notes = expected
    settled = settle(state, grant, verdict, assignment, NOW, arrived)
    assert (settled.verdict.status.value, settled.verdict.reason) == (status, reason)
    assert settled.version == version
    assert settled.change is change
    assert settled.release == release
    assert [(n.audience, n.type.value) for n in settled.notifications] == notes
    for note in settled.notifications:
        assert (note.school, note.file_id, note.at, note.by) == ("s1", "f1", NOW, grant.owner)
        assert note.version == (version if settled.verdict.clean else None)
    if settled.verdict.clean:
        assert settled.verdict.content_type == "application/pdf"  # the judged type is what is served


@pytest.mark.parametrize(("arrived", "late"), [(DUE - timedelta(seconds=1), False), (DUE + timedelta(seconds=1), True)])
def test_a_submission_is_late_by_its_bytes_arrival(arrived: datetime, late: bool) -> None:
    settled = settle(served(SpaceKind.ASSIGNMENT), upload(quota=None), CLEAN, ASSIGNMENT, NOW, arrived)
    assert [n.late for n in settled.notifications] == [None, late]


def test_without_arrival_the_verdict_time_counts() -> None:
    settled = settle(served(SpaceKind.ASSIGNMENT), upload(quota=None), CLEAN, ASSIGNMENT, NOW)
    assert settled.notifications[1].late is True  # NOW is past DUE
