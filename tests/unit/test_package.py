"""The infrastructure: the merge template agrees with the code, and `make package`'s output passes cfn-lint.

The template tests read `infra/resources.json` directly; the package tests run the same packaging
as `make package` (chalice, offline, no credentials) into a temporary directory, once.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from chalicelib.adapters.dynamodb import table_definition
from chalicelib.domain.files import INCOMING, QUARANTINE
from infra.package import offline_env, pinned_template

ROOT = Path(__file__).resolve().parents[2]
CHALICE = Path(sys.executable).parent / "chalice"
CFN_LINT = Path(sys.executable).parent / "cfn-lint"
TEMPLATE = json.loads((ROOT / "infra" / "resources.json").read_text(encoding="utf-8"))
CONFIG = json.loads((ROOT / ".chalice" / "config.json").read_text(encoding="utf-8"))
RESOURCES = TEMPLATE["Resources"]


def properties(name: str) -> dict[str, Any]:
    return RESOURCES[name]["Properties"]  # type: ignore[no-any-return]


# -- the catalog table -------------------------------------------------------------------------------


def _by_name(items: list[dict[str, Any]], key: str) -> dict[str, Any]:
    return {item[key]: item for item in items}


def test_table_is_exactly_the_adapters_definition() -> None:
    """Keys, attributes and indexes as the adapter creates them locally: a new index must be added here too."""
    expected, table = table_definition("ignored"), properties("CatalogTable")
    assert table["KeySchema"] == expected["KeySchema"]
    assert _by_name(table["AttributeDefinitions"], "AttributeName") == _by_name(
        expected["AttributeDefinitions"], "AttributeName"
    )
    assert _by_name(table["GlobalSecondaryIndexes"], "IndexName") == _by_name(
        expected["GlobalSecondaryIndexes"], "IndexName"
    )
    assert table["BillingMode"] == expected["BillingMode"] == "PAY_PER_REQUEST"


def test_table_expires_what_the_adapter_marks_and_can_be_restored() -> None:
    table = properties("CatalogTable")
    assert table["TimeToLiveSpecification"] == {"AttributeName": "ttl", "Enabled": True}
    source = (ROOT / "chalicelib" / "adapters" / "dynamodb.py").read_text(encoding="utf-8")
    assert '"ttl"' in source, "the adapter writes the TTL attribute the table declares"
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert RESOURCES["CatalogTable"]["DeletionPolicy"] == "Retain"


# -- the bucket and the queue --------------------------------------------------------------------------


def test_bucket_is_private_versioned_and_encrypted() -> None:
    bucket = properties("FilesBucket")
    assert set(bucket["PublicAccessBlockConfiguration"].values()) == {True}
    assert len(bucket["PublicAccessBlockConfiguration"]) == 4
    assert bucket["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert RESOURCES["FilesBucket"]["DeletionPolicy"] == "Retain"


def test_bucket_lifecycle_cleans_incoming_quarantine_versions_and_abandoned_uploads() -> None:
    rules = _by_name(properties("FilesBucket")["LifecycleConfiguration"]["Rules"], "Id")
    incoming = rules["incoming-unscanned-leftovers"]
    # Unscanned bytes stay a week (the sweeper re-announces them hourly; an operator drains the DLQ);
    # a multipart upload lives at most 36 h (CARTABLE_MULTIPART_TTL), its parts are aborted after two days.
    assert incoming["Prefix"] == INCOMING and incoming["ExpirationInDays"] == 7
    assert incoming["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 2}
    assert rules["quarantine-retention"]["Prefix"] == QUARANTINE
    everything = rules["deleted-and-replaced-versions"]
    assert "Prefix" not in everything and "NoncurrentVersionExpiration" in everything
    assert everything["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 2}
    assert all(rule["Status"] == "Enabled" for rule in rules.values())


def test_arrivals_in_incoming_are_queued_for_the_scanner() -> None:
    (notification,) = properties("FilesBucket")["NotificationConfiguration"]["QueueConfigurations"]
    assert notification["Event"] == "s3:ObjectCreated:*"
    assert notification["Queue"] == {"Fn::GetAtt": ["UploadsQueue", "Arn"]}
    assert notification["Filter"] == {"S3Key": {"Rules": [{"Name": "prefix", "Value": INCOMING}]}}
    assert RESOURCES["FilesBucket"]["DependsOn"] == "UploadsQueuePolicy"
    (allow, _) = properties("UploadsQueuePolicy")["PolicyDocument"]["Statement"]
    assert allow["Principal"] == {"Service": "s3.amazonaws.com"} and allow["Action"] == "sqs:SendMessage"
    assert {"ArnLike", "StringEquals"} <= set(allow["Condition"]), "only our bucket, in our account"


def test_queue_outlasts_six_scans_and_gives_up_after_five() -> None:
    scan_timeout = CONFIG["lambda_functions"]["scan_uploads"]["lambda_timeout"]
    queue = properties("UploadsQueue")
    assert queue["VisibilityTimeout"] >= 6 * scan_timeout
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": ["UploadsDeadLetterQueue", "Arn"]},
        "maxReceiveCount": 5,
    }


# -- the functions' configuration ---------------------------------------------------------------------


def test_every_function_has_its_own_policy_under_policies_iam() -> None:
    assert CONFIG["autogen_policy"] is False
    assert "iam_policy_file" not in CONFIG, "no default: a new function without its own policy fails to package"
    for name, function in CONFIG["lambda_functions"].items():
        path = (ROOT / ".chalice" / function["iam_policy_file"]).resolve()
        assert path.parent == ROOT / "policies" / "iam" and path.is_file(), name
    for stage in CONFIG["stages"].values():
        assert "iam_policy_file" not in stage
        assert "iam_policy_file" not in json.dumps(stage.get("lambda_functions", {}))


def test_bucket_and_table_names_come_from_the_template() -> None:
    """A stage names its own bucket only on another S3-compatible store (README, Deploy)."""
    for name in ("dev", "prod"):
        variables = CONFIG["stages"][name]["environment_variables"]
        assert "CARTABLE_TABLE" not in variables, "it would hide the Globals' Ref"
        assert "CARTABLE_BUCKET" not in variables or "CARTABLE_S3_ENDPOINT" in variables
    assert TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]["CARTABLE_BUCKET"] == {"Ref": "FilesBucket"}
    assert TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]["CARTABLE_TABLE"] == {"Ref": "CatalogTable"}


def test_package_pins_the_stage_and_hides_credentials() -> None:
    pinned = pinned_template("prod", TEMPLATE)
    assert pinned["Parameters"]["Stage"]["AllowedValues"] == ["prod"]
    assert pinned["Parameters"]["Stage"]["Default"] == "prod"
    assert TEMPLATE["Parameters"]["Stage"]["AllowedValues"] == ["dev", "prod"], "the source stays unpinned"
    with pytest.raises(ValueError):
        pinned_template("local", TEMPLATE)
    env = offline_env({"AWS_PROFILE": "admin", "AWS_ACCESS_KEY_ID": "AKIA", "AWS_SESSION_TOKEN": "t", "HOME": "/h"})
    assert not {"AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SESSION_TOKEN"} & set(env)
    assert env["AWS_EC2_METADATA_DISABLED"] == "true" and env["AWS_DEFAULT_REGION"] and env["HOME"] == "/h"


# -- the packaged template ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def packaged(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    if not CHALICE.exists():
        pytest.skip("chalice is not installed in this environment")
    from infra.package import package

    path = package("prod", tmp_path_factory.mktemp("package"))
    lint = subprocess.run([str(CFN_LINT), str(path)], capture_output=True, text=True, check=False)
    template: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    template["_lint"] = lint
    return template


def test_packaged_template_passes_cfn_lint(packaged: dict[str, Any]) -> None:
    lint = packaged["_lint"]
    assert lint.returncode == 0, lint.stdout + lint.stderr


def test_packaged_functions_run_with_our_policies(packaged: dict[str, Any]) -> None:
    resources = packaged["Resources"]
    functions = {k: v for k, v in resources.items() if v["Type"] == "AWS::Serverless::Function"}
    expected = {"APIHandler": "api.json", "ScanUploads": "scanner.json"}
    assert set(expected) <= set(functions)
    for name, function in functions.items():
        role = resources[function["Properties"]["Role"]["Fn::GetAtt"][0]]
        (policy,) = role["Properties"]["Policies"]
        assert policy["PolicyDocument"] in [
            json.loads(p.read_text(encoding="utf-8")) for p in (ROOT / "policies" / "iam").glob("*.json")
        ], name
        if name in expected:
            document = json.loads((ROOT / "policies" / "iam" / expected[name]).read_text(encoding="utf-8"))
            assert policy["PolicyDocument"] == document, name
        assert "ManagedPolicyArns" not in role["Properties"]


def test_packaged_functions_find_the_stacks_resources(packaged: dict[str, Any]) -> None:
    resources = packaged["Resources"]
    assert packaged["Parameters"]["Stage"]["AllowedValues"] == ["prod"]
    variables = packaged["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["CARTABLE_BUCKET"] == {"Ref": "FilesBucket"}
    assert variables["CARTABLE_TABLE"] == {"Ref": "CatalogTable"}
    for name, resource in resources.items():
        if resource["Type"] == "AWS::Serverless::Function":
            own = resource["Properties"]["Environment"]["Variables"]
            assert own["CARTABLE_STAGE"] == "prod", name
            assert not {"CARTABLE_TABLE", "CARTABLE_CURSOR_SECRET", "CARTABLE_RECEIPT_SECRET"} & set(own), name
            assert "CARTABLE_BUCKET" not in own or "CARTABLE_S3_ENDPOINT" in own, name
        if resource["Type"] == "AWS::Logs::LogGroup":  # chalice names the API's function ApiHandler here
            target = resource["Properties"]["LogGroupName"]["Fn::Sub"].removeprefix("/aws/lambda/${")[:-1]
            assert resources[target]["Type"] == "AWS::Serverless::Function", name
    (event,) = resources["ScanUploads"]["Properties"]["Events"].values()
    assert event["Type"] == "SQS" and event["Properties"]["Queue"] == {"Fn::Sub": "${UploadsQueue.Arn}"}
    timeout = resources["ScanUploads"]["Properties"]["Timeout"]
    assert resources["UploadsQueue"]["Properties"]["VisibilityTimeout"] >= 6 * timeout
