"""The fault suite: a part fails while uploads are scanned, and nothing is lost or served unscanned.

Each test stops the stack's pump, uploads through the API as a tablet would, then delivers the real
queue's messages to the very handler Lambda calls (`app.scan_uploads`), in this process, with one
fault injected: clamd SIGKILLed mid-stream, clamd answering an error, events twice and out of order,
a crash between the copy and the record, the catalog (DynamoDB or PostgreSQL) failing the record update,
a poison message in a batch of ten. Then the fault ends, the pump (and, where an event was lost, the sweeper) recover.

The promise, checked for every file while the fault holds: a clean file is `available` with exactly
the bytes sent or still `pending` with its bytes held in incoming/; an infected one `pending` so, or
refused with a reason (`infected` with its bytes in quarantine/); and the API never hands out bytes
that were not scanned clean. After recovery nothing may be left `pending`: every clean file is
`available` with its bytes and every infected one refused with a reason, or it counts as lost. Each
test adds that row to the table printed at the end of the run (and written to
tests/artifacts/faults.md), and fails when the row is not 0 / 0: breaking the handling of its fault
(see each test) makes it fail.

The faults are injected through public seams only: the process's configuration (a clamd address),
the wired object store (`wiring.store()`) and DynamoDB client (`wiring.dynamodb()`) or PostgreSQL pool
(`wiring.database()`: its transactions), never a service's private attributes.
"""

from __future__ import annotations

import hashlib
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError

from chalicelib import settings as settings_module
from chalicelib import wiring
from chalicelib.domain.keys import INCOMING, QUARANTINE, SERVED
from chalicelib.domain.scanning import object_keys
from local.clamav import EICAR
from local.pump import LocalContext, lambda_event, settle
from local.stack import LocalStack
from tests.integration.conftest import FAULT_TABLE, MIB, Api

pytestmark = pytest.mark.integration


class Crash(BaseException):
    """The process dies here: not an exception a handler could catch and report."""


@dataclass
class Sent:
    """One file as the tablet sent it, and what it must become."""

    file_id: str
    upload_id: str
    data: bytes
    clean: bool


