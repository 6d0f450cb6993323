"""Powertools for AWS Lambda behind the Telemetry port: JSON log lines, and CloudWatch metrics as EMF.

Logs: Chalice's `app.log` is the `cartable` logger and every module logs under it (`cartable.scan`,
`cartable.http`, ...). Its one handler carries Powertools' JSON formatter, so every line is one JSON
object: `level`, `location`, `message`, `timestamp` (RFC 3339, UTC), `service`, `name` (the logger)
and the keys of the invocation and its scopes. The keys are per thread (`chalice local` serves each
request on a thread of its own) and cleared when an invocation ends. Lines go to stdout on Lambda,
to stderr locally, where a log directory may also receive them (the integration tests read it).

Metrics: namespace `Cartable`, dimension `service`=`cartable`, kept in memory during an invocation and
written as EMF lines when it ends, whatever happened: CloudWatch Logs turns each line into metrics, so
no API call and no permission beyond writing logs. Each metric name is an alarm's or a dashboard's
(README, "Operating it").
"""

from __future__ import annotations

import json
import logging
import sys
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, cast

from aws_lambda_powertools.logging import Logger
from aws_lambda_powertools.logging.formatter import BasePowertoolsFormatter
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

from chalicelib.domain.models import FileStatus

if TYPE_CHECKING:
    from chalicelib.domain.content import Verdict

SERVICE = "cartable"
NAMESPACE = "Cartable"

CLAMD_ERRORS = "ClamdErrors"  # an alarm watches it: {Cartable, service=cartable}
QUOTA_REFUSALS = "QuotaRefusals"
QUEUE_AGE = "QueueAgeMs"
UPLOAD_TO_VERDICT = "UploadToVerdictMs"
SCAN_VERDICTS = "ScanVerdicts"  # dimensions {service, status} and {service, status, reason}

log = logging.getLogger("cartable.telemetry")


class StandardStream:
    """sys.stdout or sys.stderr as it is when a line is written, as print() finds it (tests swap them)."""

    def __init__(self, name: str) -> None:
        self._name = name

    def write(self, text: str) -> int:
        stream: IO[str] = getattr(sys, self._name)
        return stream.write(text)

    def flush(self) -> None:
        stream: IO[str] = getattr(sys, self._name)
        stream.flush()


def verdict_reason(verdict: Verdict) -> str:
    """The `reason` dimension: bounded, so a signature name never becomes a metric of its own."""
    if verdict.clean:
        return "clean"
    if verdict.status is FileStatus.INFECTED:
        return "virus"  # the signature is in the verdict's log line
    return verdict.reason or "unknown"


