"""Least privilege, shown by the flows themselves: every AWS call each function made during this run
of the integration tests is allowed by that function's IAM policy (and the bucket policy).

The local stack writes each call down (chalicelib/adapters/calls.py, CARTABLE_RECORD_CALLS) with the
function it ran as: the API process, the two pumps, the scan handler driven by the fault suite, the
sweeper and the rescan run by hand. This module runs last (its name sorts last), maps each call to
the IAM actions and resources AWS would authorize, and asks the same small evaluator as
tests/unit/test_policies.py. A policy missing an action a flow needs fails here, not in production.
(The aiobotocore clients of the ZIP writer and the rescanner are not recorded: their reads and
writes are those of the policies' `exports/` and `files/` statements, checked in test_policies.)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from local.stack import LocalStack
from tests.unit.test_policies import (
    API_ROLE,
    BUCKET,
    JOBS,
    QUEUE,
    SCANNER_ROLE,
    TABLE,
    TOPIC,
    bucket_policy,
    decide,
    iam_policy,
)

pytestmark = pytest.mark.integration

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


def test_every_call_of_every_function_is_allowed_by_its_policy(stack: LocalStack) -> None:
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
    assert calls and "api_handler" in seen, "no calls were recorded"
    assert sorted(refused) == []
