"""Least privilege, shown by the flows themselves: every AWS call each function makes is allowed by that
function's IAM policy (and the bucket policy).

The local stack writes each call down (chalicelib/adapters/calls.py, CARTABLE_RECORD_CALLS) with the
function it ran as: the API process, the two pumps (scan_uploads, run_jobs), the sweeper and the rescan
run by hand. This test first drives, on the session's stack, a flow through every function (a grant and
an upload, single and multipart, the scan of a clean and an infected file, a grant without bytes, a
download, a share, a deletion, a restore, the sweep and the purge, a rescan that quarantines, an export
job), so it stands alone in any order; then it maps each call recorded so far (those of the other
tests of the run too) to the IAM actions and resources AWS would authorize, and asks the same small
evaluator as tests/unit/test_policies.py (tests/iam.py). A policy missing an action a flow needs fails
here, not in production. (The aiobotocore clients of the ZIP writer and the rescanner are not
recorded: their reads and writes are those of the policies' `exports/` and `files/` statements,
checked in test_policies.)
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests

from local.clamav import EICAR
from local.stack import ROOT, LocalStack
from tests.iam import API_ROLE, BUCKET, JOBS, QUEUE, SCANNER_ROLE, TABLE, TOPIC, bucket_policy, decide, iam_policy
from tests.integration.conftest import MIB, Api

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        os.environ.get("CARTABLE_TEST_CATALOG") == "postgres",
        reason="IAM policies are the AWS deployment's, whose catalog is DynamoDB",
    ),
]

POLICIES = {
    "api_handler": "api.json",
    "scan_uploads": "scanner.json",
    "run_jobs": "jobs.json",
    "sweep_trash": "sweeper.json",
    "rescan_files": "rescan.json",
}
S3_ACTIONS = {
    "GetObject": "s3:GetObject",
    "HeadObject": "s3:GetObject",
    "PutObject": "s3:PutObject",
    "DeleteObject": "s3:DeleteObject",
    "CreateMultipartUpload": "s3:PutObject",
    "UploadPart": "s3:PutObject",
    "CompleteMultipartUpload": "s3:PutObject",
    "UploadPartCopy": "s3:PutObject",
    "AbortMultipartUpload": "s3:AbortMultipartUpload",
    "ListParts": "s3:ListMultipartUploadParts",
}
TRANSACT = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem", "ConditionCheck": "ConditionCheckItem"}


def requests_of(call: dict[str, Any], stack: LocalStack) -> list[tuple[str, str]]:
    """The (IAM action, resource ARN) pairs AWS would authorize for one recorded call."""
    service, operation, params = call["service"], call["operation"], call["params"]
    if service == "s3":
        if operation == "ListObjectsV2":
            return [("s3:ListBucket", BUCKET)]
        if operation == "CreateBucket":
            # botocore signs a presigned POST through the CreateBucket model: an upload into incoming/
            return [("s3:PutObject", f"{BUCKET}/incoming/presigned-post")]
        source = params.get("CopySource")
        if source:  # CopyObject, UploadPartCopy: read the source, write the target
            key = source["Key"] if isinstance(source, dict) else str(source).split("/", 1)[1]
            return [("s3:GetObject", f"{BUCKET}/{key}"), ("s3:PutObject", f"{BUCKET}/{params['Key']}")]
        return [(S3_ACTIONS[operation], f"{BUCKET}/{params['Key']}")]
    if service == "dynamodb":
        index = params.get("IndexName")
        resource = f"{TABLE}/index/{index}" if index else TABLE
        if operation == "TransactWriteItems":
            return [(f"dynamodb:{TRANSACT[kind]}", TABLE) for kind in params.get("TransactItems", [])]
        return [(f"dynamodb:{operation}", resource)]
    if service == "sqs":
        name = str(params.get("QueueUrl", "")).rstrip("/").rsplit("/", 1)[-1]
        queue = JOBS if name == stack.config.jobs_queue else QUEUE
        # SQS authorizes a batch by its single action (SendMessageBatch needs sqs:SendMessage).
        return [(f"sqs:{operation.removesuffix('Batch')}", queue)]
    if service == "sns":
        return [(f"sns:{operation}", TOPIC)]
    raise AssertionError(f"a call to {service} no policy speaks of: {call}")


def run_as(stack: LocalStack, function: str, *command: str) -> str:
    """A command of ours in the functions' environment, its AWS calls recorded as `function`'s."""
    done = subprocess.run(
        [sys.executable, *command],
        cwd=ROOT,
        env={**stack.env, "CARTABLE_FUNCTION": function},
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return done.stdout


# The sweeper's purge, a month later: what it does to a file deleted today.
PURGE_A_MONTH_LATER = """
from datetime import timedelta
from chalicelib import wiring
from chalicelib.domain.models import utcnow
print(wiring.trash_service().purge(utcnow() + timedelta(days=30, minutes=1)).purged)
"""


def wait_for(check: Any, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while not (found := check()) and time.monotonic() < deadline:
        time.sleep(0.2)
    return found


def drive_every_function(stack: LocalStack, admin: Api, as_user: Any) -> None:
    """One flow through each function, as a school's day would make them."""
    klass = {"name": "Privileges", "teachers": ["lp-prof"], "students": ["lp-eleve"]}
    assert admin.put("/v1/classes/LP-C", klass).status_code == 200
    student, teacher = as_user("lp-eleve"), as_user("lp-prof", "teacher")
    marker = f"menace de moindre privilege {uuid.uuid4().hex}".encode()
    text = b"mon devoir\n"
    # grants, uploads (single and multipart), scans: clean, infected, and one that a rescan will catch
    kept = student.upload("devoir.txt", text, "text/plain")
    doomed = student.upload("brouillon.txt", b"brouillon\n", "text/plain")
    caught = student.upload("expose.txt", b"expose\n" + marker + b"\n", "text/plain")
    big = student.upload("gros.txt", b"x" * (7 * MIB), "text/plain")
    infected = student.upload("virus.txt", EICAR, "text/plain")
    for grant in (kept, doomed, caught, big):
        assert student.wait_status(grant["fileId"])["status"] == "available"
    assert student.wait_status(infected["fileId"])["status"] == "infected"
    # a grant without bytes (the server copies the clean ones into incoming/), scanned again
    same = student.grant("copie.txt", text, "text/plain", sha256=hashlib.sha256(text).hexdigest())
    assert same.status_code == 201 and same.json()["upload"]["method"] == "NONE", same.text
    assert student.wait_status(same.json()["fileId"])["status"] == "available"
    # a download, a share and the teacher's download
    answer = student.get(f"/v1/files/{kept['fileId']}/content")
    assert answer.status_code == 302 and requests.get(answer.headers["Location"], timeout=30).content == text
    share = {"fileId": kept["fileId"], "with": {"type": "user", "id": "lp-prof"}, "role": "viewer"}
    assert student.post("/v1/shares", share).status_code == 201
    assert teacher.get(f"/v1/files/{kept['fileId']}/content").status_code == 302
    # a deletion, a restore, a deletion for good: the sweep, and the purge a month later
    assert student.request("DELETE", f"/v1/files/{doomed['fileId']}").status_code == 204
    assert student.post(f"/v1/files/{doomed['fileId']}/restore").status_code == 200
    assert student.request("DELETE", f"/v1/files/{doomed['fileId']}").status_code == 204
    assert "requeued" in json.loads(run_as(stack, "sweep_trash", "-m", "local.sweep"))
    assert int(run_as(stack, "sweep_trash", "-c", PURGE_A_MONTH_LATER)) >= 1
    # a rescan that quarantines what a new signature finds
    stack.clamd.learn("Cartable.Test.LeastPrivilege", marker)
    final = json.loads(run_as(stack, "rescan_files", "-m", "local.rescan", "--force").splitlines()[-1])
    assert final["infected"] >= 1 and final["errors"] == 0, final
    assert student.get(f"/v1/files/{caught['fileId']}").json()["status"] == "infected"
    # a job: the pupil's export, built off the request
    job = student.post("/v1/me/export")
    assert job.status_code == 202, job.text
    ready = wait_for(lambda: student.get(f"/v1/jobs/{job.json()['id']}").json()["status"] != "pending")
    assert ready and student.get(f"/v1/jobs/{job.json()['id']}/content").status_code == 302


