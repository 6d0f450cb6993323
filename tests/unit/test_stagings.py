"""A staging per team or branch: `make package STAGE=<name>` makes a template isolated by that name.

The names (infra/stages.py) and the derived configuration are checked as data; then two arbitrary
stagings and prod are packaged once, as `make package` does (offline), and compared: both stagings
pass cfn-lint, share no physical name, and prod differs from a staging only in its protections.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from infra import stages
from infra.package import chalice_config, clamd_address, metrics_namespace, pinned_template

ROOT = Path(__file__).resolve().parents[2]
CHALICE = Path(sys.executable).parent / "chalice"
CFN_LINT = Path(sys.executable).parent / "cfn-lint"
CONFIG = json.loads((ROOT / ".chalice" / "config.json").read_text(encoding="utf-8"))
# Two stagings, the shortest name and the longest, with digits and hyphens.
STAGINGS = ("a", "sciences-4b-2026-xyz")
ACCOUNT, LONGEST_REGION = "111122223333", "ap-southeast-3"


# -- names ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["a", "team-maths", "4a", "x" * stages.MAX_LENGTH, "dev", "prod"])
def test_any_short_lowercase_name_is_a_stage(name: str) -> None:
    assert stages.check(name) == name
    assert stages.is_staging(name) == (name not in ("dev", "prod"))


@pytest.mark.parametrize(
    "name", ["", "local", "Team", "team_maths", "-team", "team-", "équipe", "x" * (stages.MAX_LENGTH + 1)]
)
def test_other_names_are_refused(name: str) -> None:
    with pytest.raises(stages.StageError):
        stages.check(name)


@pytest.mark.parametrize(
    ("branch", "stage"),
    [("team-maths", "team-maths"), ("Feature/Upload_Quota", "feature-upload-quota"), ("42-fix", "42-fix")],
)
def test_a_branch_s_staging_is_its_slug(branch: str, stage: str) -> None:
    assert stages.for_branch(branch) == stage


def test_long_or_reserved_branch_names_get_a_digest() -> None:
    """Two long branches sharing their first characters get two stagings; a branch named prod is not prod."""
    first = stages.for_branch("feature/a-very-long-branch-name-one")
    second = stages.for_branch("feature/a-very-long-branch-name-two")
    assert first != second and first.startswith("feature-a-very") and second.startswith("feature-a-very")
    assert all(len(name) <= stages.MAX_LENGTH for name in (first, second))
    for branch in ("prod", "PROD", "dev", "local", "___"):
        stage = stages.for_branch(branch)
        assert stages.is_staging(stage) and re.fullmatch(r"[a-z]+-[0-9a-f]{4}", stage), stage
    assert stages.for_branch("prod") == stages.for_branch("prod"), "the same branch, the same staging"


def test_the_branch_command_prints_the_staging(capsys: pytest.CaptureFixture[str]) -> None:
    stages.main(["Team/Maths"])
    assert capsys.readouterr().out == "team-maths\n"


def test_the_longest_bucket_name_fits() -> None:
    longest = f"cartable-{'x' * stages.MAX_LENGTH}-files-{ACCOUNT}-{LONGEST_REGION}"
    assert len(longest) <= 63


# -- the configuration a staging derives from dev ---------------------------------------------------------


def test_a_staging_takes_dev_s_configuration_with_its_own_fleet_and_metrics() -> None:
    config = chalice_config("team-maths", CONFIG)
    assert set(config["stages"]) == {"local", "dev", "prod", "team-maths"}
    staging, dev = config["stages"]["team-maths"], CONFIG["stages"]["dev"]
    variables = staging["environment_variables"]
    assert variables.pop("CARTABLE_CLAMD_ADDRESS") == "tcp://clamd.cartable-team-maths.internal:3310"
    assert variables.pop("POWERTOOLS_METRICS_NAMESPACE") == "Cartable/team-maths"
    assert {**staging, "environment_variables": variables} == {
        **dev,
        "environment_variables": {
            k: v for k, v in dev["environment_variables"].items() if k != "CARTABLE_CLAMD_ADDRESS"
        },
    }
    assert variables["CARTABLE_STAGE"] == "dev", "the code runs as in dev (settings know local, dev and prod)"
    assert "realms/dev" in variables["CARTABLE_JWKS_URL"], "dev's realm: test people, never pupils"
    assert chalice_config("prod", CONFIG) == CONFIG == chalice_config("dev", CONFIG)


def test_dev_and_prod_follow_the_naming_a_staging_derives() -> None:
    for stage in ("dev", "prod"):
        assert CONFIG["stages"][stage]["environment_variables"]["CARTABLE_CLAMD_ADDRESS"] == clamd_address(stage)
        assert metrics_namespace(stage) == CONFIG["environment_variables"]["POWERTOOLS_METRICS_NAMESPACE"]


def test_a_staging_s_template_keeps_nothing_after_its_stack() -> None:
    template = pinned_template("team-maths")
    kept = [
        name
        for name, r in template["Resources"].items()
        if "Retain" in (r.get("DeletionPolicy"), r.get("UpdateReplacePolicy"))
    ]
    assert kept == []
    assert template["Mappings"]["StageSettings"]["team-maths"]["DeletionProtection"] == "false"
    assert template["Parameters"]["Stage"]["AllowedValues"] == ["team-maths"]
    prod = pinned_template("prod")
    assert {n for n, r in prod["Resources"].items() if r.get("DeletionPolicy") == "Retain"} >= {
        "FilesBucket",
        "CatalogTable",
    }
    assert "team-maths" not in prod["Mappings"]["StageSettings"]


# -- two stagings and prod, packaged -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def packaged(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Each stage's sam.json, its cfn-lint run and its directory, packaged once for the module."""
    if not CHALICE.exists():
        pytest.skip("chalice is not installed in this environment")
    from infra.package import package

    output = tmp_path_factory.mktemp("stagings")
    before = (ROOT / ".chalice" / "config.json").read_bytes()
    templates = {}
    for stage in (*STAGINGS, "prod"):
        path = package(stage, output)
        template: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        if stage != "prod":
            lint = subprocess.run([str(CFN_LINT), str(path)], capture_output=True, text=True, check=False)
            template["_lint"] = lint
        template["_dir"] = path.parent
        templates[stage] = template
    assert (ROOT / ".chalice" / "config.json").read_bytes() == before, "the project's config is never changed"
    return templates


