"""The worker's source when its queue is RabbitMQ's (issue 20: OVHcloud has no SQS-API queue): the queue
setting is an AMQP URL, `amqps://user:password@host:5671/vhost?queue=cartable-uploads` (chalicelib/settings.py).

The same semantics as hosting.worker's SQS source, so app.py's handlers do not change:
- batches of up to the handler's batch size, in Lambda's SQS event shape (`sqs_record`); a batch is what
  has arrived when a thread is free (Lambda's mapping without a batching window);
- each message is acknowledged only after the handler returned: the ones it names in `batchItemFailures`
  (all of them when it raises) come back after `CARTABLE_RETRY_DELAY` seconds;
- the delivery count and the dead letters are the broker's: the queue is a quorum queue with
  `x-delivery-limit` and a dead-letter exchange `<queue>.dlx` routing to the quorum queue `<queue>.dead`
  (at-least-once dead-lettering). A failed message is held for the retry delay, then returned
  (basic.nack, requeue): the queue counts each return in `x-delivery-count` (our records'
  ApproximateReceiveCount is one more) and dead-letters a message returned past `x-delivery-limit`,
  set to `CARTABLE_MAX_RECEIVES` - 1 (5 by default): the 5th failed delivery dead-letters it, as SQS's
  redrive policy does after maxReceiveCount receives. Chosen over a retry queue with a
  per-message TTL because the broker alone then counts, including the deliveries of a worker that died
  (its connection closed, its messages returned at once, counted). A held message takes one of the
  channel's prefetch slots while it waits: a queue whose messages all fail is taken more slowly,
  which is what the delay is for;
- SIGTERM: the consumer is cancelled, the messages taken but not started are returned at once, the
  batches in hand finish and are settled, the held ones are returned, the connection closes, exit 0;
- health as the SQS worker's (`/healthz`, `/readyz`: the connection is up and the loop takes work).

RabbitMQ's `consumer_timeout` (30 minutes by default) must exceed the function's timeout plus the retry
delay: a delivery unacknowledged for longer closes the channel (the messages come back, counted).

`python -m hosting.amqp_source declare uploads|jobs` declares the queues (the worker also does at start);
declaring is idempotent, and fails clearly when a queue of that name exists with other arguments.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import queue as queues
import time
import uuid
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from chalicelib.settings import split_amqp_url
from hosting import Health, LambdaContext, Loop
from hosting.worker import MAX_BATCH, QUEUES, Handler, failed_ids

log = logging.getLogger("cartable.hosting.amqp")

MAX_RECEIVES = 5  # as infra/resources.json's maxReceiveCount: the 5th failure dead-letters


def delivery_limit(max_receives: int) -> int:
    """The quorum queue's `x-delivery-limit`: the returns it allows, one fewer than the deliveries."""
    if max_receives < 1:
        raise ValueError(f"CARTABLE_MAX_RECEIVES is at least 1, not {max_receives}")
    return max_receives - 1


def queue_arguments(queue: str, limit: int) -> dict[str, Any]:
    """The work queue's arguments: quorum (replicated), its delivery limit, its dead letters."""
    return {
        "x-queue-type": "quorum",
        "x-delivery-limit": limit,
        "x-dead-letter-exchange": f"{queue}.dlx",
        "x-dead-letter-routing-key": f"{queue}.dead",
        "x-dead-letter-strategy": "at-least-once",  # the broker keeps a dead letter until the DLQ has it
        "x-overflow": "reject-publish",  # which at-least-once requires
    }


def declare(channel: Any, queue: str, limit: int = MAX_RECEIVES - 1) -> None:
    """The dead-letter exchange and queue, then the work queue (idempotent); `limit` is x-delivery-limit."""
    channel.exchange_declare(exchange=f"{queue}.dlx", exchange_type="direct", durable=True)
    channel.queue_declare(queue=f"{queue}.dead", durable=True, arguments={"x-queue-type": "quorum"})
    channel.queue_bind(queue=f"{queue}.dead", exchange=f"{queue}.dlx", routing_key=f"{queue}.dead")
    channel.queue_declare(queue=queue, durable=True, arguments=queue_arguments(queue, limit))