def test_every_call_of_every_function_is_allowed_by_its_policy(stack: LocalStack, admin: Api, as_user: Any) -> None:
    drive_every_function(stack, admin, as_user)
    directory = Path(stack.env["CARTABLE_RECORD_CALLS"])
    calls = [json.loads(line) for path in sorted(directory.glob("*.jsonl")) for line in path.read_text().splitlines()]
    seen: dict[str, set[str]] = {}
    refused: set[str] = set()
    for call in calls:
        function = call["function"]
        if function not in POLICIES:
            continue  # a test's own clients
        principal = SCANNER_ROLE if function == "scan_uploads" else API_ROLE
        identity = iam_policy(POLICIES[function])
        for action, resource in requests_of(call, stack):
            seen.setdefault(function, set()).add(action)
            if not decide(identity, bucket_policy(), action, resource, principal):
                refused.add(f"{function}: {action} on {resource} ({call['operation']})")
    assert sorted(seen) == sorted(POLICIES), "every function's calls were recorded"
    # the flows above reached storage as each function: the grant, the scan, the purge, the rescan
    assert {"s3:PutObject", "s3:GetObject"} <= seen["api_handler"], seen["api_handler"]
    assert {"s3:GetObject", "s3:PutObject", "s3:DeleteObject"} <= seen["scan_uploads"], seen["scan_uploads"]
    assert {"s3:ListBucket", "s3:DeleteObject"} <= seen["sweep_trash"], seen["sweep_trash"]
    assert {"s3:PutObject", "s3:DeleteObject"} <= seen["rescan_files"], seen["rescan_files"]
    assert sorted(refused) == []