@pytest.mark.parametrize("stage", STAGINGS)
def test_a_staging_passes_cfn_lint(packaged: dict[str, dict[str, Any]], stage: str) -> None:
    lint = packaged[stage]["_lint"]
    assert lint.returncode == 0, lint.stdout + lint.stderr


def _resolved(node: Any, stage: str) -> Any:
    """A name as deployed in stack `cartable-<stage>`: a reference to another resource is the name
    CloudFormation generates for it (`<stack>-<LogicalId>-<suffix>`)."""
    stack = stages.stack_name(stage)
    known = {"Stage": stage, "AWS::StackName": stack, "AWS::AccountId": ACCOUNT, "AWS::Region": "eu-west-3"}
    if isinstance(node, dict) and set(node) == {"Fn::Sub"}:
        return re.sub(r"\$\{([^}]+)\}", lambda m: known.get(m.group(1), f"{stack}-{m.group(1)}-X"), node["Fn::Sub"])
    if isinstance(node, dict) and set(node) == {"Ref"}:
        return known.get(node["Ref"], f"{stack}-{node['Ref']}-X")
    assert isinstance(node, str), node
    return node


# Properties holding a name that must be unique in an account and region (not a metric's, an index's...).
NOT_PHYSICAL = {"MetricName", "IndexName", "AttributeName", "StageName"}


