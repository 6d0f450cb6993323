"""The feeds: notifications and their outbox, jobs, and the rescan's progress."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from chalicelib.adapters.postgres.db import Repository, Row, due, opt_second, second, utc
from chalicelib.adapters.postgres.records import insert
from chalicelib.domain.jobs import LIFETIME as JOB_LIFETIME
from chalicelib.domain.jobs import Job
from chalicelib.domain.models import iso
from chalicelib.domain.notifications import Notification, NotificationType
from chalicelib.errors import StaleWriteError

if TYPE_CHECKING:
    import psycopg

NOTIFICATION_COLUMNS = (
    "school, audience, position, notification_id, type, at, file_id, space, name, version, reason, late,"
    " by_user, expires_at, outbox_day, outbox_key"
)
JOB_COLUMNS = (
    "job_id, school, requester, role, kind, subject, status, created_at, finished_at, target, name, reason,"
    " summary, gone_at"
)


def outbox(note: Notification) -> tuple[str, str]:
    """A notification's place in the outbox: its day, and its moment (to the second) then its id."""
    day, _ = due(note.at)
    return day, f"{iso(note.at)}#{note.id}"


def notification_row(note: Notification) -> Row:
    day, key = outbox(note)
    return {
        "school": note.school,
        "audience": note.audience,
        "position": note.position,
        "notification_id": note.id,
        "type": note.type.value,
        "at": note.at,
        "file_id": note.file_id,
        "space": note.space,
        "name": note.name,
        "version": note.version,
        "reason": note.reason,
        "late": note.late,
        "by_user": note.by,
        "expires_at": note.expires_at,
        "outbox_day": day,
        "outbox_key": key,
    }


INSERT_NOTIFICATION = insert(
    "notifications", NOTIFICATION_COLUMNS.replace(" ", "").split(","), " ON CONFLICT DO NOTHING"
)


def write_notifications(conn: psycopg.Connection[Row], notes: Sequence[Notification]) -> None:
    for note in notes:
        conn.execute(INSERT_NOTIFICATION, notification_row(note))


def notification_from_row(row: Row) -> Notification:
    at = row["at"].astimezone(UTC)
    return Notification(
        id=row["notification_id"],
        school=row["school"],
        audience=row["audience"],
        type=NotificationType(row["type"]),
        at=at,
        file_id=row["file_id"],
        space=row["space"],
        name=row["name"],
        version=row["version"],
        reason=row["reason"] or None,
        late=row["late"],
        by=row["by_user"],
    )


def _job_row(job: Job) -> Row:
    from psycopg.types.json import Jsonb

    return {
        "job_id": job.id,
        "school": job.school,
        "requester": job.requester,
        "role": job.role,
        "kind": job.kind,
        "subject": job.subject,
        "status": job.status,
        "created_at": second(job.created_at),
        "finished_at": opt_second(job.finished_at),
        "target": job.target,
        "name": job.name,
        "reason": job.reason,
        "summary": None if job.summary is None else Jsonb(job.summary),
        "gone_at": second(job.created_at + JOB_LIFETIME + timedelta(days=1)),  # a day after its ZIP goes
    }


class FeedRepository(Repository):
    """`notifications` (with their outbox), `jobs` and `rescan`."""

    def notifications(
        self, school: str, audiences: Sequence[str], before: str | None, limit: int, now: datetime
    ) -> tuple[list[Notification], bool]:
        """The newest `limit` notifications of some audiences (older than `before`), merged, and whether
        more may follow: one query per audience, each of at most `limit` + 1 rows. Expired ones (90 days:
        the sweeper deletes them) are never shown, and as every one lives as long, all that follows an
        expired one has expired too."""
        merged: list[Notification] = []
        for audience in audiences:
            params: dict[str, Any] = {"school": school, "audience": audience, "n": limit + 1}
            where = "school = %(school)s AND audience = %(audience)s"
            if before is not None:
                params["before"] = before
                where += " AND position < %(before)s"
            rows = self._db.all(
                f"SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE {where}"  # noqa: S608 - constants
                " ORDER BY position DESC LIMIT %(n)s",
                params,
            )
            merged += [notification_from_row(r) for r in rows]
        merged.sort(key=lambda n: n.position, reverse=True)
        page = merged[:limit]
        live = [n for n in page if n.expires_at > now]
        return live, len(merged) > limit and len(live) == len(page)

    def claim_unpublished(self, day: str, now: datetime, limit: int) -> list[Notification]:
        """Take notifications of a day out of the outbox, each claimed by one caller only (rows locked by
        another drain are skipped), so that concurrent scan batches never publish one twice."""
        rows = self._db.all(
            f"UPDATE notifications SET outbox_day = NULL, outbox_key = NULL"  # noqa: S608 - constants
            " WHERE (school, audience, position) IN ("
            "  SELECT school, audience, position FROM notifications WHERE outbox_day = %s AND outbox_key <= %s"
            "  ORDER BY outbox_key LIMIT %s FOR UPDATE SKIP LOCKED)"
            f" RETURNING {NOTIFICATION_COLUMNS}",
            (day, f"{iso(now)}#~", limit),
        )
        claimed = [notification_from_row(r) for r in rows]
        return sorted(claimed, key=lambda n: outbox(n)[1])

    def unclaim(self, notifications: Sequence[Notification]) -> None:
        """Put notifications back in the outbox (their publication failed): the next drain retries."""
        with self._db.connection() as conn:
            for note in notifications:
                day, key = outbox(note)
                found = conn.execute(
                    "UPDATE notifications SET outbox_day = %s, outbox_key = %s"
                    " WHERE school = %s AND audience = %s AND position = %s",
                    (day, key, note.school, note.audience, note.position),
                )
                if not found.rowcount:
                    raise StaleWriteError("The record changed meanwhile.")

    def put_job(self, job: Job) -> None:
        row = _job_row(job)
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in row if c != "job_id")
        self._db.run(insert("jobs", row, f" ON CONFLICT (job_id) DO UPDATE SET {updates}"), row)

    def get_job(self, job_id: str) -> Job | None:
        row = self._db.one(f"SELECT {JOB_COLUMNS} FROM jobs WHERE job_id = %s", (job_id,))  # noqa: S608
        if row is None:
            return None
        created = utc(row["created_at"])
        assert created is not None
        return Job(
            id=row["job_id"],
            school=row["school"],
            requester=row["requester"],
            role=row["role"],
            kind=row["kind"],
            subject=row["subject"],
            status=row["status"],
            created_at=created,
            finished_at=utc(row["finished_at"]),
            target=row["target"],
            name=row["name"],
            reason=row["reason"],
            summary=row["summary"],
        )

    def finish_job(self, job: Job) -> None:
        """A job's end, once: a repeated message never rewrites it."""
        row = _job_row(job)
        updates = ", ".join(f"{c} = %({c})s" for c in row if c != "job_id")
        count = self._db.run(
            f"UPDATE jobs SET {updates} WHERE job_id = %(job_id)s AND status = 'pending'",  # noqa: S608 - constants
            row,
        )
        if not count:
            raise StaleWriteError("The record changed meanwhile.")

    def rescan_progress(self) -> dict[str, Any] | None:
        row = self._db.one("SELECT progress FROM rescan WHERE id = 1")
        return None if row is None else dict(row["progress"])

    def save_rescan_progress(self, progress: Mapping[str, Any]) -> None:
        from psycopg.types.json import Jsonb

        self._db.run(
            "INSERT INTO rescan (id, progress) VALUES (1, %s)"
            " ON CONFLICT (id) DO UPDATE SET progress = EXCLUDED.progress",
            (Jsonb(dict(progress)),),
        )
