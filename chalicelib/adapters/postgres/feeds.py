"""The feeds: notifications and their outbox, jobs, and the rescan's progress."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from chalicelib.adapters.postgres.db import Repository, Row, due, second
from chalicelib.adapters.postgres.records import insert
from chalicelib.domain.jobs import JOB, Job
from chalicelib.domain.jobs import LIFETIME as JOB_LIFETIME
from chalicelib.domain.models import iso
from chalicelib.domain.notifications import NOTIFICATION, Notification
from chalicelib.errors import StaleWriteError

if TYPE_CHECKING:
    import psycopg

NOTIFICATION_COLUMNS = ", ".join(NOTIFICATION.columns)
JOB_COLUMNS = ", ".join(JOB.columns)


def outbox(note: Notification) -> tuple[str, str]:
    """A notification's place in the outbox: its day, and its moment (to the second) then its id."""
    day, _ = due(note.at)
    return day, f"{iso(note.at)}#{note.id}"


def notification_row(note: Notification) -> Row:
    """A notification in its audience's feed (by position), gone after 90 days, in the outbox until claimed."""
    day, key = outbox(note)
    return {
        **NOTIFICATION.to_row(note),
        "position": note.position,
        "expires_at": note.expires_at,
        "outbox_day": day,
        "outbox_key": key,
    }


INSERT_NOTIFICATION = insert(
    "notifications",
    (*NOTIFICATION.columns, "position", "expires_at", "outbox_day", "outbox_key"),
    " ON CONFLICT DO NOTHING",
)


def write_notifications(conn: psycopg.Connection[Row], notes: Sequence[Notification]) -> None:
    for note in notes:
        conn.execute(INSERT_NOTIFICATION, notification_row(note))


def notification_from_row(row: Row) -> Notification:
    return NOTIFICATION.from_row(row)


def _job_row(job: Job) -> Row:
    from psycopg.types.json import Jsonb

    row = JOB.to_row(job)
    return {
        **row,
        "summary": None if row["summary"] is None else Jsonb(row["summary"]),
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
        return None if row is None else JOB.from_row(row)

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