def physical_names(template: dict[str, Any], stage: str) -> dict[tuple[str, str], str]:
    """(resource, property): name, for every name property a resource sets; a resource setting none is
    named by CloudFormation after the stack (`cartable-<stage>-<LogicalId>-<suffix>`)."""
    names = {}
    for logical, resource in template["Resources"].items():
        for key, value in resource.get("Properties", {}).items():
            if key.endswith("Name") and key not in NOT_PHYSICAL:
                names[(logical, key)] = _resolved(value, stage)
            # CloudFront's access controls and policies name themselves inside their config, once per account
            if key.endswith("Config") and key != "DistributionConfig" and isinstance(value, dict) and "Name" in value:
                names[(logical, f"{key}.Name")] = _resolved(value["Name"], stage)
    return names


def test_two_stagings_share_no_physical_name(packaged: dict[str, dict[str, Any]]) -> None:
    first, second = (physical_names(packaged[stage], stage) for stage in STAGINGS)
    assert set(first) == set(second) and len(first) >= 8
    assert {("WebBucket", "BucketName"), ("WebOriginAccessControl", "OriginAccessControlConfig.Name")} <= set(first)
    assert ("WebResponseHeaders", "ResponseHeadersPolicyConfig.Name") in first
    assert not set(first.values()) & set(second.values())
    for stage, names in zip(STAGINGS, (first, second), strict=True):
        for where, name in names.items():
            assert f"cartable-{stage}" in name, (stage, where, name)
    assert {stages.stack_name(stage) for stage in STAGINGS} == {"cartable-a", "cartable-sciences-4b-2026-xyz"}
    for stage in STAGINGS:  # the bucket's name, the longest, with the longest region
        bucket = first if stage == "a" else second
        assert len(bucket[("FilesBucket", "BucketName")].replace("eu-west-3", LONGEST_REGION)) <= 63


def test_two_stagings_share_no_metric_no_fleet_no_namespace(packaged: dict[str, dict[str, Any]]) -> None:
    seen: dict[str, set[str]] = {"namespace": set(), "clamd": set(), "metrics": set()}
    for stage in STAGINGS:
        template = packaged[stage]
        (alarm,) = (r for r in template["Resources"].values() if r["Properties"].get("MetricName") == "ClamdErrors")
        (key,) = (k for k in alarm["Properties"]["Namespace"]["Fn::FindInMap"][1:2])
        assert key == {"Ref": "Stage"}
        namespace = template["Mappings"]["StageSettings"][stage]["MetricsNamespace"]
        for resource in template["Resources"].values():
            if resource["Type"] == "AWS::Serverless::Function":
                variables = resource["Properties"]["Environment"]["Variables"]
                assert variables["POWERTOOLS_METRICS_NAMESPACE"] == namespace
                seen["clamd"].add(variables["CARTABLE_CLAMD_ADDRESS"])
        seen["metrics"].add(namespace)
        manifests = list((template["_dir"] / "k8s").glob("*.yaml"))
        import yaml

        documents = [d for path in manifests for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]
        (own,) = (d for d in documents if d["kind"] == "Namespace")
        (service,) = (d for d in documents if d["kind"] == "Service")
        host = service["metadata"]["annotations"]["external-dns.alpha.kubernetes.io/hostname"]
        assert clamd_address(stage) == f"tcp://{host}:{service['spec']['ports'][0]['port']}", "the name it dials"
        assert {d["metadata"].get("namespace") for d in documents if d is not own} == {own["metadata"]["name"]}
        assert {"Deployment", "Service", "NetworkPolicy"} <= {d["kind"] for d in documents}
        seen["namespace"].add(own["metadata"]["name"])
    assert all(len(values) == len(STAGINGS) for values in seen.values()), seen
    assert "Cartable" not in seen["metrics"]


