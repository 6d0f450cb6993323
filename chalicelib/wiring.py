"""Builds the services from their adapters once per cold start; clients are created on first use."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

from chalicelib.adapters.clients import LazyClient, aws_client
from chalicelib.errors import ConfigurationError, ServiceUnavailableError
from chalicelib.settings import Settings, settings

if TYPE_CHECKING:
    from chalicelib.adapters.dynamodb import DynamoCatalog
    from chalicelib.adapters.postgres import Database, PostgresCatalog
    from chalicelib.adapters.s3 import S3ObjectStore
    from chalicelib.adapters.telemetry import LambdaTelemetry
    from chalicelib.adapters.zipstream import S3ZipArchiver
    from chalicelib.auth import TokenVerifier
    from chalicelib.domain.access import AccessControl
    from chalicelib.domain.assignments import AssignmentService
    from chalicelib.domain.audit import AuditService
    from chalicelib.domain.content import ContentPolicy
    from chalicelib.domain.export import ExportService
    from chalicelib.domain.files import FileService
    from chalicelib.domain.idempotency import Idempotency
    from chalicelib.domain.jobs import Build, Check, JobService
    from chalicelib.domain.models import Principal
    from chalicelib.domain.multipart import PendingUploads
    from chalicelib.domain.notifications import NotificationService, Publisher
    from chalicelib.domain.ratelimit import RateLimit
    from chalicelib.domain.receipts import ReceiptService
    from chalicelib.domain.rescan import RescanService
    from chalicelib.domain.rollover import YearService
    from chalicelib.domain.roster import RosterService
    from chalicelib.domain.scanning import ScanService
    from chalicelib.domain.sharing import SharingService
    from chalicelib.domain.spaces import SpaceService
    from chalicelib.domain.sweeper import Sweeper
    from chalicelib.domain.sync import SyncService, TrashService
    from chalicelib.domain.uploads import UploadService


@lru_cache(maxsize=1)
def dynamodb() -> Any:
    """The one DynamoDB client of this process (a client costs ~40 ms to make)."""
    return aws_client("dynamodb", settings())


@lru_cache(maxsize=1)
def database() -> Database:
    """The PostgreSQL catalog's connection pool of this process (CARTABLE_CATALOG=postgres), opened on first use."""
    import atexit

    from chalicelib.adapters.postgres import Database

    config = settings()
    assert config.database_url is not None
    pool = Database(config.database_url, min_size=1, max_size=config.database_pool_size)
    atexit.register(pool.close)  # the pool's threads end with the process, not after a timeout
    return pool


@lru_cache(maxsize=1)
def catalog() -> DynamoCatalog | PostgresCatalog:
    if settings().catalog == "postgres":
        from chalicelib.adapters.postgres import PostgresCatalog

        return PostgresCatalog(database())
    from chalicelib.adapters.dynamodb import DynamoCatalog

    return DynamoCatalog(dynamodb(), settings().table)


@lru_cache(maxsize=1)
def rate_limit() -> RateLimit:
    """Each user's POSTs a minute, counted in the catalog."""
    from chalicelib.domain.ratelimit import RateLimit

    config = settings()
    if config.catalog == "postgres":
        from chalicelib.adapters.postgres.idempotency import PostgresRateCounter

        return RateLimit(PostgresRateCounter(database()), config.posts_per_minute)
    from chalicelib.adapters.ratelimit import DynamoRateCounter

    return RateLimit(DynamoRateCounter(dynamodb(), config.table), config.posts_per_minute)


@lru_cache(maxsize=1)
def idempotency() -> Idempotency:
    """POSTs with an Idempotency-Key: their first answers, in the catalog."""
    from chalicelib.domain.idempotency import Idempotency

    if settings().catalog == "postgres":
        from chalicelib.adapters.postgres.idempotency import PostgresIdempotencyStore

        return Idempotency(PostgresIdempotencyStore(database()))
    from chalicelib.adapters.idempotency import DynamoIdempotencyStore

    return Idempotency(DynamoIdempotencyStore(dynamodb(), settings().table))


@lru_cache(maxsize=1)
def store() -> S3ObjectStore:
    from chalicelib.adapters.s3 import S3ObjectStore

    config = settings()
    return S3ObjectStore(LazyClient("s3", config), config.bucket, download_origin=config.download_origin)


