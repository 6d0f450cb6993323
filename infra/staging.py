"""A deployed staging's data: the demo school seeded after each deploy, everything emptied before teardown.

    python -m infra.staging seed STAGE       # the demo school's classes into the staging's table
    python -m infra.staging teardown STAGE   # empty its buckets (every version), delete its stack

A staging never holds real pupils' data: it is seeded with the demo school of `make dev` (local/demo.py:
fictional people of the school `demo`, the accounts of dev's identity realm) and nothing else. Both
commands refuse `prod` before any AWS call; teardown refuses `dev` too (it lives for good). They find
the staging's table and buckets in its stack's outputs (CatalogTableName, FilesBucketName, WebBucketName),
with the credentials of the environment (the pipeline's, by OIDC federation).
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from infra import stages

log = logging.getLogger("cartable.staging")


class RefusedStage(ValueError):
    """A command asked of a stage it must never touch."""


def seedable(stage: str) -> str:
    """`stage` if demo data may go there: anything but prod, whose people are real."""
    if stages.check(stage) == stages.PRODUCTION:
        raise RefusedStage("prod holds real pupils: the demo school is never seeded there")
    return stage


def disposable(stage: str) -> str:
    """`stage` if it may be torn down: a staging, never dev or prod."""
    if not stages.is_staging(stage):
        raise RefusedStage(f"{stage} lives for good: only a staging is torn down")
    return stage


def stack_outputs(cloudformation: Any, stage: str) -> dict[str, str]:
    """The outputs of the stage's stack (`cartable-<stage>`), by key."""
    (stack,) = cloudformation.describe_stacks(StackName=stages.stack_name(stage))["Stacks"]
    return {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}


def seed_demo_school(dynamodb: Any, table: str) -> list[str]:
    """Put the demo school's classes (teachers and pupils) as its admin would, through the roster service;
    a class is replaced, never doubled, so seeding after every deploy is safe. Answers the class ids."""
    from chalicelib.adapters.dynamodb import DynamoCatalog
    from chalicelib.domain.access import AccessControl
    from chalicelib.domain.models import Principal, Role
    from chalicelib.domain.permissions import load_rules
    from chalicelib.domain.roster import RosterService
    from chalicelib.webapp import DEMO_SCHOOL, DEMO_USERS
    from local.demo import CLASSES

    catalog = DynamoCatalog(dynamodb, table)
    roster = RosterService(catalog, AccessControl(catalog, load_rules()))
    admin = next(user for user in DEMO_USERS if user.role is Role.ADMIN)
    principal = Principal(admin.id, DEMO_SCHOOL, Role.ADMIN)
    for class_id, klass in CLASSES.items():
        roster.put_class(principal, class_id, klass)
    return list(CLASSES)


def empty_bucket(s3: Any, bucket: str) -> int:
    """Delete every version and delete marker of a versioned bucket (CloudFormation deletes only an
    empty one); answers how many were deleted."""
    deleted = 0
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        objects = [
            {"Key": item["Key"], "VersionId": item["VersionId"]}
            for item in (*page.get("Versions", []), *page.get("DeleteMarkers", []))
        ]
        if objects:  # a page holds at most 1,000 keys, delete_objects' limit
            s3.delete_objects(Bucket=bucket, Delete={"Objects": objects, "Quiet": True})
            deleted += len(objects)
    return deleted


def teardown(clients: Mapping[str, Any], stage: str) -> None:
    """Empty the staging's buckets (its files, its web page), then delete its stack and wait for it to be gone."""
    disposable(stage)
    outputs = stack_outputs(clients["cloudformation"], stage)
    for bucket in filter(None, (outputs.get("FilesBucketName"), outputs.get("WebBucketName"))):
        log.info("%s: %d object versions deleted from %s", stage, empty_bucket(clients["s3"], bucket), bucket)
    name = stages.stack_name(stage)
    clients["cloudformation"].delete_stack(StackName=name)
    clients["cloudformation"].get_waiter("stack_delete_complete").wait(StackName=name)
    log.info("%s: stack %s deleted", stage, name)


def _client(service: str) -> Any:
    """A client with the environment's credentials and region (the pipeline's role)."""
    import boto3

    session: Any = boto3.session.Session()
    return session.client(service)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Seed or tear down a deployed staging.")
    parser.add_argument("command", choices=("seed", "teardown"))
    parser.add_argument("stage", help="the staging's name (python -m infra.stages BRANCH gives a branch's)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    try:
        if args.command == "seed":
            seedable(args.stage)
            table = stack_outputs(_client("cloudformation"), args.stage)["CatalogTableName"]
            classes = seed_demo_school(_client("dynamodb"), table)
            log.info("%s: the demo school's classes %s in %s", args.stage, ", ".join(classes), table)
        else:
            teardown({"cloudformation": _client("cloudformation"), "s3": _client("s3")}, args.stage)
    except (RefusedStage, stages.StageError) as exc:
        parser.error(str(exc))


if __name__ == "__main__":
    main()
