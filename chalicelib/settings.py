"""Every environment name Cartable reads, in one place, read once per cold start."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from chalicelib.errors import ConfigurationError

LOCAL = "local"
LOCAL_ISSUER = "cartable-local"  # the `iss` of stage local's HS256 tokens (tests and scripts)
STAGES = ("local", "dev", "prod")
ADDRESSING_STYLES = ("auto", "path", "virtual")
MIB = 1024 * 1024
GIB = 1024 * MIB

# Hard ceilings from the contract: a grant lives at most 15 minutes, a download URL 5.
MAX_UPLOAD_TTL = 900
MAX_DOWNLOAD_TTL = 300
# Above 64 MiB an upload is multipart (the contract); S3 takes parts of 5 MiB to 5 GiB, 10,000 at most.
MULTIPART_THRESHOLD = 64 * MIB
MAX_FILE_SIZE = 5 * GIB
MIN_PART_SIZE = 5 * MIB
# clamd reads a stream of at most 4 GB (StreamMaxLength is a 32-bit count).
MAX_SCAN_SIZE = 4 * GIB - 1
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
CATALOGS = ("dynamodb", "postgres")  # where the catalog lives: DynamoDB (AWS) or PostgreSQL (issue 20)
AMQP_SCHEMES = ("amqp", "amqps")  # a queue setting with these is RabbitMQ's (issue 20: OVHcloud), else SQS's
AMQP_QUEUE_NAME = re.compile(r"[A-Za-z0-9._:-]{1,200}")


@dataclass(frozen=True)
class Settings:
    """Configuration of one stage, validated once."""

    stage: str
    region: str
    bucket: str
    table: str
    s3_endpoint: str | None
    s3_addressing_style: str
    s3_region: str | None
    dynamodb_endpoint: str | None
    jwt_issuer: str
    jwt_audience: str
    jwt_secret: str | None
    jwks_url: str | None  # the identity provider's keys: required outside local, optional in local
    clamd_address: str
    clamd_timeout: float
    max_upload_size: int
    upload_ttl: int
    download_ttl: int
    cursor_secret: str
    cursor_previous_secrets: tuple[str, ...]  # rotated-out cursor secrets: their cursors answer 410, not 400
    receipt_secret: str  # signs turn-in receipts (a key per school is derived from it)
    receipt_previous_secrets: tuple[str, ...]  # earlier receipt secrets: their receipts still verify
    notifications_topic: str | None  # the SNS topic notifications are pushed to; none: the feed only
    quotas_file: str | None = None  # policies/quotas.json when unset
    multipart_threshold: int = MULTIPART_THRESHOLD
    part_size: int = 16 * MIB
    multipart_ttl: int = 24 * 3600  # a large upload may take hours on a school's line; each part URL lives 15 min
    scan_max_size: int = 2 * GIB  # larger files end rejected `too_large_to_scan`, never available
    queue_url: str | None = None  # the uploads queue, where the sweeper re-announces unscanned objects
    jobs_queue_url: str | None = None  # ZIPs built off the request (run_jobs)
    record_calls: str | None = None  # stage local: a directory where every AWS call is written down
    sqs_endpoint: str | None = None
    sns_endpoint: str | None = None  # an SNS-API provider's topics (Scaleway: https://sns.mnq.fr-par.scaleway.com)
    log_level: str = "INFO"
    posts_per_minute: int = 300  # each user's POSTs a minute (grants, shares...); past it 429
    service_name: str = "cartable"  # the `service` of every log line and metric dimension
    metrics_namespace: str = "Cartable"
    log_dir: str | None = None  # stage local: a directory where each process also writes its JSON log lines
    oidc_client_id: str = "cartable-web"  # the web client at the school's identity provider (a public client)
    oidc_scope: str = "openid profile"  # what the web client asks the provider for
    catalog: str = "dynamodb"  # CARTABLE_CATALOG: dynamodb, or postgres at CARTABLE_DATABASE_URL
    database_url: str | None = None  # a libpq URL (postgresql://user:password@host:port/db?sslmode=...)
    database_pool_size: int = 2  # connections per process: 1-2 for a function, more for a worker's threads
    # The front that serves downloads with `X-Content-Type-Options: nosniff` (CloudFront on AWS, the local
    # stack's own): presigned GETs answer its scheme and host, keeping S3's path and signed query; none: S3's URL.
    download_origin: str | None = None

    @property
    def is_local(self) -> bool:
        return self.stage == LOCAL

    @property
    def storage_region(self) -> str:
        """The object store's region, which signatures name: an S3-compatible provider has its own."""
        return self.s3_region or self.region

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read and check every setting; fail with the whole list of problems at once."""
        env = os.environ if env is None else env
        problems: list[str] = []

        def get(name: str, default: str | None = None) -> str:
            value = env.get(name, "").strip() or default
            if value is None:
                problems.append(f"{name} is required")
                return ""
            return value

        def number(name: str, default: str, low: float, high: float) -> float:
            raw = get(name, default)
            try:
                value = float(raw)
            except ValueError:
                problems.append(f"{name} must be a number, not {raw!r}")
                return low
            if not low <= value <= high:
                problems.append(f"{name} must be between {low:g} and {high:g}")
            return value

        stage = get("CARTABLE_STAGE")
        if stage and stage not in STAGES:
            problems.append(f"CARTABLE_STAGE must be one of {', '.join(STAGES)}")
        local = stage == LOCAL
        s3_endpoint = env.get("CARTABLE_S3_ENDPOINT") or None
        download_origin = _download_origin(env.get("CARTABLE_DOWNLOAD_ORIGIN", ""), local, problems)
        style = _addressing_style(env, local, s3_endpoint, download_origin, problems)
        secret, jwks_url = _identity(env, local, problems)
        catalog = get("CARTABLE_CATALOG", "dynamodb")
        if catalog not in CATALOGS:
            problems.append(f"CARTABLE_CATALOG must be one of {', '.join(CATALOGS)}")
        postgres = catalog == "postgres"
        settings = cls(
            stage=stage,
            region=get("AWS_DEFAULT_REGION", env.get("AWS_REGION") or None),
            bucket=get("CARTABLE_BUCKET"),
            table=get("CARTABLE_TABLE", "" if postgres else None),
            s3_endpoint=s3_endpoint,
            s3_addressing_style=style,
            s3_region=env.get("CARTABLE_S3_REGION") or None,
            dynamodb_endpoint=env.get("CARTABLE_DYNAMODB_ENDPOINT") or None,
            # Stage local with a provider (make dev, the browser tests) verifies its tokens as production does.
            jwt_issuer=get("CARTABLE_JWT_ISSUER", LOCAL_ISSUER if local and not jwks_url else None),
            jwt_audience=get("CARTABLE_JWT_AUDIENCE", "cartable"),
            jwt_secret=secret if local else None,
            jwks_url=jwks_url,
            clamd_address=get("CARTABLE_CLAMD_ADDRESS", "tcp://127.0.0.1:3310"),
            clamd_timeout=number("CARTABLE_CLAMD_TIMEOUT", "60", 1, 900),
            max_upload_size=int(number("CARTABLE_MAX_UPLOAD_SIZE", str(MAX_FILE_SIZE), 1, MAX_FILE_SIZE)),
            upload_ttl=int(number("CARTABLE_UPLOAD_TTL", "900", 60, MAX_UPLOAD_TTL)),
            download_ttl=int(number("CARTABLE_DOWNLOAD_TTL", "300", 10, MAX_DOWNLOAD_TTL)),
            cursor_secret=get("CARTABLE_CURSOR_SECRET", "local-cursor-secret" if local else None),
            cursor_previous_secrets=_secret_list(env.get("CARTABLE_CURSOR_PREVIOUS_SECRETS", "")),
            receipt_secret=get("CARTABLE_RECEIPT_SECRET", "local-receipt-secret" if local else None),
            receipt_previous_secrets=_secret_list(env.get("CARTABLE_RECEIPT_PREVIOUS_SECRETS", "")),
            notifications_topic=_topic(env.get("CARTABLE_NOTIFICATIONS_TOPIC_ARN", ""), problems),
            quotas_file=env.get("CARTABLE_QUOTAS_FILE") or None,
            # Stage local and tests lower the threshold to try multipart without 64 MiB files.
            multipart_threshold=int(
                number("CARTABLE_MULTIPART_THRESHOLD", str(MULTIPART_THRESHOLD), MIN_PART_SIZE, MULTIPART_THRESHOLD)
            ),
            part_size=int(number("CARTABLE_PART_SIZE", str(16 * MIB), MIN_PART_SIZE, MAX_FILE_SIZE)),
            # At most 36 h: the bucket aborts multipart uploads left incomplete for two days.
            multipart_ttl=int(number("CARTABLE_MULTIPART_TTL", str(24 * 3600), MAX_UPLOAD_TTL, 36 * 3600)),
            scan_max_size=int(number("CARTABLE_SCAN_MAX_SIZE", str(2 * GIB), 1, MAX_SCAN_SIZE)),
            queue_url=_queue_url(env, "CARTABLE_QUEUE_URL", problems),
            jobs_queue_url=_queue_url(env, "CARTABLE_JOBS_QUEUE_URL", problems),
            record_calls=(env.get("CARTABLE_RECORD_CALLS") or None) if local else None,
            sqs_endpoint=env.get("CARTABLE_SQS_ENDPOINT") or None,
            sns_endpoint=env.get("CARTABLE_SNS_ENDPOINT") or None,
            log_level=_log_level(get("CARTABLE_LOG_LEVEL", "INFO"), problems),
            posts_per_minute=int(number("CARTABLE_POSTS_PER_MINUTE", "300", 1, 100_000)),
            # Powertools' own names, so that any of its utilities agrees with ours.
            service_name=get("POWERTOOLS_SERVICE_NAME", "cartable"),
            metrics_namespace=get("POWERTOOLS_METRICS_NAMESPACE", "Cartable"),
            log_dir=(env.get("CARTABLE_LOG_DIR") or None) if local else None,
            oidc_client_id=get("CARTABLE_OIDC_CLIENT_ID", "cartable-web"),
            oidc_scope=get("CARTABLE_OIDC_SCOPE", "openid profile"),
            catalog=catalog,
            database_url=get("CARTABLE_DATABASE_URL") if postgres else None,
            database_pool_size=int(number("CARTABLE_DATABASE_POOL_SIZE", "2", 1, 100)),
            download_origin=download_origin,
        )
        if problems:
            raise ConfigurationError("; ".join(problems))
        return settings


def _identity(env: Mapping[str, str], local: bool, problems: list[str]) -> tuple[str | None, str | None]:
    """The JWT secret (stage local only) and the JWKS URL (every other stage; stage local's provider too)."""
    secret = env.get("CARTABLE_JWT_SECRET") or ("local-dev-secret" if local else None)
    jwks_url = env.get("CARTABLE_JWKS_URL") or None
    if not local and secret and not jwks_url:
        problems.append("CARTABLE_JWT_SECRET is for stage local only; set CARTABLE_JWKS_URL")
    elif not local and not jwks_url:
        problems.append("CARTABLE_JWKS_URL is required outside stage local")
    return secret, jwks_url


def _addressing_style(
    env: Mapping[str, str], local: bool, s3_endpoint: str | None, download_origin: str | None, problems: list[str]
) -> str:
    """How S3 URLs name the bucket. Behind a download front on AWS S3, only `virtual` works: the front's origin
    is the bucket's regional host, so a URL must be signed for that host with the key alone as its path."""
    behind_aws_front = bool(download_origin) and not s3_endpoint
    default = "path" if local else ("virtual" if behind_aws_front else "auto")
    style = env.get("CARTABLE_S3_ADDRESSING_STYLE", "").strip() or default
    if style not in ADDRESSING_STYLES:
        problems.append(f"CARTABLE_S3_ADDRESSING_STYLE must be one of {', '.join(ADDRESSING_STYLES)}")
    elif behind_aws_front and style != "virtual":
        problems.append(
            "CARTABLE_DOWNLOAD_ORIGIN on AWS S3 needs CARTABLE_S3_ADDRESSING_STYLE=virtual: the front forwards "
            "to the bucket's regional host, so a download URL must be signed for that host with the key as its "
            f"path ({style!r} signs for s3.<region>/<bucket>/<key> or the global host)"
        )
    return style


def _download_origin(raw: str, local: bool, problems: list[str]) -> str | None:
    """The download front's origin, `https://host[:port]` (http:// in stage local only), or None when unset."""
    value = raw.strip().removesuffix("/")
    if not value:
        return None
    parts = urlsplit(value)
    schemes = ("http", "https") if local else ("https",)
    try:
        parts.port  # noqa: B018 (raises on a port that is not a number)
    except ValueError:
        parts = parts._replace(netloc="")
    if (
        parts.scheme not in schemes
        or not parts.hostname
        or parts.username
        or parts.path
        or parts.query
        or parts.fragment
    ):
        problems.append(
            "CARTABLE_DOWNLOAD_ORIGIN must be an origin, https://host[:port] (http:// in stage local), "
            "with no path, query or user"
        )
        return None
    return f"{parts.scheme}://{parts.netloc}"


def _log_level(raw: str, problems: list[str]) -> str:
    """A level name of the standard library's logging, upper case."""
    level = raw.upper()
    if level not in LOG_LEVELS:
        problems.append(f"CARTABLE_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}")
    return level


def _topic(raw: str, problems: list[str]) -> str | None:
    """An SNS topic ARN (`{type}` in it: one topic per kind of notification), or None when unset."""
    value = raw.strip()
    if value and not value.startswith("arn:"):
        problems.append("CARTABLE_NOTIFICATIONS_TOPIC_ARN must be an SNS topic ARN")
    elif "{" in value.replace("{type}", "") or "}" in value.replace("{type}", ""):
        problems.append("CARTABLE_NOTIFICATIONS_TOPIC_ARN may hold {type} (one topic per kind), no other field")
    return value or None


def is_amqp(url: str | None) -> bool:
    """Whether a queue setting names a RabbitMQ queue (amqp:// or amqps://) rather than an SQS queue URL."""
    return bool(url) and urlsplit(str(url)).scheme.lower() in AMQP_SCHEMES


def split_amqp_url(url: str) -> tuple[str, str]:
    """A RabbitMQ queue setting, `amqps://user:password@host:5671/vhost?queue=NAME` (pika's URL, whose other
    parameters such as `heartbeat` stay), as the connection's URL and the queue's name."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in AMQP_SCHEMES or not parts.hostname:
        raise ValueError("an AMQP queue is amqp://user:password@host:port/vhost?queue=NAME (or amqps://)")
    query = parse_qsl(parts.query, keep_blank_values=True)
    names = [value for key, value in query if key == "queue"]
    if len(names) != 1 or not AMQP_QUEUE_NAME.fullmatch(names[0]):
        raise ValueError("an AMQP queue setting names its queue once: ?queue=NAME (letters, digits, . _ : -)")
    rest = urlencode([(key, value) for key, value in query if key != "queue"])
    return urlunsplit((parts.scheme, parts.netloc, parts.path, rest, "")), names[0]


def _queue_url(env: Mapping[str, str], name: str, problems: list[str]) -> str | None:
    """An SQS queue URL, or a RabbitMQ queue as split_amqp_url reads it (checked here, once)."""
    value = env.get(name, "").strip() or None
    if value and is_amqp(value):
        try:
            split_amqp_url(value)
        except ValueError as exc:
            problems.append(f"{name}: {exc}")
    return value


def _secret_list(raw: str) -> tuple[str, ...]:
    """A comma-separated list of secrets, blanks left out."""
    return tuple(part.strip() for part in raw.split(",") if part.strip())


@lru_cache(maxsize=1)
def settings() -> Settings:
    """The settings of this process, read on first use."""
    return Settings.from_env()
