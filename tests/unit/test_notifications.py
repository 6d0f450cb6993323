"""Who hears of which verdict, as a table; feed positions and cursors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain.content import Verdict
from chalicelib.domain.models import Assignment, FileRecord, FileStatus, Membership, SpaceRef
from chalicelib.domain.notifications import (
    audiences,
    decode_position,
    encode_position,
    notification_json,
    verdict_notifications,
)
from chalicelib.errors import BadRequestError

NOW = datetime(2026, 12, 1, 17, 0, 30, 123456, tzinfo=UTC)
DUE = datetime(2026, 12, 1, 17, 0, tzinfo=UTC)
ASSIGNMENT = Assignment(
    id="a1",
    school="s",
    class_id="5B",
    title="TP",
    due_at=DUE,
    closes_at=None,
    max_size=None,
    allowed_types=None,
    created_by="prof",
    created_at=DUE,
)
AVAILABLE = Verdict(FileStatus.AVAILABLE, None)
INFECTED = Verdict(FileStatus.INFECTED, "Eicar-Signature")
REJECTED = Verdict(FileStatus.REJECTED, "type_mismatch")


def file(space: str, owner: str = "alice", subject: str | None = None) -> FileRecord:
    return FileRecord(
        id="f1",
        school="s",
        space=SpaceRef.from_stored(space),
        path="/",
        name="devoir.pdf",
        size=1,
        content_type="application/pdf",
        sha256=None,
        status=FileStatus.PENDING,
        reason=None,
        version=0,
        owner=owner,
        created_at=NOW,
        updated_at=NOW,
        subject=subject,
    )


@pytest.mark.parametrize(
    ("space", "owner", "subject", "verdict", "expected"),
    [
        ("user:alice", "alice", None, AVAILABLE, [("user:alice", "upload.available")]),
        ("user:alice", "alice", None, INFECTED, [("user:alice", "upload.infected")]),
        ("user:alice", "alice", None, REJECTED, [("user:alice", "upload.rejected")]),
        (
            "class:5B",
            "prof",
            None,
            AVAILABLE,
            [("user:prof", "upload.available"), ("class:5B", "material.added")],
        ),
        (
            "class:5B",
            "prof",
            None,
            INFECTED,
            [("user:prof", "upload.infected"), ("teachers:5B", "upload.infected")],
        ),
        ("class:5B", "prof", None, REJECTED, [("user:prof", "upload.rejected")]),
        (
            "assignment:a1",
            "alice",
            None,
            AVAILABLE,
            [("user:alice", "upload.available"), ("teachers:5B", "submission.received")],
        ),
        (
            "assignment:a1",
            "alice",
            None,
            INFECTED,
            [("user:alice", "upload.infected"), ("teachers:5B", "upload.infected")],
        ),
        ("assignment:a1", "alice", None, REJECTED, [("user:alice", "upload.rejected")]),
        (
            "assignment:a1",
            "prof",
            "alice",
            AVAILABLE,
            [("user:prof", "upload.available"), ("user:alice", "feedback.returned")],
        ),
    ],
)
def test_who_hears_of_a_verdict(
    space: str, owner: str, subject: str | None, verdict: Verdict, expected: list[tuple[str, str]]
) -> None:
    assignment = ASSIGNMENT if space.startswith("assignment:") else None
    notes = verdict_notifications(file(space, owner, subject), owner, verdict, 1, assignment, NOW, NOW)
    assert [(n.audience, n.type.value) for n in notes] == expected
    assert all(n.reason == verdict.reason and n.by == owner and n.at == NOW for n in notes)
    assert all(n.version == (1 if verdict.clean else None) for n in notes)
    assert all(n.expires_at == NOW + timedelta(days=90) for n in notes)


def test_late_is_the_arrival_against_the_due_time() -> None:
    def late(arrived: datetime) -> bool | None:
        notes = verdict_notifications(file("assignment:a1"), "alice", AVAILABLE, 1, ASSIGNMENT, NOW, arrived)
        return notes[-1].late

    assert late(DUE) is False and late(DUE - timedelta(seconds=1)) is False
    assert late(DUE + timedelta(seconds=1)) is True


def test_a_user_reads_their_own_feed_their_classes_and_their_classes_teachers() -> None:
    membership = Membership(teaching=frozenset({"5B"}), studying=frozenset({"4A"}))
    assert audiences("u", membership) == ["user:u", "class:4A", "class:5B", "teachers:5B"]
    assert audiences("u", Membership()) == ["user:u"]


def test_positions_order_newest_first_and_cursors_hold_only_positions() -> None:
    early, late = (
        verdict_notifications(file("user:a"), "a", AVAILABLE, 1, None, at, at)[0]
        for at in (NOW, NOW + timedelta(microseconds=1))
    )
    assert late.position > early.position
    assert decode_position(encode_position(late.position)) == late.position
    for bad in ("", "not-base64!", encode_position("NOTIF#s#user:bob"), encode_position(late.position + "#x")):
        with pytest.raises(BadRequestError):
            decode_position(bad)
    assert notification_json(early)["at"] == "2026-12-01T17:00:30Z"
