"""`python -m hosting.worker uploads|jobs`: a queue's SQS handler fed as Lambda's event source mapping feeds it.

What Lambda does, kept (the handlers are app.py's, unchanged):
- batches of up to the handler's `batch_size` (app.py's decorator; `CARTABLE_BATCH_SIZE` overrides it, 10 at
  most), in the event shape Lambda sends (`Records` with `messageId`, `receiptHandle`, `body`, `attributes`,
  `messageAttributes`, `md5OfBody`, `eventSource`, `eventSourceARN`, `awsRegion`), with a Lambda-like context;
- partial batch responses: the messages named in `batchItemFailures` become visible again (after
  `CARTABLE_RETRY_DELAY` seconds; the queue's redrive policy counts their receives), the others are
  deleted; a handler that raises, or names a message that is not in its batch, fails the whole batch.

What a long-running worker adds:
- the batch in hand stays invisible while it runs: its visibility is extended every third of the queue's
  visibility timeout (a long scan is not handed to another worker);
- bounded concurrency: `CARTABLE_WORKER_THREADS` batches at once, a batch received only when a thread is free;
- graceful shutdown: on SIGTERM (or SIGINT) no more is received; messages a poll returns after that are
  released at once; the batches in hand finish and are settled, then the process exits 0;
- health for Kubernetes' probes on `CARTABLE_HEALTH_PORT` (8081): `/healthz` while the loop turns
  (liveness), `/readyz` while it also takes work and its last receive succeeded (readiness).

The queue speaks the SQS API (AWS, Scaleway Queues, or the local stack's moto): `CARTABLE_SQS_ENDPOINT`
and the usual AWS credentials' variables. When the queue's setting is an amqp(s):// URL, the queue is
RabbitMQ's (OVHcloud) and hosting.amqp_source is the source, with the same semantics.
"""

from __future__ import annotations

import argparse
import base64
import logging
import os
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from hosting import Health, LambdaContext, Loop, serve

if TYPE_CHECKING:
    from hosting.amqp_source import AmqpWorker

log = logging.getLogger("cartable.hosting.worker")

MAX_BATCH = 10  # SQS's ReceiveMessage limit, and Lambda's for a standard queue without a batching window
# queue → (the environment name of its URL, the app's handler, its Lambda timeout in seconds: .chalice/config.json)
QUEUES = {
    "uploads": ("CARTABLE_QUEUE_URL", "scan_uploads", 600),
    "jobs": ("CARTABLE_JOBS_QUEUE_URL", "run_jobs", 900),
}

Handler = Callable[[dict[str, Any], Any], Any]


