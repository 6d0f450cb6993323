"""Downloads on a front that adds `X-Content-Type-Options: nosniff` (issue 16): a presigned GET keeps S3's path
and signed query and takes the front's scheme and host; settings refuse a front the signature cannot pass.
Presigning is local computation: no request leaves the machine."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from chalicelib import wiring
from chalicelib.adapters.s3 import S3ObjectStore, behind_front
from chalicelib.errors import ConfigurationError
from chalicelib.settings import Settings
from tests.signing import prod_settings, signing_only

BUCKET = "cartable-prod-files-123456789012-eu-west-3"
FRONT = "https://d111111abcdef8.cloudfront.net"


def settings(**extra: str) -> Settings:
    return prod_settings(BUCKET, **extra)


@pytest.fixture(autouse=True)
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    signing_only(monkeypatch, "AKIAEXAMPLEKEY")


def test_the_swap_keeps_path_and_query_exactly() -> None:
    signed = (
        f"https://{BUCKET}.s3.eu-west-3.amazonaws.com/files/f%C3%A9/u%201?response-content-disposition="
        "attachment%3B%20filename%3D%22a%22&X-Amz-Signature=abc%2B%2F"
    )
    swapped = behind_front(signed, FRONT)
    assert swapped == FRONT + signed.removeprefix(f"https://{BUCKET}.s3.eu-west-3.amazonaws.com")
    assert behind_front(signed, None) == signed and behind_front(signed, "") == signed
    local = "http://127.0.0.1:5001/cartable-local-files/files/f1/u1?X-Amz-Signature=1"
    assert (
        behind_front(local, "http://127.0.0.1:5002")
        == "http://127.0.0.1:5002/cartable-local-files/files/f1/u1?X-Amz-Signature=1"
    )


def test_on_aws_a_download_is_signed_for_the_buckets_regional_host_and_answered_on_the_front() -> None:
    config = settings(CARTABLE_DOWNLOAD_ORIGIN=FRONT)
    assert config.s3_addressing_style == "virtual", "the default behind a front on AWS S3"
    client = wiring.aws_client("s3", config)
    signed = client.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": "files/f1/u1"})
    # The front's S3 origin is the bucket's RegionalDomainName; S3 checks the signature against that Host.
    assert urlsplit(signed).netloc == f"{BUCKET}.s3.eu-west-3.amazonaws.com"
    assert urlsplit(signed).path == "/files/f1/u1"

    url = S3ObjectStore(client, BUCKET, download_origin=config.download_origin).presign_get(
        "files/f1/u1", "Exposé « final ».pdf", "application/pdf", 300
    )
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == FRONT and parts.path == "/files/f1/u1"
    query = parse_qs(parts.query)
    assert query["response-content-type"] == ["application/pdf"]
    assert query["response-content-disposition"][0].startswith("attachment; ")
    assert query["X-Amz-SignedHeaders"] == ["host"] and query["X-Amz-Expires"] == ["300"]


def test_without_a_front_downloads_stay_on_s3() -> None:
    config = settings()
    assert config.download_origin is None and config.s3_addressing_style == "auto"
    objects = S3ObjectStore(wiring.aws_client("s3", config), BUCKET, download_origin=config.download_origin)
    assert urlsplit(objects.presign_get("files/f1/u1", "a.txt", "text/plain", 60)).netloc.startswith(BUCKET)


def test_a_store_with_its_own_endpoint_may_use_either_style() -> None:
    for style in ("path", "virtual", "auto"):
        config = settings(
            CARTABLE_DOWNLOAD_ORIGIN="https://files.cartable.example",
            CARTABLE_S3_ENDPOINT="https://s3.gra.io.cloud.ovh.net",
            CARTABLE_S3_ADDRESSING_STYLE=style,
        )
        assert config.download_origin == "https://files.cartable.example"
    local = Settings.from_env(
        {
            "CARTABLE_STAGE": "local",
            "AWS_DEFAULT_REGION": "eu-west-3",
            "CARTABLE_BUCKET": "b",
            "CARTABLE_TABLE": "t",
            "CARTABLE_S3_ENDPOINT": "http://127.0.0.1:5001",
            "CARTABLE_DOWNLOAD_ORIGIN": "http://127.0.0.1:5002/",
        }
    )
    assert local.download_origin == "http://127.0.0.1:5002" and local.s3_addressing_style == "path"


@pytest.mark.parametrize("style", ["path", "auto"])
def test_a_front_on_aws_s3_refuses_a_style_that_signs_another_host(style: str) -> None:
    with pytest.raises(ConfigurationError, match="CARTABLE_S3_ADDRESSING_STYLE=virtual"):
        settings(CARTABLE_DOWNLOAD_ORIGIN=FRONT, CARTABLE_S3_ADDRESSING_STYLE=style)


@pytest.mark.parametrize(
    "origin",
    [
        "http://d111111abcdef8.cloudfront.net",  # plain http outside stage local
        f"{FRONT}/files",  # a path would be put before the key
        f"{FRONT}?a=1",
        "https://user@d111111abcdef8.cloudfront.net",
        "d111111abcdef8.cloudfront.net",
        "https://",
        "https://d111111abcdef8.cloudfront.net:port",
    ],
)
def test_a_download_origin_is_an_origin(origin: str) -> None:
    with pytest.raises(ConfigurationError, match="CARTABLE_DOWNLOAD_ORIGIN must be an origin"):
        settings(CARTABLE_DOWNLOAD_ORIGIN=origin)
