"""The local event pump: drains the uploads queue into the same handler Lambda would call.

In AWS, Lambda's SQS event source mapping does this. Here we receive, hand the batch to
`app.scan_uploads(event, context)` (the very function Chalice registers), and delete the
messages only when it returns; on an exception they come back after a short delay.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("cartable.pump")

RETRY_DELAY_SECONDS = 2  # Lambda waits a whole visibility timeout; locally we retry sooner


@dataclass
class LocalContext:
    """The bits of a Lambda context a handler may read."""

    function_name: str = "cartable-local-scan_uploads"
    aws_request_id: str = ""
    memory_limit_in_mb: int = 1024

    def get_remaining_time_in_millis(self) -> int:
        return 300_000


def lambda_event(messages: list[Any], queue_arn: str, region: str) -> dict[str, Any]:
    """SQS messages in the shape Lambda's event source mapping delivers them."""
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": {},
                "md5OfBody": m.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
            for m in messages
        ]
    }


# queue → (the environment name of its URL, the function Lambda's event source mapping would call)
QUEUES = {"uploads": ("CARTABLE_QUEUE_URL", "scan_uploads"), "jobs": ("CARTABLE_JOBS_QUEUE_URL", "run_jobs")}


def run(stop_after: float | None = None, queue: str = "uploads") -> None:
    """Pump one queue until interrupted (or for `stop_after` seconds)."""
    import boto3

    import app

    url_name, function = QUEUES[queue]
    handler = getattr(app, function)
    region = os.environ["AWS_DEFAULT_REGION"]
    queue_url = os.environ[url_name]
    sqs = boto3.client("sqs", endpoint_url=os.environ["CARTABLE_SQS_ENDPOINT"], region_name=region)
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    deadline = None if stop_after is None else time.monotonic() + stop_after
    log.info("pump ready: %s", queue_url)
    while deadline is None or time.monotonic() < deadline:
        try:
            messages = sqs.receive_message(
                QueueUrl=queue_url, MaxNumberOfMessages=5, WaitTimeSeconds=1, AttributeNames=["All"]
            ).get("Messages", [])
        except Exception:  # the object store restarting must not kill the pump
            log.exception("receive failed")
            time.sleep(1)
            continue
        if not messages:
            continue
        try:
            context = LocalContext(function_name=f"cartable-local-{function}", aws_request_id=str(uuid.uuid4()))
            answer = handler(lambda_event(messages, arn, region), context)
        except Exception as exc:  # the whole batch failed: every message comes back
            log.warning("batch failed, retrying in %ss: %s", RETRY_DELAY_SECONDS, exc)
            answer = {"batchItemFailures": [{"itemIdentifier": m["MessageId"]} for m in messages]}
        settle(sqs, queue_url, messages, answer)


def settle(sqs: Any, queue_url: str, messages: Sequence[Mapping[str, Any]], answer: Any) -> None:
    """What Lambda does with a partial batch response: delete the messages that succeeded, and
    make the failed ones visible again after a delay (SQS's redrive policy counts their receives)."""
    failed = {f["itemIdentifier"] for f in (answer or {}).get("batchItemFailures", [])}
    for m in messages:
        if m["MessageId"] in failed:
            sqs.change_message_visibility(
                QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=RETRY_DELAY_SECONDS
            )
    done = [m for m in messages if m["MessageId"] not in failed]
    if done:
        sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
        )


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="pump %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        run(queue=sys.argv[1] if len(sys.argv) > 1 else "uploads")
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
