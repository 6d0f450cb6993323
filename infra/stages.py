"""Which stages Cartable packages and deploys, and how a branch or a team names its staging.

Two stages live for good: `dev` and `prod`. Any other name is a staging, a disposable copy of `dev`
for one team or one branch (`make package STAGE=team-maths`), named and isolated by that name, so
two stagings never share a bucket, a table, a queue or a namespace. Only the standard library is
used: the pipelines run `python -m infra.stages <branch>` before any dependency is installed.
"""

from __future__ import annotations

import hashlib
import re
import sys
from collections.abc import Sequence

PRODUCTION = "prod"
BASE = "dev"  # a staging takes dev's settings (identity realm, sizing); prod alone is protected
NAMED = (BASE, PRODUCTION)
LOCAL = "local"  # the local stack's (make dev), never packaged
# The longest physical name made of a stage is the bucket's, `cartable-<stage>-files-<account>-<region>`:
# 63 characters at most, 43 without the stage (a 14-character region such as ap-southeast-3).
MAX_LENGTH = 20
_NAME = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?")
_HASHED_PREFIX = MAX_LENGTH - 5  # room for '-' and 4 hexadecimal digits


class StageError(ValueError):
    """A stage name that would not make valid, distinct resource names."""


def check(stage: str) -> str:
    """`stage` if it names a stage that can be packaged: dev, prod, or a staging's valid name."""
    if stage == LOCAL:
        raise StageError("stage 'local' is the local stack's (make dev); it is never packaged")
    if len(stage) > MAX_LENGTH or not _NAME.fullmatch(stage):
        raise StageError(
            f"stage {stage!r}: 1 to {MAX_LENGTH} characters among a-z, 0-9 and '-', "
            "starting and ending with a letter or digit"
        )
    return stage


def is_staging(stage: str) -> bool:
    """True for a team's or a branch's staging: anything but the two stages that live for good."""
    return check(stage) not in NAMED


def for_branch(branch: str) -> str:
    """The staging of a git branch: its slug (lowercase, runs of other characters as '-'), or, when
    that slug is too long or names a stage of its own (`prod`, `dev`, `local`), its first characters
    and a digest of the branch, so two long branch names sharing a prefix still get two stagings."""
    slug = re.sub(r"[^a-z0-9]+", "-", branch.lower()).strip("-")
    if slug and len(slug) <= MAX_LENGTH and slug not in (*NAMED, LOCAL):
        return check(slug)
    digest = hashlib.sha256(branch.encode()).hexdigest()[:4]
    prefix = slug[:_HASHED_PREFIX].rstrip("-") or "branch"
    return check(f"{prefix}-{digest}")


def stack_name(stage: str) -> str:
    """The CloudFormation stack of a stage: the functions' log groups are `/aws/lambda/<stack>-<Function>-*`,
    and their IAM policies (policies/iam/) allow them no other."""
    return f"cartable-{check(stage)}"


def main(argv: Sequence[str] | None = None) -> None:
    """`python -m infra.stages BRANCH`: print the staging that branch deploys to."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        raise SystemExit("usage: python -m infra.stages BRANCH")
    print(for_branch(args[0]))


if __name__ == "__main__":
    main()