@lru_cache(maxsize=1)
def telemetry() -> LambdaTelemetry:
    """JSON log lines and EMF metrics, set up by the first invocation."""
    import os
    from pathlib import Path

    from chalicelib.adapters.telemetry import LambdaTelemetry

    try:
        config = settings()
    except ConfigurationError:  # the routes answer it themselves; the lines stay JSON meanwhile
        return LambdaTelemetry()
    log_file = Path(config.log_dir) / f"{os.getpid()}.jsonl" if config.log_dir else None
    return LambdaTelemetry(
        service=config.service_name,
        namespace=config.metrics_namespace,
        level=config.log_level,
        local=config.is_local,
        log_file=log_file,
    )


@lru_cache(maxsize=1)
def token_verifier() -> TokenVerifier:
    from chalicelib.auth import TokenVerifier

    return TokenVerifier(settings())


@lru_cache(maxsize=1)
def access_control() -> AccessControl:
    from chalicelib.domain.access import AccessControl
    from chalicelib.domain.permissions import load_rules

    return AccessControl(catalog(), load_rules(), telemetry())


@lru_cache(maxsize=1)
def content_policy() -> ContentPolicy:
    """The content rules, read once; imported only where a grant or a scan needs them."""
    from chalicelib.domain.content import load_content_policy

    return load_content_policy()


@lru_cache(maxsize=1)
def file_service() -> FileService:
    """Reads and listings; the uploads' services are built by the first upload route."""
    from chalicelib.domain.files import FileService

    return FileService(
        catalog=catalog(),
        store=store(),
        access=access_control(),
        download_ttl=settings().download_ttl,
        uploads=upload_service,  # a listing never loads the grants, the quotas or the content rules
        pending=pending_uploads,
    )


@lru_cache(maxsize=1)
def upload_service() -> UploadService:
    from pathlib import Path

    from chalicelib.domain.grants import UploadTerms
    from chalicelib.domain.quotas import load_quotas
    from chalicelib.domain.uploads import UploadService

    config = settings()
    return UploadService(
        quotas=load_quotas(Path(config.quotas_file) if config.quotas_file else None),
        catalog=catalog(),
        store=store(),
        access=access_control(),
        content=content_policy,  # read by the first grant: a listing never loads the content rules
        terms=UploadTerms(
            max_size=config.max_upload_size,
            ttl=config.upload_ttl,
            multipart_threshold=config.multipart_threshold,
            part_size=config.part_size,
            multipart_ttl=config.multipart_ttl,
        ),
        telemetry=telemetry(),
    )


@lru_cache(maxsize=1)
def pending_uploads() -> PendingUploads:
    from chalicelib.domain.multipart import PendingUploads

    return PendingUploads(catalog(), store(), settings().upload_ttl)


@lru_cache(maxsize=1)
def roster_service() -> RosterService:
    from chalicelib.domain.roster import RosterService

    return RosterService(catalog(), access_control())


@lru_cache(maxsize=1)
def assignment_service() -> AssignmentService:
    from chalicelib.domain.assignments import AssignmentService
    from chalicelib.domain.content import load_content_policy

    config = settings()
    return AssignmentService(
        catalog=catalog(),
        access=access_control(),
        content=load_content_policy(),
        max_size=config.max_upload_size,
        store=store(),
        archiver=archiver(),
        download_ttl=config.download_ttl,
    )


@lru_cache(maxsize=1)
def archiver() -> S3ZipArchiver:
    from chalicelib.adapters.zipstream import S3ZipArchiver

    config = settings()
    return S3ZipArchiver(config.bucket, aio_client_kwargs(config))


def aio_client_kwargs(config: Settings) -> dict[str, Any]:
    """What aiobotocore's create_client takes for our S3 (imported only by the archive route)."""
    from aiobotocore.config import AioConfig

    s3_options: Any = {"addressing_style": config.s3_addressing_style}
    return {
        "endpoint_url": config.s3_endpoint,
        "region_name": config.storage_region,
        "config": AioConfig(signature_version="s3v4", s3=s3_options, retries={"mode": "standard", "max_attempts": 4}),
    }


@lru_cache(maxsize=1)
def sync_service() -> SyncService:
    from chalicelib.domain.sync import Cursors, SyncService

    config = settings()
    return SyncService(catalog(), access_control(), Cursors(config.cursor_secret, config.cursor_previous_secrets))


@lru_cache(maxsize=1)
def trash_service() -> TrashService:
    from chalicelib.domain.sync import TrashService

    return TrashService(catalog(), access_control(), store())


@lru_cache(maxsize=1)
def sharing_service() -> SharingService:
    from chalicelib.domain.sharing import SharingService

    return SharingService(catalog(), access_control())


