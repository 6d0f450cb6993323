"""Publishing the page (infra/publish_web.py) and the files bucket's CORS rule (infra/bucket_cors.py).

AWS is moto, in process: the web bucket, the distribution, and a stack whose outputs name them. The page is
published as stage local serves it (chalicelib/webapp.py): same keys, same types, the same configuration.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from moto import mock_aws

from chalicelib.webapp import STATIC_FILES, WebClient
from infra import bucket_cors, publish_web
from infra.package import chalice_config

REGION = "eu-west-3"
ROOT = Path(__file__).resolve().parents[2]
BUCKET = "cartable-team-maths-web-123456789012-eu-west-3"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    with mock_aws():
        clients = {name: boto3.client(name, region_name=REGION) for name in ("cloudformation", "cloudfront", "s3")}
        clients["s3"].create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        clients["s3"].put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        yield clients


def _distribution(cloudfront: Any) -> str:
    config = {
        "CallerReference": "test",
        "Comment": "",
        "Enabled": True,
        "Origins": {
            "Quantity": 1,
            "Items": [
                {
                    "Id": "web",
                    "DomainName": f"{BUCKET}.s3.amazonaws.com",
                    "S3OriginConfig": {"OriginAccessIdentity": ""},
                }
            ],
        },
        "DefaultCacheBehavior": {"TargetOriginId": "web", "ViewerProtocolPolicy": "redirect-to-https"},
    }
    distribution: str = cloudfront.create_distribution(DistributionConfig=config)["Distribution"]["Id"]
    return distribution


def _objects(s3: Any) -> dict[str, dict[str, Any]]:
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])]
    return {key: s3.get_object(Bucket=BUCKET, Key=key) for key in keys}


def test_the_page_is_published_as_stage_local_serves_it(aws: dict[str, Any]) -> None:
    s3 = aws["s3"]
    s3.put_object(Bucket=BUCKET, Key="static/old-view.js", Body=b"gone")  # a file web/ no longer has
    distribution = _distribution(aws["cloudfront"])

    publish_web.main(["--stage", "team-maths", "--bucket", BUCKET, "--distribution-id", distribution], aws)

    objects = _objects(s3)
    web = sorted(p.name for p in (ROOT / "web").iterdir() if p.is_file() and p.name != "index.html")
    assert set(objects) == {"index.html", "static/config.json", *(f"static/{name}" for name in web)}
    page = objects["index.html"]
    assert page["ContentType"] == "text/html; charset=utf-8" and page["CacheControl"] == "no-cache"
    assert page["Body"].read() == (ROOT / "web" / "index.html").read_bytes()
    for name, content_type in STATIC_FILES.items():  # the types stage local serves them with
        item = objects[f"static/{name}"]
        assert item["ContentType"] == content_type, name
        assert item["CacheControl"] == "public, max-age=300", name
        assert item["Body"].read() == (ROOT / "web" / name).read_bytes(), name
    config = objects["static/config.json"]
    assert config["ContentType"] == "application/json" and config["CacheControl"] == "no-cache"
    written = json.loads(config["Body"].read())
    dev = chalice_config("team-maths")["stages"]["dev"]["environment_variables"]
    assert written == {"issuer": dev["CARTABLE_JWT_ISSUER"], "clientId": "cartable-web", "scope": "openid profile"}
    provider = SimpleNamespace(jwt_issuer="i", jwks_url="j", oidc_client_id="c", oidc_scope="s")
    assert set(written) == set(WebClient(provider).configuration()), "the keys stage local's page reads"
    (invalidation,) = aws["cloudfront"].list_invalidations(DistributionId=distribution)["InvalidationList"]["Items"]
    assert invalidation["Status"]


def test_publishing_finds_the_bucket_and_distribution_in_the_stack_and_is_repeatable(aws: dict[str, Any]) -> None:
    distribution = _distribution(aws["cloudfront"])
    outputs = {"WebBucketName": {"Value": BUCKET}, "WebDistributionId": {"Value": distribution}}
    template = {"Resources": {"Queue": {"Type": "AWS::SQS::Queue"}}, "Outputs": outputs}
    aws["cloudformation"].create_stack(StackName="cartable-team-maths", TemplateBody=json.dumps(template))

    publish_web.main(["--stage", "team-maths"], aws)
    first = {key: o["ETag"] for key, o in _objects(aws["s3"]).items()}
    publish_web.main(["--stage", "team-maths"], aws)

    assert {key: o["ETag"] for key, o in _objects(aws["s3"]).items()} == first
    listed = aws["cloudfront"].list_invalidations(DistributionId=distribution)["InvalidationList"]
    assert listed["Quantity"] >= 1


def test_uploads_come_before_the_page_and_unknown_files_are_refused(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("<!doctype html>", encoding="utf-8")
    (tmp_path / "app.js").write_text("export {};", encoding="utf-8")
    (tmp_path / "views").mkdir()
    (tmp_path / "views" / "me.js").write_text("export {};", encoding="utf-8")
    objects = publish_web.web_objects({"issuer": "https://idp"}, tmp_path)
    assert [o.key for o in objects] == ["static/app.js", "static/views/me.js", "static/config.json", "index.html"]
    (tmp_path / "notes.docx").write_bytes(b"PK")
    with pytest.raises(publish_web.PublishError, match=r"notes\.docx"):
        publish_web.web_objects({}, tmp_path)
    (tmp_path / "notes.docx").unlink()
    (tmp_path / "config.json").write_text("{}", encoding="utf-8")
    with pytest.raises(publish_web.PublishError, match="written by this command"):
        publish_web.web_objects({}, tmp_path)


def test_the_stage_must_be_a_deployed_one(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["--stage", "local", "--bucket", BUCKET], ["--stage", "Not_A_Stage", "--bucket", BUCKET]):
        with pytest.raises(SystemExit) as exit_:  # refused before any AWS call
            publish_web.main(argv, {})
        assert exit_.value.code == 2, argv
    assert "local" in capsys.readouterr().err
    without = {"stages": {"dev": {"environment_variables": {}}}}
    with pytest.raises(publish_web.PublishError, match="no identity provider"):
        publish_web.page_configuration("dev", without)


# -- the files bucket's CORS rule (a custom resource: the bucket cannot name the distribution itself) --------


def test_the_cors_rule_names_the_page_and_the_other_origins(aws: dict[str, Any]) -> None:
    s3 = aws["s3"]
    event = {
        "RequestType": "Create",
        "ResourceProperties": {
            "Bucket": BUCKET,
            "Origins": ["https://d111.cloudfront.net", "", "https://a.example.fr,https://b.example.fr"],
        },
    }
    assert bucket_cors.apply(s3, event) == BUCKET
    (rule,) = s3.get_bucket_cors(Bucket=BUCKET)["CORSRules"]
    assert rule["AllowedOrigins"] == ["https://a.example.fr", "https://b.example.fr", "https://d111.cloudfront.net"]
    assert set(rule["AllowedMethods"]) == {"GET", "HEAD", "POST", "PUT"}
    assert set(rule["ExposeHeaders"]) == {"ETag", "Content-Disposition"}
    bucket_cors.apply(s3, {**event, "RequestType": "Delete"})
    with pytest.raises(s3.exceptions.ClientError):
        s3.get_bucket_cors(Bucket=BUCKET)


def test_the_custom_resource_always_answers_cloudformation(
    aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    answers: list[tuple[str, str]] = []
    monkeypatch.setattr(
        bucket_cors, "respond", lambda event, status, physical, reason="": answers.append((status, physical))
    )
    base = {"StackId": "s", "RequestId": "r", "LogicalResourceId": "FilesBucketCors", "ResponseURL": "https://x"}
    bucket_cors.handler(
        {**base, "RequestType": "Create", "ResourceProperties": {"Bucket": BUCKET, "Origins": ["https://d"]}},
        None,
        aws["s3"],
    )
    bucket_cors.handler(
        {**base, "RequestType": "Update", "ResourceProperties": {"Bucket": "no-such-bucket", "Origins": ["https://d"]}},
        None,
        aws["s3"],
    )
    assert answers == [("SUCCESS", BUCKET), ("FAILED", "no-such-bucket")], "a failure is told, never left to time out"
    assert len((ROOT / "infra" / "bucket_cors.py").read_text(encoding="utf-8")) <= 4096, (
        "CloudFormation's ZipFile limit"
    )
