from __future__ import annotations

import pytest

from chalicelib.errors import ConfigurationError
from chalicelib.settings import Settings

BASE = {"CARTABLE_STAGE": "local", "AWS_DEFAULT_REGION": "eu-west-3", "CARTABLE_BUCKET": "b", "CARTABLE_TABLE": "t"}


def test_local_defaults() -> None:
    settings = Settings.from_env(BASE)
    assert settings.jwt_secret == "local-dev-secret" and settings.jwt_issuer == "cartable-local"
    assert settings.s3_addressing_style == "path" and settings.upload_ttl == 900 and settings.download_ttl == 300


def test_uploads_go_multipart_above_the_contracts_64_mib_up_to_5_gib() -> None:
    settings = Settings.from_env(BASE)
    assert settings.multipart_threshold == 64 * 1024**2 and settings.max_upload_size == 5 * 1024**3
    assert settings.part_size == 16 * 1024**2 and settings.scan_max_size == 2 * 1024**3
    with pytest.raises(ConfigurationError, match="CARTABLE_MULTIPART_THRESHOLD"):
        Settings.from_env({**BASE, "CARTABLE_MULTIPART_THRESHOLD": str(65 * 1024**2)})
    with pytest.raises(ConfigurationError, match="CARTABLE_PART_SIZE"):
        Settings.from_env({**BASE, "CARTABLE_PART_SIZE": str(4 * 1024**2)})  # S3 parts are at least 5 MiB


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(ConfigurationError) as info:
        Settings.from_env(
            {"CARTABLE_STAGE": "prod", "CARTABLE_UPLOAD_TTL": "3600", "CARTABLE_S3_ADDRESSING_STYLE": "x"}
        )
    message = str(info.value)
    for name in (
        "AWS_DEFAULT_REGION",
        "CARTABLE_BUCKET",
        "CARTABLE_TABLE",
        "CARTABLE_JWKS_URL",
        "CARTABLE_UPLOAD_TTL",
        "CARTABLE_S3_ADDRESSING_STYLE",
        "CARTABLE_JWT_ISSUER",
        "CARTABLE_CURSOR_SECRET",
        "CARTABLE_RECEIPT_SECRET",
    ):
        assert name in message


def test_shared_secret_is_refused_outside_local() -> None:
    env = {**BASE, "CARTABLE_STAGE": "prod", "CARTABLE_JWT_SECRET": "s", "CARTABLE_JWT_ISSUER": "https://idp"}
    with pytest.raises(ConfigurationError, match="CARTABLE_JWT_SECRET"):
        Settings.from_env(env)
    secrets = {"CARTABLE_CURSOR_SECRET": "c" * 32, "CARTABLE_RECEIPT_SECRET": "r" * 32}
    ok = Settings.from_env({**env, "CARTABLE_JWKS_URL": "https://idp/jwks", **secrets})
    assert ok.jwt_secret is None


def test_the_receipt_secret_has_a_default_only_in_local() -> None:
    assert Settings.from_env(BASE).receipt_secret == "local-receipt-secret"
    assert Settings.from_env(BASE).receipt_previous_secrets == ()
    env = {
        **BASE,
        "CARTABLE_STAGE": "prod",
        "CARTABLE_JWT_ISSUER": "https://idp",
        "CARTABLE_JWKS_URL": "https://idp/jwks",
        "CARTABLE_CURSOR_SECRET": "c" * 32,
    }
    with pytest.raises(ConfigurationError, match="CARTABLE_RECEIPT_SECRET is required"):
        Settings.from_env(env)
    rotated = Settings.from_env(
        {**env, "CARTABLE_RECEIPT_SECRET": "new", "CARTABLE_RECEIPT_PREVIOUS_SECRETS": " old1, ,old2 "}
    )
    assert rotated.receipt_secret == "new" and rotated.receipt_previous_secrets == ("old1", "old2")


def test_the_notifications_topic_is_optional_and_an_arn() -> None:
    assert Settings.from_env(BASE).notifications_topic is None
    arn = "arn:aws:sns:eu-west-3:123456789012:cartable-notifications"
    assert Settings.from_env({**BASE, "CARTABLE_NOTIFICATIONS_TOPIC_ARN": arn}).notifications_topic == arn
    with pytest.raises(ConfigurationError, match="CARTABLE_NOTIFICATIONS_TOPIC_ARN"):
        Settings.from_env({**BASE, "CARTABLE_NOTIFICATIONS_TOPIC_ARN": "cartable-notifications"})


def test_a_topic_per_kind_for_providers_whose_topics_cannot_filter() -> None:
    per_kind = "arn:scw:sns:fr-par:project-1234:cartable-{type}"
    config = Settings.from_env(
        {**BASE, "CARTABLE_NOTIFICATIONS_TOPIC_ARN": per_kind, "CARTABLE_SNS_ENDPOINT": "https://sns.example"}
    )
    assert (config.notifications_topic, config.sns_endpoint) == (per_kind, "https://sns.example")
    with pytest.raises(ConfigurationError, match="no other field"):
        Settings.from_env({**BASE, "CARTABLE_NOTIFICATIONS_TOPIC_ARN": "arn:scw:sns:fr-par:p:cartable-{school}"})


def test_the_log_level_is_a_setting_and_the_log_directory_is_local_only() -> None:
    settings = Settings.from_env(BASE)
    assert (settings.log_level, settings.service_name, settings.metrics_namespace) == ("INFO", "cartable", "Cartable")
    assert Settings.from_env({**BASE, "CARTABLE_LOG_LEVEL": "debug"}).log_level == "DEBUG"
    with pytest.raises(ConfigurationError, match="CARTABLE_LOG_LEVEL"):
        Settings.from_env({**BASE, "CARTABLE_LOG_LEVEL": "loud"})
    assert Settings.from_env({**BASE, "CARTABLE_LOG_DIR": "/tmp/logs"}).log_dir == "/tmp/logs"
    prod = {**BASE, "CARTABLE_STAGE": "prod", "CARTABLE_JWKS_URL": "https://idp/certs", "CARTABLE_JWT_ISSUER": "i"}
    prod.update(CARTABLE_CURSOR_SECRET="c", CARTABLE_RECEIPT_SECRET="r", CARTABLE_LOG_DIR="/tmp/logs")
    assert Settings.from_env(prod).log_dir is None


def test_stage_local_with_a_provider_names_its_issuer() -> None:
    """`make dev` verifies its provider's tokens as production does: the JWKS needs the issuer with it."""
    with pytest.raises(ConfigurationError, match="CARTABLE_JWT_ISSUER is required"):
        Settings.from_env({**BASE, "CARTABLE_JWKS_URL": "http://127.0.0.1:8001/jwks"})
    local = Settings.from_env(
        {**BASE, "CARTABLE_JWKS_URL": "http://127.0.0.1:8001/jwks", "CARTABLE_JWT_ISSUER": "http://127.0.0.1:8001"}
    )
    assert local.is_local and local.jwt_secret == "local-dev-secret"  # the scripts' tokens still verify
    assert (local.oidc_client_id, local.oidc_scope) == ("cartable-web", "openid profile")