def _normalised(template: dict[str, Any], stage: str) -> dict[str, Any]:
    """The template with its stage's name replaced by `<stage>` where it is written literally (the stage
    parameter, the mappings' keys, the functions' variables and tags); other mappings' entries dropped."""
    copy: dict[str, Any] = json.loads(json.dumps({k: v for k, v in template.items() if not k.startswith("_")}))
    copy["Parameters"]["Stage"].update(AllowedValues=["<stage>"], Default="<stage>")
    copy["Mappings"] = {name: {"<stage>": entries[stage]} for name, entries in copy["Mappings"].items()}
    settings = copy["Mappings"]["StageSettings"]["<stage>"]
    settings["MetricsNamespace"] = settings["MetricsNamespace"].replace(f"Cartable/{stage}", "Cartable")
    for resource in copy["Resources"].values():
        properties = resource.get("Properties", {})
        for field in ("Tags",):
            if isinstance(properties.get(field), dict):
                properties[field] = {
                    k: v.replace(f"stage={stage}:", "stage=<stage>:") for k, v in properties[field].items()
                }
        variables = properties.get("Environment", {}).get("Variables", {})
        for name, value in variables.items():
            variables[name] = value.replace(f"cartable-{stage}.", "cartable-<stage>.").replace(
                f"Cartable/{stage}", "Cartable"
            )
    return copy


def _differences(left: Any, right: Any, path: str = "") -> list[str]:
    if isinstance(left, dict) and isinstance(right, dict):
        return [
            d
            for key in sorted(set(left) | set(right))
            for d in _differences(left.get(key), right.get(key), f"{path}/{key}")
        ]
    if isinstance(left, list) and isinstance(right, list) and len(left) == len(right):
        return [d for i, (a, b) in enumerate(zip(left, right, strict=True)) for d in _differences(a, b, f"{path}/{i}")]
    return [] if left == right else [path]


# What prod has that a staging has not, and nothing else: what protects its data (kept after the stack,
# deletion protection, point-in-time recovery, how long logs, quarantine and old versions are kept), the
# real identity realm (a staging's is dev's: test people, never pupils) and prod's capacity (a staging is
# sized as dev, throttled tighter, so a team's load test cannot spend the account's quota).
PROTECTIONS = (
    r"/Resources/[A-Za-z]+/(DeletionPolicy|UpdateReplacePolicy)",
    r"/Resources/CatalogTable/Properties/PointInTimeRecoverySpecification/PointInTimeRecoveryEnabled",
    r"/Mappings/StageSettings/<stage>/(DeletionProtection|DeletedVersionDays|QuarantineDays)",
    r"/Resources/[A-Za-z]+LogGroup/Properties/RetentionInDays",
    r"/Resources/[A-Za-z]+/Properties/Environment/Variables/(CARTABLE_JWT_ISSUER|CARTABLE_JWKS_URL|CARTABLE_STAGE)",
    r"/Parameters/IdentityProviderOrigin/Default",  # the page's provider, the realm's host
    r"/Mappings/ApiThrottling/<stage>/[A-Za-z]+",
    r"/Mappings/StageSettings/<stage>/ScanConcurrency",
)


def test_prod_differs_from_a_staging_only_in_its_protections(packaged: dict[str, dict[str, Any]]) -> None:
    staging, prod = (_normalised(packaged[stage], stage) for stage in (STAGINGS[1], "prod"))
    differences = _differences(staging, prod)
    unexplained = [d for d in differences if not any(re.fullmatch(p, d) for p in PROTECTIONS)]
    assert unexplained == []
    for must in ("/Resources/CatalogTable/DeletionPolicy", "/Resources/FilesBucket/DeletionPolicy",
                 "/Mappings/StageSettings/<stage>/DeletionProtection",
                 "/Resources/CatalogTable/Properties/PointInTimeRecoverySpecification/PointInTimeRecoveryEnabled",
                 "/Resources/ApiHandlerLogGroup/Properties/RetentionInDays"):  # fmt: skip
        assert must in differences, must
    alarms = {n for n, r in packaged["prod"]["Resources"].items() if r["Type"] == "AWS::CloudWatch::Alarm"}
    assert len(alarms) >= 5, "prod keeps its alarms (and a staging has the same, to test them)"
