"""A staging's data (infra/staging.py): the demo school seeded into its table, its bucket emptied before its
stack is deleted, prod never touched. AWS is moto, in process; the stack's outputs come from a real
CloudFormation stack in moto (an SQS queue and a table named as a staging's would be)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from chalicelib.adapters.dynamodb import DynamoCatalog, table_definition
from chalicelib.webapp import DEMO_SCHOOL
from infra import staging
from local.demo import CLASSES

REGION = "eu-west-3"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    with mock_aws():
        yield {name: boto3.client(name, region_name=REGION) for name in ("cloudformation", "dynamodb", "s3")}


def _stack(aws: dict[str, Any], stage: str, bucket: str, table: str, web: str | None = None) -> None:
    """A stack `cartable-<stage>` whose outputs name a bucket and a table (and the page's bucket), as the
    packaged template's do."""
    outputs = {"FilesBucketName": {"Value": bucket}, "CatalogTableName": {"Value": table}}
    if web:
        outputs["WebBucketName"] = {"Value": web}
    template = {"Resources": {"Queue": {"Type": "AWS::SQS::Queue"}}, "Outputs": outputs}
    aws["cloudformation"].create_stack(StackName=f"cartable-{stage}", TemplateBody=json.dumps(template))


def test_prod_is_never_seeded_nor_torn_down_and_dev_never_torn_down(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(staging.RefusedStage):
        staging.seedable("prod")
    for stage in ("prod", "dev"):
        with pytest.raises(staging.RefusedStage):
            staging.disposable(stage)
    assert staging.seedable("dev") == "dev" and staging.disposable("team-maths") == "team-maths"
    for argv in (["seed", "prod"], ["teardown", "prod"], ["teardown", "dev"], ["seed", "Not_A_Stage"]):
        with pytest.raises(SystemExit) as exit_:  # refused by the command line before any AWS call
            staging.main(argv)
        assert exit_.value.code == 2, argv
    assert "real pupils" in capsys.readouterr().err


def test_the_demo_school_is_seeded_into_the_staging_s_table_twice_alike(aws: dict[str, Any]) -> None:
    aws["dynamodb"].create_table(**table_definition("cartable-team-maths-catalog"))
    _stack(aws, "team-maths", "cartable-team-maths-files", "cartable-team-maths-catalog")
    table = staging.stack_outputs(aws["cloudformation"], "team-maths")["CatalogTableName"]
    assert staging.seed_demo_school(aws["dynamodb"], table) == list(CLASSES)
    items = aws["dynamodb"].scan(TableName=table)["Items"]
    assert staging.seed_demo_school(aws["dynamodb"], table) == list(CLASSES)
    assert aws["dynamodb"].scan(TableName=table)["Items"] == items, "seeding again changes nothing"
    catalog = DynamoCatalog(aws["dynamodb"], table)
    for class_id, klass in CLASSES.items():
        record = catalog.get_class(DEMO_SCHOOL, class_id)
        assert record is not None and record.name == klass["name"]
        assert list(record.teachers) == klass["teachers"] and list(record.students) == klass["students"]


def test_teardown_empties_every_version_then_deletes_only_that_stack(aws: dict[str, Any]) -> None:
    s3 = aws["s3"]
    for stage in ("team-a", "team-b"):
        for bucket in (f"cartable-{stage}-files", f"cartable-{stage}-web"):
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
            s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
            for body in (b"v1", b"v2"):
                s3.put_object(Bucket=bucket, Key="files/demo/a.txt", Body=body)
            s3.delete_object(Bucket=bucket, Key="files/demo/a.txt")  # a delete marker
        _stack(aws, stage, f"cartable-{stage}-files", f"cartable-{stage}-catalog", f"cartable-{stage}-web")

    staging.teardown({"cloudformation": aws["cloudformation"], "s3": s3}, "team-a")

    for bucket in ("cartable-team-a-files", "cartable-team-a-web"):  # the files and the page
        left = s3.list_object_versions(Bucket=bucket)
        assert not left.get("Versions") and not left.get("DeleteMarkers"), bucket
        s3.delete_bucket(Bucket=bucket)  # empty, as CloudFormation needs it
    for bucket in ("cartable-team-b-files", "cartable-team-b-web"):
        other = s3.list_object_versions(Bucket=bucket)
        assert len(other["Versions"]) == 2 and len(other["DeleteMarkers"]) == 1, "another team's staging is untouched"
    live = {
        s["StackName"]
        for s in aws["cloudformation"].list_stacks()["StackSummaries"]
        if s["StackStatus"] != "DELETE_COMPLETE"
    }
    assert live == {"cartable-team-b"}
