"""Notifications: what happened to a user's uploads and in their classes, without polling every file.

What is written, and to whom (an *audience* is one feed partition):
  `user:{id}`       the uploader: `upload.available` / `upload.infected` / `upload.rejected` for
                    their own uploads; a student: `feedback.returned` when a teacher's feedback
                    file for them becomes available
  `class:{id}`      every member of the class (teachers and students): `material.added` when a
                    file becomes available in `class:{id}`
  `teachers:{id}`   the class's teachers: `submission.received` (with `late`) when a student's
                    submission becomes available in one of the class's assignments, and
                    `upload.infected` in the class folder or its assignments

Fan-out: none at write time. A verdict writes at most two items (the uploader's, and one for the
class or its teachers), in the same DynamoDB transaction as the verdict, so a notification exists
exactly when its verdict does, the transaction stays far below DynamoDB's 100 actions whatever the
size of the class, and a class of 30 costs what a class of 3 does. The cost moves to the read: a
user's feed merges their own partition with one per class they belong to (one membership query,
then one query per partition, each of at most a page), so a page costs 1 + 1 + classes queries
whatever the number of notifications. A member removed from a class stops seeing its feed at once,
as with its files; one added sees the class's recent material.

Items live 90 days (the table's TTL attribute `ttl`). Pushes: each new item also waits in an outbox
(the sparse `due` index, `DUE#notify#{day}`) that the scan handler drains after each batch and the
sweeper every hour: an item is claimed by one drain only (a conditional update), then handed to a
`Publisher` (SNS in deployment, a log line locally), or put back when publishing fails. So a push
follows its committed verdict, at most once: a crash between claim and publish loses that push, and
one still unpublished after a day is left (the feed always has the item).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from chalicelib.domain import paging
from chalicelib.domain.content import Verdict
from chalicelib.domain.models import (
    Assignment,
    FileRecord,
    FileStatus,
    Membership,
    Principal,
    SpaceKind,
    iso,
    new_id,
    utcnow,
)
from chalicelib.domain.paging import parse_limit
from chalicelib.domain.schema import INT, MICRO_TIME, SCHOOL, TEXT, Field, Schema, enum, ident
from chalicelib.errors import CartableError

log = logging.getLogger("cartable.notifications")

LIFETIME = timedelta(days=90)
OUTBOX_PAGE = 100  # notifications published per day partition and drain
POSITION = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z#[A-Za-z0-9_-]{1,64}")


class NotificationType(StrEnum):
    UPLOAD_AVAILABLE = "upload.available"
    UPLOAD_INFECTED = "upload.infected"
    UPLOAD_REJECTED = "upload.rejected"
    FEEDBACK_RETURNED = "feedback.returned"
    SUBMISSION_RECEIVED = "submission.received"
    MATERIAL_ADDED = "material.added"
    FILE_QUARANTINED = "file.quarantined"  # a rescan found a served file infected: it is gone


# An upload the uploader cancelled themselves tells nobody anything.
SILENT_REASONS = frozenset({"cancelled"})
VERDICT_TYPES = {
    FileStatus.AVAILABLE: NotificationType.UPLOAD_AVAILABLE,
    FileStatus.INFECTED: NotificationType.UPLOAD_INFECTED,
    FileStatus.REJECTED: NotificationType.UPLOAD_REJECTED,
}


@dataclass(frozen=True)
class Notification:
    """One thing that happened, for one audience (`user:{id}`, `class:{id}` or `teachers:{id}`)."""

    id: str
    school: str
    audience: str
    type: NotificationType
    at: datetime
    file_id: str
    space: str
    name: str
    version: int | None = None
    reason: str | None = None
    late: bool | None = None
    by: str | None = None  # whose upload it was

    @property
    def position(self) -> str:
        """Its place in a feed: time to the microsecond, then the id; newest first is descending order."""
        return f"{self.at.strftime('%Y-%m-%dT%H:%M:%S.%fZ')}#{self.id}"

    @property
    def expires_at(self) -> datetime:
        """When DynamoDB's TTL may drop it (and the feed stops showing it)."""
        return self.at + LIFETIME


NOTIFICATION = Schema(
    Notification,
    ident("notification"),
    SCHOOL,
    Field("audience", json=None),
    Field("type", enum(NotificationType)),
    Field("at", MICRO_TIME),  # to the microsecond where kept (a feed's order), to the second in JSON
    Field("file_id"),
    Field("space"),
    Field("name"),
    Field("version", INT),
    Field("reason", TEXT),
    Field("late"),
    Field("by", column="by_user"),
)


def audiences(user_id: str, membership: Membership) -> list[str]:
    """Every feed partition a user reads: their own, their classes', and their classes' teachers'."""
    members = [f"class:{c}" for c in sorted(membership.teaching | membership.studying)]
    return [f"user:{user_id}", *members, *(f"teachers:{c}" for c in sorted(membership.teaching))]