class PowertoolsTelemetry:
    """The Telemetry port, and what an invocation needs around it: its keys, then its metrics written."""

    def __init__(
        self,
        service: str = SERVICE,
        namespace: str = NAMESPACE,
        level: str = "INFO",
        local: bool = False,
        log_file: Path | None = None,
    ) -> None:
        stream = StandardStream("stderr" if local else "stdout")
        self._service, self._namespace = service, namespace
        self._logger = _json_logger(service, level, stream)
        self._sinks: list[Any] = [stream]
        if log_file is not None:
            self._sinks.append(_tee(self._logger, log_file))
        self._metrics = EphemeralMetrics(namespace=namespace, service=service)
        self._verdicts: Counter[tuple[str, str]] = Counter()

    # -- around an invocation -------------------------------------------------------------------
    @contextmanager
    def invocation(self, **keys: object) -> Iterator[None]:
        """One Lambda invocation: its keys on every line and none left for the next; its metrics
        written when it ends, an exception included."""
        self._logger.thread_safe_clear_keys()
        self._logger.thread_safe_append_keys(**_present(keys))
        try:
            yield
        finally:
            try:
                self.flush()
            finally:
                self._logger.thread_safe_clear_keys()

    def redirect(self, stream: IO[str]) -> None:
        """Every line and EMF line to `stream` instead (benchmarks: formatted as on Lambda, then dropped)."""
        for handler in logging.getLogger(self._service).handlers:
            if isinstance(handler, logging.StreamHandler):
                handler.setStream(stream)
        self._sinks = [stream]

    def flush(self) -> None:
        """Write the metrics kept so far as EMF lines; a failure here is logged, never the caller's."""
        try:
            for blob in self._blobs():
                line = json.dumps(blob, separators=(",", ":")) + "\n"
                for sink in self._sinks:
                    sink.write(line)
                    sink.flush()
        except Exception:
            log.exception("metrics not written")

    def _blobs(self) -> list[dict[str, Any]]:
        blobs: list[dict[str, Any]] = []
        try:
            if self._metrics.metric_set:
                blobs.append(dict(self._metrics.serialize_metric_set()))
            for (status, reason), count in sorted(self._verdicts.items()):
                # A set of its own: its dimensions would otherwise apply to every metric of the line.
                verdicts = EphemeralMetrics(namespace=self._namespace, default_dimensions={"service": self._service})
                verdicts.add_dimension("status", status)
                verdicts.add_dimensions(service=self._service, status=status, reason=reason)
                verdicts.add_metric(SCAN_VERDICTS, MetricUnit.Count, count)
                blobs.append(dict(verdicts.serialize_metric_set()))
        finally:
            self._metrics.clear_metrics()
            self._verdicts.clear()
        return blobs

    # -- the port ---------------------------------------------------------------------------------
    @contextmanager
    def scope(self, **keys: str) -> Iterator[None]:
        before = dict(self._logger.thread_safe_get_current_keys())
        self._logger.thread_safe_append_keys(**_present(keys))
        try:
            yield
        finally:
            self._logger.thread_safe_clear_keys()
            self._logger.thread_safe_append_keys(**before)

    def tag(self, **keys: str) -> None:
        self._logger.thread_safe_append_keys(**_present(keys))

    def verdict(self, verdict: Verdict, waited: timedelta | None) -> None:
        self._verdicts[(verdict.status.value, verdict_reason(verdict))] += 1
        if waited is not None:
            self._metrics.add_metric(UPLOAD_TO_VERDICT, MetricUnit.Milliseconds, _milliseconds(waited))

    def clamd_error(self, count: int = 1) -> None:
        self._metrics.add_metric(CLAMD_ERRORS, MetricUnit.Count, count)

    def quota_refused(self) -> None:
        self._metrics.add_metric(QUOTA_REFUSALS, MetricUnit.Count, 1)

    def queue_age(self, waited: timedelta) -> None:
        self._metrics.add_metric(QUEUE_AGE, MetricUnit.Milliseconds, _milliseconds(waited))


def _json_logger(service: str, level: str, stream: StandardStream) -> Logger:
    """Powertools' Logger on the `service` logger, the only handler there; its children propagate to it."""
    base = logging.getLogger(service)
    for handler in list(base.handlers):
        # A plain handler (Chalice's own) would print each line again as text; an earlier tee is replaced.
        if isinstance(handler, _TeeHandler) or not isinstance(handler.formatter, BasePowertoolsFormatter):
            base.removeHandler(handler)
    logger = Logger(
        service=service,
        level=level,
        stream=cast(IO[str], stream),  # it writes and flushes, all a handler asks of a stream
        utc=True,
        use_rfc3339=True,
        serialize_stacktrace=False,  # the traceback is in `exception` already
        name="%(name)s",
    )
    # Powertools keeps the first configuration of a logger (a test's, a previous wiring's): the level
    # and the stream are this one's.
    logger.setLevel(level)
    handler = logger.registered_handler
    if isinstance(handler, logging.StreamHandler):
        handler.setStream(stream)
    base.propagate = False  # Lambda's root handler would print each line a second time
    return logger


class _TeeHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The local copy of the lines in a file."""


def _tee(logger: Logger, path: Path) -> IO[str]:
    """Stage local: the same lines (and the EMF ones) appended to a file too."""
    path.parent.mkdir(parents=True, exist_ok=True)
    file = path.open("a", encoding="utf-8", buffering=1)
    handler = _TeeHandler(file)
    handler.setFormatter(logger.registered_formatter)
    logging.getLogger(logger.service).addHandler(handler)
    return file


def _present(keys: Mapping[str, object]) -> dict[str, object]:
    return {name: value for name, value in keys.items() if value is not None}


def _milliseconds(waited: timedelta) -> float:
    return max(0.0, round(waited.total_seconds() * 1000, 1))
