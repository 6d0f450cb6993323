"""hosting/notifier.py: what it announces, announces again and forgets (the ledger), the event it sends (the
shape the scan handler reads), its settings; and whole passes against a real S3 and SQS API (moto's server,
as the local stack runs it): every page listed, announced once, a restart announces again, a refused send
is tried at the next pass."""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from chalicelib.domain.scanning import object_keys
from chalicelib.errors import ConfigurationError
from hosting.notifier import Ledger, Listed, Notifier, NotifierSettings, s3_event
from local.stack import free_port

REGION = "eu-west-3"
T0 = datetime(2026, 12, 2, 17, 0, tzinfo=UTC)
_names = itertools.count()


def _listed(key: str, etag: str = '"abc"', at: datetime = T0, size: int = 10) -> Listed:
    return Listed(key, etag, at, size)


# -- the ledger ------------------------------------------------------------------------------------------
def test_new_objects_are_due_once_then_not_until_the_reannounce_time() -> None:
    ledger = Ledger(reannounce_after=60)
    listing = [_listed("incoming/u/a"), _listed("incoming/u/b")]
    assert ledger.due(listing, now=0) == listing
    ledger.announced(listing, now=0)
    assert ledger.due(listing, now=1) == []
    assert ledger.due(listing, now=59.9) == []
    assert ledger.due(listing, now=60) == listing, "still there after a minute: announced again"
    ledger.announced(listing, now=60)
    assert ledger.due(listing, now=61) == []


def test_a_rewritten_object_is_due_at_once() -> None:
    ledger = Ledger(reannounce_after=900)
    ledger.announced([_listed("incoming/u/a")], now=0)
    assert ledger.due([_listed("incoming/u/a", etag='"def"')], now=1) == [_listed("incoming/u/a", etag='"def"')]
    later = _listed("incoming/u/a", at=T0 + timedelta(seconds=5))
    assert ledger.due([later], now=1) == [later], "same bytes written again: another event on AWS too"


def test_keys_gone_from_a_listing_are_forgotten_and_announced_if_they_come_back() -> None:
    ledger = Ledger(reannounce_after=900)
    a, b = _listed("incoming/u/a"), _listed("incoming/u/b")
    ledger.announced([a, b], now=0)
    assert ledger.due([b], now=1) == []
    assert "incoming/u/a" not in ledger and len(ledger) == 1
    assert ledger.due([a, b], now=2) == [a], "a key reused after it went is new again"


def test_what_is_not_recorded_as_announced_is_due_again_at_the_next_pass() -> None:
    ledger = Ledger(reannounce_after=900)
    listing = [_listed(f"incoming/u/{i}") for i in range(5)]
    due = ledger.due(listing, now=0)
    ledger.announced(due[:3], now=0)  # the queue refused the last two
    assert ledger.due(listing, now=1) == listing[3:]


def test_a_pass_announces_at_most_its_limit_and_the_rest_next() -> None:
    ledger = Ledger(reannounce_after=900)
    listing = [_listed(f"incoming/u/{i:02d}") for i in range(25)]
    first = ledger.due(listing, now=0, limit=10)
    assert first == listing[:10]
    ledger.announced(first, now=0)
    second = ledger.due(listing, now=1, limit=10)
    assert second == listing[10:20]
    ledger.announced(second, now=1)
    assert ledger.due(listing, now=2, limit=10) == listing[20:]


def test_a_fresh_ledger_after_a_restart_announces_everything_still_there() -> None:
    listing = [_listed("incoming/u/a"), _listed("incoming/u/b")]
    before = Ledger(reannounce_after=900)
    before.announced(listing, now=0)
    assert Ledger(reannounce_after=900).due(listing, now=1) == listing


# -- the event ------------------------------------------------------------------------------------------
def test_the_event_is_s3_s_notification_and_the_scan_handler_reads_its_key() -> None:
    item = _listed("incoming/u 1/f+2", etag='"0123abcd"', at=T0 + timedelta(microseconds=123456), size=42)
    body = s3_event(item, "cartable-files", REGION)
    (record,) = json.loads(body)["Records"]
    assert record["eventSource"] == "aws:s3" and record["eventName"] == "ObjectCreated:Post"
    assert record["eventVersion"] == "2.1" and record["awsRegion"] == REGION
    assert record["eventTime"] == "2026-12-02T17:00:00.123Z"
    assert record["s3"]["bucket"] == {"name": "cartable-files", "arn": "arn:aws:s3:::cartable-files"}
    assert record["s3"]["object"]["key"] == "incoming/u+1/f%2B2", "form-encoded as S3 writes keys, slashes kept"
    assert record["s3"]["object"]["size"] == 42 and record["s3"]["object"]["eTag"] == "0123abcd"
    assert object_keys(body) == ["incoming/u 1/f+2"]
    later = json.loads(s3_event(_listed("k", at=T0 + timedelta(seconds=1)), "b", REGION))["Records"][0]
    assert int(later["s3"]["object"]["sequencer"], 16) > int(record["s3"]["object"]["sequencer"], 16)
    multipart = json.loads(s3_event(_listed("k", etag='"99-3"'), "b", REGION))["Records"][0]
    assert multipart["eventName"] == "ObjectCreated:CompleteMultipartUpload"


