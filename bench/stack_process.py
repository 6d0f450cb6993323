"""The whole local stack of `make dev` (moto server, clamd, `chalice local`, the event pump) in a child
process on free ports, for the figures that go through the API as tablets do.

The child prints one ready line (JSON: the API and AWS endpoints, the table, the pump's and clamd's
pids) and runs until its stdin closes; its parts log to `stack.log` in the build directory.
Usage (internal): .venv/bin/python -m bench.stack_process BUILD_DIR MAX_UPLOAD [ENV_JSON]
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.common import BENCH_ENV, SECRET, free_port, ready_child


def stack_child(build: str, max_upload: int, env: dict[str, str] | None = None) -> None:
    from local.stack import LocalStack, StackConfig

    ready = os.fdopen(os.dup(1), "w")
    log = os.open(Path(build) / "stack.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    config = StackConfig(
        build_dir=Path(build),
        port=free_port(),
        moto_port=free_port(),
        jwt_secret=SECRET,
        max_upload_size=max_upload,
        extra_env={**BENCH_ENV, **(env or {})},
    )
    stack = LocalStack(config)
    stack.start()
    try:
        pump = stack._processes["pump"].pid
        clamd = int(stack.clamd.pid_path.read_text().strip()) if stack.clamd.pid_path.exists() else None
        ready.write(
            json.dumps(
                {"api": stack.api_url, "aws": stack.aws_endpoint, "table": config.table, "pump": pump, "clamd": clamd}
            )
            + "\n"
        )
        ready.close()
        sys.stdin.read()
    finally:
        stack.stop()


@contextmanager
def local_stack_process(build: Path, max_upload: int, env: dict[str, str] | None = None) -> Iterator[dict[str, Any]]:
    """The stack in a child process; `env` adds to what its functions see (e.g. CARTABLE_RECORD_CALLS)."""

    def failure() -> str:
        log = build / "stack.log"
        tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
        return f"the local stack did not start:\n{tail}"

    command = [sys.executable, "-m", "bench.stack_process", str(build), str(max_upload), json.dumps(env or {})]
    with ready_child(command, failure) as ready:
        yield ready


@contextmanager
def stack_log_on_error(build: Path) -> Iterator[None]:
    """On a failure, the tail of what the stack's parts said (the API's and the pump's tracebacks)."""
    try:
        yield
    except BaseException:
        log = build / "stack.log"
        if log.exists():
            print(log.read_text(errors="replace")[-4000:], file=sys.stderr)
        raise


if __name__ == "__main__":
    stack_child(sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3]) if len(sys.argv) > 3 else None)
