"""The pipelines (.gitlab-ci.yml, .github/workflows/): valid against their published schemas, offline, and
doing what the README says: check, test and package every branch, deploy its staging with federated
credentials, deploy prod from main only after an approval, tear a deleted branch's staging down.

The schemas are those check-jsonschema bundles (its `vendor.gitlab-ci` and `vendor.github-workflows`);
it runs behind a proxy that does not exist, so a schema fetched from the network would fail the test.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHECK = Path(sys.executable).parent / "check-jsonschema"
GITLAB = ROOT / ".gitlab-ci.yml"
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
NOWHERE = "http://127.0.0.1:9"  # the discard port: nothing answers


def _offline_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("no_proxy", "http_proxy", "https_proxy")}
    return env | {"HTTP_PROXY": NOWHERE, "HTTPS_PROXY": NOWHERE, "http_proxy": NOWHERE, "https_proxy": NOWHERE}


def check_jsonschema(schema: str, path: Path, *options: str) -> subprocess.CompletedProcess[str]:
    command = [str(CHECK), "--builtin-schema", schema, *options, str(path)]
    return subprocess.run(command, capture_output=True, text=True, env=_offline_env(), timeout=120, check=False)


def _gitlab(path: Path) -> subprocess.CompletedProcess[str]:
    return check_jsonschema("vendor.gitlab-ci", path, "--data-transform", "gitlab-ci")  # reads !reference


def _github(path: Path) -> subprocess.CompletedProcess[str]:
    return check_jsonschema("vendor.github-workflows", path)


class _GitLabLoader(yaml.SafeLoader):
    """YAML with GitLab's `!reference [job, key]` read as that list."""


_GitLabLoader.add_constructor("!reference", lambda loader, node: loader.construct_sequence(node))


def gitlab() -> dict[str, Any]:
    document: dict[str, Any] = yaml.load(GITLAB.read_text(encoding="utf-8"), Loader=_GitLabLoader)
    return document


def workflow() -> dict[str, Any]:
    (path,) = WORKFLOWS
    document: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    document["on"] = document.pop(True, document.get("on"))  # YAML 1.1 reads the key `on` as True
    return document


# -- the schemas ---------------------------------------------------------------------------------------------


def test_the_schemas_are_bundled() -> None:
    assert CHECK.exists(), "check-jsonschema is in requirements-dev.in"
    from check_jsonschema.builtin_schemas import vendor  # type: ignore[import-untyped]

    bundled = Path(vendor.__file__).parent
    assert (bundled / "gitlab-ci.json").is_file() and (bundled / "github-workflows.json").is_file()


def test_gitlab_ci_is_valid() -> None:
    answer = _gitlab(GITLAB)
    assert answer.returncode == 0, answer.stdout + answer.stderr


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda path: path.name)
def test_github_workflow_is_valid(path: Path) -> None:
    answer = _github(path)
    assert answer.returncode == 0, answer.stdout + answer.stderr


def test_the_schemas_refuse_a_broken_pipeline(tmp_path: Path) -> None:
    """The validation is real: a misspelt key fails each file."""
    broken = tmp_path / "gitlab-ci.yml"
    broken.write_text(
        GITLAB.read_text(encoding="utf-8").replace("  script:\n    - make lint", "  scripts:\n    - make lint")
    )
    assert _gitlab(broken).returncode == 1
    (path,) = WORKFLOWS
    broken = tmp_path / "workflow.yml"
    broken.write_text(path.read_text(encoding="utf-8").replace("runs-on: ubuntu-24.04", "run-on: ubuntu-24.04", 1))
    assert _github(broken).returncode == 1


# -- what GitLab CI does --------------------------------------------------------------------------------------


def _scripts(job: dict[str, Any], pipeline: dict[str, Any]) -> str:
    """A job's commands, with what it extends, as one text."""
    parts = [job.get("before_script"), job.get("script")]
    for parent in [job["extends"]] if isinstance(job.get("extends"), str) else job.get("extends", []):
        parts.append(_scripts(pipeline[parent], pipeline))
    return yaml.safe_dump(parts)


def test_gitlab_checks_tests_and_packages_every_branch() -> None:
    pipeline = gitlab()
    commands = {name: _scripts(job, pipeline) for name, job in pipeline.items() if isinstance(job, dict)}
    assert "make lint" in commands["lint"] and "make typecheck" in commands["typecheck"]
    assert "make test" in commands["test"] and 'make package STAGE="$STAGE"' in commands["package"]
    assert "python3 -m infra.stages" in commands["stage-name"], "the branch's staging, named by infra/stages.py"
    assert pipeline["stage-name"]["artifacts"]["reports"]["dotenv"] == "stage.env"


def test_gitlab_gets_aws_credentials_by_oidc_only() -> None:
    pipeline = gitlab()
    text = GITLAB.read_text(encoding="utf-8")
    assert "AWS_SECRET_ACCESS_KEY:" not in text and "AWS_ACCESS_KEY_ID:" not in text, "no stored key"
    assert pipeline[".aws"]["id_tokens"]["AWS_ID_TOKEN"]["aud"]
    assert "aws sts assume-role-with-web-identity" in _scripts(pipeline[".aws"], pipeline)
    for name in ("deploy-staging", "teardown-staging", "deploy-prod"):
        job = pipeline[name]
        assert ".aws" in _scripts(job, pipeline) or job.get("extends") in (".aws", ".deploy"), name
        assert job["variables"]["ROLE_ARN"] == ("$PROD_ROLE_ARN" if name == "deploy-prod" else "$STAGING_ROLE_ARN")


