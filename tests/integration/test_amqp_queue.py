"""The uploads queue on RabbitMQ (issue 20, OVHcloud): a node of our own (local/rabbitmq.py), the queue
setting an AMQP URL, `python -m hosting.worker uploads` as a process taking its messages over AMQP and
scanning through the local stack (its bucket's notifications and its SQS pump off meanwhile: the AMQP
queue is the only way in). Upload → event published over AMQP → scan → download; a poison message goes
to the dead-letter queue after its fifth failed delivery; SIGTERM while a batch is being scanned loses
nothing; the worker's settling, batching and delayed retries, in process, with a handler of the test's."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from chalicelib.adapters.amqp import AmqpEventQueue
from hosting.amqp_source import AmqpWorker, declare_from_env
from local.clamav import EICAR
from local.rabbitmq import RabbitServer, rabbitmq_server, start_rabbitmq
from local.stack import ROOT, LocalStack, free_port
from tests.integration.conftest import Api, make_token
from tests.integration.test_faults import _corrupt_upload

pytestmark = [pytest.mark.integration, pytest.mark.catalog_independent]  # the queue, not the catalog

PDF = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"


@pytest.fixture(scope="module")
def rabbit() -> Iterator[RabbitServer]:
    if rabbitmq_server() is None:
        pytest.skip("rabbitmq-server is not installed and could not be: `make test` installs it (make amqp-deps)")
    server = start_rabbitmq()
    try:
        yield server
    finally:
        server.stop()


def _count(rabbit: RabbitServer, queue: str) -> int:
    import pika  # type: ignore[import-untyped]  # pika ships no stubs

    connection = pika.BlockingConnection(pika.URLParameters(rabbit.url))
    try:
        return int(connection.channel().queue_declare(queue, passive=True).method.message_count)
    finally:
        connection.close()


def _dead_letters(rabbit: RabbitServer, queue: str) -> list[tuple[dict[str, Any], bytes]]:
    import pika

    connection = pika.BlockingConnection(pika.URLParameters(rabbit.url))
    found = []
    try:
        channel = connection.channel()
        while True:
            method, properties, body = channel.basic_get(f"{queue}.dead", auto_ack=False)
            if method is None:
                return found
            found.append((dict(properties.headers or {}), body))
    finally:
        connection.close()  # unacknowledged: they stay in the dead-letter queue


def _wait_for(check: Any, timeout: float, what: str) -> None:
    """Until `check()` holds. The bound only ends a test that would hang: at least two minutes, whatever the
    caller's `timeout` (what it says is how long the event takes at most when the machine is idle)."""
    deadline = time.monotonic() + max(timeout, 120.0)
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


class SlowClamd:
    """clamd behind a TCP door that waits `delay` seconds before it lets each scan through."""

    def __init__(self, target: str, delay: float) -> None:
        self.target = target.removeprefix("unix://")
        self.delay = delay
        self.connections = 0
        self._server = socket.create_server(("127.0.0.1", 0))
        self.address = f"tcp://127.0.0.1:{self._server.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._relay, args=(client,), daemon=True).start()

    def _relay(self, client: socket.socket) -> None:
        time.sleep(self.delay)
        upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        upstream.connect(self.target)

        def pump(source: socket.socket, sink: socket.socket) -> None:
            try:
                while data := source.recv(65536):
                    sink.sendall(data)
            except OSError:
                pass
            finally:
                for end in (source, sink):
                    try:
                        end.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass

        threading.Thread(target=pump, args=(upstream, client), daemon=True).start()
        pump(client, upstream)

    def close(self) -> None:
        self._server.close()


@pytest.fixture(scope="module")
def amqp_env(stack: LocalStack, rabbit: RabbitServer) -> Iterator[dict[str, str]]:
    """The stack's environment with the uploads queue on RabbitMQ; the stack's own way in (bucket events to
    SQS, its pump) off meanwhile."""
    queue = f"cartable-uploads-{uuid.uuid4().hex[:6]}"
    env = {
        **stack.env,
        "CARTABLE_QUEUE_URL": rabbit.queue_url(queue),
        "CARTABLE_HEALTH_HOST": "127.0.0.1",
        "CARTABLE_HEALTH_PORT": str(free_port()),
        "CARTABLE_RETRY_DELAY": "1",
    }
    declare_from_env("uploads", env)
    stack.stop_pump()
    stack.set_bucket_notifications(False)
    try:
        yield env
    finally:
        stack.set_bucket_notifications(True)
        stack.start_pump()


