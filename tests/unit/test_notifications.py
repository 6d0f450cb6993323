"""Who hears of which verdict, as a table; feed positions and cursors."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain.content import Verdict
from chalicelib.domain.models import Assignment, FileRecord, FileStatus, Membership, SpaceRef, iso
from chalicelib.domain.notifications import (
    Notification,
    NotificationService,
    audiences,
    decode_position,
    encode_position,
    notification_json,
    verdict_notifications,
)
from chalicelib.errors import BadRequestError, ServiceUnavailableError

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


class FakeOutbox:
    """The outbox half of the store, in memory."""

    def __init__(self, waiting: list[Notification]) -> None:
        self.waiting = list(waiting)
        self.days: list[str] = []

    def membership(self, school: str, user_id: str) -> Membership:
        return Membership()

    def notifications(
        self, school: str, audiences: Sequence[str], before: str | None, limit: int, now: datetime
    ) -> tuple[list[Notification], bool]:
        return [], False

    def claim_unpublished(self, day: str, now: datetime, limit: int) -> list[Notification]:
        self.days.append(day)
        taken = [n for n in self.waiting if iso(n.at)[:10] == day][:limit]
        self.waiting = [n for n in self.waiting if n not in taken]
        return taken

    def unclaim(self, notifications: Sequence[Notification]) -> None:
        self.waiting += notifications


class Recorder:
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.published: list[Notification] = []

    def publish(self, notifications: Sequence[Notification]) -> None:
        if self.fail:
            raise ServiceUnavailableError("down")
        self.published += notifications


def test_the_outbox_is_published_once_and_kept_when_publishing_fails() -> None:
    just_after_midnight = datetime(2026, 12, 2, 0, 0, 5, tzinfo=UTC)
    notes = [
        verdict_notifications(file("user:a"), "a", AVAILABLE, 1, None, at, at)[0]
        for at in (just_after_midnight - timedelta(seconds=10), just_after_midnight)
    ]
    outbox = FakeOutbox(notes)
    with pytest.raises(ServiceUnavailableError):
        NotificationService(outbox, Recorder(fail=True)).publish_pending(just_after_midnight)
    assert outbox.waiting and set(outbox.waiting) <= set(notes)
    recorder = Recorder()
    service = NotificationService(outbox, recorder)
    assert service.publish_pending(just_after_midnight) == 2
    assert set(recorder.published) == set(notes) and outbox.waiting == []
    assert service.publish_pending(just_after_midnight) == 0
    assert outbox.days[-2:] == ["2026-12-01", "2026-12-02"]  # yesterday's too, around midnight
    assert NotificationService(FakeOutbox(notes)).publish_pending(just_after_midnight) == 0  # no publisher


def test_a_cancelled_upload_tells_nobody() -> None:
    cancelled = Verdict(FileStatus.REJECTED, "cancelled")
    assert verdict_notifications(file("assignment:a1"), "alice", cancelled, 1, ASSIGNMENT, NOW, NOW) == []


def test_each_kind_has_its_topic_when_the_arn_asks_for_one() -> None:
    from chalicelib.adapters.publish import topic_for

    note = verdict_notifications(file("user:a"), "a", INFECTED, 1, None, NOW, NOW)[0]
    assert topic_for("arn:aws:sns:eu-west-3:1:cartable", note) == "arn:aws:sns:eu-west-3:1:cartable"
    assert topic_for("arn:scw:sns:fr-par:p:cartable-{type}", note) == "arn:scw:sns:fr-par:p:cartable-upload-infected"
