"""The RabbitMQ queue's pure parts (issue 20, OVHcloud): the queue setting, the choice of adapter and of the
worker's source, the queue's arguments, and an AMQP delivery as the SQS record Lambda would hand a handler."""

from __future__ import annotations

import hashlib
import json
from types import SimpleNamespace

import pytest

from chalicelib.adapters.amqp import AmqpEventQueue, queue_for
from chalicelib.adapters.sqs import SqsEventQueue
from chalicelib.errors import ConfigurationError
from chalicelib.settings import Settings, is_amqp, split_amqp_url
from hosting.amqp_source import AmqpWorker, delivery_limit, queue_arguments, sqs_record
from hosting.worker import failed_ids

URL = "amqps://cartable:s3cret@rabbit.example:5671/cartable?queue=cartable-uploads&heartbeat=30"
LOCAL = {"CARTABLE_STAGE": "local", "AWS_DEFAULT_REGION": "eu-west-3", "CARTABLE_BUCKET": "b", "CARTABLE_TABLE": "t"}


def test_an_amqp_url_names_its_queue_and_keeps_pika_s_parameters() -> None:
    assert is_amqp(URL) and is_amqp("AMQP://h/?queue=q")
    assert not is_amqp("https://sqs.eu-west-3.amazonaws.com/1/cartable-uploads") and not is_amqp(None)
    assert split_amqp_url(URL) == (
        "amqps://cartable:s3cret@rabbit.example:5671/cartable?heartbeat=30",
        "cartable-uploads",
    )


@pytest.mark.parametrize(
    "url",
    [
        "amqp://rabbit.example/",  # no queue
        "amqp://rabbit.example/?queue=a&queue=b",  # two
        "amqp://rabbit.example/?queue=",  # empty
        "amqp://rabbit.example/?queue=no/slash",
        "amqp:///?queue=q",  # no host
    ],
)
def test_a_queue_setting_without_one_plain_queue_name_is_refused_clearly(url: str) -> None:
    with pytest.raises(ConfigurationError, match=r"CARTABLE_JOBS_QUEUE_URL: an AMQP queue"):
        Settings.from_env({**LOCAL, "CARTABLE_JOBS_QUEUE_URL": url})


def test_the_settings_take_sqs_urls_as_before_and_amqp_urls() -> None:
    sqs = "http://127.0.0.1:5000/123456789012/cartable-uploads"
    config = Settings.from_env({**LOCAL, "CARTABLE_QUEUE_URL": sqs, "CARTABLE_JOBS_QUEUE_URL": URL})
    assert (config.queue_url, config.jobs_queue_url) == (sqs, URL)


def test_the_adapter_is_chosen_by_the_url_and_pika_is_not_imported_to_choose() -> None:
    made: list[str] = []

    def client() -> object:
        made.append("sqs")
        return object()

    amqp = queue_for(URL, client)
    assert isinstance(amqp, AmqpEventQueue) and amqp.queue == "cartable-uploads" and made == []
    assert isinstance(queue_for("https://sqs.eu-west-3.amazonaws.com/1/q", client), SqsEventQueue)
    assert made == ["sqs"]


def test_the_worker_s_source_is_amqp_for_an_amqp_url() -> None:
    from hosting import worker

    env = {**LOCAL, "CARTABLE_QUEUE_URL": URL, "CARTABLE_MAX_RECEIVES": "3", "CARTABLE_RETRY_DELAY": "7"}
    built = worker.from_env("uploads", env)
    assert isinstance(built, AmqpWorker)
    assert (built.queue, built.batch_size, built.delivery_limit, built.retry_delay) == ("cartable-uploads", 5, 2, 7)


def test_the_work_queue_is_a_quorum_queue_with_its_limit_and_dead_letters() -> None:
    assert delivery_limit(5) == 4, "returned four times: the fifth failed delivery is the last, as maxReceiveCount 5"
    with pytest.raises(ValueError):
        delivery_limit(0)
    assert queue_arguments("up", 4) == {
        "x-queue-type": "quorum",
        "x-delivery-limit": 4,
        "x-dead-letter-exchange": "up.dlx",
        "x-dead-letter-routing-key": "up.dead",
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",
    }


def test_a_delivery_becomes_the_record_lambda_s_sqs_mapping_sends() -> None:
    body = json.dumps({"Records": [{"eventName": "ObjectCreated:Post", "s3": {"object": {"key": "incoming/f/u"}}}]})
    properties = SimpleNamespace(
        message_id="m-1",
        timestamp=1_790_000_000,
        user_id=None,
        headers={"x-delivery-count": 2, "x-first-death-queue": "q", "school": b"0123", "attempt": 3, "odd": [1]},
    )
    record = sqs_record(42, properties, body.encode(), "arn:amqp:eu-west-3:up", "eu-west-3", now=1_790_000_010.5)
    assert record == {
        "messageId": "m-1",
        "receiptHandle": "42",
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": "3",  # returned twice: the third delivery
            "SentTimestamp": "1790000000000",
            "SenderId": "amqp",
            "ApproximateFirstReceiveTimestamp": "1790000010500",
        },
        "messageAttributes": {
            "school": {"stringValue": "0123", "stringListValues": [], "binaryListValues": [], "dataType": "String"},
            "attempt": {"stringValue": "3", "stringListValues": [], "binaryListValues": [], "dataType": "Number"},
        },
        "md5OfBody": hashlib.md5(body.encode(), usedforsecurity=False).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:amqp:eu-west-3:up",
        "awsRegion": "eu-west-3",
    }


def test_a_first_delivery_without_id_or_timestamp_still_has_both() -> None:
    properties = SimpleNamespace(message_id=None, timestamp=None, user_id="cartable", headers=None)
    first = sqs_record(1, properties, b"{}", "arn", "eu-west-3", now=10.0)
    second = sqs_record(2, properties, b"{}", "arn", "eu-west-3", now=10.0)
    assert first["attributes"]["ApproximateReceiveCount"] == "1"
    assert first["attributes"]["SentTimestamp"] == "10000" and first["attributes"]["SenderId"] == "cartable"
    assert first["messageId"] and first["messageId"] != second["messageId"], "ids tell a batch's messages apart"


def test_the_handler_s_answer_is_read_as_for_sqs() -> None:
    records = [{"MessageId": "a"}, {"MessageId": "b"}]
    assert failed_ids({"batchItemFailures": [{"itemIdentifier": "b"}]}, records) == {"b"}
    assert failed_ids({"batchItemFailures": [{"itemIdentifier": "zz"}]}, records) == {"a", "b"}