def _start_worker(env: dict[str, str], **extra: str) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [sys.executable, "-m", "hosting.worker", "uploads"],
        cwd=ROOT,
        env={**env, **extra, "CARTABLE_FUNCTION": "scan_uploads"},
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{env['CARTABLE_HEALTH_PORT']}/readyz"
    deadline = time.monotonic() + 180  # against a hang, not a speed test: slow starts on a busy machine
    while True:
        assert process.poll() is None, "the worker exited at start"
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return process
        except OSError:
            assert time.monotonic() < deadline, "the worker never got ready"
            time.sleep(0.3)


def _sigterm(process: subprocess.Popen[bytes], timeout: float = 60) -> int:
    os.killpg(process.pid, signal.SIGTERM)
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        raise


def _queue_name(env: dict[str, str]) -> str:
    return env["CARTABLE_QUEUE_URL"].rsplit("queue=", 1)[1]


def test_upload_announced_over_amqp_is_scanned_by_the_worker_and_downloaded(
    amqp_env: dict[str, str], stack: LocalStack, rabbit: RabbitServer
) -> None:
    dead = len(_dead_letters(rabbit, _queue_name(amqp_env)))
    worker = _start_worker(amqp_env)
    try:
        pupil = Api(stack.api_url, make_token("amqp-pupil"))
        clean = pupil.upload("cours.pdf", PDF, "application/pdf")
        infected = pupil.upload("virus.pdf", EICAR, "application/pdf")
        time.sleep(1)
        assert pupil.get(f"/v1/files/{clean['fileId']}").json()["status"] == "pending", "no event reached SQS"
        keys = [clean["upload"]["fields"]["key"], infected["upload"]["fields"]["key"]]
        AmqpEventQueue(amqp_env["CARTABLE_QUEUE_URL"]).send_object_events(keys)  # as the sweeper sends them

        assert pupil.wait_status(clean["fileId"], timeout=60)["status"] == "available"
        answer = pupil.get(f"/v1/files/{clean['fileId']}/content")
        assert requests.get(answer.headers["Location"], timeout=10).content == PDF
        assert pupil.wait_status(infected["fileId"], timeout=60)["status"] == "infected"
        _wait_for(lambda: _count(rabbit, _queue_name(amqp_env)) == 0, 30, "both messages acknowledged")
        assert len(_dead_letters(rabbit, _queue_name(amqp_env))) == dead
    finally:
        assert _sigterm(worker) == 0, "the worker stops cleanly on SIGTERM"


def test_a_poison_message_reaches_the_dead_letter_queue_after_five_deliveries(
    amqp_env: dict[str, str], stack: LocalStack, rabbit: RabbitServer
) -> None:
    upload_id = f"amqppoison{uuid.uuid4().hex[:8]}"
    _corrupt_upload(stack, upload_id, "amqppoisonfile")  # an upload record the scanner cannot read
    key = f"incoming/amqppoisonfile/{upload_id}"
    stack.aws("s3").put_object(Bucket=stack.config.bucket, Key=key, Body=PDF)
    queue = _queue_name(amqp_env)
    dead = len(_dead_letters(rabbit, queue))
    worker = _start_worker(amqp_env)
    try:
        AmqpEventQueue(amqp_env["CARTABLE_QUEUE_URL"]).send_object_events([key])
        _wait_for(lambda: len(_dead_letters(rabbit, queue)) == dead + 1, 90, "dead-lettered after its deliveries")
        headers, body = _dead_letters(rabbit, queue)[-1]
        assert json.loads(body)["Records"][0]["s3"]["object"]["key"] == key.replace("/", "%2F")
        assert headers["x-first-death-reason"] == "delivery_limit"
        assert _count(rabbit, queue) == 0
    finally:
        assert _sigterm(worker) == 0


def test_sigterm_while_a_batch_is_scanned_loses_nothing(
    amqp_env: dict[str, str], stack: LocalStack, rabbit: RabbitServer
) -> None:
    """Three uploads announced, the worker (one thread, batches of five) is scanning them slowly when SIGTERM
    comes: it finishes the batch, acknowledges it and exits 0; a new worker finds nothing left to do, or
    what was not started. Every file ends available, once; nothing is dead-lettered."""
    slow = SlowClamd(stack.env["CARTABLE_CLAMD_ADDRESS"], delay=2)
    queue = _queue_name(amqp_env)
    dead = len(_dead_letters(rabbit, queue))  # the poison test's, if it ran
    try:
        worker = _start_worker(amqp_env, CARTABLE_CLAMD_ADDRESS=slow.address, CARTABLE_WORKER_THREADS="1")
        pupil = Api(stack.api_url, make_token("amqp-pupil-3"))
        grants = [
            pupil.upload(f"page-{n}.pdf", PDF.replace(b"%%EOF", f"% {n}\n%%EOF".encode()), "application/pdf")
            for n in range(3)
        ]
        AmqpEventQueue(amqp_env["CARTABLE_QUEUE_URL"]).send_object_events(
            [grant["upload"]["fields"]["key"] for grant in grants]
        )
        _wait_for(lambda: slow.connections >= 1, 60, "a scan started")
        assert _sigterm(worker) == 0, "the batch in hand finished, then a clean exit"
        statuses = [pupil.get(f"/v1/files/{g['fileId']}").json()["status"] for g in grants]
        assert statuses.count("available") >= 1, f"the batch in hand was finished: {statuses}"
    finally:
        slow.close()
    worker = _start_worker(amqp_env)
    try:
        for grant in grants:
            file = pupil.wait_status(grant["fileId"], timeout=60)
            assert (file["status"], file["version"]) == ("available", 1)
        _wait_for(lambda: _count(rabbit, queue) == 0, 30, "every message acknowledged")
        assert len(_dead_letters(rabbit, queue)) == dead
    finally:
        assert _sigterm(worker) == 0


