"""`make package`: `chalice package` (SAM) per stage, offline, with `infra/resources.json` merged in.

The merge template is first pinned to the stage (its `Stage` parameter then allows only that
stage), so a dev package cannot be deployed with prod's retention or the reverse, and to the
functions' runtime (the layer's `CompatibleRuntimes`). Beside `sam.json` and `deployment.zip` lands
`libmagic-layer.zip`, the layer bringing libmagic to the scan handler (infra/libmagic.py). No AWS
call is made, and none could be: chalice runs without credentials, profile or instance metadata.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from infra.gateway import with_gateway_responses
from infra.libmagic import LAYER_ZIP, LayerError, build_layer

ROOT = Path(__file__).resolve().parents[1]
MERGE_TEMPLATE = ROOT / "infra" / "resources.json"
OUTPUT = ROOT / ".build" / "package"
STAGES = ("dev", "prod")
REGION = "eu-west-3"
LAYERS = ("LibmagicLayer",)  # the merge template's layers, made for the functions' runtime
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
    REST API's Gateway Responses made from `policies/gateway/responses.json` (infra/gateway.py)."""
    if stage not in STAGES:
        raise ValueError(f"stage must be one of {', '.join(STAGES)}, not {stage!r}")
    pinned: dict[str, Any] = json.loads(json.dumps(template if template is not None else load_template()))
    parameter = pinned["Parameters"]["Stage"]
    parameter["AllowedValues"] = [stage]
    parameter["Default"] = stage
    for name in LAYERS:
        if name in pinned["Resources"]:
            pinned["Resources"][name]["Properties"]["CompatibleRuntimes"] = [lambda_runtime()]
    return with_gateway_responses(pinned)  # policies/gateway/responses.json, as the local gateway answers


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
    """Package `stage` into `output/<stage>/` (sam.json, deployment.zip, the layer); answers the template's path."""
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
    subprocess.run(command, cwd=ROOT, env=offline_env(os.environ), check=True)  # noqa: S603
    add_runtime_data(target / "deployment.zip")
    layer.replace(target / LAYER_ZIP)  # the template's ContentUri, beside it
    return target / "sam.json"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Package Cartable for AWS (SAM), offline.")
    parser.add_argument("stages", nargs="*", metavar="STAGE", help=f"{' and/or '.join(STAGES)} (default: both)")
    parser.add_argument("--output", type=Path, default=OUTPUT, help="directory for <stage>/sam.json")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.stages) - set(STAGES))
    if unknown:
        parser.error(f"unknown stage {', '.join(unknown)}: choose from {', '.join(STAGES)}")
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
