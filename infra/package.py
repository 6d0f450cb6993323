"""`make package`: `chalice package` (SAM) per stage, offline, with `infra/resources.json` merged in.

The merge template is first pinned to the stage (its `Stage` parameter then allows only that
stage), so a dev package cannot be deployed with prod's retention or the reverse, and to the
functions' runtime (the layer's `CompatibleRuntimes`). Besides `dev` and `prod`, any name is a
staging (infra/stages.py): dev's settings under its own name, in its own stack, without prod's
protections, so it can be torn down whole; chalice gets its stage entry in a temporary copy of the
project's `.chalice/config.json`, never in the tree. Beside `sam.json` and `deployment.zip` lands
`libmagic-layer.zip`, the layer bringing libmagic to the scan handler (infra/libmagic.py), and `k8s/`,
the clamd fleet's manifests in the stage's own namespace (the sovereign layout). No AWS
call is made, and none could be: chalice runs without credentials, profile or instance metadata.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from infra import stages
from infra.gateway import with_gateway_responses
from infra.libmagic import LAYER_ZIP, LayerError, build_layer

ROOT = Path(__file__).resolve().parents[1]
MERGE_TEMPLATE = ROOT / "infra" / "resources.json"
OUTPUT = ROOT / ".build" / "package"
STAGES = stages.NAMED  # what `make package` builds by default; any staging's name is accepted too
CHALICE_CONFIG = ROOT / ".chalice" / "config.json"
SCANNER_MANIFESTS = ROOT / "functions" / "scanner" / "k8s"
EXTERNAL_DNS = "external-dns.alpha.kubernetes.io/hostname"  # the annotation external-dns publishes
# What chalice reads of the project beside its config (the IAM policies are ../policies/iam/ from it).
PROJECT_FILES = ("app.py", "chalicelib", "requirements.txt", "policies", "vendor")
REGION = "eu-west-3"
LAYERS = ("LibmagicLayer",)  # the merge template's layers, made for the functions' runtime
# The merge template's own small functions (custom resources), their code inlined from infra/.
INLINE_FUNCTIONS = {"FilesBucketCorsFunction": ROOT / "infra" / "bucket_cors.py"}
# Names that would let chalice (or botocore under it) reach a real account.
_CREDENTIALS = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
)


def load_template(path: Path = MERGE_TEMPLATE) -> dict[str, Any]:
    """The merge template as a dict."""
    template: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return template


def lambda_runtime() -> str:
    """The runtime `chalice package` gives the functions: that of the interpreter running it (this one)."""
    from chalice.config import Config

    return Config().lambda_python_version


def pinned_template(stage: str, template: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The merge template with its `Stage` parameter fixed to `stage`, its layers to the runtime, and the
    REST API's Gateway Responses made from `policies/gateway/responses.json` (infra/gateway.py), the page's
    identity provider to its stage's and the custom resources' code inlined; a staging gets dev's mappings
    under its name and loses prod's protections (`as_staging`)."""
    stages.check(stage)
    pinned: dict[str, Any] = json.loads(json.dumps(template if template is not None else load_template()))
    if stages.is_staging(stage):
        as_staging(pinned, stage)
    parameter = pinned["Parameters"]["Stage"]
    parameter["AllowedValues"] = [stage]
    parameter["Default"] = stage
    if "IdentityProviderOrigin" in pinned["Parameters"]:  # the page's CSP lets it call the stage's provider
        pinned["Parameters"]["IdentityProviderOrigin"]["Default"] = identity_provider_origin(stage)
    for name in LAYERS:
        if name in pinned["Resources"]:
            pinned["Resources"][name]["Properties"]["CompatibleRuntimes"] = [lambda_runtime()]
    for name, source in INLINE_FUNCTIONS.items():
        if name in pinned["Resources"]:
            function = pinned["Resources"][name]["Properties"]
            function["Runtime"] = lambda_runtime()
            function["Code"] = {"ZipFile": source.read_text(encoding="utf-8")}
    return with_gateway_responses(pinned)  # policies/gateway/responses.json, as the local gateway answers


