"""The uploads queue over SQS, with an injected boto3 client: the sweeper re-announces objects here."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote_plus

from botocore.exceptions import ClientError

from chalicelib.errors import ServiceUnavailableError

BATCH = 10  # SQS takes ten messages per SendMessageBatch


def object_event(key: str) -> str:
    """An S3 ObjectCreated notification for `key`, shaped as S3 sends it (form-encoded key), so the
    scan handler reads it like any other event."""
    record = {
        "eventSource": "cartable:sweeper",
        "eventName": "ObjectCreated:Requeued",
        "s3": {"object": {"key": quote_plus(key)}},
    }
    return json.dumps({"Records": [record]}, separators=(",", ":"))


class SqsEventQueue:
    """The EventQueue port (on the uploads queue) and the JobQueue port (on the jobs queue)."""

    def __init__(self, client: Any, queue_url: str) -> None:
        self._sqs = client
        self._url = queue_url

    def send_job(self, job_id: str) -> None:
        """A job for the `run_jobs` function (the JobQueue port, on the jobs queue)."""
        try:
            self._sqs.send_message(QueueUrl=self._url, MessageBody=json.dumps({"jobId": job_id}))
        except ClientError as exc:
            raise ServiceUnavailableError("The jobs queue is busy; try again shortly.") from exc

    def send_object_events(self, keys: Sequence[str]) -> None:
        for start in range(0, len(keys), BATCH):
            entries = [
                {"Id": str(index), "MessageBody": object_event(key)}
                for index, key in enumerate(keys[start : start + BATCH])
            ]
            try:
                answer = self._sqs.send_message_batch(QueueUrl=self._url, Entries=entries)
            except ClientError as exc:
                raise ServiceUnavailableError("The uploads queue is busy; try again shortly.") from exc
            if answer.get("Failed"):
                raise ServiceUnavailableError(f"The uploads queue refused {len(answer['Failed'])} events.")
