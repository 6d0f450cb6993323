"""Production settings and signing-only credentials for tests that presign URLs offline (no request leaves
the machine): the storage endpoints' tests and the download front's."""

from __future__ import annotations

import pytest

from chalicelib.settings import Settings


def prod_settings(bucket: str, **extra: str) -> Settings:
    """Stage prod's settings with `bucket`, overridden by `extra` (CARTABLE_* names)."""
    return Settings.from_env(
        {
            "CARTABLE_STAGE": "prod",
            # Lambda's own region (reserved there); an S3-compatible provider's comes from CARTABLE_S3_REGION.
            "AWS_DEFAULT_REGION": "eu-west-3",
            "CARTABLE_BUCKET": bucket,
            "CARTABLE_TABLE": "cartable",
            "CARTABLE_JWT_ISSUER": "https://idp.example",
            "CARTABLE_JWKS_URL": "https://idp.example/jwks",
            "CARTABLE_CURSOR_SECRET": "s",
            "CARTABLE_RECEIPT_SECRET": "r",
            **extra,
        }
    )


def signing_only(monkeypatch: pytest.MonkeyPatch, access_key: str) -> None:
    """Keys for signing only, and no shared config that could redirect the client."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "example-secret")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
