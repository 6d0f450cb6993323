"""The uploads and jobs queues over RabbitMQ (AMQP 0-9-1), for providers with no SQS-API queue (issue 20:
OVHcloud). The same ports as SqsEventQueue (EventQueue, JobQueue) and the same message bodies, so that the
worker (hosting/amqp_source.py) hands the handlers what SQS would.

Each message is persistent and published with publisher confirms to the default exchange, routed to the
queue by name and `mandatory`: `send_*` returns once the broker has taken every message into the quorum
queue (replicated), and raises ServiceUnavailableError when it could not (no such queue, a nack, the broker
unreachable). The queues are declared by the worker (python -m hosting.amqp_source declare ...).

pika is imported on first use: a process whose queues are SQS's never loads it."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from chalicelib.adapters.sqs import SqsEventQueue, object_event
from chalicelib.errors import ServiceUnavailableError
from chalicelib.settings import is_amqp, split_amqp_url


def queue_for(url: str, sqs_client: Callable[[], Any]) -> AmqpEventQueue | SqsEventQueue:
    """The queue a setting names: RabbitMQ's for an amqp(s):// URL, else SQS's on `sqs_client()`."""
    return AmqpEventQueue(url) if is_amqp(url) else SqsEventQueue(sqs_client(), url)


class AmqpEventQueue:
    """The EventQueue port (on the uploads queue) and the JobQueue port (on the jobs queue), over AMQP.

    One connection per process, opened on first send and kept; a send on a connection the broker closed
    opens a new one once. pika's connections are not thread-safe: sends are serialized."""

    def __init__(self, url: str, *, connect_timeout: float = 5.0) -> None:
        self._url, self.queue = split_amqp_url(url)
        self._connect_timeout = connect_timeout
        self._lock = threading.Lock()
        self._connection: Any = None
        self._channel: Any = None

    def send_job(self, job_id: str) -> None:
        """A job for the `run_jobs` function (the JobQueue port, on the jobs queue)."""
        self._publish([json.dumps({"jobId": job_id})], "The jobs queue is busy; try again shortly.")

    def send_object_events(self, keys: Sequence[str]) -> None:
        if keys:
            self._publish([object_event(key) for key in keys], "The uploads queue is busy; try again shortly.")

    def close(self) -> None:
        with self._lock:
            self._drop()

    # -- publishing --------------------------------------------------------------------------------
    def _publish(self, bodies: Sequence[str], busy: str) -> None:
        import pika.exceptions  # type: ignore[import-untyped]  # pika ships no stubs

        with self._lock:
            for attempt in (1, 2):
                try:
                    channel = self._open()
                    for body in bodies:
                        channel.basic_publish(
                            exchange="",
                            routing_key=self.queue,
                            body=body.encode(),
                            properties=message_properties(),
                            mandatory=True,
                        )
                    return
                except (pika.exceptions.UnroutableError, pika.exceptions.NackError) as exc:
                    # Taken by no queue, or refused by it: the earlier ones of a batch stand (the scan is idempotent).
                    raise ServiceUnavailableError(f"{busy} ({type(exc).__name__})") from exc
                except pika.exceptions.AMQPError as exc:
                    self._drop()
                    if attempt == 2:
                        raise ServiceUnavailableError(busy) from exc

    def _open(self) -> Any:
        import pika

        if self._channel is not None and self._channel.is_open and self._connection.is_open:
            return self._channel
        self._drop()
        parameters = pika.URLParameters(self._url)
        parameters.socket_timeout = self._connect_timeout
        parameters.blocked_connection_timeout = 30
        self._connection = pika.BlockingConnection(parameters)
        self._channel = self._connection.channel()
        self._channel.confirm_delivery()
        return self._channel

    def _drop(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None and connection.is_open:
            try:
                connection.close()
            except Exception:  # noqa: S110 (already broken: a new one is opened)
                pass


def message_properties() -> Any:
    """A persistent JSON message with an id and a timestamp (SQS's messageId and SentTimestamp)."""
    import pika

    return pika.BasicProperties(
        content_type="application/json",
        delivery_mode=pika.DeliveryMode.Persistent,
        message_id=str(uuid.uuid4()),
        timestamp=int(time.time()),
    )
