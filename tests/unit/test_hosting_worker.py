"""hosting/worker.py against a real SQS API (moto's server, as the local stack runs it): Lambda's batches and
partial batch responses, the batch kept invisible while it runs, bounded threads, graceful stop, health."""

from __future__ import annotations

import itertools
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from hosting.worker import Worker, failed_ids, lambda_event
from local.stack import free_port

REGION = "eu-west-3"
_names = itertools.count()


@pytest.fixture(scope="module")
def sqs() -> Iterator[Any]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield boto3.client(
            "sqs",
            endpoint_url=f"http://127.0.0.1:{port}",
            region_name=REGION,
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )
    finally:
        server.stop()


def _queue(sqs: Any, visibility: int = 30) -> str:
    name = f"worker-test-{next(_names)}-{time.monotonic_ns()}"
    url: str = sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": str(visibility)})["QueueUrl"]
    return url


def _send(sqs: Any, url: str, bodies: list[str]) -> None:
    for body in bodies:
        sqs.send_message(
            QueueUrl=url, MessageBody=body, MessageAttributes={"kind": {"DataType": "String", "StringValue": "t"}}
        )


def _receive_all(sqs: Any, url: str, want: int, timeout: float = 5) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while len(messages) < want and time.monotonic() < deadline:
        answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1, AttributeNames=["All"])
        messages += answer.get("Messages", [])
    return messages


