"""The infrastructure: the merge template agrees with the code, and `make package`'s output passes cfn-lint.

The template tests read `infra/resources.json` directly; the package tests run the same packaging
as `make package` (chalice, offline, no credentials) into a temporary directory, once.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from chalicelib.adapters.dynamodb import table_definition
from chalicelib.domain.keys import INCOMING, QUARANTINE
from infra.libmagic import LAYER_ZIP
from infra.package import lambda_runtime, offline_env, pinned_template

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
    adapter = ROOT / "chalicelib" / "adapters" / "dynamodb"
    source = "".join(path.read_text(encoding="utf-8") for path in sorted(adapter.glob("*.py")))
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


def test_package_makes_the_layer_for_the_functions_runtime() -> None:
    layer = properties("LibmagicLayer")
    assert layer["ContentUri"] == f"./{LAYER_ZIP}" and layer["CompatibleArchitectures"] == ["x86_64"]
    assert layer["CompatibleRuntimes"] == [], "make package fills it: the runtime is the packaging interpreter's"
    pinned = pinned_template("dev", TEMPLATE)["Resources"]["LibmagicLayer"]["Properties"]
    assert pinned["CompatibleRuntimes"] == [lambda_runtime()] == [f"python{sys.version_info[0]}.{sys.version_info[1]}"]


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
    template["_dir"] = path.parent
    return template


def test_the_package_carries_the_rules_its_functions_read(packaged: dict[str, Any], tmp_path: Path) -> None:
    """chalice bundles app.py and chalicelib/ only: the content, sharing and quota rules are added, and
    the packaged code finds them where it looks (relative to itself), with nothing of this checkout."""
    with zipfile.ZipFile(packaged["_dir"] / "deployment.zip") as bundle:
        bundle.extractall(tmp_path / "task")
    probe = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "from chalicelib.domain import content, permissions, quotas;"
        "print(content.TYPES_PATH.is_file(), permissions.RULES_PATH.is_file(), quotas.QUOTAS_PATH.is_file());"
        "print(len(content.load_content_policy().accepted) > 10)"
    )
    answer = subprocess.run(
        [sys.executable, "-I", "-c", probe, str(tmp_path / "task")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert answer.returncode == 0, answer.stderr
    assert answer.stdout.split() == ["True", "True", "True", "True"]


def test_every_packaged_function_runs_on_a_supported_python(packaged: dict[str, Any]) -> None:
    """Python 3.11 runs on Amazon Linux 2 (end of life 2026-06-30): every function is 3.12+, the
    version the tests ran on (the Makefile's venv), so what is tested is what Lambda runs."""
    runtimes = {
        name: resource["Properties"]["Runtime"]
        for name, resource in packaged["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }
    assert len(runtimes) >= 5
    tested = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    assert set(runtimes.values()) == {tested}, runtimes
    assert sys.version_info >= (3, 12)


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
        if resource["Type"] == "AWS::Logs::LogGroup" and "LogGroupName" in resource["Properties"]:
            # chalice names the API's function ApiHandler here
            target = resource["Properties"]["LogGroupName"]["Fn::Sub"].removeprefix("/aws/lambda/${")[:-1]
            assert resources[target]["Type"] == "AWS::Serverless::Function", name
        elif resource["Type"] == "AWS::Logs::LogGroup":  # a custom resource's, named by the stack
            users = [
                r
                for r in resources.values()
                if r.get("Properties", {}).get("LoggingConfig") == {"LogGroup": {"Ref": name}}
            ]
            assert len(users) == 1, name
    (event,) = resources["ScanUploads"]["Properties"]["Events"].values()
    assert event["Type"] == "SQS" and event["Properties"]["Queue"] == {"Fn::Sub": "${UploadsQueue.Arn}"}
    timeout = resources["ScanUploads"]["Properties"]["Timeout"]
    assert resources["UploadsQueue"]["Properties"]["VisibilityTimeout"] >= 6 * timeout


def test_packaged_scan_handler_carries_the_libmagic_layer(packaged: dict[str, Any]) -> None:
    """Only the scan handler sniffs (wiring.scan_service); the layer is built for its runtime and architecture."""
    resources = packaged["Resources"]
    layered = {name for name, resource in resources.items() if "Layers" in resource.get("Properties", {})}
    assert layered == {"ScanUploads"}
    scan = resources["ScanUploads"]["Properties"]
    assert scan["Layers"] == [{"Ref": "LibmagicLayer"}]
    layer = resources["LibmagicLayer"]["Properties"]
    assert layer["CompatibleRuntimes"] == [scan["Runtime"]]
    assert layer["CompatibleArchitectures"] == scan["Architectures"] == ["x86_64"]
    assert (packaged["_dir"] / layer["ContentUri"]).is_file(), "beside sam.json, as aws cloudformation package reads it"


# -- the gateway's own answers, throttling and alarms ---------------------------------------------------

# Every type API Gateway lets one customise (GetGatewayResponse's valid values).
GATEWAY_RESPONSE_TYPES = {
    "DEFAULT_4XX", "DEFAULT_5XX", "RESOURCE_NOT_FOUND", "UNAUTHORIZED", "INVALID_API_KEY", "ACCESS_DENIED",
    "AUTHORIZER_FAILURE", "AUTHORIZER_CONFIGURATION_ERROR", "INVALID_SIGNATURE", "EXPIRED_TOKEN",
    "MISSING_AUTHENTICATION_TOKEN", "INTEGRATION_FAILURE", "INTEGRATION_TIMEOUT", "API_CONFIGURATION_ERROR",
    "UNSUPPORTED_MEDIA_TYPE", "BAD_REQUEST_PARAMETERS", "BAD_REQUEST_BODY", "REQUEST_TOO_LARGE", "THROTTLED",
    "QUOTA_EXCEEDED", "WAF_FILTERED",
}  # fmt: skip
# What the contract needs of them: (status, code); a timeout may be 503 or 504.
GATEWAY_ANSWERS = {
    "MISSING_AUTHENTICATION_TOKEN": (404, "not_found"),  # an unknown route, or a method its path lacks
    "RESOURCE_NOT_FOUND": (404, "not_found"),
    "REQUEST_TOO_LARGE": (413, "payload_too_large"),
    "UNSUPPORTED_MEDIA_TYPE": (415, "unsupported_media_type"),
    "THROTTLED": (429, "too_many_requests"),
    "QUOTA_EXCEEDED": (429, "too_many_requests"),
    "BAD_REQUEST_BODY": (400, "bad_request"),
    "BAD_REQUEST_PARAMETERS": (400, "bad_request"),
    "ACCESS_DENIED": (403, "forbidden"),
    "UNAUTHORIZED": (401, "unauthorized"),
    "INTEGRATION_TIMEOUT": (503, "service_unavailable"),
    "INTEGRATION_FAILURE": (503, "service_unavailable"),
    "DEFAULT_4XX": (400, "bad_request"),
    "DEFAULT_5XX": (503, "service_unavailable"),
}
ALARM_ACTIONS = {"Fn::If": ["HasAlarmTopic", [{"Ref": "AlarmTopicArn"}], {"Ref": "AWS::NoValue"}]}


def _openapi_error_codes() -> set[str]:
    import yaml

    spec = yaml.safe_load((ROOT / "openapi.yaml").read_text(encoding="utf-8"))
    return set(spec["components"]["schemas"]["ErrorCode"]["enum"])


def test_packaged_gateway_responses_are_the_list_in_the_contract_s_body(packaged: dict[str, Any]) -> None:
    from infra.gateway import load

    api = packaged["Resources"]["RestAPI"]
    assert api["Type"] == "AWS::Serverless::Api", "chalice's REST API, which the merge template extends"
    responses = api["Properties"]["GatewayResponses"]
    assert set(responses) == set(load()) and set(responses) <= GATEWAY_RESPONSE_TYPES
    codes = _openapi_error_codes()
    for kind, response in responses.items():
        (template,) = response["ResponseTemplates"].values()
        assert list(response["ResponseTemplates"]) == ["application/json"] and "$" not in template, kind
        body = json.loads(template)
        assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, kind
        assert body["error"]["code"] in codes and body["error"]["message"].strip(), kind
        status = int(response["StatusCode"])
        assert (status, body["error"]["code"]) == GATEWAY_ANSWERS.get(kind, (status, body["error"]["code"])), kind
        headers = response["ResponseParameters"]["Headers"]
        assert headers["Content-Type"] == "'application/json'", kind
        assert all(value.startswith("'") and value.endswith("'") for value in headers.values()), kind
        retry = headers.get("Retry-After")
        assert (retry is not None) == (status in (429, 503)), kind
        assert retry is None or int(retry.strip("'")) >= 1, kind
    assert set(GATEWAY_ANSWERS) <= set(responses)


def _decoded(path: str) -> str:
    """A method setting's path (`/~1v1~1uploads`: a slash, then the path with its slashes as `~1`)."""
    assert path.startswith("/") and "/" not in path[1:], path
    return path[1:].replace("~1", "/")


def test_the_stage_and_the_expensive_routes_are_throttled(packaged: dict[str, Any]) -> None:
    api = packaged["Resources"]["RestAPI"]["Properties"]
    settings = {(s["ResourcePath"], s["HttpMethod"]): s for s in api["MethodSettings"]}
    default = settings.pop(("/*", "*"))
    assert default["ThrottlingRateLimit"] == {"Fn::FindInMap": ["ApiThrottling", {"Ref": "Stage"}, "RateLimit"]}
    assert default["ThrottlingBurstLimit"] == {"Fn::FindInMap": ["ApiThrottling", {"Ref": "Stage"}, "BurstLimit"]}
    paths = api["DefinitionBody"]["paths"]
    for (path, method), setting in settings.items():
        assert method.lower() in paths[_decoded(path)], f"{method} {path}: no such method; the stage would fail"
        assert {"ThrottlingRateLimit", "ThrottlingBurstLimit"} <= set(setting)
    throttled = {(_decoded(path), method) for path, method in settings}
    expensive = {
        ("/v1/uploads", "POST"),
        ("/v1/uploads/batch", "POST"),
        ("/v1/me/export", "GET"),
        ("/v1/me/export", "POST"),
        ("/v1/assignments/{assignment_id}/archive", "GET"),
        ("/v1/assignments/{assignment_id}/archive", "POST"),
        ("/v1/years/close", "POST"),
    }
    assert expensive <= throttled
    mapping = TEMPLATE["Mappings"]["ApiThrottling"]
    assert set(mapping) == set(TEMPLATE["Parameters"]["Stage"]["AllowedValues"])
    for stage, limits in mapping.items():
        for tier in ("", "Grant", "Batch", "Heavy"):
            assert 0 < limits[f"{tier}RateLimit"] <= limits[f"{tier}BurstLimit"], (stage, tier)
            assert limits[f"{tier}RateLimit"] <= limits["RateLimit"] and limits[f"{tier}BurstLimit"] <= 5000
            assert mapping["dev"][f"{tier}RateLimit"] < mapping["prod"][f"{tier}RateLimit"], tier
    assert mapping["prod"]["RateLimit"] <= 10000, "an account's regional API Gateway quota"


def _alarms() -> dict[str, dict[str, Any]]:
    return {name: r["Properties"] for name, r in RESOURCES.items() if r.get("Type") == "AWS::CloudWatch::Alarm"}


def _text(value: Any) -> str | None:
    """A literal as itself, an intrinsic function (`Fn::FindInMap`...) as its JSON."""
    return value if isinstance(value, str | None) else json.dumps(value)


def test_alarms_watch_dead_letters_the_uploads_queue_5xx_and_clamd() -> None:
    alarms = _alarms()
    assert all(alarm["AlarmActions"] == ALARM_ACTIONS for alarm in alarms.values()), "all tell the AlarmTopicArn"
    watched = {
        (_text(a.get("Namespace")), a.get("MetricName"), json.dumps(a.get("Dimensions"))): a for a in alarms.values()
    }

    def on_queue(queue: str) -> str:
        return json.dumps([{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue, "QueueName"]}}])

    for queue in ("UploadsDeadLetterQueue", "JobsDeadLetterQueue"):
        alarm = watched[("AWS/SQS", "ApproximateNumberOfMessagesVisible", on_queue(queue))]
        assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", 0), queue
    age = watched[("AWS/SQS", "ApproximateAgeOfOldestMessage", on_queue("UploadsQueue"))]
    assert age["Statistic"] == "Maximum" and age["Threshold"] <= 15 * 60
    namespace = {"Fn::FindInMap": ["StageSettings", {"Ref": "Stage"}, "MetricsNamespace"]}  # a staging's own
    clamd = watched[(json.dumps(namespace), "ClamdErrors", json.dumps([{"Name": "service", "Value": "cartable"}]))]
    assert {stage["MetricsNamespace"] for stage in TEMPLATE["Mappings"]["StageSettings"].values()} == {"Cartable"}
    assert clamd["TreatMissingData"] == "notBreaching" and clamd["Statistic"] == "Sum"


def test_the_5xx_alarm_is_a_rate_of_this_stage_s_api(packaged: dict[str, Any]) -> None:
    (alarm,) = (a for a in _alarms().values() if "Metrics" in a)
    metrics = {m["Id"]: m for m in alarm["Metrics"]}
    stats = {m["MetricStat"]["Metric"]["MetricName"]: m for m in metrics.values() if "MetricStat" in m}
    assert set(stats) == {"5XXError", "Count"}
    api = packaged["Resources"]["RestAPI"]["Properties"]
    for metric in stats.values():
        dimensions = {d["Name"]: d["Value"] for d in metric["MetricStat"]["Metric"]["Dimensions"]}
        assert dimensions == {"ApiName": api["Name"], "Stage": api["StageName"]}
        assert metric["MetricStat"]["Stat"] == "Sum" and metric["ReturnData"] is False
    assert {CONFIG["stages"][stage]["api_gateway_stage"] for stage in ("dev", "prod")} == {api["StageName"]}
    (rate,) = (m for m in metrics.values() if m.get("ReturnData"))
    assert f"{stats['5XXError']['Id']} / {stats['Count']['Id']}" in rate["Expression"]
    assert 0 < alarm["Threshold"] < 1 and alarm["TreatMissingData"] == "notBreaching"


# -- the page, hosted: S3 behind CloudFront, /v1/* to the API on the same origin ---------------------------

CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"  # CloudFront's managed policies, by their fixed ids
CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"
ALL_VIEWER_EXCEPT_HOST_HEADER = "b689b0a8-53d0-40ab-baf2-68738e2966ac"


def _directives(policy: str) -> dict[str, list[str]]:
    """A Content-Security-Policy as {directive: sources}."""
    parsed = {}
    for directive in filter(None, (part.strip() for part in policy.split(";"))):
        name, *sources = directive.split()
        assert name not in parsed, f"{name} twice"
        parsed[name] = sources
    return parsed


def test_web_bucket_is_private_and_only_its_distribution_reads_it() -> None:
    bucket = properties("WebBucket")
    assert set(bucket["PublicAccessBlockConfiguration"].values()) == {True}
    assert len(bucket["PublicAccessBlockConfiguration"]) == 4
    assert bucket["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert "WebsiteConfiguration" not in bucket, "served through CloudFront only, never as an S3 website"
    allow, deny = properties("WebBucketPolicy")["PolicyDocument"]["Statement"]
    assert allow["Effect"] == "Allow" and allow["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert allow["Action"] == "s3:GetObject" and allow["Resource"] == {"Fn::Sub": "${WebBucket.Arn}/*"}
    assert allow["Condition"] == {
        "StringEquals": {
            "aws:SourceArn": {
                "Fn::Sub": "arn:${AWS::Partition}:cloudfront::${AWS::AccountId}:distribution/${WebDistribution}"
            }
        }
    }, "this distribution only, not any CloudFront distribution"
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    control = properties("WebOriginAccessControl")["OriginAccessControlConfig"]
    assert control["OriginAccessControlOriginType"] == "s3" and control["SigningBehavior"] == "always"
    assert control["SigningProtocol"] == "sigv4"
    assert not [n for n, r in RESOURCES.items() if r.get("Type") == "AWS::CloudFront::CloudFrontOriginAccessIdentity"]


def test_distribution_serves_the_page_and_sends_v1_to_the_api_uncached(packaged: dict[str, Any]) -> None:
    config = packaged["Resources"]["WebDistribution"]["Properties"]["DistributionConfig"]
    origins = {origin["Id"]: origin for origin in config["Origins"]}
    web, api = origins["web"], origins["api"]
    assert web["DomainName"] == {"Fn::GetAtt": ["WebBucket", "RegionalDomainName"]}
    assert web["OriginAccessControlId"] == {"Fn::GetAtt": ["WebOriginAccessControl", "Id"]}
    assert web["S3OriginConfig"] == {"OriginAccessIdentity": ""}, "origin access control, not the legacy identity"
    stage = packaged["Resources"]["RestAPI"]["Properties"]["StageName"]
    assert api["DomainName"] == {"Fn::Sub": "${RestAPI}.execute-api.${AWS::Region}.${AWS::URLSuffix}"}
    assert api["OriginPath"] == f"/{stage}", "the API's stage: /v1/files reaches the route /v1/files"
    assert api["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only"
    assert api["CustomOriginConfig"]["OriginReadTimeout"] >= 29, "the gateway's own limit, the long poll's 25 s"
    default = config["DefaultCacheBehavior"]
    assert default["TargetOriginId"] == "web" and default["CachePolicyId"] == CACHING_OPTIMIZED
    assert default["ViewerProtocolPolicy"] == "redirect-to-https" and default["Compress"] is True
    assert config["DefaultRootObject"] == "index.html"
    (behaviour,) = config["CacheBehaviors"]
    assert behaviour["PathPattern"] == "/v1/*" and behaviour["TargetOriginId"] == "api"
    assert behaviour["CachePolicyId"] == CACHING_DISABLED, "no answer of the API is ever cached"
    # With caching disabled, this policy forwards Authorization too; Host stays the gateway's.
    assert behaviour["OriginRequestPolicyId"] == ALL_VIEWER_EXCEPT_HOST_HEADER
    assert set(behaviour["AllowedMethods"]) == {"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"}
    assert behaviour["ViewerProtocolPolicy"] == "https-only", "a redirected POST would lose its body"
    headers = {"Ref": "WebResponseHeaders"}
    assert default["ResponseHeadersPolicyId"] == behaviour["ResponseHeadersPolicyId"] == headers
    assert config["Aliases"] == {"Fn::If": ["HasWebDomain", [{"Ref": "WebDomainName"}], {"Ref": "AWS::NoValue"}]}
    certificate, default_certificate = config["ViewerCertificate"]["Fn::If"][1:]
    assert (
        certificate["AcmCertificateArn"] == {"Ref": "WebCertificateArn"}
        and certificate["SslSupportMethod"] == "sni-only"
    )
    assert default_certificate == {"CloudFrontDefaultCertificate": True}
    (rule,) = packaged["Rules"].values()
    assert rule["Assertions"][0]["Assert"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "WebCertificateArn"}, ""]}]}


def test_the_page_s_headers_allow_only_its_origin_its_provider_and_the_files_bucket() -> None:
    config = properties("WebResponseHeaders")["ResponseHeadersPolicyConfig"]
    security = config["SecurityHeadersConfig"]
    csp = _directives(security["ContentSecurityPolicy"]["ContentSecurityPolicy"]["Fn::Sub"])
    assert csp["default-src"] == ["'self'"] and csp["script-src"] == ["'self'"] and csp["style-src"] == ["'self'"]
    assert csp["img-src"] == ["'self'", "data:", "blob:"]
    assert csp["frame-ancestors"] == ["'none'"] and csp["object-src"] == ["'none'"] and csp["base-uri"] == ["'none'"]
    assert not [s for sources in csp.values() for s in sources if "unsafe" in s], "no inline script or style"
    bucket = (
        "cartable-${Stage}-files-${AWS::AccountId}-${AWS::Region}"  # FilesBucket's name, as presigned URLs carry it
    )
    assert properties("FilesBucket")["BucketName"] == {"Fn::Sub": bucket}
    assert csp["connect-src"] == [
        "'self'",
        "${IdentityProviderOrigin}",
        f"https://{bucket}.s3.${{AWS::URLSuffix}}",
        f"https://{bucket}.s3.${{AWS::Region}}.${{AWS::URLSuffix}}",
        "https://${DownloadDistribution.DomainName}",  # the page's fetch follows a download's 302 there
    ]
    assert security["ContentSecurityPolicy"]["Override"] is True
    assert security["StrictTransportSecurity"]["AccessControlMaxAgeSec"] >= 31536000
    assert security["ContentTypeOptions"] == {"Override": True}
    assert security["ReferrerPolicy"]["ReferrerPolicy"] == "no-referrer"
    (permissions,) = config["CustomHeadersConfig"]["Items"]
    assert permissions["Header"] == "Permissions-Policy"
    features = dict(item.strip().split("=", 1) for item in permissions["Value"].split(","))
    assert features["camera"] == "(self)", "a photo of paper homework, from the page only"
    assert features["microphone"] == features["geolocation"] == "()"


def test_the_page_s_files_need_no_inline_script_or_style() -> None:
    """What the policy forbids: a <script> with a body, a <style>, a style= or on...= attribute, a javascript: URL."""
    import re

    for path in sorted((ROOT / "web").glob("*.html")):
        page = path.read_text(encoding="utf-8")
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page), path.name
        assert not re.search(r"<style\b|\sstyle=|\son[a-z]+=|javascript:", page, re.IGNORECASE), path.name
    for path in sorted((ROOT / "web").glob("*.js")):
        code = path.read_text(encoding="utf-8")
        assert not re.search(r"\beval\(|new Function\(|innerHTML|setAttribute\(\s*[\"'](style|on)", code), path.name


def test_the_files_bucket_lets_the_page_s_origin_post_and_get(packaged: dict[str, Any]) -> None:
    """Set by a custom resource once the distribution exists: the bucket cannot name it (the distribution
    reaches the API, whose role reads the bucket), so FilesBucket has no CORS of its own to fight it."""
    resources = packaged["Resources"]
    assert "CorsConfiguration" not in resources["FilesBucket"]["Properties"]
    cors = resources["FilesBucketCors"]["Properties"]
    assert cors["ServiceToken"] == {"Fn::GetAtt": ["FilesBucketCorsFunction", "Arn"]}
    assert cors["Bucket"] == {"Ref": "FilesBucket"}
    assert cors["Origins"] == [
        {"Fn::Sub": "https://${WebDistribution.DomainName}"},
        {"Fn::If": ["HasWebDomain", {"Fn::Sub": "https://${WebDomainName}"}, ""]},
        {"Fn::If": ["HasUploadOrigins", {"Fn::Join": [",", {"Ref": "UploadOrigins"}]}, ""]},
    ]
    function = resources["FilesBucketCorsFunction"]["Properties"]
    assert function["Code"] == {"ZipFile": (ROOT / "infra" / "bucket_cors.py").read_text(encoding="utf-8")}
    assert function["Handler"] == "index.handler" and function["Runtime"] == lambda_runtime()
    (policy,) = resources["FilesBucketCorsRole"]["Properties"]["Policies"]
    granted = {action for s in policy["PolicyDocument"]["Statement"] for action in s["Action"]}
    assert granted == {"s3:PutBucketCORS", "s3:GetBucketCORS", "logs:CreateLogStream", "logs:PutLogEvents"}


def test_the_page_s_provider_is_the_stage_s_and_the_stack_names_its_hosting() -> None:
    from infra.package import identity_provider_origin

    assert TEMPLATE["Parameters"]["IdentityProviderOrigin"]["Default"] == ""
    for stage in ("dev", "prod", "team-maths"):
        origin = pinned_template(stage, TEMPLATE)["Parameters"]["IdentityProviderOrigin"]["Default"]
        issuer = CONFIG["stages"]["prod" if stage == "prod" else "dev"]["environment_variables"]["CARTABLE_JWT_ISSUER"]
        assert origin == identity_provider_origin(stage) and issuer.startswith(origin + "/"), stage
    outputs = TEMPLATE["Outputs"]
    assert outputs["WebBucketName"] == {"Value": {"Ref": "WebBucket"}}
    assert outputs["WebDistributionId"] == {"Value": {"Ref": "WebDistribution"}}
    assert outputs["WebDistributionDomainName"] == {"Value": {"Fn::GetAtt": ["WebDistribution", "DomainName"]}}
