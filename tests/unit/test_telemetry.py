"""An operator's view: every log line is JSON with its invocation's ids, nothing is carried over to the
next invocation, and scans, clamd failures, quota refusals and queue waits come out as CloudWatch EMF."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest

from chalicelib import settings as settings_module
from chalicelib import wiring
from chalicelib.adapters.telemetry import LambdaTelemetry
from chalicelib.domain.content import ScanOutcome, ScanResult, Verdict
from chalicelib.domain.models import FileStatus, SpaceKind, SpaceRef, UploadRecord
from chalicelib.domain.ports import StoredObject
from chalicelib.domain.scanning import ScanService
from chalicelib.errors import ScannerUnavailableError

ROOT = Path(__file__).resolve().parents[2]
SECRET = "unit-test-secret-of-at-least-32-bytes"
ENV = {
    "CARTABLE_STAGE": "local",
    "AWS_DEFAULT_REGION": "eu-west-3",
    "CARTABLE_BUCKET": "b",
    "CARTABLE_TABLE": "t",
    "CARTABLE_JWT_SECRET": SECRET,
}


def _clear_caches() -> None:
    settings_module.settings.cache_clear()
    for value in vars(wiring).values():
        if callable(getattr(value, "cache_clear", None)):
            value.cache_clear()


@pytest.fixture
def local_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("CARTABLE_LOG_DIR", raising=False)
    monkeypatch.delenv("CARTABLE_LOG_LEVEL", raising=False)
    _clear_caches()
    yield
    _clear_caches()


def json_lines(text: str) -> list[dict[str, Any]]:
    """Every line parsed: one that is not JSON fails the test here."""
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def token(sub: str, school: str, role: str = "student") -> str:
    now = int(time.time())
    claims = {"sub": sub, "school": school, "role": role, "iat": now, "exp": now + 60}
    return jwt.encode({**claims, "iss": "cartable-local", "aud": "cartable"}, SECRET, algorithm="HS256")


# -- the API's lines ------------------------------------------------------------------------------------


def test_a_requests_lines_are_json_with_its_ids_and_school_and_none_leak_into_the_next(
    local_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    from chalice.test import Client

    import app

    capsys.readouterr()
    with Client(app.app, stage_name="local", project_dir=str(ROOT)) as client:
        headers = {"Authorization": f"Bearer {token('eleve-alice', 'lycee-hugo')}", "Content-Type": "application/json"}
        assert client.http.put("/v1/classes/5b", headers=headers, body="not json").status_code == 400
        first = json_lines(capsys.readouterr().err)
        assert client.http.get("/v1/health").status_code == 200
        second = json_lines(capsys.readouterr().err)
        headers["Authorization"] = "Bearer not-a-token"
        assert client.http.put("/v1/classes/5b", headers=headers, body="{}").status_code == 401
        third = json_lines(capsys.readouterr().err)

    (served,) = [line for line in first if line["message"] == "request served"]
    assert served["status"] == 400 and served["route"] == "PUT /v1/classes/{class_id}"
    assert (served["school"], served["user"], served["role"]) == ("lycee-hugo", "eleve-alice", "student")
    assert served["service"] == "cartable" and served["level"] == "INFO" and served["name"] == "cartable.invocation"
    assert served["request_id"] and served["function_name"] == "api_handler"
    assert datetime.fromisoformat(served["timestamp"]).utcoffset() == timedelta(0)
    assert {line["request_id"] for line in first} == {served["request_id"]}
    for line in second + third:  # the next requests know nothing of the first's caller
        assert "school" not in line and "user" not in line, line
        assert line["request_id"] != served["request_id"]
    assert [line["route"] for line in second] == ["GET /v1/health"]
    refused = [line for line in third if line["message"].startswith("token refused")]
    assert refused and refused[0]["name"] == "cartable.auth" and "not-a-token" not in json.dumps(third)


def test_event_functions_carry_the_lambda_request_id_and_write_their_metrics_even_when_they_fail(
    local_env: None, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import app

    class Context:
        function_name = "cartable-prod-scan_uploads"
        aws_request_id = "lambda-request-1"

    class FailingService:
        def handle_message(self, record: Any) -> None:
            wiring.telemetry().clamd_error()
            raise ScannerUnavailableError("The antivirus cannot be reached.")

    monkeypatch.setattr(wiring, "scan_service", FailingService)
    capsys.readouterr()
    event = {"Records": [{"messageId": "m1", "receiptHandle": "r", "body": "{}"}]}
    assert app.scan_uploads(event, Context()) == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
    lines = json_lines(capsys.readouterr().err)
    (emf,) = [line for line in lines if "_aws" in line]
    assert emf["ClamdErrors"] == [1.0]
    logged = [line for line in lines if "_aws" not in line]
    assert logged and all(line["function_request_id"] == "lambda-request-1" for line in logged)
    assert all(line["function_name"] == "cartable-prod-scan_uploads" for line in logged)


# -- the scan's lines and metrics ------------------------------------------------------------------------

ARRIVED = datetime(2026, 3, 2, 8, 0, 0, tzinfo=UTC)
TEXT = b"Bonjour, voici mon devoir.\n"


def upload_record() -> UploadRecord:
    return UploadRecord(
        id="up1",
        file_id="file1",
        school="lycee-hugo",
        space=SpaceRef(SpaceKind.USER, "eleve-alice"),
        path="/",
        name="Mon devoir secret.txt",
        size=len(TEXT),
        content_type="text/plain",
        sha256=None,
        owner="eleve-alice",
        status=FileStatus.PENDING,
        reason=None,
        created_at=ARRIVED - timedelta(minutes=1),
        expires_at=ARRIVED + timedelta(minutes=14),
        key="incoming/file1/up1",
    )


class FakeCatalog:
    def __init__(self) -> None:
        self.upload = upload_record()

    def get_upload(self, upload_id: str) -> UploadRecord | None:
        return self.upload if upload_id == self.upload.id else None

    def record_verdict(self, upload: UploadRecord, verdict: Verdict, *args: Any, **kwargs: Any) -> Verdict:
        return verdict


class FakeStore:
    def head(self, key: str) -> StoredObject:
        return StoredObject(key, len(TEXT), '"etag"', "text/plain", ARRIVED)

    def read_chunks(self, key: str, etag: str, chunk: int) -> Iterator[bytes]:
        yield TEXT

    def copy(self, *args: Any, **kwargs: Any) -> None:
        return None

    def delete(self, key: str) -> None:
        return None


class FakeScanner:
    def __init__(self, result: ScanResult | Exception) -> None:
        self._result = result

    def scan_stream(self, chunks: Iterator[bytes]) -> ScanResult:
        for _ in chunks:
            pass
        if isinstance(self._result, Exception):
            raise self._result
        return self._result


class TextSniffer:
    def sniff(self, head: bytes) -> str:
        return "text/plain"


def scan_service(telemetry: LambdaTelemetry, result: ScanResult | Exception) -> ScanService:
    from chalicelib.domain.content import load_content_policy

    return ScanService(
        catalog=FakeCatalog(),  # type: ignore[arg-type]
        store=FakeStore(),  # type: ignore[arg-type]
        scanner=FakeScanner(result),
        sniffer=TextSniffer(),
        content=load_content_policy(),
        telemetry=telemetry,
    )


def message(sent: datetime) -> dict[str, Any]:
    body = {"Records": [{"eventName": "ObjectCreated:Post", "s3": {"object": {"key": "incoming/file1/up1"}}}]}
    attributes = {"SentTimestamp": str(int(sent.timestamp() * 1000))}
    return {"messageId": "m1", "receiptHandle": "r", "body": json.dumps(body), "attributes": attributes}


def emf_blobs(lines: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each EMF line by the names of its metrics, after checking its shape."""
    found = {}
    for line in lines:
        if "_aws" not in line:
            continue
        (directive,) = line["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == "Cartable" and line["service"] == "cartable"
        for dimensions in directive["Dimensions"]:
            assert dimensions[0] == "service" and all(name in line for name in dimensions)
        for metric in directive["Metrics"]:
            found[metric["Name"]] = {**line, "_dimensions": directive["Dimensions"], "_unit": metric["Unit"]}
    return found


def test_a_clean_verdict_writes_its_emf_lines_and_the_scans_lines_carry_its_ids(
    capsys: pytest.CaptureFixture[str],
) -> None:
    telemetry = LambdaTelemetry()  # stdout, as on Lambda
    service = scan_service(telemetry, ScanResult(ScanOutcome.CLEAN))
    with telemetry.invocation(request_id="lambda-1"):
        service.handle_message(message(sent=ARRIVED + timedelta(seconds=1)))
    lines = json_lines(capsys.readouterr().out)

    metrics = emf_blobs(lines)
    verdicts = metrics["ScanVerdicts"]
    assert verdicts["_dimensions"] == [["service", "status"], ["service", "status", "reason"]]
    assert (verdicts["status"], verdicts["reason"], verdicts["ScanVerdicts"]) == ("available", "clean", [1.0])
    latency = metrics["UploadToVerdictMs"]
    assert latency["_dimensions"] == [["service"]] and latency["_unit"] == "Milliseconds"
    assert latency["UploadToVerdictMs"][0] > 0  # from the object's arrival to the verdict
    assert metrics["QueueAgeMs"]["_dimensions"] == [["service"]] and metrics["QueueAgeMs"]["QueueAgeMs"][0] > 0
    assert "ClamdErrors" not in metrics

    logged = [line for line in lines if "_aws" not in line]
    (verdict,) = [line for line in logged if line["message"].startswith("verdict")]
    assert (verdict["upload_id"], verdict["file_id"], verdict["school"]) == ("up1", "file1", "lycee-hugo")
    assert verdict["message_id"] == "m1" and verdict["request_id"] == "lambda-1"
    assert "Mon devoir secret" not in json.dumps(lines)  # a pupil's file name is never logged


def test_a_found_signature_is_counted_as_infected_without_the_signature_as_a_dimension(
    capsys: pytest.CaptureFixture[str],
) -> None:
    telemetry = LambdaTelemetry()
    service = scan_service(telemetry, ScanResult(ScanOutcome.FOUND, "Win.Test.EICAR_HDB-1"))
    with telemetry.invocation():
        service.handle("incoming/file1/up1")
    verdicts = emf_blobs(json_lines(capsys.readouterr().out))["ScanVerdicts"]
    assert (verdicts["status"], verdicts["reason"]) == ("infected", "virus")


def test_clamd_failing_is_counted_once_and_written_although_the_scan_raises(
    capsys: pytest.CaptureFixture[str],
) -> None:
    telemetry = LambdaTelemetry()
    error = ScannerUnavailableError("The antivirus connection failed.")
    error.__cause__ = TimeoutError()
    service = scan_service(telemetry, error)
    with pytest.raises(ScannerUnavailableError), telemetry.invocation():
        service.handle("incoming/file1/up1")
    lines = json_lines(capsys.readouterr().out)
    metrics = emf_blobs(lines)
    clamd = metrics["ClamdErrors"]
    assert clamd["ClamdErrors"] == [1.0] and clamd["_dimensions"] == [["service"]] and clamd["_unit"] == "Count"
    assert "ScanVerdicts" not in metrics  # no verdict: the message comes back
    (failure,) = [line for line in lines if line.get("message", "").startswith("clamd gave no verdict")]
    assert "TimeoutError" in failure["message"] and failure["upload_id"] == "up1" and failure["level"] == "WARNING"


def test_scopes_give_back_the_keys_before_them_and_an_invocation_clears_them_all(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import logging

    log = logging.getLogger("cartable.test")
    telemetry = LambdaTelemetry()
    with telemetry.invocation(request_id="one"):
        telemetry.tag(school="lycee-hugo")
        with telemetry.scope(upload_id="up1"):
            telemetry.tag(file_id="file1")
            log.info("inside")
        log.info("after the scope")
    with telemetry.invocation(request_id="two"):
        log.info("next invocation")
    inside, after, following = json_lines(capsys.readouterr().out)
    assert (inside["school"], inside["upload_id"], inside["file_id"]) == ("lycee-hugo", "up1", "file1")
    assert after["school"] == "lycee-hugo" and "upload_id" not in after and "file_id" not in after
    assert following["request_id"] == "two" and "school" not in following


def test_quota_refusals_and_nothing_else_make_an_emf_line(capsys: pytest.CaptureFixture[str]) -> None:
    telemetry = LambdaTelemetry()
    with telemetry.invocation():
        pass
    assert capsys.readouterr().out == ""  # no metric, no line (and no warning from Powertools)
    with telemetry.invocation():
        telemetry.quota_refused()
    refusals = emf_blobs(json_lines(capsys.readouterr().out))["QuotaRefusals"]
    assert refusals["QuotaRefusals"] == [1.0] and refusals["_dimensions"] == [["service"]]


def test_local_lines_go_to_stderr_and_to_the_log_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import logging

    path = tmp_path / "logs" / "1.jsonl"
    telemetry = LambdaTelemetry(local=True, log_file=path)
    try:
        with telemetry.invocation(request_id="local-1"):
            logging.getLogger("cartable.test").info("hello")
            telemetry.quota_refused()
        captured = capsys.readouterr()
        assert captured.out == ""
        in_file = json_lines(path.read_text(encoding="utf-8"))
        assert json_lines(captured.err) == in_file
        assert in_file[0]["message"] == "hello" and in_file[0]["request_id"] == "local-1"
        assert in_file[1]["QuotaRefusals"] == [1.0]
    finally:
        LambdaTelemetry()  # the next tests' logger writes nowhere else


def test_a_requests_access_decision_and_grant_ids_are_folded_into_its_one_line_else_lines_of_their_own(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from chalicelib.adapters.memory import MemoryCatalog
    from chalicelib.domain.access import AccessControl
    from chalicelib.domain.models import Action, Principal, Role
    from chalicelib.domain.permissions import load_rules
    from chalicelib.errors import NotFoundError

    telemetry = LambdaTelemetry()
    access = AccessControl(MemoryCatalog(), load_rules(), telemetry)
    ana, ben = Principal("ana", "s1", Role.STUDENT), Principal("ben", "s1", Role.STUDENT)
    drive = SpaceRef(SpaceKind.USER, "ana")
    with telemetry.invocation(request_id="r1"), telemetry.request_line() as facts:
        access.space(ana, drive).require(Action.UPLOAD)
        assert telemetry.fold(upload_id="up1", file_id="file1")
        access.space(ana, drive).require(Action.READ)  # a second decision: a line of its own
        assert not telemetry.fold(upload_id="up2", file_id="file2")  # so is a second grant (a batch)
        assert not telemetry.fold(status="500")  # the request line's own names are never taken
    assert facts == {
        "decision": "allow",
        "action": "upload",
        "space": "user:ana",
        "rule": "upload allowed as space_owner",
        "upload_id": "up1",
        "file_id": "file1",
    }
    (second,) = json_lines(capsys.readouterr().out)
    assert second["message"] == "allow user=ana action=read space=user:ana reason=read allowed as space_owner"
    assert second["name"] == "cartable.access" and second["request_id"] == "r1"

    with telemetry.invocation(request_id="r2"), telemetry.request_line() as refused:
        with pytest.raises(NotFoundError):
            access.space(ben, drive).require(Action.READ)
    assert (refused["decision"], refused["action"], refused["space"]) == ("deny", "read", "user:ana")
    assert refused["rule"] and capsys.readouterr().out == ""

    with telemetry.invocation(request_id="job-1"):  # no request line (a job, the scanner): a line each
        access.space(ana, drive).require(Action.UPLOAD)
        assert not telemetry.fold(upload_id="up3", file_id="file3")
    (alone,) = json_lines(capsys.readouterr().out)
    assert alone["message"].startswith("allow user=ana action=upload") and alone["request_id"] == "job-1"


def test_the_request_line_is_written_as_its_logger_would_write_it_and_by_it_when_others_listen(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import logging

    log = logging.getLogger("cartable.invocation")
    telemetry = LambdaTelemetry()
    facts = {"decision": "allow", "upload_id": "up1"}
    with telemetry.invocation(request_id="r1", route="POST /v1/uploads"):
        telemetry.tag(school="lycee-hugo")
        telemetry.served(log, 201, 1.5, facts)
        log.info("request served", extra={"status": 201, "duration_ms": 1.5, **facts})
    direct, logged = json_lines(capsys.readouterr().out)
    assert list(direct) == list(logged)  # the same fields in the same order
    assert {k: v for k, v in direct.items() if k not in ("timestamp", "location")} == {
        k: v for k, v in logged.items() if k not in ("timestamp", "location")
    }
    assert direct["location"].startswith("test_the_request_line_is_written") and direct["status"] == 201
    assert datetime.fromisoformat(direct["timestamp"]).utcoffset() == timedelta(0)

    seen: list[logging.LogRecord] = []

    class Listener(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record)

    listener = Listener()
    logging.getLogger("cartable").addHandler(listener)
    try:
        with telemetry.invocation(request_id="r2"):
            telemetry.served(log, 404, 0.5, {})
    finally:
        logging.getLogger("cartable").removeHandler(listener)
    (record,) = seen  # another handler gets its record: the logging module wrote the line
    assert record.getMessage() == "request served" and record.status == 404  # type: ignore[attr-defined]
    (line,) = json_lines(capsys.readouterr().out)
    assert line["request_id"] == "r2" and line["status"] == 404

    logging.getLogger("cartable").setLevel(logging.WARNING)
    try:
        with telemetry.invocation(request_id="r3"):
            telemetry.served(log, 200, 0.1, {})
    finally:
        logging.getLogger("cartable").setLevel(logging.INFO)
    assert capsys.readouterr().out == ""  # the level still holds


def test_a_broken_log_stream_never_fails_the_request(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The request line written directly fails as a logging handler fails: reported through handleError
    (to stderr), never raised into the request."""
    import io
    import logging

    class Broken(io.StringIO):
        def write(self, text: str) -> int:
            raise BrokenPipeError("stdout closed")

    log = logging.getLogger("cartable.invocation")
    telemetry = LambdaTelemetry()
    with telemetry.invocation(request_id="r1"):
        telemetry.served(log, 200, 0.1, {})  # the handlers are set up; the line goes out
    assert json_lines(capsys.readouterr().out)
    (handler,) = logging.getLogger("cartable").handlers
    assert isinstance(handler, logging.StreamHandler)
    monkeypatch.setattr(logging, "raiseExceptions", True)  # handleError reports to stderr
    stream = handler.setStream(Broken())
    try:
        with telemetry.invocation(request_id="r2"):
            telemetry.served(log, 200, 0.1, {})
    finally:
        handler.setStream(stream)
    assert "BrokenPipeError" in capsys.readouterr().err
