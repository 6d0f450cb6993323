"""An operator's view on the real stack: what `chalice local` (the API) and the pump (the scan handler)
write is one JSON object per line, with their ids and the school, and the metrics come out as EMF.
The stack's processes also append their lines to CARTABLE_LOG_DIR (stage local only), read here."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from local.stack import LocalStack
from tests.integration.conftest import SCHOOL, Api, make_token

pytestmark = pytest.mark.integration


def log_lines(stack: LocalStack) -> list[dict[str, Any]]:
    """Every complete line of every process so far, each parsed: one that is not JSON fails here."""
    lines: list[dict[str, Any]] = []
    for path in sorted(Path(stack.config.extra_env["CARTABLE_LOG_DIR"]).glob("*.jsonl")):
        complete = path.read_text(encoding="utf-8").split("\n")[:-1]  # a line being written is left
        lines += [json.loads(line) for line in complete if line.strip()]
    return lines


def wait_for_lines(stack: LocalStack, found: Any, timeout: float = 15.0) -> list[dict[str, Any]]:
    """The lines once `found(lines)` holds (an invocation writes its metrics when it ends)."""
    deadline = time.monotonic() + timeout
    while True:
        lines = log_lines(stack)
        if found(lines) or time.monotonic() > deadline:
            return lines
        time.sleep(0.2)


def emf(lines: list[dict[str, Any]], metric: str) -> list[dict[str, Any]]:
    return [
        line
        for line in lines
        if "_aws" in line and metric in {m["Name"] for m in line["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    ]


def test_the_apis_and_the_scanners_lines_are_json_with_their_ids_and_school(stack: LocalStack, api_url: str) -> None:
    sub = f"obs-{uuid.uuid4().hex[:8]}"
    secret_name = f"carnet-{uuid.uuid4().hex[:8]}.txt"
    bearer = make_token(sub, "student", SCHOOL)
    alice = Api(api_url, bearer)
    grant = alice.upload(secret_name, b"Bonjour, voici mon devoir.\n", "text/plain")
    assert alice.wait_upload(grant["uploadId"])["status"] == "available"

    def scanned(lines: list[dict[str, Any]]) -> bool:
        mine = [line for line in lines if line.get("upload_id") == grant["uploadId"]]
        return any(line["message"].startswith("verdict") for line in mine) and bool(emf(lines, "ScanVerdicts"))

    lines = wait_for_lines(stack, scanned)

    api = [line for line in lines if line.get("user") == sub]
    served_lines = [line for line in api if line["message"] == "request served"]
    (served,) = [line for line in served_lines if line["route"] == "POST /v1/uploads"]
    assert served["status"] == 201 and served["school"] == SCHOOL and served["function_name"] == "api_handler"
    # One line per request: the access decision and the grant's ids are on it, not lines of their own.
    assert (served["upload_id"], served["file_id"]) == (grant["uploadId"], grant["fileId"])
    assert (served["decision"], served["action"], served["space"]) == ("allow", "upload", f"user:{sub}")
    assert served["rule"] == "upload allowed as space_owner"
    mine = [line for line in api if line["request_id"] == served["request_id"]]
    assert not [line for line in mine if line["message"].startswith(("upload granted", "allow ", "deny "))]
    assert all(line["service"] == "cartable" and line["request_id"] for line in api)

    scan = [line for line in lines if line.get("upload_id") == grant["uploadId"]]
    (verdict,) = [line for line in scan if line["message"].startswith("verdict")]
    assert verdict["school"] == SCHOOL and verdict["file_id"] == grant["fileId"] and verdict["message_id"]
    assert verdict["function_name"].endswith("scan_uploads") and "user" not in verdict

    verdicts = emf(lines, "ScanVerdicts")
    assert {(line["status"], line["reason"]) for line in verdicts} >= {("available", "clean")}
    assert all(line["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Cartable" for line in verdicts)
    assert emf(lines, "UploadToVerdictMs") and emf(lines, "QueueAgeMs")

    text = json.dumps(lines)
    assert bearer not in text and secret_name not in text  # never a token, never a pupil's file name


def test_a_quota_refusal_is_counted_by_the_api(stack: LocalStack, api_url: str) -> None:
    """tests/quotas.json gives `quota-school` 1000 bytes per user."""
    sub = f"obs-{uuid.uuid4().hex[:8]}"
    api = Api(api_url, make_token(sub, "student", "quota-school"))
    before = len(emf(log_lines(stack), "QuotaRefusals"))
    answer = api.grant("gros.txt", b"x" * 2000, "text/plain")
    assert answer.status_code == 403 and answer.json()["error"]["code"] == "quota_exceeded"
    lines = wait_for_lines(stack, lambda lines: len(emf(lines, "QuotaRefusals")) > before)
    refusals = emf(lines, "QuotaRefusals")[before:]
    assert refusals and refusals[0]["QuotaRefusals"] == [1.0] and refusals[0]["service"] == "cartable"
    assert refusals[0]["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["service"]]
    (refused,) = [line for line in lines if line.get("user") == sub and line["message"].startswith("grant refused")]
    assert refused["school"] == "quota-school"
