"""`python -m hosting.notifier`: the bucket's `incoming/` ObjectCreated events, for stores that send none.

On AWS the bucket announces each object that arrives in `incoming/` to the uploads queue (an S3
`QueueConfiguration`); OVHcloud's Object Storage has no bucket notifications and Scaleway's are not out
yet. This process takes their place: every `CARTABLE_NOTIFIER_INTERVAL` seconds (2 by default) it lists
`incoming/` (ListObjectsV2, every page) and sends each object it has not announced yet to the uploads
queue as the S3 event JSON the bucket would have sent (`Records[0]`: `eventSource` aws:s3, `eventName`
ObjectCreated:Post, or ObjectCreated:CompleteMultipartUpload for a multipart ETag, `s3.bucket.name`,
`s3.object.key` form-encoded as S3 writes it, `size`, `eTag`, `sequencer`; `configurationId` says it came
from here), so app.py's `scan_uploads` takes it unchanged.

What it remembers (in memory only) is what it announced: the key, its ETag and LastModified, and when.
- An object seen again with the same ETag and LastModified is not announced again, until
  `CARTABLE_NOTIFIER_REANNOUNCE` seconds (900) have passed: an object still there that long was not taken
  (a lost message, a scan that failed), so it is announced once more. A rewritten object (another ETag or
  LastModified) is announced at once.
- A key gone from the listing (the scanner deletes the incoming object last) is forgotten; a key is
  forgotten only after a complete listing, never after one that failed halfway.
- After a restart it remembers nothing and announces what is still there: safe, since the scan handler
  takes a duplicate event as a no-op (a judged upload's leftover is deleted, a pending one is scanned once).
- At most `CARTABLE_NOTIFIER_MAX_PER_PASS` (1000) announcements a pass: a backlog drains over a few passes.
- A send the queue refuses is not remembered, so the next pass tries it again.

Run one notifier (the Deployment has one replica and the Recreate strategy): two would each announce every
object, which the scanner tolerates but which doubles the scans' queue traffic for nothing.

Graceful stop on SIGTERM (the pass in hand finishes), `/healthz` and `/readyz` on `CARTABLE_HEALTH_PORT`
(8081) as hosting.worker (ready while it runs and its last pass listed and sent). Its credentials need
only `s3:ListBucket` on `incoming/` and `sqs:SendMessage` on the uploads queue; its settings are read
once, here, not chalicelib's (it needs none of the functions' secrets).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote_plus

from hosting import Health, Loop, serve

log = logging.getLogger("cartable.hosting.notifier")

PREFIX = "incoming/"
SEND_BATCH = 10  # SendMessageBatch's limit
CONFIGURATION_ID = "cartable-notifier"  # where a real event names the bucket's notification configuration


@dataclass(frozen=True)
class Listed:
    """One object of the listing, as ListObjectsV2 describes it."""

    key: str
    etag: str
    last_modified: datetime
    size: int

    @property
    def version(self) -> tuple[str, str]:
        """What tells one write of a key from the next."""
        return self.etag, self.last_modified.isoformat()

    @classmethod
    def from_listing(cls, item: Mapping[str, Any]) -> Listed:
        return cls(str(item["Key"]), str(item.get("ETag", "")), item["LastModified"], int(item.get("Size", 0)))


class Ledger:
    """What was announced, and when: the notifier's whole memory (lost on a restart, which only repeats)."""

    def __init__(self, reannounce_after: float) -> None:
        self.reannounce_after = reannounce_after
        self._announced: dict[str, tuple[tuple[str, str], float]] = {}

    def __len__(self) -> int:
        return len(self._announced)

    def __contains__(self, key: object) -> bool:
        return key in self._announced

    def due(self, listing: Sequence[Listed], now: float, limit: int | None = None) -> list[Listed]:
        """What to announce of a complete listing (in its order, `limit` at most), forgetting the keys it
        no longer holds: new or rewritten objects, and those announced `reannounce_after` ago or more."""
        present = {item.key for item in listing}
        for key in [key for key in self._announced if key not in present]:
            del self._announced[key]
        due = []
        for item in listing:
            seen = self._announced.get(item.key)
            if seen is None or seen[0] != item.version or now - seen[1] >= self.reannounce_after:
                due.append(item)
                if limit is not None and len(due) >= limit:
                    break
        return due

    def announced(self, items: Iterable[Listed], now: float) -> None:
        for item in items:
            self._announced[item.key] = (item.version, now)