def verdict_notifications(
    file: FileRecord,
    uploader: str,
    verdict: Verdict,
    version: int | None,
    assignment: Assignment | None,
    now: datetime,
    arrived: datetime | None = None,
) -> list[Notification]:
    """What a verdict on an upload of `file` tells whom (at most two notifications: see the module).

    `file` is the file as it stood before the verdict (its space, name, owner, subject); `version` the
    version a clean verdict makes; `assignment` the assignment of an assignment space; `arrived` when
    the bytes reached storage."""

    def note(audience: str, kind: NotificationType, **extra: Any) -> Notification:
        return Notification(
            id=new_id(),
            school=file.school,
            audience=audience,
            type=kind,
            at=now,
            file_id=file.id,
            space=str(file.space),
            name=file.name,
            version=version if verdict.clean else None,
            reason=verdict.reason,
            by=uploader,
            **extra,
        )

    if verdict.reason in SILENT_REASONS:
        return []
    notes = [note(f"user:{uploader}", VERDICT_TYPES[verdict.status])]
    kind = file.space.kind
    class_id = file.space.id if kind is SpaceKind.CLASS else assignment.class_id if assignment else None
    if class_id is None:
        return notes  # a personal drive: only its owner's own upload
    if verdict.status is FileStatus.INFECTED:
        notes.append(note(f"teachers:{class_id}", NotificationType.UPLOAD_INFECTED))
    elif verdict.clean and kind is SpaceKind.CLASS:
        notes.append(note(f"class:{class_id}", NotificationType.MATERIAL_ADDED))
    elif verdict.clean and assignment is not None and file.is_feedback:
        notes.append(note(f"user:{file.subject}", NotificationType.FEEDBACK_RETURNED))
    elif verdict.clean and assignment is not None:
        # the same rule as the submissions list and receipts: the bytes' arrival against the due time
        late = (arrived or now) > assignment.due_at
        notes.append(note(f"teachers:{class_id}", NotificationType.SUBMISSION_RECEIVED, late=late))
    return notes


def quarantine_notifications(
    file: FileRecord, signature: str, audiences: Sequence[str], now: datetime
) -> list[Notification]:
    """What a rescan that quarantines `file` tells: its owner, the class's teachers, and whoever it was
    shared with (those shares end with it). One item per audience, no fan-out (see the module)."""
    return [
        Notification(
            id=new_id(),
            school=file.school,
            audience=audience,
            type=NotificationType.FILE_QUARANTINED,
            at=now,
            file_id=file.id,
            space=str(file.space),
            name=file.name,
            reason=signature,
            by=file.owner,
        )
        for audience in dict.fromkeys(audiences)
    ]


def notification_json(item: Notification) -> dict[str, Any]:
    """A notification as the API answers it."""
    return NOTIFICATION.to_json(item)


def encode_position(position: str) -> str:
    """The cursor of a feed position (opaque to clients)."""
    return paging.encode_position(position)


def decode_position(cursor: str) -> str:
    """The feed position a cursor holds; 400 for anything else."""
    return paging.decode_position(cursor, POSITION)


class NotificationStore(Protocol):
    def membership(self, school: str, user_id: str) -> Membership: ...

    def notifications(
        self, school: str, audiences: Sequence[str], before: str | None, limit: int, now: datetime
    ) -> tuple[list[Notification], bool]: ...

    def claim_unpublished(self, day: str, now: datetime, limit: int) -> list[Notification]: ...

    def unclaim(self, notifications: Sequence[Notification]) -> None: ...


class Publisher(Protocol):
    """Hands notifications to whatever pushes them to devices (SNS in deployment, nothing locally)."""

    def publish(self, notifications: Sequence[Notification]) -> None: ...


class NotificationService:
    """A user's feed, newest first, in pages whose cost does not grow with the feed; and the outbox's
    drain, which hands each new notification to the publisher once."""

    def __init__(self, store: NotificationStore, publisher: Publisher | None = None) -> None:
        self._store = store
        self._publisher = publisher

    def publish_pending(self, now: datetime, limit: int = OUTBOX_PAGE) -> int:
        """Publish what the outbox holds (today's and yesterday's); what fails goes back for the next
        drain. A crash between claim and publish loses that push, never the feed's item."""
        if self._publisher is None:
            return 0
        published = 0
        for day in sorted({iso(now - timedelta(days=1))[:10], iso(now)[:10]}):
            claimed = self._store.claim_unpublished(day, now, limit)
            if not claimed:
                continue
            try:
                self._publisher.publish(claimed)
            except CartableError:
                self._store.unclaim(claimed)
                raise
            published += len(claimed)
        return published

    def feed(self, principal: Principal, limit: str | None, cursor: str | None) -> dict[str, Any]:
        """`{"items", "nextCursor"}`: the caller's notifications and their classes', newest first."""
        size = parse_limit(limit)
        before = decode_position(cursor) if cursor else None
        membership = self._store.membership(principal.school, principal.user_id)
        now = utcnow()
        items, more = self._store.notifications(
            principal.school, audiences(principal.user_id, membership), before, size, now
        )
        next_cursor = encode_position(items[-1].position) if more and items else None
        return {"items": [notification_json(i) for i in items], "nextCursor": next_cursor}