@lru_cache(maxsize=1)
def space_service() -> SpaceService:
    """A space as the caller sees it: its title, what the caller may do there, the caller's quota."""
    from pathlib import Path

    from chalicelib.domain.quotas import load_quotas
    from chalicelib.domain.spaces import SpaceService

    config = settings()
    quotas = load_quotas(Path(config.quotas_file) if config.quotas_file else None)
    return SpaceService(catalog(), access_control(), quotas)


@lru_cache(maxsize=1)
def audit_service() -> AuditService:
    from chalicelib.domain.audit import AuditService

    return AuditService(catalog(), access_control())


@lru_cache(maxsize=1)
def receipt_service() -> ReceiptService:
    from chalicelib.domain.receipts import ReceiptService, ReceiptSigner

    config = settings()
    signer = ReceiptSigner(config.receipt_secret, config.receipt_previous_secrets)
    return ReceiptService(catalog(), access_control(), signer)


@lru_cache(maxsize=1)
def notification_service() -> NotificationService:
    from chalicelib.domain.notifications import NotificationService

    return NotificationService(catalog(), publisher())


@lru_cache(maxsize=1)
def publisher() -> Publisher:
    """SNS when a topic is configured; else the feed is the only delivery."""
    from chalicelib.adapters.publish import LogPublisher, SnsPublisher

    config = settings()
    if config.notifications_topic is None:
        return LogPublisher()
    return SnsPublisher(LazyClient("sns", config), config.notifications_topic)


@lru_cache(maxsize=1)
def sweeper() -> Sweeper:
    from chalicelib.adapters.amqp import queue_for  # SQS's, or RabbitMQ's for an amqp(s):// URL
    from chalicelib.domain.sweeper import Sweeper

    config = settings()
    queue = queue_for(config.queue_url, lambda: aws_client("sqs", config)) if config.queue_url else None
    built = catalog()
    if config.catalog == "postgres":  # its hourly run also does what DynamoDB's TTL does
        from chalicelib.adapters.postgres import PostgresCatalog
        from chalicelib.adapters.postgres.sweeping import ExpiringSweeper

        assert isinstance(built, PostgresCatalog)
        return ExpiringSweeper(built, trash_service(), store(), queue, year_service())
    return Sweeper(trash_service(), store(), queue, year_service())


@lru_cache(maxsize=1)
def rescan_service() -> RescanService:
    from chalicelib.adapters.clamav import ClamdScanner
    from chalicelib.adapters.rescan import S3Rescanner
    from chalicelib.domain.rescan import RescanService

    config = settings()
    scanner = ClamdScanner(config.clamd_address, config.clamd_timeout)
    rescanner = S3Rescanner(config.bucket, aio_client_kwargs(config), scanner)
    return RescanService(catalog(), store(), rescanner, telemetry=telemetry())


@lru_cache(maxsize=1)
def job_service() -> JobService:
    from chalicelib.adapters.amqp import queue_for
    from chalicelib.domain.jobs import JobResult, JobService

    config = settings()
    if not config.jobs_queue_url:
        raise ServiceUnavailableError("Background jobs are not configured here (CARTABLE_JOBS_QUEUE_URL).")
    exports, archives, years = export_service(), assignment_service(), year_service()

    def check_export(principal: Principal, user_id: str) -> None:
        exports.check(principal, user_id)

    kinds: dict[str, tuple[Check, Build]] = {
        "export": (check_export, lambda p, user: JobResult(*exports.build(p, user))),
        "archive": (archives.check_archive, lambda p, a: JobResult(*archives.build_archive(p, a))),
        "year-close": (years.check_close, lambda p, year: JobResult(summary=years.close_year(p, year))),
    }
    queue = queue_for(config.jobs_queue_url, lambda: LazyClient("sqs", config))
    return JobService(catalog(), queue, store(), kinds, config.download_ttl)


@lru_cache(maxsize=1)
def export_service() -> ExportService:
    from chalicelib.domain.export import ExportService

    return ExportService(catalog(), access_control(), store(), archiver(), settings().download_ttl)


@lru_cache(maxsize=1)
def year_service() -> YearService:
    from chalicelib.domain.rollover import YearService

    return YearService(catalog(), access_control())


@lru_cache(maxsize=1)
def scan_service() -> ScanService:
    from chalicelib.adapters.clamav import ClamdScanner
    from chalicelib.adapters.sniff import MagicSniffer
    from chalicelib.domain.content import load_content_policy
    from chalicelib.domain.scanning import ScanService

    config = settings()
    return ScanService(
        catalog=catalog(),
        store=store(),
        scanner=ClamdScanner(config.clamd_address, config.clamd_timeout),
        sniffer=MagicSniffer(),
        content=load_content_policy(),
        scan_limit=config.scan_max_size,
        telemetry=telemetry(),
    )
