"""The files bucket's CORS rule, set by a CloudFormation custom resource (`FilesBucketCors`).

The rule names the page's origin, the CloudFront distribution's, which the bucket itself cannot name:
the distribution routes `/v1/*` to the API, whose function's role reads the bucket, so the bucket
naming the distribution would be a circular dependency. This handler runs after both exist. `make
package` inlines this file as the function's code (Lambda's Python runtime brings boto3); only the
standard library and boto3 are used, and it must stay under CloudFormation's 4,096 characters.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterable
from typing import Any

METHODS = ["GET", "HEAD", "POST", "PUT"]


def rules(origins: Iterable[str]) -> dict[str, Any]:
    """The CORS rule for uploads to presigned POSTs and downloads at presigned GETs from `origins` (each may
    be a comma-separated list, or empty)."""
    wanted = sorted({part.strip() for origin in origins for part in origin.split(",") if part.strip()})
    return {
        "CORSRules": [
            {
                "AllowedOrigins": wanted,
                "AllowedMethods": METHODS,
                "AllowedHeaders": ["*"],
                "ExposeHeaders": ["ETag", "Content-Disposition"],
                "MaxAgeSeconds": 600,
            }
        ]
    }


def apply(s3: Any, event: dict[str, Any]) -> str:
    """Set (create, update) or remove (delete) the bucket's CORS; answers the bucket's name."""
    properties = event["ResourceProperties"]
    bucket: str = properties["Bucket"]
    if event["RequestType"] == "Delete":
        try:
            s3.delete_bucket_cors(Bucket=bucket)
        except s3.exceptions.NoSuchBucket:
            pass
    else:
        s3.put_bucket_cors(Bucket=bucket, CORSConfiguration=rules(properties["Origins"]))
    return bucket


def respond(event: dict[str, Any], status: str, physical: str, reason: str = "") -> None:
    """Tell CloudFormation how it went, at the presigned URL it gave."""
    body = {
        "Status": status,
        "Reason": reason[:500] or status,
        "PhysicalResourceId": physical,
        "StackId": event["StackId"],
        "RequestId": event["RequestId"],
        "LogicalResourceId": event["LogicalResourceId"],
    }
    url = event["ResponseURL"]
    if not url.startswith("https://"):
        raise ValueError("CloudFormation answers at an https URL")
    # An empty Content-Type, as the URL was signed with (cfnresponse does the same).
    data = json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method="PUT", headers={"Content-Type": ""})  # noqa: S310
    with urllib.request.urlopen(request, timeout=30):  # noqa: S310 (checked above)
        pass


def handler(event: dict[str, Any], context: Any, s3: Any = None) -> None:
    physical = event.get("PhysicalResourceId") or event["ResourceProperties"].get("Bucket", "none")
    try:
        if s3 is None:
            import boto3

            s3 = boto3.client("s3")
        physical = apply(s3, event)
    except Exception as exc:
        print(f"FilesBucketCors {event['RequestType']} failed: {exc!r}")
        respond(event, "FAILED", physical, repr(exc))
        return
    respond(event, "SUCCESS", physical)