def identity_provider_origin(stage: str, config: Mapping[str, Any] | None = None) -> str:
    """The origin (`https://host[:port]`) of the identity provider `stage`'s API trusts (its CARTABLE_JWT_ISSUER,
    a staging's dev's), which the page calls for discovery and tokens; empty when the stage names none."""
    variables = chalice_config(stage, config)["stages"][stage].get("environment_variables", {})
    issuer = urlsplit(variables.get("CARTABLE_JWT_ISSUER", ""))
    return f"{issuer.scheme}://{issuer.netloc}" if issuer.scheme and issuer.netloc else ""


# What `Retain` keeps, a staging deletes: its bucket, table and secrets go with its stack.
_KEPT = ("DeletionPolicy", "UpdateReplacePolicy")


def as_staging(template: dict[str, Any], stage: str) -> None:
    """Make `template` a staging's, in place: every mapping's dev entry copied under `stage` (sizing,
    retention, no deletion protection), and nothing kept after its stack nor restorable to a point in
    time. Names, alarms and everything else stay as in prod: a staging tests what prod runs."""
    for mapping in template.get("Mappings", {}).values():
        mapping[stage] = json.loads(json.dumps(mapping[stages.BASE]))
    template["Mappings"]["StageSettings"][stage]["MetricsNamespace"] = metrics_namespace(stage)
    for resource in template["Resources"].values():
        for policy in _KEPT:
            if resource.get(policy) == "Retain":
                resource[policy] = "Delete"
        recovery = resource.get("Properties", {}).get("PointInTimeRecoverySpecification")
        if recovery is not None:
            recovery["PointInTimeRecoveryEnabled"] = False


def metrics_namespace(stage: str) -> str:
    """Where `stage`'s functions write their metrics, which its alarms watch: a staging's own, so a team's
    failing clamd never wakes prod's alarm (dev and prod keep `Cartable`, as they were deployed)."""
    return f"Cartable/{stage}" if stages.is_staging(stage) else "Cartable"


def clamd_address(stage: str) -> str:
    """The clamd fleet of `stage`: its own, in the namespace `cartable-<stage>` (the address dev and prod use)."""
    return f"tcp://clamd.cartable-{stages.check(stage)}.internal:3310"


def chalice_config(stage: str, config: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The project's chalice config, with an entry for `stage` when it is a staging: dev's, with its own
    clamd fleet and metrics (the identity realm stays dev's, whose accounts are test people, never pupils)."""
    derived: dict[str, Any] = json.loads(
        json.dumps(config if config is not None else json.loads(CHALICE_CONFIG.read_text(encoding="utf-8")))
    )
    if stages.is_staging(stage):
        entry = json.loads(json.dumps(derived["stages"][stages.BASE]))
        variables = entry.setdefault("environment_variables", {})
        variables["CARTABLE_CLAMD_ADDRESS"] = clamd_address(stage)
        variables["POWERTOOLS_METRICS_NAMESPACE"] = metrics_namespace(stage)
        derived["stages"][stage] = entry
    return derived


@contextmanager
def project_for(stage: str) -> Iterator[Path]:
    """The directory `chalice package` runs in: the project itself for dev and prod; for a staging, a
    temporary one holding links to the project's files and a config with the staging's entry
    (chalice's dependency cache, .chalice/deployments, is shared, so a staging packages as fast)."""
    if not stages.is_staging(stage):
        yield ROOT
        return
    with tempfile.TemporaryDirectory(prefix=f"cartable-{stage}-") as scratch:
        project = Path(scratch)
        for name in PROJECT_FILES:
            if (ROOT / name).exists():
                (project / name).symlink_to(ROOT / name)
        (project / ".chalice").mkdir()
        (ROOT / ".chalice" / "deployments").mkdir(exist_ok=True)
        (project / ".chalice" / "deployments").symlink_to(ROOT / ".chalice" / "deployments")
        config = chalice_config(stage)
        (project / ".chalice" / "config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
        yield project


def scanner_manifests(stage: str, source: Path = SCANNER_MANIFESTS) -> dict[str, str]:
    """The clamd fleet's Kubernetes manifests for `stage` (file name: YAML): a Namespace `cartable-<stage>`
    first, then every object of functions/scanner/k8s/ moved into it, so two stages never share a fleet;
    its Service asks external-dns for the private name the stage's functions dial (`clamd_address`)."""
    import yaml  # type: ignore[import-untyped]  # PyYAML, a tool of the dev venv only

    namespace = f"cartable-{stages.check(stage)}"
    labels = {"app.kubernetes.io/part-of": "cartable", "cartable/stage": stage}
    own = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace, "labels": labels}}
    rendered = {"namespace.yaml": yaml.safe_dump(own, sort_keys=False)}
    for path in sorted(source.glob("*.yaml")):
        documents = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]
        for document in documents:
            document["metadata"]["namespace"] = namespace
            if document["kind"] == "Service":
                host = clamd_address(stage).removeprefix("tcp://").rsplit(":", 1)[0]
                document["metadata"].setdefault("annotations", {})[EXTERNAL_DNS] = host
        rendered[path.name] = yaml.safe_dump_all(documents, sort_keys=False)
    return rendered


