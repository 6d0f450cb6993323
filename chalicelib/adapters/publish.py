"""Publishers of notifications: SNS in deployment (a school's app subscribes and pushes to tablets),
a log line locally."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.domain.notifications import Notification, notification_json
from chalicelib.errors import ServiceUnavailableError

log = logging.getLogger("cartable.publish")

SNS_BATCH = 10  # PublishBatch takes at most 10 entries


def message(note: Notification) -> dict[str, Any]:
    """What a subscriber receives: the notification as the feed shows it, with its school and audience."""
    return {"school": note.school, "audience": note.audience, **notification_json(note)}


class LogPublisher:
    """Stage local, or no topic configured: the feed is the only delivery."""

    def publish(self, notifications: Sequence[Notification]) -> None:
        log.info("notifications not pushed (no topic): %d", len(notifications))


class SnsPublisher:
    """Publishes each notification to one SNS topic, with `school`, `audience` and `type` as message
    attributes so that subscriptions can filter (one school's app, one class)."""

    def __init__(self, client: Any, topic_arn: str) -> None:
        self._sns = client
        self._topic = topic_arn

    def publish(self, notifications: Sequence[Notification]) -> None:
        for start in range(0, len(notifications), SNS_BATCH):
            entries = [self._entry(n) for n in notifications[start : start + SNS_BATCH]]
            try:
                answer = self._sns.publish_batch(TopicArn=self._topic, PublishBatchRequestEntries=entries)
            except (ClientError, BotoCoreError) as exc:
                raise ServiceUnavailableError("Notifications could not be published.") from exc
            if answer.get("Failed"):
                # the whole page goes back to the outbox; a subscriber tells repeats apart by `id`
                raise ServiceUnavailableError(f"{len(answer['Failed'])} notifications were not published.")

    @staticmethod
    def _entry(note: Notification) -> dict[str, Any]:
        def attribute(value: str) -> dict[str, str]:
            return {"DataType": "String", "StringValue": value}

        return {
            "Id": note.id,
            "Message": json.dumps(message(note), separators=(",", ":"), ensure_ascii=False),
            "MessageAttributes": {
                "school": attribute(note.school),
                "audience": attribute(note.audience),
                "type": attribute(note.type.value),
            },
        }