def _sequencer(item: Listed) -> str:
    """A hexadecimal string that grows with each write of a key, as S3's does (its LastModified, in µs)."""
    return f"{int(item.last_modified.timestamp() * 1_000_000):016X}"


def s3_event(item: Listed, bucket: str, region: str) -> str:
    """The ObjectCreated notification S3 sends to a queue for `item` (its documented event structure)."""
    etag = item.etag.strip('"')
    stamp = item.last_modified.astimezone(UTC)
    record = {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": region,
        "eventTime": stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z",
        # Cartable's uploads are presigned POSTs or multipart uploads (whose ETags end in -<parts>).
        "eventName": "ObjectCreated:CompleteMultipartUpload" if "-" in etag else "ObjectCreated:Post",
        "userIdentity": {"principalId": CONFIGURATION_ID},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": CONFIGURATION_ID,
            "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
            "object": {
                "key": quote_plus(item.key, safe="/"),
                "size": item.size,
                "eTag": etag,
                "sequencer": _sequencer(item),
            },
        },
    }
    return json.dumps({"Records": [record]}, separators=(",", ":"))


class Notifier(Loop):
    """Lists `incoming/` and announces what is new to the uploads queue, pass after pass."""

    stop_message = "stopping: the pass in hand finishes"

    def __init__(
        self,
        s3: Any,
        sqs: Any,
        bucket: str,
        queue_url: str,
        *,
        region: str,
        interval: float = 2.0,
        reannounce_after: float = 900.0,
        max_per_pass: int = 1000,
        prefix: str = PREFIX,
        page_size: int = 1000,
    ) -> None:
        self.s3, self.sqs = s3, sqs
        self.bucket, self.queue_url, self.region, self.prefix = bucket, queue_url, region, prefix
        self.interval = interval
        self.max_per_pass = max_per_pass
        self.page_size = page_size  # keys a ListObjectsV2 call returns (1000 at most)
        self.ledger = Ledger(reannounce_after)
        super().__init__(Health(stale_after=max(120.0, 10 * interval)), log)
        self.passes = 0
        self.announcements = 0  # messages the queue took, for tests and logs

    def run(self, stop_after: float | None = None) -> None:
        """A pass every `interval` seconds until stopped (or for `stop_after` seconds)."""
        deadline = self.deadline(stop_after)
        log.info("notifier ready: s3://%s/%s → %s, every %gs", self.bucket, self.prefix, self.queue_url, self.interval)
        try:
            while self.turning(deadline):
                try:
                    self.run_pass()
                    self.health.backend_ok = True
                except Exception:  # the store or the queue restarting must not end the notifier
                    self.health.backend_ok = False
                    log.exception("a pass failed; the next one tries again")
                self._stopping.wait(self.interval)
        finally:
            self.stop()
            log.info("notifier stopped after %d passes, %d announcements", self.passes, self.announcements)

    def run_pass(self, now: float | None = None) -> int:
        """List, announce what is due, remember what the queue took; how many were announced."""
        listing = self.list_incoming()
        now = time.monotonic() if now is None else now
        due = self.ledger.due(listing, now, self.max_per_pass)
        sent = self.announce(due)
        self.ledger.announced(sent, now)
        self.passes += 1
        self.announcements += len(sent)
        if sent:
            log.info("announced %d of %d objects in %s", len(sent), len(listing), self.prefix)
        return len(sent)

    def list_incoming(self) -> list[Listed]:
        """Every object under the prefix (every page); raises if any page fails."""
        listing: list[Listed] = []
        pages = self.s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.prefix, PaginationConfig={"PageSize": self.page_size}
        )
        for page in pages:
            self.health.beat = time.monotonic()  # a long listing is progress, not a hang
            listing.extend(Listed.from_listing(item) for item in page.get("Contents", []))
        return listing

    def announce(self, items: Sequence[Listed]) -> list[Listed]:
        """Send each item's event, ten a call; the items the queue took (a refused one is tried next pass)."""
        taken: list[Listed] = []
        for start in range(0, len(items), SEND_BATCH):
            batch = items[start : start + SEND_BATCH]
            entries = [
                {"Id": str(i), "MessageBody": s3_event(item, self.bucket, self.region)} for i, item in enumerate(batch)
            ]
            answer = self.sqs.send_message_batch(QueueUrl=self.queue_url, Entries=entries)
            refused = {int(failure["Id"]) for failure in answer.get("Failed", [])}
            for failure in answer.get("Failed", []):
                log.warning("the queue refused an announcement (tried again next pass): %s", failure)
            taken.extend(item for i, item in enumerate(batch) if i not in refused)
        return taken


