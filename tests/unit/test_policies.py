"""The IAM policy of each function and the bucket policy: what they grant and deny, read as data.

The documents hold CloudFormation placeholders (`Fn::Sub`, `Fn::GetAtt`); they are resolved against
sample ARNs, then judged by a small evaluator of the IAM features they use (tests/iam.py). A document
using anything else fails these tests until the evaluator learns it.
"""

from __future__ import annotations

import pytest

from chalicelib.domain.keys import INCOMING, QUARANTINE, SERVED
from tests.iam import (
    ACCOUNT,
    API_ROLE,
    BUCKET,
    BUCKET_POLICY,
    IAM,
    JOBS,
    LOGS,
    QUEUE,
    ROOT,
    SCANNER_ROLE,
    TABLE,
    TOPIC,
    as_list,
    bucket_policy,
    decide,
    grants,
    iam_policy,
    load,
)

TABLE_ACTIONS = {"dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"}

# What a function in the VPC of the clamd fleet needs (the scanner, the rescan): its network interfaces.
VPC_ACCESS = {
    *{
        (action, f"arn:aws:ec2:eu-west-3:{ACCOUNT}:*/*")
        for action in (
            "ec2:CreateNetworkInterface",
            "ec2:DeleteNetworkInterface",
            "ec2:AssignPrivateIpAddresses",
            "ec2:UnassignPrivateIpAddresses",
        )
    },
    ("ec2:DescribeNetworkInterfaces", "*"),
    ("ec2:DescribeSubnets", "*"),
}

