"""Sovereign storage: presigned URLs point at the configured S3-compatible endpoint, and no code
assumes AWS's own hostnames. Presigning is local computation: no request leaves the machine."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from chalicelib import wiring
from chalicelib.adapters.s3 import S3ObjectStore
from chalicelib.settings import Settings
from tests.signing import prod_settings, signing_only

ROOT = Path(__file__).resolve().parents[2]
ENDPOINT = "https://s3.sovereign.example"
BUCKET = "cartable-files"


def settings(**extra: str) -> Settings:
    return prod_settings(BUCKET, **extra)


@pytest.fixture(autouse=True)
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    signing_only(monkeypatch, "SCWEXAMPLEKEY")


def store(config: Settings) -> S3ObjectStore:
    return S3ObjectStore(wiring.aws_client("s3", config), config.bucket)


@pytest.mark.parametrize(
    ("style", "base"),
    [("path", f"{ENDPOINT}/{BUCKET}"), ("virtual", f"https://{BUCKET}.s3.sovereign.example")],
)
def test_presigned_urls_point_at_the_configured_endpoint(style: str, base: str) -> None:
    config = settings(CARTABLE_S3_ENDPOINT=ENDPOINT, CARTABLE_S3_ADDRESSING_STYLE=style, CARTABLE_S3_REGION="fr-par")
    objects = store(config)

    post = objects.presign_post("incoming/f1/u1", 6, "text/plain", 900)
    assert post.url.rstrip("/") == base
    assert post.fields["key"] == "incoming/f1/u1"
    assert "/fr-par/s3/aws4_request" in post.fields["x-amz-credential"], "signed for the provider's region"

    url = objects.presign_get("files/f1/u1", "devoir.pdf", "application/pdf", 300)
    assert url.startswith(f"{base}/files/f1/u1?")
    query = parse_qs(urlsplit(url).query)
    assert query["X-Amz-Expires"] == ["300"]
    assert "/fr-par/s3/aws4_request" in query["X-Amz-Credential"][0]


def test_archives_use_the_same_endpoint() -> None:
    config = settings(CARTABLE_S3_ENDPOINT=ENDPOINT, CARTABLE_S3_ADDRESSING_STYLE="path", CARTABLE_S3_REGION="fr-par")
    kwargs = wiring.aio_client_kwargs(config)
    assert kwargs["endpoint_url"] == ENDPOINT and kwargs["region_name"] == "fr-par"


def test_other_clients_keep_the_functions_region() -> None:
    config = settings(CARTABLE_S3_REGION="fr-par")
    assert wiring.aws_client("dynamodb", config).meta.region_name == "eu-west-3"
    assert wiring.aws_client("s3", config).meta.region_name == "fr-par"
    assert settings().storage_region == "eu-west-3", "AWS S3: the functions' region"


def test_no_code_assumes_aws_hostnames() -> None:
    """Endpoints and names come from settings; AWS's hostnames are botocore's business."""
    sources = [ROOT / "app.py", *sorted((ROOT / "chalicelib").rglob("*.py"))]
    hostname = re.compile(r"amazonaws\.com", re.IGNORECASE)
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in sources
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if hostname.search(line)
    ]
    assert offenders == []