def test_the_worker_acks_after_the_handler_and_returns_failures_after_the_delay(rabbit: RabbitServer) -> None:
    """In process, a handler of the test's: batches of up to three; a message it names as failed comes back
    after the retry delay with its receive count up, the others are acknowledged once it returned; stop()
    while a batch runs (what SIGTERM does) lets it finish and be acknowledged, the rest stays queued."""
    url = rabbit.queue_url(f"unit-{uuid.uuid4().hex[:6]}")
    queue = url.rsplit("=", 1)[1]
    calls: list[list[tuple[str, str]]] = []
    entered, release = threading.Event(), threading.Event()
    seen_at: dict[str, list[float]] = {}

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        batch = [(json.loads(r["body"])["jobId"], r["attributes"]["ApproximateReceiveCount"]) for r in event["Records"]]
        calls.append(batch)
        for job, _ in batch:
            seen_at.setdefault(job, []).append(time.monotonic())
        if any(job.startswith("hold") for job, _ in batch):
            entered.set()
            release.wait(30)
        failed = [r["messageId"] for r in event["Records"] if json.loads(r["body"])["jobId"] == "flaky"]
        if len(seen_at.get("flaky", [])) >= 2:
            failed = []
        return {"batchItemFailures": [{"itemIdentifier": m} for m in failed]}

    worker = AmqpWorker(url, handler, "test", batch_size=3, threads=1, retry_delay=1.5)
    runner = threading.Thread(target=worker.run, daemon=True)
    runner.start()
    _wait_for(lambda: worker._channel is not None, 30, "consuming")
    sender = AmqpEventQueue(url)
    for job in ("a", "flaky", "b"):
        sender.send_job(job)
    _wait_for(lambda: len(seen_at.get("flaky", [])) == 2, 30, "the failed message came back")
    assert seen_at["flaky"][1] - seen_at["flaky"][0] >= 1.4, "after the retry delay"
    assert [count for batch in calls for job, count in batch if job == "flaky"] == ["1", "2"]
    assert all(len(batch) <= 3 for batch in calls)
    _wait_for(lambda: _count(rabbit, queue) == 0, 30, "all acknowledged")

    rabbit.ctl("close_all_connections", "a failover")  # the worker reconnects, the sender too
    sender.send_job("after-failover")
    _wait_for(lambda: "after-failover" in seen_at, 30, "consumed again after the broker closed the connection")
    _wait_for(lambda: _count(rabbit, queue) == 0, 30, "and acknowledged on the new connection")

    for job in ("hold-1", "hold-2", "hold-3", "later-1", "later-2"):
        sender.send_job(job)
    assert entered.wait(30)
    worker.stop()
    time.sleep(0.5)
    assert runner.is_alive(), "the batch in hand is still running"
    release.set()
    runner.join(30)
    assert not runner.is_alive()
    handled = {job for batch in calls for job, _ in batch} & {"hold-1", "hold-2", "hold-3", "later-1", "later-2"}
    assert "hold-1" in handled
    assert _count(rabbit, queue) == 5 - len(handled), "what was handled is acknowledged, the rest is queued"
    sender.close()


def test_the_publisher_refuses_clearly_and_survives_a_lost_connection(rabbit: RabbitServer) -> None:
    from chalicelib.errors import ServiceUnavailableError

    with pytest.raises(ServiceUnavailableError, match="jobs queue"):
        AmqpEventQueue(rabbit.queue_url("no-such-queue")).send_job("j")  # unroutable: not taken, not lost quietly
    url = rabbit.queue_url(f"pub-{uuid.uuid4().hex[:6]}")
    declare_from_env("jobs", {"CARTABLE_JOBS_QUEUE_URL": url})
    sender = AmqpEventQueue(url)
    sender.send_job("one")
    rabbit.ctl("close_all_connections", "a failover")  # as a broker restart or missed heartbeats do
    sender.send_job("two")
    assert _count(rabbit, sender.queue) == 2
    sender.close()
