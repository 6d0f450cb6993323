"""`make package`: `chalice package` (SAM) per stage, offline, with `infra/resources.json` merged in.

The merge template is first pinned to the stage (its `Stage` parameter then allows only that
stage), so a dev package cannot be deployed with prod's retention or the reverse. No AWS call is
made, and none could be: chalice runs without credentials, profile or instance metadata.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
MERGE_TEMPLATE = ROOT / "infra" / "resources.json"
OUTPUT = ROOT / ".build" / "package"
STAGES = ("dev", "prod")
REGION = "eu-west-3"
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


def pinned_template(stage: str, template: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The merge template with its `Stage` parameter fixed to `stage`."""
    if stage not in STAGES:
        raise ValueError(f"stage must be one of {', '.join(STAGES)}, not {stage!r}")
    pinned: dict[str, Any] = json.loads(json.dumps(template if template is not None else load_template()))
    parameter = pinned["Parameters"]["Stage"]
    parameter["AllowedValues"] = [stage]
    parameter["Default"] = stage
    return pinned


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
    """Package `stage` into `output/<stage>/` (sam.json and deployment.zip); answers the template's path."""
    output.mkdir(parents=True, exist_ok=True)
    merge = output / f"{stage}.merge.json"
    merge.write_text(json.dumps(pinned_template(stage), indent=2) + "\n", encoding="utf-8")
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
        print(f"{stage}: {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")


if __name__ == "__main__":
    main()
