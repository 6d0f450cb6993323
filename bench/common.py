"""What the figures share: a moto server of their own, the stack's environment, tokens, AWS call counting,
clamd with the bench's limits, and the way a figure is printed (a small table, then one JSON line).
"""

from __future__ import annotations

import json
import math
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / ".build" / "bench"
REGION = "eu-west-3"
MIB = 1024 * 1024
SECRET = "bench-secret-of-at-least-thirty-two-bytes"
# Benchmarks send far more requests a minute from one user than a person does: no rate limit in the way.
# The per-user rate and count of waiting grants, lifted: a benchmark is one user granting thousands of uploads.
BENCH_ENV = {"CARTABLE_POSTS_PER_MINUTE": "100000", "CARTABLE_QUOTAS_FILE": str(ROOT / "bench" / "quotas.json")}
SCHOOL = "bench-school"
QUICK = os.environ.get("BENCH_QUICK", "") not in ("", "0")
DYNAMODB_WRITES = {"TransactWriteItems", "PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem"}
DYNAMODB_READS = {"GetItem", "Query", "BatchGetItem", "Scan", "TransactGetItems"}


def free_port() -> int:
    """A free TCP port on the loopback (never the 8000/5001 a developer's `make dev` uses)."""
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_mb(pid: int) -> float:
    """Resident memory of a live process, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return math.nan


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return math.nan


# -- processes ----------------------------------------------------------------------------------------
def stop_process(process: subprocess.Popen[Any], group: bool = False) -> None:
    """SIGTERM (the whole session when `group`), then SIGKILL after 10 s; always reaped."""
    if process.poll() is None:
        if group:
            os.killpg(process.pid, signal.SIGTERM)
        else:
            process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            if group:
                os.killpg(process.pid, signal.SIGKILL)
            else:
                process.kill()
            process.wait()


@dataclass
class MotoServer:
    """A moto server in a process of its own, so that its CPU never counts as ours."""

    port: int
    process: subprocess.Popen[bytes]

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self, service: str) -> Any:
        return aws_client(service, self.endpoint)

    def rss_mb(self) -> float:
        return rss_mb(self.process.pid)


def aws_client(service: str, endpoint: str) -> Any:
    import boto3
    from botocore.config import Config

    session: Any = boto3.session.Session()
    return session.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="local",
        aws_secret_access_key="local",
        config=Config(s3={"addressing_style": "path"}, retries={"mode": "standard", "max_attempts": 4}),
    )


@contextmanager
def moto_server() -> Iterator[MotoServer]:
    """`moto_server` on a free port, ready when it answers; stopped on the way out. It sends a GET's body
    as S3 does, from its first bytes on (local.moto_serve), rather than after copying the whole object."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "local.moto_serve", "-H", "127.0.0.1", "-p", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "AWS_DEFAULT_REGION": REGION},
    )
    server = MotoServer(port, process)
    try:
        s3 = server.client("s3")
        for _ in range(200):
            try:
                s3.list_buckets()
                break
            except Exception:
                if process.poll() is not None:
                    raise RuntimeError("moto_server exited at start") from None
                time.sleep(0.05)
        yield server
    finally:
        stop_process(process)


@contextmanager
def local_stack(moto: MotoServer, build_dir: Path, with_clamd: bool = False) -> Iterator[Any]:
    """local/stack.py's LocalStack pointed at our moto server: its resources, its env, maybe its clamd."""
    from local.stack import LocalStack, StackConfig

    config = StackConfig(
        build_dir=build_dir, port=free_port(), moto_port=moto.port, jwt_secret=SECRET, extra_env=dict(BENCH_ENV)
    )
    stack = LocalStack(config)
    stack.create_resources()
    try:
        if with_clamd:
            stack.clamd.start()
        yield stack
    finally:
        stack.clamd.stop()


@contextmanager
def scratch_dir(prefix: str) -> Iterator[Path]:
    """A short temporary directory (clamd's Unix socket path must fit in 107 bytes)."""
    with tempfile.TemporaryDirectory(prefix=prefix, dir="/tmp") as name:
        yield Path(name)