def _attribute(value: Any) -> dict[str, Any] | None:
    """An AMQP header as an SQS message attribute (strings and numbers; others are left out)."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    kind = "String" if isinstance(value, str) else "Number"
    return {"stringValue": str(value), "stringListValues": [], "binaryListValues": [], "dataType": kind}


def sqs_record(
    delivery_tag: int,
    properties: Any,
    body: bytes,
    queue_arn: str,
    region: str,
    *,
    now: float | None = None,
) -> dict[str, Any]:
    """One AMQP delivery as the record Lambda's SQS mapping would hand the handler."""
    now_ms = int((time.time() if now is None else now) * 1000)
    headers: Mapping[str, Any] = getattr(properties, "headers", None) or {}
    returned = int(headers.get("x-delivery-count") or 0)
    timestamp = getattr(properties, "timestamp", None)
    attributes = {
        "ApproximateReceiveCount": str(returned + 1),
        "SentTimestamp": str(int(timestamp) * 1000 if timestamp else now_ms),
        "SenderId": str(getattr(properties, "user_id", None) or "amqp"),
        "ApproximateFirstReceiveTimestamp": str(now_ms),
    }
    message_attributes = {
        name: converted
        for name, value in headers.items()
        if not name.startswith("x-") and (converted := _attribute(value)) is not None
    }
    return {
        "messageId": str(getattr(properties, "message_id", None) or uuid.uuid4()),
        "receiptHandle": str(delivery_tag),
        "body": body.decode("utf-8", "replace"),
        "attributes": attributes,
        "messageAttributes": message_attributes,
        "md5OfBody": hashlib.md5(body, usedforsecurity=False).hexdigest(),
        "eventSource": "aws:sqs",  # what the handlers (Chalice's SQSEvent) read records as
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


@dataclass
class Delivery:
    tag: int
    record: dict[str, Any]

    @property
    def message_id(self) -> str:
        return str(self.record["messageId"])


class AmqpWorker(Loop):
    """Takes batches from one RabbitMQ queue and runs `handler` on them, as Lambda would from SQS.

    pika's connection is not thread-safe: every call on it is made from `run`'s thread; the handler
    runs in a pool thread and hands its outcome back through a queue."""

    stop_message = "stopping: no more messages are taken; the batches in hand finish"

    def __init__(
        self,
        url: str,
        handler: Handler,
        function_name: str,
        *,
        batch_size: int = MAX_BATCH,
        threads: int = 1,
        retry_delay: float = 30,
        timeout_seconds: float = 900,
        max_receives: int = MAX_RECEIVES,
        region: str | None = None,
    ) -> None:
        if not 1 <= batch_size <= MAX_BATCH:
            raise ValueError(f"a batch holds 1 to {MAX_BATCH} messages, not {batch_size}")
        self.url, self.queue = split_amqp_url(url)
        self.handler = handler
        self.function_name = function_name
        self.batch_size = batch_size
        self.threads = max(1, threads)
        self.retry_delay = retry_delay
        self.timeout_seconds = timeout_seconds
        self.delivery_limit = delivery_limit(max_receives)
        self.region = region or os.environ.get("AWS_DEFAULT_REGION", "eu-west-3")
        self.queue_arn = f"arn:amqp:{self.region}:{self.queue}"
        super().__init__(Health(stale_after=60.0), log)
        self.batches = 0  # settled batches, for tests and logs
        self._pool = ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix=function_name)
        self._outcomes: queues.SimpleQueue[tuple[int, list[Delivery], set[str]]] = queues.SimpleQueue()
        self._connection: Any = None
        self._channel: Any = None
        self._consumer: str | None = None
        self._generation = 0  # a new connection's delivery tags are not the old one's
        self._taken: list[Delivery] = []  # delivered, not yet in a batch
        self._running = 0  # batches handed to the pool, not yet settled
        self._held: dict[int, float] = {}  # failed deliveries' tags → when they go back

    # -- the loop (one thread) ----------------------------------------------------------------------
    def run(self, stop_after: float | None = None) -> None:
        """Consume and dispatch until stopped (or for `stop_after` seconds), then settle what is in hand."""
        deadline = self.deadline(stop_after)
        log.info("worker ready: amqp queue %s (%s, batches of %d)", self.queue, self.function_name, self.batch_size)
        try:
            while self.turning(deadline):
                self._turn()
        finally:
            self.stop()
            self._finish()
            self._pool.shutdown(wait=True)
            log.info("worker stopped after %d batches", self.batches)

    def _turn(self) -> None:
        import pika.exceptions  # type: ignore[import-untyped]  # pika ships no stubs

        try:
            if self._channel is None:
                self._connect()
            self._connection.process_data_events(time_limit=0.2)
            self._settle_outcomes()
            self._return_due()
            self._dispatch()
            self.health.backend_ok = True
        except pika.exceptions.AMQPError:  # the broker restarting must not end the worker
            self.health.backend_ok = False
            log.exception("the AMQP connection failed; reconnecting")
            self._drop()
            self._stopping.wait(1)

    def _connect(self) -> None:
        import pika

        parameters = pika.URLParameters(self.url)
        self._connection = pika.BlockingConnection(parameters)
        self._channel = self._connection.channel()
        declare(self._channel, self.queue, self.delivery_limit)
        # Enough for every thread's batch and the failed messages held for their retry delay.
        self._channel.basic_qos(prefetch_count=self.batch_size * self.threads * 2)
        self._consumer = self._channel.basic_consume(self.queue, self._on_message)
        self._generation += 1
        log.info("consuming %s", self.queue)

    def _drop(self) -> None:
        """Forget a broken connection: the broker returns its unacknowledged messages (counted)."""
        connection, self._connection, self._channel, self._consumer = self._connection, None, None, None
        self._taken.clear()
        self._held.clear()
        if connection is not None:
            try:
                connection.close()
            except Exception:  # noqa: S110 (already closed)
                pass

    def _on_message(self, channel: Any, method: Any, properties: Any, body: bytes) -> None:
        record = sqs_record(method.delivery_tag, properties, body, self.queue_arn, self.region)
        self._taken.append(Delivery(method.delivery_tag, record))

    def _dispatch(self) -> None:
        while self._taken and self._running < self.threads and not self.stopping:
            batch, self._taken = self._taken[: self.batch_size], self._taken[self.batch_size :]
            self._running += 1
            self._pool.submit(self._run_batch, self._generation, batch)

    def _settle_outcomes(self) -> None:
        while True:
            try:
                generation, batch, failed = self._outcomes.get_nowait()
            except queues.Empty:
                return
            self._running -= 1
            self.batches += 1
            if generation != self._generation or self._channel is None:
                continue  # that connection is gone: the broker has returned them already
            for delivery in batch:
                if delivery.message_id in failed:
                    self._held[delivery.tag] = time.monotonic() + self.retry_delay
                else:
                    self._channel.basic_ack(delivery.tag)

    def _return_due(self, everything: bool = False) -> None:
        now = time.monotonic()
        for tag, due in list(self._held.items()):
            if everything or due <= now:
                del self._held[tag]
                self._channel.basic_nack(tag, requeue=True)

    def _finish(self) -> None:
        """After a stop: no more deliveries, the batches in hand settled, everything else returned."""
        import pika.exceptions

        try:
            if self._channel is not None and self._consumer is not None:
                self._channel.basic_cancel(self._consumer)
                for delivery in self._taken:
                    self._channel.basic_nack(delivery.tag, requeue=True)
                self._taken.clear()
            while self._running:
                if self._connection is not None:
                    self._connection.process_data_events(time_limit=0.2)
                else:
                    time.sleep(0.2)
                self._settle_outcomes()
            if self._channel is not None:
                self._return_due(everything=True)
        except pika.exceptions.AMQPError:
            log.warning("the connection failed while stopping: the broker returns what was in hand", exc_info=True)
        finally:
            self._drop()

    # -- one batch (a pool thread) ------------------------------------------------------------------
    def _run_batch(self, generation: int, batch: list[Delivery]) -> None:
        records = [delivery.record for delivery in batch]
        failed = {delivery.message_id for delivery in batch}
        try:
            context = LambdaContext(function_name=self.function_name, timeout_seconds=self.timeout_seconds)
            answer = self.handler({"Records": records}, context)
            failed = failed_ids(answer, [{"MessageId": r["messageId"]} for r in records])
        except Exception:
            log.exception("the handler failed: the whole batch will be retried")
        finally:
            self._outcomes.put((generation, batch, failed))