# The data the functions read at run time (chalicelib/domain finds them at <code root>/policies/...):
# chalice bundles only app.py, chalicelib/ and vendor/, so they are added to deployment.zip here.
RUNTIME_DATA = ("policies/content/types.json", "policies/sharing/rules.json", "policies/quotas.json")


def add_runtime_data(deployment: Path, names: Sequence[str] = RUNTIME_DATA) -> None:
    """Add the rules the functions read to the deployment package, at the same paths as in the repo."""
    with zipfile.ZipFile(deployment, "a", compression=zipfile.ZIP_DEFLATED) as bundle:
        present = set(bundle.namelist())
        for name in names:
            if name in present:
                continue
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            bundle.writestr(info, (ROOT / name).read_bytes())


def offline_env(base: Mapping[str, str]) -> dict[str, str]:
    """`base` without any way to reach AWS, with a region set (chalice wants one)."""
    env = {name: value for name, value in base.items() if name not in _CREDENTIALS}
    env.setdefault("AWS_DEFAULT_REGION", REGION)
    env.update(
        {
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
        }
    )
    return env


def package(stage: str, output: Path = OUTPUT, chalice: Path | None = None) -> Path:
    """Package `stage` into `output/<stage>/` (sam.json, deployment.zip, the layer, k8s/); answers sam.json's path."""
    stages.check(stage)
    output.mkdir(parents=True, exist_ok=True)
    merge = output / f"{stage}.merge.json"
    merge.write_text(json.dumps(pinned_template(stage), indent=2) + "\n", encoding="utf-8")
    layer = build_layer(output / f"{stage}.{LAYER_ZIP}")  # first: a machine that cannot fails in a second
    target = output / stage
    shutil.rmtree(target, ignore_errors=True)  # never lint a stale template after a failed run
    command = [
        str(chalice or Path(sys.executable).parent / "chalice"),
        "package",
        "--stage",
        stage,
        "--merge-template",
        str(merge),
        str(target),
    ]
    with project_for(stage) as project:
        subprocess.run(command, cwd=project, env=offline_env(os.environ), check=True)  # noqa: S603
    add_runtime_data(target / "deployment.zip")
    layer.replace(target / LAYER_ZIP)  # the template's ContentUri, beside it
    (target / "k8s").mkdir()
    for name, text in scanner_manifests(stage).items():
        (target / "k8s" / name).write_text(text, encoding="utf-8")
    return target / "sam.json"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Package Cartable for AWS (SAM), offline.")
    parser.add_argument(
        "stages", nargs="*", metavar="STAGE", help=f"{' and/or '.join(STAGES)} (default: both), or a staging's name"
    )
    parser.add_argument("--output", type=Path, default=OUTPUT, help="directory for <stage>/sam.json")
    args = parser.parse_args(argv)
    for stage in args.stages:
        try:
            stages.check(stage)
        except stages.StageError as exc:
            parser.error(str(exc))
    for stage in args.stages or STAGES:
        try:
            path = package(stage, args.output)
        except subprocess.CalledProcessError as exc:
            raise SystemExit(f"chalice package failed for stage {stage} (exit {exc.returncode})") from exc
        except LayerError as exc:
            raise SystemExit(f"the libmagic layer could not be built for stage {stage}: {exc}") from exc
        print(f"{stage}: {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")


if __name__ == "__main__":
    main()