# -- clamd with the bench's limits -------------------------------------------------------------------
class BenchClamd:
    """Our clamd (project database, local/clamav.py's config) with roomier limits and no result cache,
    so that scanning the same bytes twice costs twice."""

    def __init__(self, directory: Path, max_stream: int) -> None:
        self.directory = directory
        self.max_stream = max_stream
        self.socket_path = directory / "clamd.sock"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"unix://{self.socket_path}"

    def start(self) -> None:
        from chalicelib.adapters.clamav import ClamdScanner
        from local.clamav import build_database, ensure_clamd_installed, render_config

        build_database(self.directory / "db")
        conf = render_config(self.directory, self.socket_path, self.max_stream)
        with conf.open("a", encoding="utf-8") as out:
            out.write("# bench: the same bytes scanned twice must cost twice\nDisableCache yes\n")
        self.process = subprocess.Popen(
            [ensure_clamd_installed(), "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        scanner = ClamdScanner(self.address, timeout=2)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"clamd exited at start; see {self.directory / 'clamd.log'}")
            if scanner.ping():
                return
            time.sleep(0.05)
        raise RuntimeError("clamd did not answer PONG within 30 s")

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
            self.process = None

    def rss_mb(self) -> float:
        return math.nan if self.process is None else rss_mb(self.process.pid)


# -- identity and environment ----------------------------------------------------------------------------
def token(sub: str, role: str = "student", school: str = SCHOOL) -> str:
    import jwt

    now = int(time.time())
    claims = {
        "sub": sub,
        "school": school,
        "role": role,
        "iat": now,
        "exp": now + 3600,
        "iss": "cartable-local",
        "aud": "cartable",
    }
    return jwt.encode(claims, SECRET, algorithm="HS256")


def quiet_logs(app: Any) -> None:
    """The app's log lines and metrics are still formatted, as on Lambda, but written to /dev/null, not our
    terminal (the JSON logger the first invocation would set up, set up now)."""
    from chalicelib import wiring

    wiring.telemetry().redirect(open(os.devnull, "w"))


def use_env(env: dict[str, str]) -> None:
    """Make this process see the stack's environment, as Lambda's configuration would be."""
    os.environ.update(env)
    os.environ.pop("AWS_PROFILE", None)


# -- AWS call counting ----------------------------------------------------------------------------------
@dataclass
class CallLog:
    """Every AWS API call a client made (botocore's `before-call`), with what DynamoDB was asked to write."""

    calls: list[str] = field(default_factory=list)
    write_items: int = 0  # items written, transactions counted item by item
    transact_items: int = 0  # actions of transactions, condition checks included
    write_units: int = 0  # on-demand write request units, every item taken as at most 1 KB
    sdk_cpu: float = 0.0  # process time spent inside botocore: its API calls (building, sending, parsing), presigning
    presign_cpu: float = 0.0  # of which presigning URLs and POST policies (botocore too, though no API call)
    _depth: int = 0

    def hook(self, event_name: str, params: dict[str, Any] | None = None, **_: Any) -> None:
        # event_name is `before-call.{service}.{Operation}`.
        service, operation = event_name.split(".", 2)[1:]
        self.calls.append(f"{service}:{operation}")
        body = (params or {}).get("body")
        if isinstance(body, bytes | str) and service == "dynamodb" and operation in DYNAMODB_WRITES:
            self._count_writes(operation, body)

    def _count_writes(self, operation: str, body: bytes | str) -> None:
        try:
            request = json.loads(body)
        except ValueError:
            return
        if operation == "TransactWriteItems":
            actions = request.get("TransactItems", [])
            self.write_items += sum("ConditionCheck" not in a for a in actions)
            # On demand, a transaction costs 2 write units per action and KB (condition checks too).
            self.transact_items += len(actions)
            self.write_units += sum(2 * _kilobytes(a.get("Put", {}).get("Item")) for a in actions)
        elif operation == "BatchWriteItem":
            puts = [r.get("PutRequest", {}).get("Item") for v in request.get("RequestItems", {}).values() for r in v]
            self.write_items += len(puts)
            self.write_units += sum(_kilobytes(item) for item in puts)
        else:
            self.write_items += 1
            self.write_units += _kilobytes(request.get("Item"))

    def watch(self, client: Any) -> None:
        client.meta.events.register("before-call.*.*", self.hook)
        # The SDK's CPU (and the wait) is the whole of botocore's API call, from the client method's entry
        # (operation model, parameter events, validation, serialising, signing, sending, parsing) to its
        # answer; presigning (a signature, a policy) is botocore's work too, though no API call.
        for name in ("_make_api_call", "generate_presigned_post", "generate_presigned_url"):
            if hasattr(client, name):
                setattr(client, name, self._timed(getattr(client, name), presign=name != "_make_api_call"))

    def _timed(self, call: Callable[..., Any], presign: bool) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            self._depth += 1
            started = time.process_time()
            try:
                return call(*args, **kwargs)
            finally:
                self._depth -= 1
                if self._depth == 0:  # once, for calls botocore makes within its own
                    spent = time.process_time() - started
                    self.sdk_cpu += spent
                    if presign:
                        self.presign_cpu += spent

        return timed

    def clear(self) -> None:
        self.calls.clear()
        self.write_items = self.transact_items = self.write_units = 0
        self.sdk_cpu = self.presign_cpu = 0.0

    def counts(self) -> Counter[str]:
        return Counter(self.calls)

    def summary(self) -> dict[str, int]:
        counts = self.counts()
        return {
            "dynamodb_writes": sum(n for c, n in counts.items() if c.split(":")[1] in DYNAMODB_WRITES),
            "dynamodb_reads": sum(n for c, n in counts.items() if c.split(":")[1] in DYNAMODB_READS),
            "s3": sum(n for c, n in counts.items() if c.startswith("s3:")),
            "total": len(self.calls),
        }


def count_clients(log: CallLog) -> None:
    """Every AWS client created from now on (the wiring's: botocore's, as boto3's are too) reports its calls
    to `log`."""
    import botocore.session

    original = botocore.session.Session.create_client

    def client(self: Any, *args: Any, **kwargs: Any) -> Any:
        made = original(self, *args, **kwargs)
        log.watch(made)
        return made

    botocore.session.Session.create_client = client  # type: ignore[method-assign]


class Measure:
    """Runs one kind of request many times; keeps CPU, wall time and the AWS calls of each."""

    def __init__(self, log: CallLog) -> None:
        self.log = log
        self.rows: dict[str, dict[str, Any]] = {}

    def run(
        self, name: str, count: int, request: Callable[[int], Any], after: Callable[[Any], Any] | None = None
    ) -> list[Any]:
        """`request(i)` `count` times, measured; `after` (checking and reading its answer) is not."""
        cpu: list[float] = []
        wall: list[float] = []
        calls: Counter[str] = Counter()
        writes = reads = s3 = items = transact = units = 0
        sdk = presign = 0.0
        answers = []
        for i in range(count):
            self.log.clear()
            started_cpu, started = time.process_time(), time.perf_counter()
            answers.append(request(i))
            wall.append(time.perf_counter() - started)
            cpu.append(time.process_time() - started_cpu)
            if after is not None:
                answers[-1] = after(answers[-1])
            calls.update(self.log.calls)
            summary = self.log.summary()
            writes += summary["dynamodb_writes"]
            reads += summary["dynamodb_reads"]
            s3 += summary["s3"]
            items += self.log.write_items
            transact += self.log.transact_items
            units += self.log.write_units
            sdk += self.log.sdk_cpu
            presign += self.log.presign_cpu
        self.rows[name] = {
            "n": count,
            "cpu_us": sum(cpu) / count * 1e6,
            "cpu_us_p50": median(cpu) * 1e6,
            "cpu_us_outside_sdk": (sum(cpu) - sdk) / count * 1e6,  # presigning counted inside the SDK
            "cpu_us_presign": presign / count * 1e6,  # outside the SDK by the accounting before 2026-12-02
            "cpu_us_p99": percentile(cpu, 99) * 1e6,
            "wall_ms": median(wall) * 1000,
            "dynamodb_writes": writes / count,
            "dynamodb_items_written": items / count,
            "dynamodb_transact_items": transact / count,
            "dynamodb_write_units": units / count,
            "dynamodb_reads": reads / count,
            "s3_calls": s3 / count,
            "calls": {k: round(v / count, 2) for k, v in sorted(calls.items())},
        }
        return answers


def item_size(item: dict[str, Any]) -> int:
    """DynamoDB's size of an item in wire form: names plus values (strings in UTF-8, numbers about half
    their digits, 3 bytes of overhead per list or map element)."""
    return sum(len(name.encode()) + _value_size(value) for name, value in item.items())


def _value_size(value: dict[str, Any]) -> int:
    kind, data = next(iter(value.items()))
    if kind == "S":
        return len(str(data).encode())
    if kind == "N":
        return (len(str(data)) + 1) // 2 + 1
    if kind == "M":
        return 3 + sum(len(k.encode()) + _value_size(v) + 3 for k, v in data.items())
    if kind == "L":
        return 3 + sum(_value_size(v) + 3 for v in data)
    if kind in ("SS", "NS"):
        return sum(len(str(v).encode()) for v in data)
    return 1  # BOOL, NULL


def _kilobytes(item: dict[str, Any] | None) -> int:
    """Write units of one item: a unit per started KB (an update or delete is taken as 1 KB)."""
    return 1 if not item else max(1, math.ceil(item_size(item) / 1024))


# -- statistics and printing ---------------------------------------------------------------------------
def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100); with few samples p99 is the maximum."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else math.nan


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], title: str | None = None) -> None:
    """A plain aligned table: the first column left-aligned, the others right-aligned."""
    text = [[_cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in text)) if text else len(h) for i, h in enumerate(headers)]
    if title:
        print(f"\n{title}")
    print("  ".join(h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in enumerate(zip(headers, widths, strict=True))))
    print("  ".join("-" * w for w in widths))
    for row in text:
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))))


