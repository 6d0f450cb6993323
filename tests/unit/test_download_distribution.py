"""The download front on AWS (issue 16): a CloudFront distribution of its own before the files bucket,
adding `X-Content-Type-Options: nosniff` to S3's presigned GETs, which S3 cannot be told to answer.

Its own, not the page's distribution: the functions' environment names its domain, and naming the page's
would be a cycle (that distribution routes /v1/* to the API, whose function would name it). cfn-lint, in
tests/unit/test_package.py and `make lint-template`, checks the packaged template has no cycle."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from chalicelib.domain.keys import INCOMING, QUARANTINE, SERVED

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = json.loads((ROOT / "infra" / "resources.json").read_text(encoding="utf-8"))
RESOURCES = TEMPLATE["Resources"]
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
EXPORTS = "exports/"  # where export.py, assignments.py and jobs.py write the ZIPs they answer


def properties(name: str) -> dict[str, Any]:
    value: dict[str, Any] = RESOURCES[name]["Properties"]
    return value


def test_the_functions_answer_downloads_on_the_distribution_signed_for_the_buckets_regional_host() -> None:
    variables = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["CARTABLE_DOWNLOAD_ORIGIN"] == {"Fn::Sub": "https://${DownloadDistribution.DomainName}"}
    # settings would refuse another style: auto signs for the global host, path for s3.<region>/<bucket>.
    assert variables["CARTABLE_S3_ADDRESSING_STYLE"] == "virtual"
    config = properties("DownloadDistribution")["DistributionConfig"]
    (origin,) = config["Origins"]
    assert origin["DomainName"] == {"Fn::GetAtt": ["FilesBucket", "RegionalDomainName"]}, "the host URLs are signed for"
    assert origin["S3OriginConfig"] == {"OriginAccessIdentity": ""} and "OriginAccessControlId" not in origin, (
        "no access control: S3 checks the URL's own signature, CloudFront never signs"
    )
    assert TEMPLATE["Outputs"]["DownloadOrigin"] == {"Value": {"Fn::Sub": "https://${DownloadDistribution.DomainName}"}}


def test_only_the_served_prefixes_forward_the_signature_uncached_with_nosniff() -> None:
    config = properties("DownloadDistribution")["DistributionConfig"]
    headers = {"Ref": "DownloadResponseHeaders"}
    behaviours = {b["PathPattern"]: b for b in config["CacheBehaviors"]}
    assert set(behaviours) == {f"/{SERVED}*", f"/{EXPORTS}*"}
    assert not {f"/{INCOMING}*", f"/{QUARANTINE}*"} & set(behaviours)
    for behaviour in behaviours.values():
        assert behaviour["TargetOriginId"] == "files" and behaviour["CachePolicyId"] == CACHING_DISABLED
        assert behaviour["OriginRequestPolicyId"] == {"Ref": "DownloadOriginRequest"}
        assert behaviour["ResponseHeadersPolicyId"] == headers
        assert behaviour["ViewerProtocolPolicy"] == "https-only" and behaviour["Compress"] is False
        assert set(behaviour["AllowedMethods"]) == {"GET", "HEAD", "OPTIONS"}, "reads, and the page's preflight"
    default = config["DefaultCacheBehavior"]
    # Anything else reaches S3 without its query (no origin request policy): unsigned, refused by the bucket.
    assert "OriginRequestPolicyId" not in default and default["CachePolicyId"] == CACHING_DISABLED
    assert default["ResponseHeadersPolicyId"] == headers and set(default["AllowedMethods"]) == {"GET", "HEAD"}


def test_the_origin_request_forwards_every_query_string_and_never_the_viewers_host() -> None:
    """A custom policy: the managed ones (AllViewer, AllViewerExceptHostHeader...) drop response-content-type
    and response-content-disposition for S3 origins, which would break the signature and the judged type."""
    config = properties("DownloadOriginRequest")["OriginRequestPolicyConfig"]
    assert config["QueryStringsConfig"] == {"QueryStringBehavior": "all"}
    assert config["HeadersConfig"]["HeaderBehavior"] == "whitelist"
    assert "Host" not in config["HeadersConfig"]["Headers"], "S3 checks the signature against its own Host"
    assert "Origin" in config["HeadersConfig"]["Headers"], "S3's CORS answers the page's origin"
    assert config["CookiesConfig"] == {"CookieBehavior": "none"}


def test_downloads_answer_nosniff_and_no_cors_of_cloudfront_s_own() -> None:
    config = properties("DownloadResponseHeaders")["ResponseHeadersPolicyConfig"]
    security = config["SecurityHeadersConfig"]
    assert security["ContentTypeOptions"] == {"Override": True}
    assert security["ContentSecurityPolicy"]["ContentSecurityPolicy"] == "default-src 'none'; sandbox"
    assert security["ReferrerPolicy"]["ReferrerPolicy"] == "no-referrer"
    assert "CorsConfig" not in config, "the bucket's CORS rule (the page's origins) answers, as before the front"
    page = properties("WebResponseHeaders")["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
    csp = page["ContentSecurityPolicy"]["ContentSecurityPolicy"]["Fn::Sub"]
    assert "https://${DownloadDistribution.DomainName}" in csp.split("connect-src", 1)[1].split(";", 1)[0]
