"""Publish the web client to a deployed stage: `web/` into its web bucket, behind its CloudFront distribution.

    python -m infra.publish_web --stage prod                 # the bucket and distribution from the stack's outputs
    python -m infra.publish_web --stage prod --bucket B --distribution-id D

The page lands where stage local serves it (chalicelib/webapp.py): `index.html` at the root and every
other file of `web/` under `static/`, each with its type and a cache lifetime: the page and its
configuration `no-cache` (always revalidated, so a deployment shows at once), the rest short-lived
(five minutes: the modules import each other by name, with no build step to hash them). `static/config.json`
is written for the stage, never read from `web/`: the provider the page signs people in with (the issuer
the stage's API trusts, `.chalice/config.json`; a staging's is dev's), its client id and scope. The API is
the page's own origin (the distribution routes `/v1/*` to it), so the configuration names no API.

Files are uploaded before the page, objects no longer in `web/` are then deleted (the bucket keeps their
versions 30 days), and the distribution is told to forget what it cached. The credentials are the
environment's (the pipeline's, by OIDC federation).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from infra import stages

log = logging.getLogger("cartable.publish_web")

ROOT = Path(__file__).resolve().parents[1]
WEB = ROOT / "web"
INDEX = "index.html"
STATIC = "static/"  # where the page loads its files from (/static/app.js...), as stage local serves them
CONFIG = "config.json"
NO_CACHE = "no-cache"
SHORT_LIVED = "public, max-age=300"
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".webmanifest": "application/manifest+json",
    ".woff2": "font/woff2",
    ".txt": "text/plain; charset=utf-8",
}


class PublishError(ValueError):
    """The page cannot be published as asked (an unknown file type, a stage without a provider...)."""


@dataclass(frozen=True)
class WebObject:
    """One object of the web bucket: its key, bytes and the headers S3 serves it with."""

    key: str
    body: bytes
    content_type: str
    cache_control: str


def page_configuration(stage: str, config: Mapping[str, Any] | None = None) -> dict[str, str]:
    """What `static/config.json` says for `stage`: the shape stage local's WebClient.configuration() answers."""
    from chalicelib.settings import Settings
    from infra.package import chalice_config

    defaults = {field.name: field.default for field in fields(Settings)}
    variables = chalice_config(stages.check(stage), config)["stages"][stage].get("environment_variables", {})
    issuer = variables.get("CARTABLE_JWT_ISSUER")
    if not issuer:
        raise PublishError(f"stage {stage} names no identity provider (CARTABLE_JWT_ISSUER in .chalice/config.json)")
    return {
        "issuer": issuer,
        "clientId": variables.get("CARTABLE_OIDC_CLIENT_ID", defaults["oidc_client_id"]),
        "scope": variables.get("CARTABLE_OIDC_SCOPE", defaults["oidc_scope"]),
    }


def web_objects(configuration: Mapping[str, Any], source: Path = WEB) -> list[WebObject]:
    """The bucket's objects, in upload order: the page's files, then its configuration, the page last (a new
    page never names a file not yet there)."""
    files, page = [], None
    for path in sorted(p for p in source.rglob("*") if p.is_file()):
        name = path.relative_to(source).as_posix()
        content_type = CONTENT_TYPES.get(path.suffix.lower())
        if content_type is None:
            raise PublishError(f"web/{name}: no content type known for {path.suffix or 'a file without suffix'}")
        if name == CONFIG:
            raise PublishError(f"web/{CONFIG} would hide the stage's: it is written by this command")
        if name == INDEX:
            page = WebObject(INDEX, path.read_bytes(), content_type, NO_CACHE)
        else:
            files.append(WebObject(STATIC + name, path.read_bytes(), content_type, SHORT_LIVED))
    if page is None:
        raise PublishError(f"{source} has no {INDEX}")
    written = json.dumps(dict(configuration), indent=2).encode() + b"\n"
    return [*files, WebObject(STATIC + CONFIG, written, CONTENT_TYPES[".json"], NO_CACHE), page]


def publish(s3: Any, bucket: str, objects: Sequence[WebObject]) -> list[str]:
    """Upload `objects` in order, then delete what else the bucket holds; answers the deleted keys."""
    for item in objects:
        s3.put_object(
            Bucket=bucket, Key=item.key, Body=item.body, ContentType=item.content_type, CacheControl=item.cache_control
        )
    wanted = {item.key for item in objects}
    stale = [
        entry["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        for entry in page.get("Contents", [])
        if entry["Key"] not in wanted
    ]
    for start in range(0, len(stale), 1000):  # delete_objects' limit
        batch = [{"Key": key} for key in stale[start : start + 1000]]
        s3.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
    return stale


def invalidate(cloudfront: Any, distribution_id: str, objects: Iterable[WebObject]) -> str:
    """Make the distribution forget every cached path; the same files published twice ask once (the caller
    reference is their digest). Answers the invalidation's id."""
    digest = hashlib.sha256()
    for item in objects:
        digest.update(item.key.encode() + b"\0" + hashlib.sha256(item.body).digest())
    answer = cloudfront.create_invalidation(
        DistributionId=distribution_id,
        InvalidationBatch={"Paths": {"Quantity": 1, "Items": ["/*"]}, "CallerReference": digest.hexdigest()},
    )
    invalidation: str = answer["Invalidation"]["Id"]
    return invalidation


def _client(service: str) -> Any:
    """A client with the environment's credentials and region (the pipeline's role)."""
    import boto3

    session: Any = boto3.session.Session()
    return session.client(service)


def main(argv: Sequence[str] | None = None, clients: Mapping[str, Any] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Publish web/ to a deployed stage's web bucket.")
    parser.add_argument("--stage", required=True, help="dev, prod or a staging's name")
    parser.add_argument("--bucket", help="the web bucket (default: the stack's output WebBucketName)")
    parser.add_argument("--distribution-id", help="the distribution (default: the stack's output WebDistributionId)")
    parser.add_argument("--source", type=Path, default=WEB, help="the page's directory (default: web/)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    made = dict(clients or {})

    def client(service: str) -> Any:
        if service not in made:
            made[service] = _client(service)
        return made[service]

    try:
        objects = web_objects(page_configuration(args.stage), args.source)
    except (PublishError, stages.StageError) as exc:
        parser.error(str(exc))
    bucket, distribution = args.bucket, args.distribution_id
    if not bucket:
        from infra.staging import stack_outputs

        outputs = stack_outputs(client("cloudformation"), args.stage)
        bucket, distribution = outputs["WebBucketName"], distribution or outputs.get("WebDistributionId")
    stale = publish(client("s3"), bucket, objects)
    log.info("%s: %d files in %s, %d removed", args.stage, len(objects), bucket, len(stale))
    if distribution:
        invalidation = invalidate(client("cloudfront"), distribution, objects)
        log.info("%s: distribution %s told to forget its copies (%s)", args.stage, distribution, invalidation)


if __name__ == "__main__":
    main()
