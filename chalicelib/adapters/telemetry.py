"""The Telemetry port on Lambda: JSON log lines, and CloudWatch metrics as EMF (Powertools for AWS Lambda).

Logs: Chalice's `app.log` is the `cartable` logger and every module logs under it (`cartable.scan`,
`cartable.http`, ...). Its one handler formats each line as one JSON object, the fields of Powertools'
Logger: `level`, `location`, `message`, `timestamp` (RFC 3339, UTC), `service`, `name` (the logger),
a line's `extra` fields, `exception` and `exception_name`, and the keys of the invocation and its
scopes. The formatter is ours (thirty lines of the standard library): Powertools' Logger costs every
cold start of the API about 7 ms to import, the first request included, which figure 1 cannot
afford. The keys are per thread (`chalice local` serves each request on a thread of its own) and
cleared when an invocation ends. Lines go to stdout on Lambda, to stderr locally, where a log
directory may also receive them (the integration tests read it).

Metrics: Powertools' EMF serializer (validation, units, dimension sets), imported by the first
invocation that records a metric (the scans, a quota refusal), never by a plain request. Namespace
`Cartable`, dimension `service`=`cartable`, kept in memory during an invocation and written as EMF
lines when it ends, whatever happened: CloudWatch Logs turns each line into metrics, so
no API call and no permission beyond writing logs. Each metric name is an alarm's or a dashboard's
(README, "Operating it").
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, cast

from chalicelib.domain.models import FileStatus

if TYPE_CHECKING:
    from aws_lambda_powertools.metrics import EphemeralMetrics

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


class LambdaTelemetry:
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
        self._keys = _Keys()
        self._formatter = JsonLines(service, self._keys)
        _json_logger(service, level, stream, self._formatter)
        self._sinks: list[Any] = [stream]
        if log_file is not None:
            self._sinks.append(_tee(service, self._formatter, log_file))
        self._metric_set: EphemeralMetrics | None = None  # Powertools, on the first metric
        self._verdicts: Counter[tuple[str, str]] = Counter()

    # -- around an invocation -------------------------------------------------------------------
    @contextmanager
    def invocation(self, **keys: object) -> Iterator[None]:
        """One Lambda invocation: its keys on every line and none left for the next; its metrics
        written when it ends, an exception included."""
        self._keys.replace(_present(keys))
        try:
            yield
        finally:
            try:
                self.flush()
            finally:
                self._keys.replace({})

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

    @property
    def _metrics(self) -> EphemeralMetrics:
        if self._metric_set is None:
            from aws_lambda_powertools.metrics import EphemeralMetrics

            self._metric_set = EphemeralMetrics(namespace=self._namespace, service=self._service)
        return self._metric_set

    def _blobs(self) -> list[dict[str, Any]]:
        if self._metric_set is None and not self._verdicts:
            return []  # nothing recorded: Powertools need not even be imported
        from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

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
        before = self._keys.current()
        self._keys.replace({**before, **_present(keys)})
        try:
            yield
        finally:
            self._keys.replace(before)

    def tag(self, **keys: str) -> None:
        self._keys.replace({**self._keys.current(), **_present(keys)})

    @contextmanager
    def request_line(self) -> Iterator[dict[str, object]]:
        """While a request is served: the facts `fold` is given, for the one line written once it is
        answered (chalicelib/invocation.py), instead of a line each (a line costs ~0.1 ms of CPU)."""
        facts: dict[str, object] = {}
        self._keys.facts = facts
        try:
            yield facts
        finally:
            self._keys.facts = None

    def fold(self, **facts: str) -> bool:
        line = self._keys.facts
        if line is None or not line.keys().isdisjoint(facts) or not _RESERVED.isdisjoint(facts):
            return False  # no request line, or a second decision of the same request: a line of its own
        line.update(facts)
        return True

    def served(self, log: logging.Logger, status: int, duration_ms: float, facts: Mapping[str, object]) -> None:
        """A request's one line, `request served`, exactly as `log.info` would write it through our handlers (the
        same fields, level and streams), but without the logging module's machinery on the way: the caller's
        frame looked up, a record built, filters and handlers walked (~50 µs of every warm request's CPU). Any
        other set-up (a handler or filter of someone else's, a test's) gets `log.info` itself."""
        extra = {"status": status, "duration_ms": duration_ms, **facts}
        handlers = self._own_handlers(log)
        if handlers is None:
            log.info("request served", extra=extra, stacklevel=2)
            return
        if not log.isEnabledFor(logging.INFO):
            return
        caller = sys._getframe(1)
        location = f"{caller.f_code.co_name}:{caller.f_lineno}"
        source = _Source(log.name, time.time())
        text = self._formatter.encode(self._formatter.fields("INFO", location, "request served", source, extra))
        for handler in handlers:
            handler.acquire()
            try:
                handler.stream.write(text + handler.terminator)
                handler.flush()
            except Exception:  # as StreamHandler.emit: a closed or broken stream never fails the request
                handler.handleError(logging.makeLogRecord({"name": log.name, "msg": "request served", "levelno": 20}))
            finally:
                handler.release()

    def _own_handlers(self, log: logging.Logger) -> list[logging.StreamHandler[Any]] | None:
        """The handlers a line of `log` reaches when they are all ours and nothing else stands in between."""
        base = log.parent
        if log.handlers or log.filters or not log.propagate or base is None or base.name != self._service:
            return None
        if base.filters or not base.handlers:
            return None
        handlers: list[logging.StreamHandler[Any]] = []
        for handler in base.handlers:
            if not isinstance(handler, logging.StreamHandler) or type(handler) is not logging.StreamHandler:
                return None  # a FileHandler, say: it opens its file itself
            if handler.formatter is not self._formatter or handler.filters or handler.level > logging.INFO:
                return None
            handlers.append(handler)
        return handlers

    def verdict(self, verdict: Verdict, waited: timedelta | None) -> None:
        self._verdicts[(verdict.status.value, verdict_reason(verdict))] += 1
        if waited is not None:
            self._metrics.add_metric(UPLOAD_TO_VERDICT, "Milliseconds", _milliseconds(waited))

    def clamd_error(self, count: int = 1) -> None:
        self._metrics.add_metric(CLAMD_ERRORS, "Count", count)

    def quota_refused(self) -> None:
        self._metrics.add_metric(QUOTA_REFUSALS, "Count", 1)

    def queue_age(self, waited: timedelta) -> None:
        self._metrics.add_metric(QUEUE_AGE, "Milliseconds", _milliseconds(waited))


class _Keys(threading.local):
    """The keys every line of this thread's invocation carries."""

    def __init__(self) -> None:
        self._values: dict[str, object] = {}
        self.facts: dict[str, object] | None = None  # the request line's, while a request is served

    def current(self) -> dict[str, object]:
        return dict(self._values)

    @property
    def values(self) -> Mapping[str, object]:
        return self._values

    def replace(self, values: Mapping[str, object]) -> None:
        self._values = dict(values)


# What every LogRecord has; anything else on a record came from `extra=` and goes on the line.
_RECORD_FIELDS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
# Names a folded fact may not take: a record's own, and the request line's.
_RESERVED = _RECORD_FIELDS | {"status", "duration_ms"}


# json.dumps with these options would build an encoder for every line.
_LINE_ENCODER = json.JSONEncoder(default=str, ensure_ascii=False, separators=(",", ":"))


class JsonLines(logging.Formatter):
    """One JSON object a line, with Powertools' Logger's fields (so its queries and tools read ours)."""

    def __init__(self, service: str, keys: _Keys) -> None:
        super().__init__()
        self._service = service
        self._keys = keys

    def format(self, record: logging.LogRecord) -> str:
        extra = {k: v for k, v in vars(record).items() if k not in _RECORD_FIELDS}
        line = self.fields(record.levelname, f"{record.funcName}:{record.lineno}", record.getMessage(), record, extra)
        if record.exc_info and record.exc_info[0] is not None:
            line["exception"] = self.formatException(record.exc_info)
            line["exception_name"] = record.exc_info[0].__name__
        return _LINE_ENCODER.encode(line)

    def fields(
        self, level: str, location: str, message: str, source: logging.LogRecord | _Source, extra: Mapping[str, object]
    ) -> dict[str, object]:
        """A line's fields, in their order: a record's, or those of a line written directly (`served`)."""
        return {
            "level": level,
            "location": location,
            "message": message,
            "timestamp": datetime.fromtimestamp(source.created, UTC).isoformat(timespec="milliseconds"),
            "service": self._service,
            "name": source.name,
            **self._keys.values,  # read, not copied
            **extra,
        }

    def encode(self, line: Mapping[str, object]) -> str:
        return _LINE_ENCODER.encode(line)


class _Source:
    """Who wrote a direct line, and when: what `fields` reads of a record."""

    def __init__(self, name: str, created: float) -> None:
        self.name, self.created = name, created


def _json_logger(service: str, level: str, stream: StandardStream, formatter: JsonLines) -> None:
    """The `service` logger with one handler writing JSON lines; its children propagate to it."""
    base = logging.getLogger(service)
    for handler in list(base.handlers):
        # Chalice's plain handler would print each line again as text; an earlier wiring's is replaced.
        base.removeHandler(handler)
    handler = logging.StreamHandler(cast(IO[str], stream))  # it writes and flushes, all a handler asks
    handler.setFormatter(formatter)
    base.addHandler(handler)
    base.setLevel(level)
    base.propagate = False  # Lambda's root handler would print each line a second time
    # What a record would gather and no line shows (the thread, the process, the asyncio task): the logging
    # module's documented switches ("Optimization" in its HOWTO), a third of a line's CPU on a warm request.
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    logging.logAsyncioTasks = False  # type: ignore[attr-defined]  # Python 3.12's, not in typeshed's stubs yet


def _tee(service: str, formatter: JsonLines, path: Path) -> IO[str]:
    """Stage local: the same lines (and the EMF ones) appended to a file too."""
    path.parent.mkdir(parents=True, exist_ok=True)
    file = path.open("a", encoding="utf-8", buffering=1)
    handler = logging.StreamHandler(file)
    handler.setFormatter(formatter)
    logging.getLogger(service).addHandler(handler)
    return file


def _present(keys: Mapping[str, object]) -> dict[str, object]:
    return {name: value for name, value in keys.items() if value is not None}


def _milliseconds(waited: timedelta) -> float:
    return max(0.0, round(waited.total_seconds() * 1000, 1))