# Every grant, as (action, resource) pairs: anything more, or less, fails the test.
EXPECTED: dict[str, set[tuple[str, str]]] = {
    "api.json": {
        ("logs:CreateLogStream", f"{LOGS}-APIHandler-*:*"),
        ("logs:PutLogEvents", f"{LOGS}-APIHandler-*:*"),
        ("s3:PutObject", f"{BUCKET}/incoming/*"),
        ("s3:ListMultipartUploadParts", f"{BUCKET}/incoming/*"),
        ("s3:AbortMultipartUpload", f"{BUCKET}/incoming/*"),
        ("s3:GetObject", f"{BUCKET}/files/*"),
        ("s3:GetObject", f"{BUCKET}/exports/*"),
        ("s3:PutObject", f"{BUCKET}/exports/*"),
        ("s3:AbortMultipartUpload", f"{BUCKET}/exports/*"),
        *{
            (action, TABLE)
            for action in TABLE_ACTIONS
            | {"dynamodb:BatchGetItem", "dynamodb:BatchWriteItem", "dynamodb:ConditionCheckItem"}
        },
        ("dynamodb:Query", f"{TABLE}/index/*"),
        ("sqs:SendMessage", JOBS),
    },
    "jobs.json": {
        ("logs:CreateLogStream", f"{LOGS}-RunJobs-*:*"),
        ("logs:PutLogEvents", f"{LOGS}-RunJobs-*:*"),
        *{(action, JOBS) for action in ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes")},
        ("s3:GetObject", f"{BUCKET}/files/*"),
        ("s3:PutObject", f"{BUCKET}/exports/*"),
        ("s3:AbortMultipartUpload", f"{BUCKET}/exports/*"),
        *{
            (action, TABLE)
            for action in (
                "dynamodb:GetItem",
                "dynamodb:BatchGetItem",
                "dynamodb:Query",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "dynamodb:DeleteItem",  # a year close ends shares and archives classes
                "dynamodb:BatchWriteItem",
                "dynamodb:ConditionCheckItem",
            )
        },
        ("dynamodb:Query", f"{TABLE}/index/*"),
    },
    "scanner.json": {
        ("logs:CreateLogStream", f"{LOGS}-ScanUploads-*:*"),
        ("logs:PutLogEvents", f"{LOGS}-ScanUploads-*:*"),
        *{
            (action, QUEUE)
            for action in (
                "sqs:ReceiveMessage",
                "sqs:DeleteMessage",
                "sqs:GetQueueAttributes",
            )
        },
        ("s3:GetObject", f"{BUCKET}/incoming/*"),
        ("s3:DeleteObject", f"{BUCKET}/incoming/*"),
        ("s3:PutObject", f"{BUCKET}/files/*"),
        ("s3:PutObject", f"{BUCKET}/quarantine/*"),
        ("s3:AbortMultipartUpload", f"{BUCKET}/files/*"),
        ("s3:AbortMultipartUpload", f"{BUCKET}/quarantine/*"),
        ("s3:ListBucket", BUCKET),
        *{(action, TABLE) for action in TABLE_ACTIONS | {"dynamodb:ConditionCheckItem"}},
        *VPC_ACCESS,
        # the notifications outbox, drained after each batch
        ("dynamodb:Query", f"{TABLE}/index/due"),
        ("sns:Publish", TOPIC),
    },
    "rescan.json": {
        ("logs:CreateLogStream", f"{LOGS}-RescanFiles-*:*"),
        ("logs:PutLogEvents", f"{LOGS}-RescanFiles-*:*"),
        ("s3:ListBucket", BUCKET),
        ("s3:GetObject", f"{BUCKET}/files/*"),
        ("s3:DeleteObject", f"{BUCKET}/files/*"),
        ("s3:PutObject", f"{BUCKET}/quarantine/*"),
        ("s3:AbortMultipartUpload", f"{BUCKET}/quarantine/*"),
        *{(action, TABLE) for action in TABLE_ACTIONS | {"dynamodb:ConditionCheckItem"}},
        *VPC_ACCESS,
    },
    "sweeper.json": {
        ("logs:CreateLogStream", f"{LOGS}-SweepTrash-*:*"),
        ("logs:PutLogEvents", f"{LOGS}-SweepTrash-*:*"),
        ("dynamodb:Query", f"{TABLE}/index/due"),
        ("dynamodb:Query", f"{TABLE}/index/dir"),  # retention: the archived classes' assignments
        ("dynamodb:Query", TABLE),
        *{
            (action, TABLE)
            for action in (
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:DeleteItem",
                "dynamodb:BatchWriteItem",
                "dynamodb:UpdateItem",
                "dynamodb:ConditionCheckItem",
            )
        },
        ("s3:DeleteObject", f"{BUCKET}/files/*"),
        ("s3:ListBucket", BUCKET),
        ("sns:Publish", TOPIC),
        ("s3:AbortMultipartUpload", f"{BUCKET}/incoming/*"),
        ("sqs:SendMessage", QUEUE),
    },
}
# What no function may ever do: change who may read the bucket, or make anything public.
FORBIDDEN = {
    "s3:putobjectacl",
    "s3:putobjectversionacl",
    "s3:putbucketacl",
    "s3:putbucketpolicy",
    "s3:deletebucketpolicy",
    "s3:putbucketpublicaccessblock",
    "s3:putaccountpublicaccessblock",
    "s3:putbucketownershipcontrols",
    "s3:putbucketcors",
    "s3:putbucketwebsite",
}
READ_VERBS = ("Describe", "Get", "List")


# -- the documents ---------------------------------------------------------------------------------


def test_every_policy_file_is_expected() -> None:
    assert sorted(p.name for p in IAM.glob("*.json")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_policy_parses_and_uses_only_plain_allow_statements(name: str) -> None:
    policy = load(IAM / name)
    assert policy["Version"] == "2012-10-17"
    sids = [statement["Sid"] for statement in policy["Statement"]]
    assert len(sids) == len(set(sids)), "statement ids are unique"
    for statement in policy["Statement"]:
        assert set(statement) == {"Sid", "Effect", "Action", "Resource"}, statement["Sid"]
        assert statement["Effect"] == "Allow"
        assert as_list(statement["Action"]) and as_list(statement["Resource"])


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_policy_grants_exactly_the_listed_actions_on_the_listed_resources(name: str) -> None:
    assert grants(iam_policy(name)) == EXPECTED[name]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_no_wildcard_action_and_no_write_on_every_resource(name: str) -> None:
    for action, resource in grants(iam_policy(name)):
        service, verb = action.split(":")
        assert "*" not in action and "?" not in action, action
        if resource == "*":
            assert verb.startswith(READ_VERBS), f"{action} on every resource"
        assert action.lower() not in FORBIDDEN
        assert service not in {"iam", "sts", "kms"}, action


@pytest.mark.parametrize(
    ("name", "action", "key", "allowed"),
    [
        # The API presigns uploads into incoming/ and serves files/ and its own exports/, nothing else.
        ("api.json", "s3:PutObject", f"{INCOMING}f1/u1", True),
        ("api.json", "s3:GetObject", f"{INCOMING}f1/u1", False),
        ("api.json", "s3:GetObject", f"{QUARANTINE}f1/u1", False),
        ("api.json", "s3:GetObject", f"{SERVED}f1/u1", True),
        ("api.json", "s3:PutObject", f"{SERVED}f1/u1", False),
        ("api.json", "s3:PutObject", f"{QUARANTINE}f1/u1", False),
        ("api.json", "s3:DeleteObject", f"{SERVED}f1/u1", False),
        ("api.json", "s3:GetObject", "exports/school/a1/x.zip", True),
        # The scanner reads and removes incoming/ and writes its verdicts; it never rewrites served files' past.
        ("scanner.json", "s3:GetObject", f"{INCOMING}f1/u1", True),
        ("scanner.json", "s3:DeleteObject", f"{INCOMING}f1/u1", True),
        ("scanner.json", "s3:PutObject", f"{SERVED}f1/u1", True),
        ("scanner.json", "s3:PutObject", f"{QUARANTINE}f1/u1", True),
        ("scanner.json", "s3:PutObject", f"{INCOMING}f1/u1", False),
        ("scanner.json", "s3:DeleteObject", f"{SERVED}f1/u1", False),
        ("scanner.json", "s3:DeleteObject", f"{QUARANTINE}f1/u1", False),
        # The rescan reads served objects again and moves what it finds infected to quarantine.
        ("rescan.json", "s3:GetObject", f"{SERVED}f1/u1", True),
        ("rescan.json", "s3:PutObject", f"{QUARANTINE}f1/u1", True),
        ("rescan.json", "s3:GetObject", f"{INCOMING}f1/u1", False),
        ("rescan.json", "s3:PutObject", f"{SERVED}f1/u1", False),
        # The sweeper only removes served objects of purged files.
        ("sweeper.json", "s3:DeleteObject", f"{SERVED}f1/u1", True),
        ("sweeper.json", "s3:GetObject", f"{SERVED}f1/u1", False),
        ("sweeper.json", "s3:DeleteObject", f"{INCOMING}f1/u1", False),
    ],
)
def test_object_access_by_function(name: str, action: str, key: str, allowed: bool) -> None:
    principal = SCANNER_ROLE if name == "scanner.json" else API_ROLE
    resource = f"{BUCKET}/{key}"
    assert decide(iam_policy(name), bucket_policy(), action, resource, principal) is allowed


def test_only_the_scanner_touches_the_queue_and_the_api_never_lists_the_bucket() -> None:
    assert decide(iam_policy("scanner.json"), None, "sqs:ReceiveMessage", QUEUE, SCANNER_ROLE)
    assert not decide(iam_policy("api.json"), None, "sqs:ReceiveMessage", QUEUE, API_ROLE)
    assert not decide(iam_policy("api.json"), None, "sqs:SendMessage", QUEUE, API_ROLE)
    # the sweeper sends (never receives) events for objects left unscanned too long
    assert decide(iam_policy("sweeper.json"), None, "sqs:SendMessage", QUEUE, API_ROLE)
    assert not decide(iam_policy("sweeper.json"), None, "sqs:ReceiveMessage", QUEUE, API_ROLE)
    # the sweeper lists keys (never reads them) to tell an unused grant from bytes awaiting their scan
    assert not decide(iam_policy("api.json"), None, "s3:ListBucket", BUCKET, API_ROLE)


# -- the bucket policy ------------------------------------------------------------------------------

EVERYONE_BUT_THE_SCANNER = [
    API_ROLE,
    f"arn:aws:iam::{ACCOUNT}:role/cartable-prod-SweepTrashRole-X",
    f"arn:aws:iam::{ACCOUNT}:role/Admin",
    f"arn:aws:iam::{ACCOUNT}:root",
    "arn:aws:iam::999999999999:role/someone-else",
]
ALLOW_EVERYTHING = {"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}


@pytest.mark.parametrize("prefix", [INCOMING, QUARANTINE, "anything-else/"])
@pytest.mark.parametrize("principal", EVERYONE_BUT_THE_SCANNER)
def test_bucket_policy_denies_reading_unserved_objects_to_all_but_the_scanner(prefix: str, principal: str) -> None:
    resource = f"{BUCKET}/{prefix}f1/u1"
    for action in ("s3:GetObject", "s3:GetObjectVersion"):
        assert not decide(ALLOW_EVERYTHING, bucket_policy(), action, resource, principal)


@pytest.mark.parametrize("prefix", [INCOMING, QUARANTINE])
def test_bucket_policy_lets_the_scanner_read_what_it_judges(prefix: str) -> None:
    assert decide(ALLOW_EVERYTHING, bucket_policy(), "s3:GetObject", f"{BUCKET}/{prefix}f1/u1", SCANNER_ROLE)


def test_bucket_policy_leaves_served_objects_to_identity_policies() -> None:
    for key in (f"{SERVED}f1/u1", "exports/school/a1/x.zip"):
        assert decide(ALLOW_EVERYTHING, bucket_policy(), "s3:GetObject", f"{BUCKET}/{key}", API_ROLE)


def test_bucket_policy_denies_every_request_without_tls() -> None:
    for principal in [SCANNER_ROLE, *EVERYONE_BUT_THE_SCANNER]:
        for action, resource in (("s3:GetObject", f"{BUCKET}/{SERVED}f1/u1"), ("s3:ListBucket", BUCKET)):
            assert not decide(ALLOW_EVERYTHING, bucket_policy(), action, resource, principal, secure=False)


def test_bucket_policy_only_denies() -> None:
    assert {statement["Effect"] for statement in load(BUCKET_POLICY)["Statement"]} == {"Deny"}


def test_bucket_policy_in_the_template_is_the_document_under_policies() -> None:
    template = load(ROOT / "infra" / "resources.json")
    assert template["Resources"]["FilesBucketPolicy"]["Properties"]["PolicyDocument"] == load(BUCKET_POLICY)


def test_served_prefixes_are_the_domain_ones() -> None:
    """The documents spell the prefixes out; they must be the ones the code uses."""
    assert (INCOMING, SERVED, QUARANTINE) == ("incoming/", "files/", "quarantine/")
