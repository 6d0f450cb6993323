"""The feeds: notifications and their outbox, jobs, and the rescan's progress."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from chalicelib.adapters.dynamodb.table import DUE_INDEX, Item, Repository, due_key, dump, load
from chalicelib.domain.jobs import JOB, Job
from chalicelib.domain.jobs import LIFETIME as JOB_LIFETIME
from chalicelib.domain.models import iso
from chalicelib.domain.notifications import NOTIFICATION, Notification
from chalicelib.errors import StaleWriteError


def notification_item(note: Notification) -> Item:
    """A notification in its audience's feed partition, newest last in sort order; gone after 90 days.
    Until published it is also in the sparse `due` index (`DUE#notify#{day}`): the outbox."""
    outbox, stamp = due_key("notify", note.at)
    return {
        **NOTIFICATION.to_item(note),
        "pk": f"NOTIF#{note.school}#{note.audience}",
        "sk": note.position,
        "gsi2pk": outbox,
        "gsi2sk": f"{stamp}#{note.id}",
        "ttl": int(note.expires_at.timestamp()),
    }


def notification_from_item(item: Item) -> Notification:
    return NOTIFICATION.from_item(item)


def _job_item(job: Job) -> Item:
    """A job's item, dropped by DynamoDB's TTL a day after its ZIP is gone."""
    return {
        **JOB.to_item(job),
        "pk": f"JOB#{job.id}",
        "sk": "JOB",
        "ttl": int((job.created_at + JOB_LIFETIME).timestamp()) + 86400,
    }


class FeedRepository(Repository):
    """NOTIF#… (and its outbox `DUE#notify#…`), JOB#… and RESCAN."""

    def notifications(
        self, school: str, audiences: Sequence[str], before: str | None, limit: int, now: datetime
    ) -> tuple[list[Notification], bool]:
        """The newest `limit` notifications of some audiences (older than `before`), merged, and whether
        more may follow: one query per audience, each of at most `limit` + 1 items, whatever the feeds hold."""
        merged: list[Notification] = []
        floor = ""  # a query cut short by DynamoDB's 1 MB says nothing of what is older than its last item
        for audience in audiences:
            condition, values = "pk = :p", {":p": f"NOTIF#{school}#{audience}"}
            if before is not None:
                condition, values = condition + " AND sk < :before", {**values, ":before": before}
            result = self._call(
                "query",
                TableName=self._table,
                KeyConditionExpression=condition,
                ExpressionAttributeValues=dump(values),
                ScanIndexForward=False,
                Limit=limit + 1,
            )
            items = [notification_from_item(load(raw)) for raw in result.get("Items", [])]
            if "LastEvaluatedKey" in result and items and len(items) <= limit:
                floor = max(floor, items[-1].position)
            merged += items
        merged = sorted((n for n in merged if n.position >= floor), key=lambda n: n.position, reverse=True)
        page = merged[:limit]
        more = len(merged) > limit or bool(floor)
        # DynamoDB's TTL removes expired items within days, not at once: they are never shown, and as
        # every item lives as long, all that follows an expired one has expired too.
        live = [n for n in page if n.expires_at > now]
        return live, more and len(live) == len(page)

    def claim_unpublished(self, day: str, now: datetime, limit: int) -> list[Notification]:
        """Take notifications of a day out of the outbox, each claimed by one caller only (a conditional
        update), so that concurrent scan batches never publish one twice."""
        result = self._call(
            "query",
            TableName=self._table,
            IndexName=DUE_INDEX,
            KeyConditionExpression="gsi2pk = :p AND gsi2sk <= :now",
            ExpressionAttributeValues=dump({":p": f"DUE#notify#{day}", ":now": f"{iso(now)}#~"}),
            Limit=limit,
        )
        claimed: list[Notification] = []
        for raw in result.get("Items", []):
            key = load(raw)
            try:
                taken = self._call(
                    "update_item",
                    TableName=self._table,
                    Key=dump({"pk": key["pk"], "sk": key["sk"]}),
                    UpdateExpression="REMOVE gsi2pk, gsi2sk",
                    ConditionExpression="attribute_exists(gsi2pk)",
                    ReturnValues="ALL_NEW",
                )
            except StaleWriteError:
                continue  # another batch took it
            claimed.append(notification_from_item(load(taken["Attributes"])))
        return claimed

    def unclaim(self, notifications: Sequence[Notification]) -> None:
        """Put notifications back in the outbox (their publication failed): the next drain retries."""
        for note in notifications:
            item = notification_item(note)
            self._call(
                "update_item",
                TableName=self._table,
                Key=dump({"pk": item["pk"], "sk": item["sk"]}),
                UpdateExpression="SET gsi2pk = :p, gsi2sk = :s",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues=dump({":p": item["gsi2pk"], ":s": item["gsi2sk"]}),
            )

    def put_job(self, job: Job) -> None:
        self._call("put_item", TableName=self._table, Item=dump(_job_item(job)))

    def get_job(self, job_id: str) -> Job | None:
        item = self._get(f"JOB#{job_id}", "JOB")
        if item is None:
            return None
        return JOB.from_item(item)

    def finish_job(self, job: Job) -> None:
        """A job's end, once: a repeated message never rewrites it."""
        self._call(
            "put_item",
            TableName=self._table,
            Item=dump(_job_item(job)),
            ConditionExpression="#st = :pending",
            ExpressionAttributeNames={"#st": "status"},
            ExpressionAttributeValues=dump({":pending": "pending"}),
        )

    def rescan_progress(self) -> dict[str, Any] | None:
        return self._get("RESCAN", "RESCAN")

    def save_rescan_progress(self, progress: Mapping[str, Any]) -> None:
        self._call("put_item", TableName=self._table, Item=dump({"pk": "RESCAN", "sk": "RESCAN", **progress}))
