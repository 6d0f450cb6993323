"""A poisoned message among good ones, through the real queue and pump: the good files become
available, the poison is reported alone (partial batch response) and never makes a file available."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from chalicelib.adapters.dynamodb import dump
from local.stack import LocalStack
from tests.integration.conftest import Api

pytestmark = pytest.mark.integration


def poison(stack: LocalStack) -> str:
    """An upload record the scanner cannot read (a corrupt item), and an event naming it."""
    if stack.database_url:  # the PostgreSQL catalog: a row whose status is none of the statuses
        import psycopg

        with psycopg.connect(stack.database_url) as conn:
            conn.execute(
                "INSERT INTO uploads (upload_id, file_id, school, space, path, name, size, content_type, owner,"
                " status, created_at, expires_at, key) VALUES ('poisoned0', 'poisonfile', '?', '?', '/', '?', 0,"
                " '?', '?', 'poisoned', now(), now(), '?') ON CONFLICT DO NOTHING"
            )
    else:
        stack.aws("dynamodb").put_item(
            TableName=stack.config.table, Item=dump({"pk": "UPLOAD#poisoned0", "sk": "UPLOAD", "uploadId": "poisoned0"})
        )
    event = {
        "Records": [{"eventName": "ObjectCreated:Post", "s3": {"object": {"key": "incoming/poisonfile/poisoned0"}}}]
    }
    return json.dumps(event)


def test_a_poison_message_does_not_hold_back_its_batch(stack: LocalStack, as_user: Any) -> None:
    sqs = stack.aws("sqs")
    student: Api = as_user("poison-student")
    sqs.send_message(QueueUrl=stack.queue_url, MessageBody=poison(stack))
    sent = [f"devoir {n}\n".encode() for n in range(9)]
    grants = [student.upload(f"devoir-{n}.txt", data, "text/plain") for n, data in enumerate(sent)]
    sqs.send_message(QueueUrl=stack.queue_url, MessageBody=poison(stack))
    statuses = [student.wait_status(g["fileId"])["status"] for g in grants]
    assert statuses == ["available"] * 9
    for grant, data in zip(grants, sent, strict=True):  # each with exactly its bytes
        answer = student.get(f"/v1/files/{grant['fileId']}/content")
        assert answer.status_code == 302 and requests.get(answer.headers["Location"], timeout=30).content == data
    assert student.get("/v1/files/poisonfile").status_code == 404  # the poison never made a file
    # the poison is still there, coming back after its delay (on AWS, to the dead-letter queue after 5)
    deadline = time.monotonic() + 5
    attributes: dict[str, str] = {}
    while time.monotonic() < deadline:
        attributes = sqs.get_queue_attributes(
            QueueUrl=stack.queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        if sum(int(v) for v in attributes.values()) >= 1:
            break
        time.sleep(0.2)
    assert sum(int(v) for v in attributes.values()) >= 1, attributes


@pytest.fixture(autouse=True)
def _cure_the_poison(stack: LocalStack) -> Iterator[None]:
    """Afterwards the poisoned record goes: its next retry finds no grant and ends, as a stray does."""
    yield
    if stack.database_url:
        import psycopg

        with psycopg.connect(stack.database_url) as conn:
            conn.execute("DELETE FROM uploads WHERE upload_id = 'poisoned0'")
        return
    stack.aws("dynamodb").delete_item(
        TableName=stack.config.table, Key=dump({"pk": "UPLOAD#poisoned0", "sk": "UPLOAD"})
    )
