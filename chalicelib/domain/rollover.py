"""The end of a school year: classes become read-only archives, class shares end, and pupils' work
goes after the school's retention period (with a dry run that says what would go).

Closing a year archives every class of the school not archived yet. An archived class's folder and
assignments stay readable by the same people as before, but the permission rules deny every write
there (`archived.deny` in policies/sharing/rules.json): uploads, deletions, feedback, new shares and
assignments answer 403. The shares that reached people through the class end, and so do the shares of
the files in its folder and assignments. New classes for the new year get new ids (a roster import).

Retention is a school setting (`retentionDays` in the rules' `schools`, none by default). Pupils' work
is what was turned in to the archived classes' assignments (submissions and the feedback on them);
the class folders' material stays. `GET /v1/retention?asOf=` lists exactly the files that are past it
on that date; the hourly sweeper moves them to the trash once due (purged 30 days later, like any
deleted file, so a mistake can still be undone).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from chalicelib.domain.access import AccessControl
from chalicelib.domain.audit import entry
from chalicelib.domain.models import (
    Action,
    Assignment,
    ClassRecord,
    FileRecord,
    Principal,
    Role,
    Share,
    SpaceKind,
    SpaceRef,
    is_valid_id,
    iso,
    parse_iso,
    utcnow,
)
from chalicelib.domain.paging import parse_limit
from chalicelib.domain.sharing import position as share_position
from chalicelib.domain.sync import due_days, live_changes, live_files
from chalicelib.errors import BadRequestError, StaleWriteError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from chalicelib.domain.models import AuditEntry
    from chalicelib.domain.ports import Change, ClassPage

log = logging.getLogger("cartable.rollover")

YEAR = re.compile(r"[0-9A-Za-z_-]{1,32}")
SWEEPER = "cartable-sweeper"


Position = tuple[str, int, int]


@dataclass(frozen=True)
class RetainedFile:
    """A file of pupils' work and when its class was archived."""

    file: FileRecord
    class_id: str
    archived_at: datetime
    position: Position  # (class, assignment's index in the class, feed sequence): where a page resumes


def parse_as_of(raw: str | None) -> datetime:
    """`asOf` as a date (`2027-09-01`) or an RFC 3339 time; now when absent."""
    if raw is None or raw == "":
        return utcnow()
    try:
        if len(raw) == 10:
            return datetime.fromisoformat(raw).replace(tzinfo=UTC)
        return parse_iso(raw)
    except ValueError:
        raise BadRequestError("asOf must be a date (2027-09-01) or a time (2027-09-01T00:00:00Z).") from None


class YearStore(Protocol):
    """What closing a year and retention need: classes, assignments, shares, the feeds, due work."""

    def archive_class(
        self, record: ClassRecord, year: str, now: datetime, assignments: Sequence[Assignment]
    ) -> None: ...

    def put_retention_due(self, school: str, year: str, when: datetime) -> None: ...

    def retention_due(self, day: str, now: datetime, limit: int) -> list[str]: ...

    def list_assignments(self, school: str, class_id: str) -> list[Assignment]: ...

    def trash_file(self, file_id: str, now: datetime, audit: AuditEntry) -> None: ...

    def changes(self, school: str, space: SpaceRef, after: int, limit: int) -> list[Change]: ...

    def list_classes(self, school: str, limit: int, cursor: str | None) -> ClassPage: ...

    def file_shares(self, file_id: str) -> list[Share]: ...

    def delete_share(self, share: Share, audit: AuditEntry) -> None: ...

    def shares_received(
        self, school: str, targets: Sequence[tuple[str, str]], limit: int, before: str | None = None
    ) -> list[Share]: ...

    def record_audit(self, entry: AuditEntry) -> None: ...