def from_env(queue: str, environ: Mapping[str, str] | None = None) -> AmqpWorker:
    """The AMQP worker of `queue` (uploads or jobs), configured as hosting.worker's SQS one."""
    import app
    from hosting.worker import _batch_size_of

    env = os.environ if environ is None else environ
    url_name, function, timeout = QUEUES[queue]
    logging.getLogger("pika").setLevel(logging.WARNING)  # its INFO is every frame of a connection's life
    return AmqpWorker(
        env[url_name],
        getattr(app, function),
        env.get("CARTABLE_FUNCTION_NAME", f"cartable-{function}"),
        batch_size=int(env.get("CARTABLE_BATCH_SIZE") or _batch_size_of(app.app, function)),
        threads=int(env.get("CARTABLE_WORKER_THREADS", "2")),
        retry_delay=float(env.get("CARTABLE_RETRY_DELAY", "30")),
        timeout_seconds=float(env.get("CARTABLE_FUNCTION_TIMEOUT", str(timeout))),
        max_receives=int(env.get("CARTABLE_MAX_RECEIVES", str(MAX_RECEIVES))),
        region=env.get("AWS_DEFAULT_REGION", "eu-west-3"),
    )


def declare_from_env(queue: str, environ: Mapping[str, str] | None = None) -> str:
    """`declare`: the queues of `queue` (uploads or jobs) at the URL its setting names; the queue's name."""
    import pika

    env = os.environ if environ is None else environ
    url, name = split_amqp_url(env[QUEUES[queue][0]])
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        limit = delivery_limit(int(env.get("CARTABLE_MAX_RECEIVES", str(MAX_RECEIVES))))
        declare(connection.channel(), name, limit)
    finally:
        connection.close()
    return name


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Declare a RabbitMQ queue of Cartable's (quorum, DLX, limit).")
    parser.add_argument("command", choices=["declare"])
    parser.add_argument("queue", choices=sorted(QUEUES))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="amqp %(levelname)s %(name)s: %(message)s")
    print(f"declared {declare_from_env(args.queue)} (quorum, {args.queue}), its .dlx exchange and .dead queue")


if __name__ == "__main__":
    main()
