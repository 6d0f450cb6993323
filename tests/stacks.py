"""The whole local stack for a package of tests, on free ports, as `make dev` runs it.

Both the integration and the browser tests use it; each package gets a stack of its own (torn down
before the next starts). Uploads go multipart above 6 MiB in 5 MiB parts (S3's smallest), so the
multipart paths are tried without 64 MiB files; the contract's 64 MiB is the default elsewhere.
CARTABLE_TEST_CATALOG=postgres runs the stacks on a PostgreSQL catalog (as `make dev CATALOG=postgres`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from local.stack import LocalStack, StackConfig, free_port

MIB = 1024 * 1024
MULTIPART = {"CARTABLE_MULTIPART_THRESHOLD": str(6 * MIB), "CARTABLE_PART_SIZE": str(5 * MIB)}


def running_stack(tmp_path_factory: pytest.TempPathFactory, name: str, **options: Any) -> Iterator[LocalStack]:
    """A started stack (`options` are StackConfig's), stopped when the generator is closed."""
    extra_env = {**MULTIPART, **options.pop("extra_env", {})}
    options.setdefault("catalog", os.environ.get("CARTABLE_TEST_CATALOG") or "dynamodb")
    config = StackConfig(
        build_dir=tmp_path_factory.mktemp(name),
        port=free_port(),
        moto_port=free_port(),
        max_upload_size=16 * MIB,
        extra_env=extra_env,
        **options,
    )
    stack = LocalStack(config)
    stack.start()
    try:
        yield stack
    finally:
        stack.stop()
