"""The small IAM evaluator the policy tests use: the documents under policies/ (IAM per function, the
bucket policy) with their CloudFormation placeholders (`Fn::Sub`, `Fn::GetAtt`) resolved against sample
ARNs, and IAM's answer for one request. It knows the features those documents use (wildcards in actions
and resources, `NotResource`, the few condition operators below); a document using anything else fails
until it learns it. Shared by tests/unit/test_policies.py and tests/integration/test_least_privilege.py.
"""

from __future__ import annotations

import json
import re
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
IAM = ROOT / "policies" / "iam"
BUCKET_POLICY = ROOT / "policies" / "s3" / "bucket.json"
ACCOUNT = "111122223333"
BUCKET = "arn:aws:s3:::cartable-prod-files"
TABLE = f"arn:aws:dynamodb:eu-west-3:{ACCOUNT}:table/cartable-prod-CatalogTable-X"
QUEUE = f"arn:aws:sqs:eu-west-3:{ACCOUNT}:cartable-prod-UploadsQueue-X"
JOBS = f"arn:aws:sqs:eu-west-3:{ACCOUNT}:cartable-prod-JobsQueue-X"
TOPIC = f"arn:aws:sns:eu-west-3:{ACCOUNT}:cartable-prod-NotificationsTopic-X"
SCANNER_ROLE = f"arn:aws:iam::{ACCOUNT}:role/cartable-prod-ScanUploadsRole-X"
API_ROLE = f"arn:aws:iam::{ACCOUNT}:role/cartable-prod-ApiHandlerRole-X"
STACK = "cartable-prod"
LOGS = f"arn:aws:logs:eu-west-3:{ACCOUNT}:log-group:/aws/lambda/{STACK}"
PLACEHOLDERS = {
    "AWS::Partition": "aws",
    "AWS::Region": "eu-west-3",
    "AWS::AccountId": ACCOUNT,
    "AWS::StackName": STACK,
    "FilesBucket.Arn": BUCKET,
    "CatalogTable.Arn": TABLE,
    "UploadsQueue.Arn": QUEUE,
    "JobsQueue.Arn": JOBS,
    "NotificationsTopic.TopicArn": TOPIC,
    "ScanUploadsRole.Arn": SCANNER_ROLE,
}


def resolve(node: Any) -> Any:
    """The document with every `Fn::Sub` / `Fn::GetAtt` replaced by sample values (unknown names fail)."""
    if isinstance(node, list):
        return [resolve(item) for item in node]
    if isinstance(node, dict):
        if set(node) == {"Fn::Sub"}:
            return re.sub(r"\$\{([^}]+)\}", lambda m: PLACEHOLDERS[m.group(1)], node["Fn::Sub"])
        if set(node) == {"Fn::GetAtt"}:
            return PLACEHOLDERS[".".join(node["Fn::GetAtt"])]
        return {key: resolve(value) for key, value in node.items()}
    return node


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def load(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return document


def iam_policy(name: str) -> dict[str, Any]:
    return resolve(load(IAM / name))  # type: ignore[no-any-return]


def grants(policy: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (action, resource)
        for statement in policy["Statement"]
        for action in as_list(statement["Action"])
        for resource in as_list(statement["Resource"])
    }


def _matches(patterns: list[str], value: str, ignore_case: bool = False) -> bool:
    if ignore_case:
        return any(fnmatchcase(value.lower(), p.lower()) for p in patterns)
    return any(fnmatchcase(value, p) for p in patterns)


def _conditions_hold(conditions: dict[str, Any], context: dict[str, str]) -> bool:
    for operator, tests in conditions.items():
        for key, expected in tests.items():
            actual, wanted = context[key], [str(v) for v in as_list(expected)]
            if operator == "Bool":
                holds = actual.lower() in {w.lower() for w in wanted}
            elif operator in {"ArnNotEquals", "ArnNotLike"}:
                holds = not _matches(wanted, actual)
            elif operator in {"ArnEquals", "ArnLike", "StringLike"}:
                holds = _matches(wanted, actual)
            elif operator == "StringEquals":
                holds = actual in wanted
            else:
                raise AssertionError(f"the test evaluator does not know the condition operator {operator}")
            if not holds:
                return False
    return True


def applies(statement: dict[str, Any], action: str, resource: str, context: dict[str, str]) -> bool:
    """Whether the statement covers this request (its effect aside)."""
    if not _matches(as_list(statement["Action"]), action, ignore_case=True):
        return False
    if "NotResource" in statement:
        if _matches(as_list(statement["NotResource"]), resource):
            return False
    elif not _matches(as_list(statement["Resource"]), resource):
        return False
    return _conditions_hold(statement.get("Condition", {}), context)


def decide(
    identity: dict[str, Any],
    bucket: dict[str, Any] | None,
    action: str,
    resource: str,
    principal: str,
    secure: bool = True,
) -> bool:
    """IAM's answer for one request within the account: an explicit deny wins, then an allow is needed."""
    context = {"aws:PrincipalArn": principal, "aws:SecureTransport": str(secure).lower()}
    statements = identity["Statement"] + (bucket["Statement"] if bucket else [])
    matching = [s for s in statements if applies(s, action, resource, context)]
    if any(s["Effect"] == "Deny" for s in matching):
        return False
    return any(s["Effect"] == "Allow" for s in matching)


def bucket_policy() -> dict[str, Any]:
    return resolve(load(BUCKET_POLICY))  # type: ignore[no-any-return]