class YearService:
    def __init__(self, catalog: YearStore, access: AccessControl) -> None:
        self._catalog = catalog
        self._access = access

    # -- closing a year ---------------------------------------------------------------------------
    @staticmethod
    def year_of(body: Mapping[str, Any]) -> str:
        year = body.get("year")
        if not isinstance(year, str) or not YEAR.fullmatch(year):
            raise BadRequestError("year must name the school year, e.g. 2025-2026.")
        return year

    def check_close(self, principal: Principal, year: str) -> None:
        """An admin of the school closes its years (the job runs `close_year` as them)."""
        self._access.school(principal).require(Action.MANAGE)
        self.year_of({"year": year})

    def close_year(self, principal: Principal, year: str) -> dict[str, Any]:
        """Archive every open class of the school; safe to run again (it finishes what a crash left).
        Its cost grows with the school's files (their shares end): a job runs it, off the request."""
        self.check_close(principal, year)
        now = utcnow().replace(microsecond=0)
        classes = assignments = shares = 0
        for record in self._classes(principal.school):
            if record.archived_at is not None:
                continue
            of_class = self._catalog.list_assignments(principal.school, record.id)
            shares += self._end_shares(principal, record, of_class)
            try:
                self._catalog.archive_class(record, year, now, of_class)
            except StaleWriteError:
                continue  # closed meanwhile by another call
            classes += 1
            assignments += len(of_class)
        days = self.retention_days(principal.school)
        if days is not None:
            self._catalog.put_retention_due(principal.school, year, now + timedelta(days=days))
        self._catalog.record_audit(
            entry(principal, "year.close", f"school:{principal.school}", reason=f"{year}: {classes} classes")
        )
        log.info("year closed school=%s year=%s classes=%d shares=%d", principal.school, year, classes, shares)
        return {
            "year": year,
            "closedAt": iso(now),
            "classes": classes,
            "assignments": assignments,
            "sharesEnded": shares,
        }

    def _shares_with_class(self, school: str, class_id: str) -> Iterator[Share]:
        before: str | None = None
        while True:
            page = self._catalog.shares_received(school, [("class", class_id)], 1000, before)
            yield from page
            if len(page) < 1000:
                return
            before = share_position(page[-1])

    def _classes(self, school: str) -> Iterator[ClassRecord]:
        cursor: str | None = None
        while True:
            page = self._catalog.list_classes(school, 1000, cursor)
            yield from page.classes
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    def _end_shares(self, principal: Principal, record: ClassRecord, assignments: list[Assignment]) -> int:
        """The shares with the class, and the shares of every file of its folder and assignments."""
        ended = {s.id: s for s in self._shares_with_class(principal.school, record.id)}
        spaces = [SpaceRef(SpaceKind.CLASS, record.id)] + [SpaceRef(SpaceKind.ASSIGNMENT, a.id) for a in assignments]
        for space in spaces:
            for file in live_files(self._catalog, principal.school, space):
                ended.update({s.id: s for s in self._catalog.file_shares(file.id)})
        for share in ended.values():
            reason = f"school year closed for class {record.id}"
            self._catalog.delete_share(share, entry(principal, "share.end", f"share:{share.id}", reason=reason))
        return len(ended)

    # -- retention --------------------------------------------------------------------------------
    def retention_days(self, school: str) -> int | None:
        days = self._access.rules.school_setting(school, "retentionDays")
        return int(days) if isinstance(days, int) and not isinstance(days, bool) and days > 0 else None

    def past_retention(self, school: str, when: datetime, after: Position | None = None) -> Iterator[RetainedFile]:
        """Pupils' work of classes archived at least `retentionDays` before `when`, class by class,
        assignment by assignment, in feed order; strictly after the position `after` when given."""
        days = self.retention_days(school)
        if days is None:
            return
        cutoff = when - timedelta(days=days)
        for record in self._classes(school):
            if record.archived_at is None or record.archived_at > cutoff or (after and record.id < after[0]):
                continue  # not past retention, or before where this page resumes
            for index, assignment in enumerate(self._catalog.list_assignments(school, record.id)):
                start = _resume(after, record.id, index)
                if start is None:
                    continue
                space = SpaceRef(SpaceKind.ASSIGNMENT, assignment.id)
                for change in live_changes(self._catalog, school, space, start):
                    position = (record.id, index, change.seq)
                    yield RetainedFile(change.file, record.id, record.archived_at, position)

    def retention_report(
        self, principal: Principal, as_of: str | None, limit: str | None, cursor: str | None
    ) -> dict[str, Any]:
        """The dry run: exactly what the retention would remove on `asOf` (now by default)."""
        self._access.school(principal).require(Action.MANAGE)
        when = parse_as_of(as_of)
        page_size = parse_limit(limit)
        after = _decode_position(cursor) if cursor else None
        days = self.retention_days(principal.school)
        items: list[dict[str, Any]] = []
        next_cursor = None
        last: Position | None = None
        for item in self.past_retention(principal.school, when, after):
            if len(items) == page_size:
                assert last is not None
                next_cursor = _encode_position(last)  # the next page resumes right after the last item
                break
            last = item.position
            items.append(
                {
                    "fileId": item.file.id,
                    "space": str(item.file.space),
                    "name": item.file.name,
                    "owner": item.file.owner,
                    "size": item.file.size,
                    "classId": item.class_id,
                    "archivedAt": iso(item.archived_at),
                    "purgeAfter": iso(item.archived_at + timedelta(days=days or 0)),
                }
            )
        return {"retentionDays": days, "asOf": iso(when), "items": items, "nextCursor": next_cursor}

    def apply_due_retention(self, now: datetime, lookback_days: int = 7) -> int:
        """The sweeper's part: every school whose closed year fell past retention lately."""
        schools = {
            school for day in due_days(now, lookback_days) for school in self._catalog.retention_due(day, now, 500)
        }
        return sum(self.apply_retention(school, now) for school in sorted(schools))

    def apply_retention(self, school: str, now: datetime) -> int:
        """Move to the trash what is past retention (the sweeper, or an operator by hand)."""
        robot = Principal(user_id=SWEEPER, school=school, role=Role.ADMIN)
        moved = 0
        for item in list(self.past_retention(school, now)):
            reason = f"retention: class {item.class_id} archived {iso(item.archived_at)}"
            try:
                self._catalog.trash_file(
                    item.file.id, now, entry(robot, "file.retention", f"file:{item.file.id}", reason=reason)
                )
                moved += 1
            except StaleWriteError:
                continue
        log.info("retention school=%s moved to trash=%d", school, moved)
        return moved


def _resume(after: Position | None, class_id: str, index: int) -> int | None:
    """Where to read an assignment's feed from, resuming after `after`; None: it was read already."""
    if after is None or (class_id, index) > after[:2]:
        return 0
    return after[2] if (class_id, index) == after[:2] else None


def _encode_position(position: Position) -> str:
    text = json.dumps({"c": position[0], "a": position[1], "s": position[2]}, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _decode_position(cursor: str) -> Position:
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        position = (value["c"], value["a"], value["s"])
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise BadRequestError("cursor is not one this list gave.") from None
    klass, index, seq = position
    counts = all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in (index, seq))
    if not is_valid_id(klass) or not counts:
        raise BadRequestError("cursor is not one this list gave.")
    return klass, index, seq