def _message_attributes(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """SQS's MessageAttributes as Lambda writes them (camelCase, list values present)."""
    converted: dict[str, Any] = {}
    for name, value in attributes.items():
        entry: dict[str, Any] = {"stringListValues": [], "binaryListValues": [], "dataType": value.get("DataType")}
        if "StringValue" in value:
            entry["stringValue"] = value["StringValue"]
        if "BinaryValue" in value:
            entry["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode("ascii")
        converted[name] = entry
    return converted


def lambda_event(messages: Sequence[Mapping[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    """SQS messages in the shape Lambda's event source mapping delivers them."""
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": dict(m.get("Attributes", {})),
                "messageAttributes": _message_attributes(m.get("MessageAttributes", {})),
                "md5OfBody": m.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
            for m in messages
        ]
    }


def failed_ids(answer: Any, messages: Sequence[Mapping[str, Any]]) -> set[str]:
    """The messages to retry, from the handler's answer, as Lambda reads a partial batch response: none
    when it names none; the whole batch when the answer is malformed or names a message not in it."""
    ids = {str(m["MessageId"]) for m in messages}
    if answer is None or (isinstance(answer, Mapping) and not answer.get("batchItemFailures")):
        return set()
    try:
        named = {str(item["itemIdentifier"]) for item in answer["batchItemFailures"]}
    except (KeyError, TypeError):
        return ids
    return named if named <= ids and "" not in named else ids


class Worker(Loop):
    """Receives batches from one queue and runs `handler` on them, as Lambda would."""

    stop_message = "stopping: no more messages are received; the batches in hand finish"

    def __init__(
        self,
        sqs: Any,
        queue_url: str,
        handler: Handler,
        function_name: str,
        *,
        batch_size: int = MAX_BATCH,
        threads: int = 1,
        wait_seconds: int = 10,
        visibility_timeout: int | None = None,
        retry_delay: int = 30,
        timeout_seconds: float = 900,
        region: str | None = None,
    ) -> None:
        if not 1 <= batch_size <= MAX_BATCH:
            raise ValueError(f"a batch holds 1 to {MAX_BATCH} messages, not {batch_size}")
        self.sqs = sqs
        self.queue_url = queue_url
        self.handler = handler
        self.function_name = function_name
        self.batch_size = batch_size
        self.threads = max(1, threads)
        self.wait_seconds = wait_seconds
        self.retry_delay = retry_delay
        self.timeout_seconds = timeout_seconds
        self.region = region or os.environ.get("AWS_DEFAULT_REGION", "eu-west-3")
        attributes = self._queue_attributes()
        self.queue_arn = (
            attributes.get("QueueArn") or f"arn:aws:sqs:{self.region}:000000000000:{queue_url.rsplit('/', 1)[-1]}"
        )
        self.visibility_timeout = visibility_timeout or int(attributes.get("VisibilityTimeout", 30))
        super().__init__(Health(stale_after=max(60.0, 3.0 * wait_seconds)), log)
        self._slots = threading.BoundedSemaphore(self.threads)
        self._pool = ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix=function_name)
        self.batches = 0  # settled batches, for tests and logs

    def _queue_attributes(self) -> dict[str, str]:
        try:
            answer = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["All"])
        except Exception:  # a provider that answers fewer attributes: the defaults stand
            log.warning("the queue's attributes could not be read; defaults are used", exc_info=True)
            return {}
        return dict(answer.get("Attributes", {}))

    # -- the loop ---------------------------------------------------------------------------------
    def run(self, stop_after: float | None = None) -> None:
        """Receive and dispatch until stopped (or for `stop_after` seconds), then finish what is in hand."""
        deadline = self.deadline(stop_after)
        log.info(
            "worker ready: %s (%s, batches of %d, %d threads)",
            self.queue_url,
            self.function_name,
            self.batch_size,
            self.threads,
        )
        try:
            while self.turning(deadline):
                if not self._slots.acquire(timeout=1):  # every thread busy: the loop still beats
                    continue
                messages = self._receive()
                if not messages:
                    self._slots.release()
                    continue
                if self.stopping:  # received during the last poll, after SIGTERM: not ours to run
                    self._release(messages)
                    self._slots.release()
                    break
                self._pool.submit(self._run_batch, messages)
        finally:
            self.stop()
            self._pool.shutdown(wait=True)
            log.info("worker stopped after %d batches", self.batches)

    def _receive(self) -> list[dict[str, Any]]:
        try:
            answer = self.sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=self.batch_size,
                WaitTimeSeconds=self.wait_seconds,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
        except Exception:  # the queue's endpoint restarting must not end the worker
            self.health.backend_ok = False
            log.exception("receive failed")
            self._stopping.wait(1)
            return []
        self.health.backend_ok = True
        return list(answer.get("Messages", []))

    # -- one batch ----------------------------------------------------------------------------------
    def _run_batch(self, messages: list[dict[str, Any]]) -> None:
        try:
            self.run_batch(messages)
        except Exception:  # settling failed: the messages come back after their visibility timeout
            log.exception("a batch could not be settled")
        finally:
            self._slots.release()

    def run_batch(self, messages: list[dict[str, Any]]) -> set[str]:
        """Run the handler on one batch and settle it; the ids of the messages that will be retried."""
        done = threading.Event()
        keeper = threading.Thread(target=self._keep_invisible, args=(messages, done), daemon=True)
        keeper.start()
        context = LambdaContext(function_name=self.function_name, timeout_seconds=self.timeout_seconds)
        try:
            answer = self.handler(lambda_event(messages, self.queue_arn, self.region), context)
            failed = failed_ids(answer, messages)
        except Exception:
            log.exception("the handler failed: the whole batch will be retried")
            failed = {str(m["MessageId"]) for m in messages}
        finally:
            done.set()
            keeper.join()
        self.settle(messages, failed)
        self.batches += 1
        return failed

    def _keep_invisible(self, messages: list[dict[str, Any]], done: threading.Event) -> None:
        """While the batch runs, push its messages' visibility a whole timeout ahead every third of it."""
        every = max(1.0, self.visibility_timeout / 3)
        while not done.wait(every):
            entries = [
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": self.visibility_timeout}
                for i, m in enumerate(messages)
            ]
            try:
                self.sqs.change_message_visibility_batch(QueueUrl=self.queue_url, Entries=entries)
            except Exception:
                log.warning("the batch's visibility could not be extended", exc_info=True)

    def settle(self, messages: Sequence[Mapping[str, Any]], failed: set[str]) -> None:
        """What Lambda does with a partial batch response: the failed messages visible again (after the
        retry delay), the others deleted."""
        retry = [m for m in messages if m["MessageId"] in failed]
        done = [m for m in messages if m["MessageId"] not in failed]
        if retry:
            self.sqs.change_message_visibility_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": self.retry_delay}
                    for i, m in enumerate(retry)
                ],
            )
        if done:
            answer = self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
            )
            for failure in answer.get("Failed", []):
                log.warning("a handled message could not be deleted (it will run again): %s", failure)

    def _release(self, messages: Sequence[Mapping[str, Any]]) -> None:
        try:
            self.sqs.change_message_visibility_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
                    for i, m in enumerate(messages)
                ],
            )
        except Exception:
            log.warning("messages received while stopping were not released", exc_info=True)


