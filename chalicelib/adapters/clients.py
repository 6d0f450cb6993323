"""The AWS clients of a process: our region, endpoints, addressing style and retry policy, made on first use."""

from __future__ import annotations

from typing import Any

from chalicelib.settings import Settings


def aws_client(service: str, config: Settings) -> Any:
    """An AWS client with our region, endpoint, addressing style and retry policy. It is botocore's, as
    boto3's clients are, made without importing boto3: its package imports s3transfer and its thread pools
    (~15-20 ms of a cold start) for transfer helpers we never call."""
    import botocore.session
    from botocore.config import Config

    endpoints = {
        "s3": config.s3_endpoint,
        "dynamodb": config.dynamodb_endpoint,
        "sqs": config.sqs_endpoint,
        "sns": config.sns_endpoint,
    }
    s3_options: Any = {"addressing_style": config.s3_addressing_style}
    client_config = Config(
        region_name=config.storage_region if service == "s3" else config.region,
        signature_version="s3v4" if service == "s3" else None,
        s3=s3_options,
        retries={"mode": "standard", "max_attempts": 4},
        connect_timeout=3,
        read_timeout=30,
    )
    # A session of its own per client, as boto3.session.Session() made: clients are made once per process.
    session: Any = botocore.session.Session()
    client = session.create_client(service, endpoint_url=endpoints.get(service), config=client_config)
    if config.record_calls and config.is_local:
        from pathlib import Path

        from chalicelib.adapters.calls import record_calls

        record_calls(client, Path(config.record_calls))
    return client


class LazyClient:
    """A client made on first use: a listing or a metadata read never pays for an S3 client."""

    def __init__(self, service: str, config: Settings) -> None:
        self._service, self._config = service, config
        self._client: Any = None

    def __getattr__(self, name: str) -> Any:
        if self._client is None:
            self._client = aws_client(self._service, self._config)
        return getattr(self._client, name)