@dataclass
class Harness:
    stack: LocalStack
    user: Api
    sent: list[Sent] = field(default_factory=list)

    def upload(self, name: str, data: bytes, clean: bool = True) -> Sent:
        grant = self.user.upload(name, data, "text/plain")
        item = Sent(grant["fileId"], grant["uploadId"], data, clean)
        self.sent = [s for s in self.sent if s.file_id != item.file_id] + [item]  # a new version replaces
        return item

    def receive(self, count: int, timeout: float = 10, also: frozenset[str] = frozenset()) -> list[dict[str, Any]]:
        """At least `count` messages of the real queue: S3's events for what was uploaded (and for the
        files `also` names), never an earlier test's."""
        sqs, found = self.stack.aws("sqs"), {}
        deadline = time.monotonic() + timeout
        while len(found) < count and time.monotonic() < deadline:
            answer = sqs.receive_message(
                QueueUrl=self.stack.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1, AttributeNames=["All"]
            )
            mine = {s.file_id for s in self.sent} | also
            for message in answer.get("Messages", []):
                if json.loads(message["Body"]).get("Event") == "s3:TestEvent":
                    self.delete([message])
                    continue
                if not any(key.split("/")[1] in mine for key in object_keys(message["Body"])):
                    continue  # an earlier test's event, not this harness's: left for the queue to hand back
                found[message["MessageId"]] = message
        keys = [object_keys(m["Body"]) for m in found.values()]
        assert len(found) >= count, (
            f"{len(found)} of {count} events arrived: {keys} for {[(s.file_id, s.upload_id) for s in self.sent]}"
        )
        return list(found.values())

    def deliver(self, messages: list[dict[str, Any]]) -> set[str]:
        """One Lambda invocation of the scan handler on these messages; the ids it reports failed. A
        crash leaves every message to come back, as Lambda would."""
        from app import scan_uploads

        region = self.stack.env["AWS_DEFAULT_REGION"]
        try:
            answer = scan_uploads(
                lambda_event(messages, "arn:aws:sqs:local:000000000000:uploads", region), LocalContext()
            )
        except Crash:
            self.release(messages)
            return {m["MessageId"] for m in messages}
        settle(self.stack.aws("sqs"), self.stack.queue_url, messages, answer)
        return {f["itemIdentifier"] for f in answer.get("batchItemFailures", [])}

    def release(self, messages: list[dict[str, Any]]) -> None:
        for m in messages:
            self.stack.aws("sqs").change_message_visibility(
                QueueUrl=self.stack.queue_url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0
            )

    def delete(self, messages: list[dict[str, Any]]) -> None:
        for m in messages:
            self.stack.aws("sqs").delete_message(QueueUrl=self.stack.queue_url, ReceiptHandle=m["ReceiptHandle"])

    def statuses(self) -> list[str]:
        files = [self.user.get(f"/v1/files/{s.file_id}").json() for s in self.sent]
        return [
            f["status"] if f["status"] in ("available", "pending") else f["status"] + ":" + (f["reason"] or "")
            for f in files
        ]

    def recover(self, timeout: float = 30) -> None:
        """The fault is over: the pump runs again; wait until no file is pending."""
        self.stack.start_pump()
        deadline = time.monotonic() + timeout
        for item in self.sent:
            self.user.wait_status(item.file_id, timeout=max(0.5, deadline - time.monotonic()))

    # -- the promise ----------------------------------------------------------------------------
    def held(self, key: str) -> bool:
        try:
            self.stack.aws("s3").head_object(Bucket=self.stack.config.bucket, Key=key)
        except ClientError:
            return False
        return True

    def lost(self, recovered: bool) -> list[str]:
        """Files not (yet) what they must become: a clean one `available` with its exact bytes, an
        infected one refused with a reason (its bytes in quarantine/). While the fault holds, `pending`
        with the bytes still in incoming/ is not lost; once `recovered`, a file still pending is."""
        lost = []
        for item in self.sent:
            answer = self.user.get(f"/v1/files/{item.file_id}")
            if answer.status_code != 200:
                lost.append(f"{item.file_id}: {answer.status_code}")
                continue
            file = answer.json()
            suffix = f"{item.file_id}/{item.upload_id}"
            if file["status"] == "available":  # an infected file served counts as served unscanned
                ok = file["sha256"] == hashlib.sha256(item.data).hexdigest() or not item.clean
            elif file["status"] == "pending":
                ok = not recovered and self.held(f"{INCOMING}{suffix}")
            elif item.clean:  # a clean file refused is lost to its pupil, whatever the reason
                ok = False
            else:
                ok = bool(file["reason"]) and (file["status"] == "rejected" or self.held(f"{QUARANTINE}{suffix}"))
            if not ok:
                lost.append(f"{item.file_id}: {file['status']} {file['reason']}")
        return lost

    def served_unscanned(self) -> list[str]:
        """Files whose content URL hands out bytes that were not scanned clean, or other bytes."""
        bad = []
        for item in self.sent:
            answer = self.user.get(f"/v1/files/{item.file_id}/content")
            if answer.status_code == 409:
                continue
            served = requests.get(answer.headers["Location"], timeout=30).content if answer.status_code == 302 else b""
            status = self.user.get(f"/v1/files/{item.file_id}").json()["status"]
            if not item.clean or status != "available" or served != item.data:
                bad.append(f"{item.file_id}: {answer.status_code} while {status}")
        return bad

    def check(self, fault: str) -> None:
        """The promise while the fault holds (a file may still wait, its bytes held)."""
        lost, unscanned = self.lost(recovered=False), self.served_unscanned()
        assert (lost, unscanned) == ([], []), fault

    def record(self, fault: str) -> None:
        """The row of the table once recovered: every file at its end, none pending."""
        lost, unscanned = self.lost(recovered=True), self.served_unscanned()
        FAULT_TABLE.append((fault, len(self.sent), len(lost), len(unscanned)))
        assert lost == [] and unscanned == [], (fault, lost, unscanned)