@dataclass(frozen=True)
class NotifierSettings:
    """The notifier's environment, read and checked once."""

    bucket: str
    queue_url: str
    region: str
    s3_endpoint: str | None
    s3_region: str | None
    s3_addressing_style: str
    sqs_endpoint: str | None
    interval: float
    reannounce_after: float
    max_per_pass: int

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> NotifierSettings:
        from chalicelib.errors import ConfigurationError
        from chalicelib.settings import ADDRESSING_STYLES, LOCAL

        problems: list[str] = []

        def required(name: str) -> str:
            value = env.get(name, "").strip()
            if not value:
                problems.append(f"{name} is required")
            return value

        def number(name: str, default: str, low: float, high: float) -> float:
            raw = env.get(name, "").strip() or default
            try:
                value = float(raw)
            except ValueError:
                value = low - 1
            if not low <= value <= high:
                problems.append(f"{name} must be a number between {low:g} and {high:g}, not {raw!r}")
            return value

        local = env.get("CARTABLE_STAGE") == LOCAL
        style = env.get("CARTABLE_S3_ADDRESSING_STYLE", "").strip() or ("path" if local else "auto")
        if style not in ADDRESSING_STYLES:
            problems.append(f"CARTABLE_S3_ADDRESSING_STYLE must be one of {', '.join(ADDRESSING_STYLES)}")
        settings = cls(
            bucket=required("CARTABLE_BUCKET"),
            queue_url=required("CARTABLE_QUEUE_URL"),
            region=env.get("AWS_DEFAULT_REGION") or env.get("AWS_REGION") or required("AWS_DEFAULT_REGION"),
            s3_endpoint=env.get("CARTABLE_S3_ENDPOINT") or None,
            s3_region=env.get("CARTABLE_S3_REGION") or None,
            s3_addressing_style=style,
            sqs_endpoint=env.get("CARTABLE_SQS_ENDPOINT") or None,
            interval=number("CARTABLE_NOTIFIER_INTERVAL", "2", 0.1, 3600),
            reannounce_after=number("CARTABLE_NOTIFIER_REANNOUNCE", "900", 1, 7 * 86400),
            max_per_pass=int(number("CARTABLE_NOTIFIER_MAX_PER_PASS", "1000", 1, 100_000)),
        )
        if problems:
            raise ConfigurationError("; ".join(problems))
        return settings


def from_env(environ: Mapping[str, str] | None = None) -> Notifier:
    """The notifier as the environment configures it (see k8s/notifier.yaml)."""
    import boto3
    from botocore.config import Config

    settings = NotifierSettings.from_env(os.environ if environ is None else environ)
    retries: Any = {"mode": "standard", "max_attempts": 4}
    addressing: Any = {"addressing_style": settings.s3_addressing_style}  # virtual for OVHcloud's POST uploads
    s3 = boto3.client(
        "s3",
        endpoint_url=settings.s3_endpoint,
        config=Config(
            region_name=settings.s3_region or settings.region,
            signature_version="s3v4",
            s3=addressing,
            retries=retries,
            connect_timeout=3,
            read_timeout=30,
        ),
    )
    sqs = boto3.client(
        "sqs",
        endpoint_url=settings.sqs_endpoint,
        config=Config(region_name=settings.region, retries=retries, connect_timeout=3, read_timeout=30),
    )
    return Notifier(
        s3,
        sqs,
        settings.bucket,
        settings.queue_url,
        region=settings.s3_region or settings.region,
        interval=settings.interval,
        reannounce_after=settings.reannounce_after,
        max_per_pass=settings.max_per_pass,
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Announce the objects arriving in incoming/ to the uploads queue.")
    parser.add_argument("--health-port", type=int, default=int(os.environ.get("CARTABLE_HEALTH_PORT", "8081")))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="notifier %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    notifier = from_env()
    serve(notifier.run, notifier.stop, notifier.health, args.health_port)


if __name__ == "__main__":
    main()