def test_gitlab_deploys_prod_from_main_after_an_approval_and_stops_stagings() -> None:
    pipeline = gitlab()
    prod = pipeline["deploy-prod"]
    (rule,) = prod["rules"]
    assert rule == {"if": "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH", "when": "manual"}
    assert prod["environment"]["name"] == "prod" and prod["allow_failure"] is False
    staging, teardown = pipeline["deploy-staging"], pipeline["teardown-staging"]
    assert staging["rules"] == [{"if": "$CI_COMMIT_BRANCH != $CI_DEFAULT_BRANCH"}]
    assert staging["environment"]["on_stop"] == "teardown-staging"
    assert teardown["environment"] == {"name": staging["environment"]["name"], "action": "stop"}
    assert teardown["variables"]["GIT_STRATEGY"] == "none", "the branch may be gone"
    assert {"infra/", "requirements.txt"} <= set(pipeline["package"]["artifacts"]["paths"]), "the teardown's code"
    assert "infra.staging teardown" in _scripts(teardown, pipeline)
    assert "infra.staging seed" in _scripts(staging, pipeline)


# -- what GitHub Actions does ---------------------------------------------------------------------------------


def _runs(job: dict[str, Any]) -> str:
    return "\n".join(step.get("run", "") for step in job["steps"])


def test_github_checks_tests_and_packages_every_branch_and_tears_down_deleted_ones() -> None:
    flow = workflow()
    assert set(flow["on"]) == {"push", "pull_request", "delete"}
    jobs = flow["jobs"]
    assert "make lint" in _runs(jobs["lint"]) and "make typecheck" in _runs(jobs["typecheck"])
    assert "make test" in _runs(jobs["test"]) and 'make package STAGE="$STAGE"' in _runs(jobs["package"])
    assert "python3 -m infra.stages" in _runs(jobs["stage"])
    assert "github.event.ref" in jobs["stage"]["steps"][1]["env"]["BRANCH"], "a deleted branch names its stage"
    teardown = jobs["teardown-staging"]
    assert "github.event_name == 'delete'" in teardown["if"] and "infra.staging teardown" in _runs(teardown)
    assert "infra.staging seed" in _runs(jobs["deploy-staging"])


def test_github_gets_aws_credentials_by_oidc_only() -> None:
    flow = workflow()
    (path,) = WORKFLOWS
    assert "secrets." not in path.read_text(encoding="utf-8"), "no stored key"
    assert flow["permissions"] == {"contents": "read"}
    assuming = {name: job for name, job in flow["jobs"].items() if "configure-aws-credentials" in str(job["steps"])}
    assert set(assuming) == {"deploy-staging", "deploy-prod", "teardown-staging"}
    for name, job in assuming.items():
        assert job["permissions"]["id-token"] == "write", name
        (step,) = (s for s in job["steps"] if "configure-aws-credentials" in s.get("uses", ""))
        assert set(step["with"]) == {"role-to-assume", "role-session-name", "aws-region"}, name
        role = "PROD_ROLE_ARN" if name == "deploy-prod" else "STAGING_ROLE_ARN"
        assert step["with"]["role-to-assume"] == "${{ vars." + role + " }}", name


def test_github_deploys_prod_from_main_only_in_its_approved_environment() -> None:
    jobs = workflow()["jobs"]
    prod = jobs["deploy-prod"]
    assert prod["environment"]["name"] == "prod" and "== 'prod'" in prod["if"]
    assert "github.event_name == 'push'" in prod["if"]
    for name in ("deploy-staging", "teardown-staging"):
        assert jobs[name]["environment"]["name"].startswith("staging-") and "!= 'prod'" in jobs[name]["if"], name
    assert 'if [ "$BRANCH" = "$DEFAULT" ]; then stage=prod' in _runs(jobs["stage"]), "main, and main only, is prod"


def test_both_publish_the_page_after_each_deploy() -> None:
    """The stack first (its bucket and distribution), then web/ with the stage's config.json (infra/publish_web.py)."""
    pipeline = gitlab()
    deploy = "\n".join(pipeline[".deploy"]["script"])
    assert deploy.index("aws cloudformation deploy") < deploy.index('infra.publish_web --stage "$STAGE"')
    assert pipeline["deploy-staging"]["script"][0] == [".deploy", "script"], "a staging publishes as prod does"
    assert pipeline["deploy-prod"]["extends"] == ".deploy"
    assert pipeline["deploy-prod"]["variables"]["STACK_WEB_DOMAIN_NAME"] == "$WEB_DOMAIN_NAME"
    jobs = workflow()["jobs"]
    for name, stage in (("deploy-staging", '"$STAGE"'), ("deploy-prod", "prod")):
        runs = _runs(jobs[name])
        assert runs.index("aws cloudformation deploy") < runs.index(f"infra.publish_web --stage {stage}"), name
        assert any(step.get("uses", "").startswith("actions/checkout@") for step in jobs[name]["steps"]), name
    assert "WebDomainName=$WEB_DOMAIN_NAME" in _runs(jobs["deploy-prod"])