def _cell(value: Any) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        return f"{value:.3g}" if abs(value) < 10 else f"{value:,.0f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def emit(name: str, figures: dict[str, Any]) -> None:
    """The figure's JSON line on stdout, also kept in .build/bench/{name}.json for the cost model and
    BENCHMARKS.md (bench/report.py), with when and on what it was measured: the report dates each
    figure, marks a BENCH_QUICK one, and shows the load the machine was under when it ended."""
    record = {"bench": name, **figures, **circumstances()}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(record, separators=(",", ":")), flush=True)


def circumstances() -> dict[str, Any]:
    """When and where a figure was measured (UTC, scaled down or not, Python, CPUs, load average)."""
    return {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "quick": QUICK,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_1m": round(os.getloadavg()[0], 2),
        "tree": git_tree(),
    }


def git_tree() -> str:
    """The commit measured, and whether the working tree differed from it (files changed, not added)."""

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
        return done.stdout.strip() if done.returncode == 0 else ""

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    return f"{commit} + uncommitted changes" if git("status", "--porcelain", "--untracked-files=no") else commit


def load_result(name: str) -> dict[str, Any] | None:
    path = RESULTS / f"{name}.json"
    if not path.exists():
        return None
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


@contextmanager
def ready_child(command: list[str], failure: Callable[[], str], wait: float = 60) -> Iterator[dict[str, Any]]:
    """A child that prints one JSON line when ready and runs until its stdin closes: that line."""
    child = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        if not line:
            raise RuntimeError(failure())
        yield json.loads(line)
    finally:
        if child.stdin is not None:
            child.stdin.close()
        try:
            child.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            stop_process(child)
