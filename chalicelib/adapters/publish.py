"""Publishers of notifications: SNS in deployment (a school's app subscribes and pushes to tablets),
a log line locally.

On AWS one topic takes every notification and subscriptions filter on the message attributes. Providers
whose SNS-compatible topics have no filter policies (Scaleway's Topics and Events) get one topic per kind
instead: a topic ARN with `{type}` in it (`arn:scw:sns:fr-par:project-...:cartable-{type}`) sends each
notification to the topic of its type (`upload-available`, `feedback-returned`...; SNS names allow no dot),
and a subscriber takes the kinds it wants by subscribing to their topics; the school and audience stay
in the message and its attributes for the consumer to filter.
"""

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
TYPE_FIELD = "{type}"


def topic_for(topic: str, note: Notification) -> str:
    """The topic a notification goes to: `topic` itself, or with `{type}` replaced by its kind's name."""
    return topic.replace(TYPE_FIELD, note.type.value.replace(".", "-")) if TYPE_FIELD in topic else topic


def message(note: Notification) -> dict[str, Any]:
    """What a subscriber receives: the notification as the feed shows it, with its school and audience."""
    return {"school": note.school, "audience": note.audience, **notification_json(note)}


class LogPublisher:
    """Stage local, or no topic configured: the feed is the only delivery."""

    def publish(self, notifications: Sequence[Notification]) -> None:
        log.info("notifications not pushed (no topic): %d", len(notifications))


class SnsPublisher:
    """Publishes each notification to its SNS topic (one for all, or one per kind: `topic_for`), with
    `school`, `audience` and `type` as message attributes so that subscriptions can filter (one school's
    app, one class)."""

    def __init__(self, client: Any, topic_arn: str) -> None:
        self._sns = client
        self._topic = topic_arn

    def publish(self, notifications: Sequence[Notification]) -> None:
        by_topic: dict[str, list[Notification]] = {}
        for note in notifications:
            by_topic.setdefault(topic_for(self._topic, note), []).append(note)
        for topic, notes in by_topic.items():
            self._publish(topic, notes)

    def _publish(self, topic: str, notifications: Sequence[Notification]) -> None:
        for start in range(0, len(notifications), SNS_BATCH):
            entries = [self._entry(n) for n in notifications[start : start + SNS_BATCH]]
            try:
                answer = self._sns.publish_batch(TopicArn=topic, PublishBatchRequestEntries=entries)
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