# -- settings -------------------------------------------------------------------------------------------
def test_settings_are_read_once_with_their_defaults_and_checked() -> None:
    base = {"CARTABLE_BUCKET": "b", "CARTABLE_QUEUE_URL": "https://q/u", "AWS_DEFAULT_REGION": "fr-par"}
    settings = NotifierSettings.from_env(base)
    assert (settings.interval, settings.reannounce_after, settings.max_per_pass) == (2.0, 900.0, 1000)
    assert settings.s3_addressing_style == "auto"
    assert NotifierSettings.from_env({**base, "CARTABLE_STAGE": "local"}).s3_addressing_style == "path"
    virtual = NotifierSettings.from_env({**base, "CARTABLE_S3_ADDRESSING_STYLE": "virtual"})
    assert virtual.s3_addressing_style == "virtual", "OVHcloud"
    with pytest.raises(ConfigurationError) as error:
        NotifierSettings.from_env(
            {"CARTABLE_NOTIFIER_INTERVAL": "soon", "CARTABLE_S3_ADDRESSING_STYLE": "sideways", "AWS_REGION": "x"}
        )
    for name in ("CARTABLE_BUCKET", "CARTABLE_QUEUE_URL", "CARTABLE_NOTIFIER_INTERVAL", "ADDRESSING_STYLE"):
        assert name in str(error.value)


# -- whole passes on moto -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def aws() -> Iterator[tuple[Any, Any]]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    options: Any = {
        "endpoint_url": f"http://127.0.0.1:{port}",
        "region_name": REGION,
        "aws_access_key_id": "local",
        "aws_secret_access_key": "local",
    }
    try:
        yield boto3.client("s3", **options), boto3.client("sqs", **options)
    finally:
        server.stop()


def _setup(aws: tuple[Any, Any]) -> tuple[str, str]:
    s3, sqs = aws
    name = f"notifier-test-{next(_names)}-{time.monotonic_ns()}"
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
    url: str = sqs.create_queue(QueueName=name)["QueueUrl"]
    return name, url


def _drain(sqs: Any, url: str) -> list[str]:
    keys: list[str] = []
    while True:
        answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        messages = answer.get("Messages", [])
        if not messages:
            return keys
        for message in messages:
            keys += object_keys(message["Body"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def test_passes_list_every_page_announce_once_and_again_after_a_restart(aws: tuple[Any, Any]) -> None:
    s3, sqs = aws
    bucket, url = _setup(aws)
    keys = [f"incoming/u{i}/f" for i in range(7)]
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    s3.put_object(Bucket=bucket, Key="files/served/f", Body=b"x")
    listings: list[int] = []
    notifier = Notifier(s3, sqs, bucket, url, region=REGION, page_size=3)  # three pages
    notifier.s3.meta.events.register("after-call.s3.ListObjectsV2", lambda **_: listings.append(1))
    assert notifier.run_pass() == 7
    assert sorted(_drain(sqs, url)) == keys, "incoming/ only, every page"
    assert len(listings) == 3
    assert notifier.run_pass() == 0 and _drain(sqs, url) == []

    for key in keys[:5]:  # scanned: the scanner deleted them
        s3.delete_object(Bucket=bucket, Key=key)
    s3.put_object(Bucket=bucket, Key="incoming/new/f", Body=b"y")
    assert notifier.run_pass() == 1
    assert _drain(sqs, url) == ["incoming/new/f"]
    assert len(notifier.ledger) == 3, "the deleted keys forgotten"

    restarted = Notifier(s3, sqs, bucket, url, region=REGION)
    assert restarted.run_pass() == 3
    assert sorted(_drain(sqs, url)) == sorted([*keys[5:], "incoming/new/f"])


def test_a_send_the_queue_refuses_is_tried_at_the_next_pass(aws: tuple[Any, Any]) -> None:
    s3, sqs = aws
    bucket, url = _setup(aws)
    for i in range(3):
        s3.put_object(Bucket=bucket, Key=f"incoming/u/{i}", Body=b"x")

    class Refusing:
        """The queue's answer to SendMessageBatch, with the batch's last entry refused once."""

        refused = False

        def send_message_batch(self, **call: Any) -> dict[str, Any]:
            entries = call["Entries"]
            if not self.refused:
                self.refused = True
                answer: dict[str, Any] = sqs.send_message_batch(QueueUrl=url, Entries=entries[:-1])
                failed = {"Id": entries[-1]["Id"], "SenderFault": False, "Code": "InternalError"}
                return {**answer, "Failed": [failed]}
            return dict(sqs.send_message_batch(**call))

    notifier = Notifier(s3, Refusing(), bucket, url, region=REGION)
    assert notifier.run_pass() == 2
    assert notifier.run_pass() == 1, "the refused one, and only it"
    assert sorted(_drain(sqs, url)) == [f"incoming/u/{i}" for i in range(3)]


def test_a_failing_store_makes_it_unready_not_dead_and_sigterm_s_stop_ends_the_loop(aws: tuple[Any, Any]) -> None:
    s3, sqs = aws
    _, url = _setup(aws)
    notifier = Notifier(s3, sqs, "no-such-bucket", url, region=REGION, interval=0.1)
    runner = threading.Thread(target=notifier.run)
    runner.start()
    try:
        deadline = time.monotonic() + 10
        while notifier.health.backend_ok and time.monotonic() < deadline:
            time.sleep(0.05)
        assert notifier.health.alive() and not notifier.health.ready()
    finally:
        notifier.stop()
        runner.join(timeout=10)
    assert not runner.is_alive() and not notifier.health.ready()