def _batch_size_of(app: Any, function: str) -> int:
    for source in getattr(app, "event_sources", []):
        if getattr(source, "name", None) == function and getattr(source, "batch_size", None):
            return min(MAX_BATCH, int(source.batch_size))
    return MAX_BATCH


def from_env(queue: str, environ: Mapping[str, str] | None = None) -> Worker | AmqpWorker:
    """The worker of `queue` (uploads or jobs) as the environment configures it (see k8s/)."""
    import boto3

    import app
    from chalicelib.settings import is_amqp

    env = os.environ if environ is None else environ
    url_name, function, timeout = QUEUES[queue]
    if is_amqp(env.get(url_name)):  # RabbitMQ's queue (OVHcloud): the same semantics over AMQP
        from hosting import amqp_source

        return amqp_source.from_env(queue, env)
    region = env.get("AWS_DEFAULT_REGION", "eu-west-3")
    sqs = boto3.client("sqs", endpoint_url=env.get("CARTABLE_SQS_ENDPOINT") or None, region_name=region)
    return Worker(
        sqs,
        env[url_name],
        getattr(app, function),
        env.get("CARTABLE_FUNCTION_NAME", f"cartable-{function}"),
        batch_size=int(env.get("CARTABLE_BATCH_SIZE") or _batch_size_of(app.app, function)),
        threads=int(env.get("CARTABLE_WORKER_THREADS", "2")),
        wait_seconds=int(env.get("CARTABLE_WAIT_SECONDS", "10")),
        visibility_timeout=int(env["CARTABLE_VISIBILITY_TIMEOUT"]) if env.get("CARTABLE_VISIBILITY_TIMEOUT") else None,
        retry_delay=int(env.get("CARTABLE_RETRY_DELAY", "30")),
        timeout_seconds=float(env.get("CARTABLE_FUNCTION_TIMEOUT", str(timeout))),
        region=region,
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run app.py's SQS handler of one queue, as Lambda would.")
    parser.add_argument("queue", choices=sorted(QUEUES))
    parser.add_argument("--health-port", type=int, default=int(os.environ.get("CARTABLE_HEALTH_PORT", "8081")))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="worker %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    worker = from_env(args.queue)
    serve(worker.run, worker.stop, worker.health, args.health_port)


if __name__ == "__main__":
    main()