def _left(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


def _worker(sqs: Any, url: str, handler: Any, **options: Any) -> Worker:
    options.setdefault("wait_seconds", 1)
    options.setdefault("retry_delay", 0)
    return Worker(sqs, url, handler, "cartable-test", region=REGION, **options)


def test_the_event_is_lambda_s_and_only_the_failed_messages_come_back(sqs: Any) -> None:
    url = _queue(sqs)
    _send(sqs, url, ["ok-1", "bad-1", "ok-2", "bad-2"])
    seen: list[dict[str, Any]] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        seen.append(event)
        assert context.function_name == "cartable-test" and context.get_remaining_time_in_millis() > 0
        return {
            "batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in event["Records"] if "bad" in r["body"]]
        }

    worker = _worker(sqs, url, handler)
    messages = _receive_all(sqs, url, 4)
    assert len(messages) == 4
    failed = worker.run_batch(messages)
    (event,) = seen
    record = event["Records"][0]
    assert set(record) == {
        "messageId",
        "receiptHandle",
        "body",
        "attributes",
        "messageAttributes",
        "md5OfBody",
        "eventSource",
        "eventSourceARN",
        "awsRegion",
    }
    assert record["eventSource"] == "aws:sqs" and record["awsRegion"] == REGION
    assert (
        record["eventSourceARN"]
        == sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    )
    assert record["attributes"]["ApproximateReceiveCount"] == "1" and "SentTimestamp" in record["attributes"]
    assert len(failed) == 2
    again = _receive_all(sqs, url, 2)
    assert sorted(m["Body"] for m in again) == ["bad-1", "bad-2"], "the failed ones alone are visible again"
    assert {m["Attributes"]["ApproximateReceiveCount"] for m in again} == {"2"}, "their receives are counted"
    worker.settle(again, set())
    assert _left(sqs, url) == 0, "the succeeded ones were deleted"


@pytest.mark.parametrize(
    "outcome",
    ["raises", "names-a-stranger", "malformed"],
)
def test_a_handler_that_fails_or_answers_wrong_fails_the_whole_batch(sqs: Any, outcome: str) -> None:
    url = _queue(sqs)
    _send(sqs, url, ["a", "b", "c"])

    def handler(event: dict[str, Any], context: Any) -> Any:
        if outcome == "raises":
            raise RuntimeError("the whole batch failed")
        if outcome == "names-a-stranger":
            return {"batchItemFailures": [{"itemIdentifier": "not-in-this-batch"}]}
        return {"batchItemFailures": [{"id": "x"}]}

    worker = _worker(sqs, url, handler)
    assert len(worker.run_batch(_receive_all(sqs, url, 3))) == 3
    assert sorted(m["Body"] for m in _receive_all(sqs, url, 3)) == ["a", "b", "c"]


def test_answers_read_as_lambda_reads_a_partial_batch_response() -> None:
    batch = [{"MessageId": "m1"}, {"MessageId": "m2"}]
    assert failed_ids(None, batch) == set()
    assert failed_ids({}, batch) == set()
    assert failed_ids({"batchItemFailures": []}, batch) == set()
    assert failed_ids({"batchItemFailures": [{"itemIdentifier": "m2"}]}, batch) == {"m2"}
    assert failed_ids({"batchItemFailures": [{"itemIdentifier": ""}]}, batch) == {"m1", "m2"}


def test_a_long_batch_stays_invisible_while_it_runs(sqs: Any) -> None:
    url = _queue(sqs, visibility=2)
    _send(sqs, url, ["slow"])
    running = threading.Event()
    stolen: list[Any] = []

    def handler(event: dict[str, Any], context: Any) -> None:
        running.set()
        time.sleep(3.5)  # well past the queue's 2 s visibility timeout

    worker = _worker(sqs, url, handler)
    thread = threading.Thread(target=worker.run_batch, args=(_receive_all(sqs, url, 1),))
    thread.start()
    assert running.wait(5)
    while thread.is_alive():
        stolen += sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
    thread.join()
    assert stolen == [], "no other consumer got the message while it ran"
    assert _left(sqs, url) == 0


def test_batches_run_on_bounded_threads_and_a_stop_finishes_what_is_in_hand(sqs: Any) -> None:
    url = _queue(sqs)
    _send(sqs, url, [f"m{i}" for i in range(6)])
    lock = threading.Lock()
    state = {"now": 0, "most": 0, "handled": 0}
    release = threading.Event()

    def handler(event: dict[str, Any], context: Any) -> None:
        with lock:
            state["now"] += 1
            state["most"] = max(state["most"], state["now"])
        release.wait(10)
        time.sleep(0.2)
        with lock:
            state["now"] -= 1
            state["handled"] += len(event["Records"])

    worker = _worker(sqs, url, handler, batch_size=1, threads=2)
    runner = threading.Thread(target=worker.run)
    runner.start()
    deadline = time.monotonic() + 10
    while state["now"] < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert state["now"] == 2
    worker.stop()  # what SIGTERM does: the two batches in hand finish, nothing more is taken
    release.set()
    runner.join(timeout=15)
    assert not runner.is_alive()
    assert state["most"] == 2, "never more batches at once than threads"
    assert state["handled"] == 2 and worker.batches == 2
    assert _left(sqs, url) == 4, "the handled ones deleted, the rest left for the next worker"


def test_health_says_alive_and_ready_then_not_ready_once_stopping(sqs: Any) -> None:
    url = _queue(sqs)
    worker = _worker(sqs, url, lambda event, context: None)
    port = free_port()
    server = worker.health.serve(port, host="127.0.0.1")
    runner = threading.Thread(target=worker.run)
    runner.start()
    try:

        def probe(path: str) -> tuple[int, dict[str, Any]]:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as answer:
                    return answer.status, json.load(answer)
            except urllib.error.HTTPError as error:
                return error.code, json.load(error)

        assert probe("/healthz") == (200, {"status": "ok"})
        assert probe("/readyz") == (200, {"status": "ok"})
        assert probe("/nothing")[0] == 404
        worker.stop()
        assert probe("/readyz") == (503, {"status": "unavailable"})
    finally:
        worker.stop()
        runner.join(timeout=10)
        server.shutdown()
        server.server_close()


def test_message_attributes_are_written_as_lambda_writes_them() -> None:
    message = {
        "MessageId": "m1",
        "ReceiptHandle": "r1",
        "Body": "{}",
        "MD5OfBody": "99914b932bd37a50b983c5e7c90ae93b",
        "Attributes": {"ApproximateReceiveCount": "3"},
        "MessageAttributes": {
            "kind": {"DataType": "String", "StringValue": "scan"},
            "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
        },
    }
    (record,) = lambda_event([message], "arn:aws:sqs:eu-west-3:000000000000:q", REGION)["Records"]
    assert record["messageAttributes"] == {
        "kind": {"stringValue": "scan", "stringListValues": [], "binaryListValues": [], "dataType": "String"},
        "blob": {"binaryValue": "AAE=", "stringListValues": [], "binaryListValues": [], "dataType": "Binary"},
    }
    assert record["attributes"] == {"ApproximateReceiveCount": "3"} and record["md5OfBody"] == message["MD5OfBody"]