@pytest.fixture
def harness(stack: LocalStack, as_user: Any, monkeypatch: pytest.MonkeyPatch, request: Any) -> Iterator[Harness]:
    """The handler's environment in this process (as Lambda's configuration), the pump stopped."""
    for name, value in stack.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("CARTABLE_FUNCTION", "scan_uploads")  # the calls below are the scan handler's
    _clear_caches()
    stack.stop_pump()
    # moto answers a long poll the pump left open (1 s) with the next message even though nobody
    # reads it any more: that message would hide for the visibility timeout. Let the poll end.
    time.sleep(1.5)
    try:
        yield Harness(stack, as_user(f"faults-{request.node.name[5:40]}"))
    finally:
        stack.start_pump()
        if not stack.clamd.is_running():  # a test that failed before restarting it
            stack.clamd.start()
        _clear_caches()


def _clear_caches() -> None:
    settings_module.settings.cache_clear()
    for value in vars(wiring).values():
        if callable(getattr(value, "cache_clear", None)):
            value.cache_clear()


def text(n: int, size: int = 64) -> bytes:
    line = f"devoir {n} : les fractions et l exercice {n}.\n".encode()
    return (line * (size // len(line) + 1))[:size]


def upload_mix(h: Harness, prefix: str, clean: int = 3, size: int = 64) -> None:
    for n in range(clean):
        h.upload(f"{prefix}-{n}.txt", text(n, size))
    h.upload(f"{prefix}-eicar.txt", EICAR, clean=False)


# -- the faults ---------------------------------------------------------------------------------------


def test_clamd_killed_mid_stream(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    upload_mix(harness, "tue", size=3 * MIB)  # several chunks each: the kill lands mid-stream
    messages = harness.receive(len(harness.sent))
    store = wiring.store()  # the very store the scan service was built with (one per cold start)
    read = store.read_chunks

    def read_then_kill(key: str, etag: str, chunk: int) -> Iterator[bytes]:
        for n, piece in enumerate(read(key, etag, chunk)):
            if n == 1:
                harness.stack.clamd.kill()
            yield piece

    with monkeypatch.context() as patch:
        patch.setattr(store, "read_chunks", read_then_kill)
        failed = harness.deliver(messages)
    assert failed == {m["MessageId"] for m in messages}  # no verdict without clamd: every one retried
    assert {harness.user.get(f"/v1/files/{s.file_id}").json()["status"] for s in harness.sent} == {"pending"}
    assert not harness.stack.clamd.is_running()
    harness.check("clamd killed mid-stream")
    harness.stack.clamd.start()  # the fault ends: clamd is back (else the files stay pending, lost)
    harness.recover()
    harness.record("clamd killed mid-stream")
    assert harness.statuses() == ["available"] * 3 + ["infected:Cartable.Test.EICAR.UNOFFICIAL"]


def test_clamd_answering_an_error(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    upload_mix(harness, "erreur")
    messages = harness.receive(len(harness.sent))
    with FakeClamd(b"stream: Can't allocate memory ERROR\0") as address, monkeypatch.context() as patch:
        patch.setenv("CARTABLE_CLAMD_ADDRESS", address)  # this cold start's clamd answers an error
        _clear_caches()
        failed = harness.deliver(messages)
    _clear_caches()
    assert failed == {m["MessageId"] for m in messages}
    harness.check("clamd answering an error")
    harness.recover()
    harness.record("clamd answering an error")
    assert harness.statuses() == ["available"] * 3 + ["infected:Cartable.Test.EICAR.UNOFFICIAL"]


def test_events_twice_and_out_of_order(harness: Harness) -> None:
    older = harness.upload("ordre.txt", text(1))
    harness.upload("ordre.txt", text(2))  # a second version of the same file, granted later
    harness.upload("double.txt", text(3))
    harness.upload("double-eicar.txt", EICAR, clean=False)
    messages = harness.receive(4)
    older_key = f"{INCOMING}{older.file_id}/{older.upload_id}"
    # The older version's event last, after the newer one's; then each event once more (S3 may).
    newer_first = sorted(messages, key=lambda m: object_keys(m["Body"]) == [older_key])
    assert not harness.deliver(newer_first)
    replay = [{**m, "MessageId": m["MessageId"] + "-again"} for m in newer_first]
    sqs = harness.stack.aws("sqs")
    for m in replay:
        sqs.send_message(QueueUrl=harness.stack.queue_url, MessageBody=m["Body"])
    assert not harness.deliver(harness.receive(len(replay)))
    harness.check("events twice and out of order")
    harness.recover()
    harness.record("events twice and out of order")
    assert harness.statuses() == ["available"] * 2 + ["infected:Cartable.Test.EICAR.UNOFFICIAL"]
    first = harness.user.get(f"/v1/files/{older.file_id}").json()
    assert (first["status"], first["version"], first["sha256"]) == ("available", 1, hashlib.sha256(text(2)).hexdigest())
    superseded = harness.user.get(f"/v1/uploads/{older.upload_id}").json()
    assert (superseded["status"], superseded["reason"]) == ("rejected", "superseded")
    assert harness.user.get(f"/v1/files/{harness.sent[1].file_id}").json()["version"] == 1


def test_crash_between_the_copy_and_the_record(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    upload_mix(harness, "crash")
    messages = harness.receive(len(harness.sent))

    def crash() -> BaseException:
        return Crash("the function died after copying, before recording")

    with _failing_transactions(crash):  # one invocation per message, each dying at its verdict's write
        crashed = [harness.deliver([m]) for m in messages]
    assert crashed == [{m["MessageId"]} for m in messages]
    # Each file's bytes were copied out (files/ or quarantine/) before its record was written, and the
    # incoming object is still there (deleted last); the records still say pending: nothing served.
    for item in harness.sent:
        suffix = f"{item.file_id}/{item.upload_id}"
        copied = f"{SERVED if item.clean else QUARANTINE}{suffix}"
        assert (harness.held(copied), harness.held(f"{INCOMING}{suffix}")) == (True, True), suffix
    assert {harness.user.get(f"/v1/files/{s.file_id}").json()["status"] for s in harness.sent} == {"pending"}
    harness.check("crash between copy and record")
    # Worse: the events are lost too. The sweeper finds the objects left in incoming/ and re-announces them.
    harness.delete(harness.receive(len(messages)))
    from chalicelib.domain.models import utcnow

    monkeypatch.setenv("CARTABLE_FUNCTION", "sweep_trash")  # the sweeper's own clients from here
    assert wiring.sweeper().requeue_stale(utcnow(), settle=_zero()) >= len(harness.sent)
    harness.recover()
    harness.record("crash between copy and record")
    assert harness.statuses() == ["available"] * 3 + ["infected:Cartable.Test.EICAR.UNOFFICIAL"]


def test_the_catalog_busy_on_the_record_update(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    upload_mix(harness, "catalog")
    messages = harness.receive(len(harness.sent))
    with _failing_transactions(_busy):
        failed = harness.deliver(messages)
    assert failed == {m["MessageId"] for m in messages}
    fault = "the catalog busy on the record update"  # DynamoDB throttles, PostgreSQL fails to serialise
    harness.check(fault)
    harness.recover()
    harness.record(fault)
    assert harness.statuses() == ["available"] * 3 + ["infected:Cartable.Test.EICAR.UNOFFICIAL"]


def test_a_poison_message_in_a_batch_of_ten(harness: Harness) -> None:
    upload_mix(harness, "poison", clean=8)
    table, sqs = harness.stack.config.table, harness.stack.aws("sqs")
    _corrupt_upload(harness.stack, "poisonedB", "poisonfileB")  # an upload record the scanner cannot read
    key = "incoming/poisonfileB/poisonedB"
    body = {"Records": [{"eventName": "ObjectCreated:Post", "s3": {"object": {"key": key}}}]}
    sqs.send_message(QueueUrl=harness.stack.queue_url, MessageBody=json.dumps(body))
    received = harness.receive(len(harness.sent) + 1, also=frozenset({"poisonfileB"}))
    poison = next(m for m in received if object_keys(m["Body"]) == [key])
    messages = [m for m in received if m is not poison]
    batch = [*messages[:5], poison, *messages[5:]]
    assert len(batch) == 10
    try:
        assert harness.deliver(batch) == {poison["MessageId"]}  # reported alone: the nine others are done
        harness.check("a poison message in a batch of ten")
        harness.recover()
        harness.record("a poison message in a batch of ten")
        assert harness.statuses() == ["available"] * 8 + ["infected:Cartable.Test.EICAR.UNOFFICIAL"]
        assert harness.user.get("/v1/files/poisonfileB").status_code == 404  # the poison never made a file
    finally:  # its next retry finds no grant and ends, as a stray does
        if harness.stack.database_url:
            import psycopg

            with psycopg.connect(harness.stack.database_url) as conn:
                conn.execute("DELETE FROM uploads WHERE upload_id = 'poisonedB'")
        else:
            harness.stack.aws("dynamodb").delete_item(
                TableName=table, Key={"pk": {"S": "UPLOAD#poisonedB"}, "sk": {"S": "UPLOAD"}}
            )


# -- tools --------------------------------------------------------------------------------------------


def _zero() -> Any:
    from datetime import timedelta

    return timedelta(0)


def _postgres() -> bool:
    return settings_module.settings().catalog == "postgres"


def _busy() -> BaseException:
    """What the catalog's store answers when it cannot take a write now."""
    if _postgres():
        from psycopg import errors

        return errors.SerializationFailure("injected: could not serialize access")
    return ClientError(
        {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "injected"}}, "TransactWriteItems"
    )


@contextmanager
def _failing_transactions(fault: Callable[[], BaseException]) -> Iterator[None]:
    """Every catalog transaction (a verdict is one) fails with `fault()` meanwhile: the wired DynamoDB
    client's TransactWriteItems, or the wired PostgreSQL pool's transactions (raised on a real
    connection, so the adapter translates it as it would the server's)."""
    if not _postgres():
        client = wiring.dynamodb()

        def failing(**kwargs: Any) -> None:
            raise fault()

        client.meta.events.register("before-call.dynamodb.TransactWriteItems", failing)
        try:
            yield
        finally:
            client.meta.events.unregister("before-call.dynamodb.TransactWriteItems", failing)
        return
    db = wiring.database()
    connection = db.connection

    @contextmanager
    def broken() -> Iterator[Any]:
        with connection():
            raise fault()
        yield  # never reached

    db.transaction = broken  # type: ignore[method-assign]
    try:
        yield
    finally:
        del db.transaction


def _corrupt_upload(stack: LocalStack, upload_id: str, file_id: str) -> None:
    """An upload record the scanner cannot read: an item without its fields, or a row of no status."""
    if stack.database_url:
        import psycopg

        with psycopg.connect(stack.database_url) as conn:
            conn.execute(
                "INSERT INTO uploads (upload_id, file_id, school, space, path, name, size, content_type, owner,"
                " status, created_at, expires_at, key) VALUES (%s, %s, '?', '?', '/', '?', 0, '?', '?', 'poisoned',"
                " now(), now(), '?') ON CONFLICT DO NOTHING",
                (upload_id, file_id),
            )
        return
    stack.aws("dynamodb").put_item(
        TableName=stack.config.table,
        Item={"pk": {"S": f"UPLOAD#{upload_id}"}, "sk": {"S": "UPLOAD"}, "uploadId": {"S": upload_id}},
    )


class FakeClamd:
    """A TCP peer that reads one INSTREAM and answers `reply`."""

    def __init__(self, reply: bytes) -> None:
        self._reply = reply
        self._server = socket.create_server(("127.0.0.1", 0))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> str:
        self._thread.start()
        return f"tcp://127.0.0.1:{self._server.getsockname()[1]}"

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._server.close()

    def _serve(self) -> None:
        self._server.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self._server.accept()
            except OSError:
                continue
            with conn:
                _read_instream(conn)
                conn.sendall(self._reply)


def _read_instream(conn: socket.socket) -> None:
    def exactly(n: int) -> bytes:
        data = b""
        while len(data) < n:
            part = conn.recv(n - len(data))
            if not part:
                raise ConnectionError
            data += part
        return data

    exactly(len(b"zINSTREAM\0"))
    while length := int.from_bytes(exactly(4), "big"):
        exactly(length)
