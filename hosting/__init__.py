"""The host layer for Kubernetes (issue 20): the same Chalice app and handlers outside Lambda.

- `hosting.wsgi`: the API as a WSGI application (gunicorn serves it), turning each request into the event
  API Gateway's REST proxy integration would send, with the gateway's own answers for what it refuses;
- `hosting.worker`: the SQS handlers fed as Lambda's event source mapping feeds them (batches, partial
  failures, visibility kept while a batch runs, graceful shutdown, a health file);
- `hosting.cron`: one run of a scheduled handler, for a CronJob;
- `hosting.notifier`: the bucket's `incoming/` ObjectCreated events, for stores that send none.

The long-running ones (the SQS and AMQP workers, the notifier) share `Loop` (how they stop), `Health`
(Kubernetes' probes) and `serve` (the probes' server, a graceful stop on SIGTERM) from here.

Not part of the Lambda package: `chalice package` bundles app.py and chalicelib/ only.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from http.server import ThreadingHTTPServer


@dataclass
class LambdaContext:
    """The parts of Lambda's context object a handler (or Powertools) reads, with the function's deadline."""

    function_name: str
    timeout_seconds: float = 30.0
    memory_limit_in_mb: int = 512
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    invoked_function_arn: str = ""
    log_group_name: str = ""
    log_stream_name: str = ""
    _started: float = field(default_factory=time.monotonic, repr=False)

    def __post_init__(self) -> None:
        if not self.invoked_function_arn:
            self.invoked_function_arn = f"arn:kubernetes:function:{self.function_name}"
        if not self.log_group_name:
            self.log_group_name = f"/kubernetes/{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.timeout_seconds - (time.monotonic() - self._started)) * 1000))


class Health:
    """What Kubernetes' probes read of a long-running loop: when it last turned (liveness: `/healthz`),
    whether it still takes work and its last call to what it depends on (the queue, the store)
    succeeded (readiness: `/readyz`)."""

    def __init__(self, stale_after: float) -> None:
        self.stale_after = stale_after
        self.beat = time.monotonic()
        self.working = True
        self.backend_ok = True

    def alive(self) -> bool:
        return time.monotonic() - self.beat < self.stale_after

    def ready(self) -> bool:
        return self.alive() and self.working and self.backend_ok

    def serve(self, port: int, host: str = "0.0.0.0") -> ThreadingHTTPServer:  # noqa: S104 (the pod's probes)
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        health = self

        class Probe(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                checks = {"/healthz": health.alive, "/readyz": health.ready}
                check = checks.get(self.path)
                ok = check is not None and check()
                body = json.dumps({"status": "ok" if ok else "unavailable"}).encode()
                self.send_response(200 if ok else 404 if check is None else 503)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        server = ThreadingHTTPServer((host, port), Probe)
        threading.Thread(target=server.serve_forever, name="health", daemon=True).start()
        return server


class Loop:
    """How a long-running loop stops: `stop` (SIGTERM's) takes no more work, says so once with
    `stop_message` and turns readiness off; the loop goes on while `turning(deadline)`, then finishes
    what it holds. `run(stop_after)` takes a deadline in seconds (tests), `deadline` makes it."""

    stop_message = "stopping: what is in hand finishes"

    def __init__(self, health: Health, log: logging.Logger) -> None:
        self.health = health
        self._log = log
        self._stopping = threading.Event()

    def stop(self) -> None:
        """Take no more work; what is in hand finishes (`run` returns once it is settled)."""
        if not self._stopping.is_set():
            self._log.info(self.stop_message)
        self._stopping.set()
        self.health.working = False

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    @staticmethod
    def deadline(stop_after: float | None) -> float | None:
        return None if stop_after is None else time.monotonic() + stop_after

    def turning(self, deadline: float | None) -> bool:
        """Whether to go round once more: not stopping, the deadline (if any) not reached; beats if so."""
        if self.stopping or (deadline is not None and time.monotonic() >= deadline):
            return False
        self.health.beat = time.monotonic()
        return True


def serve(run: Callable[[], None], stop: Callable[[], None], health: Health, port: int) -> None:
    """Run a long-running loop as a pod's process: its probes on `port` (none when 0; on
    `CARTABLE_HEALTH_HOST`, every address by default, where the kubelet probes), `stop` on SIGTERM or
    SIGINT (the loop finishes what it holds and returns), the probes' server closed once it has."""
    host = os.environ.get("CARTABLE_HEALTH_HOST", "0.0.0.0")  # noqa: S104 (the kubelet probes the pod's address)
    server = health.serve(port, host) if port else None
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop())
    try:
        run()
    finally:
        if server is not None:
            server.shutdown()
            server.server_close()
