"""Figure 9: grant and listing on PostgreSQL beside DynamoDB, in a space of 100 and of 100,000 records.

For each catalog and size, a process of its own holds one pupil's drive of that many available files (each
in the folder `/` and in the space's change feed): DynamoDB on a moto server of its own, seeded straight
into its backend as figure 5 seeds it; PostgreSQL 15 on loopback as the tests start it
(local/postgres.py: initdb, the migrations), seeded with COPY into the catalog's own tables from the
same records (`file_row`, `snapshot`), then ANALYZE. In-process through `chalice.test.Client`, as
figure 2: the listing's first page and a deep page (a cursor 50 records from the end), the changes
feed's first page and a recent cursor, then grants of new files into that folder (POST /v1/uploads).
Both sizes of a catalog are up at once and measured in turn, a round of each at a time (which goes
first swapped each round), so that other work on the machine weighs on both alike.

Per request: catalog calls (DynamoDB API calls; for PostgreSQL, SQL statements and round trips, BEGIN
and COMMIT included, counted by wrapping psycopg's cursor, transaction and its `execute` generator, the
one exchange with the server every statement goes through), CPU (time.process_time: ours, and inside
the driver: botocore between the first and last events of each call, psycopg and its pool from a call
in to its return, rows made into dicts included), wall time. Each request is made until warm before it
is measured: once on DynamoDB, twelve times on PostgreSQL (psycopg prepares a statement on its fifth
execution on a connection, one round trip more, and the pool hands its two connections out in
turn). Target: calls per request the same at 100 and 100,000 records, median CPU per request within
1.5x. Wall time on moto is moto's (its query walks the whole
table in Python); PostgreSQL's is a real server's on this machine.
Usage: .venv/bin/python -m bench.catalogs [--large 100000] [--grants 30] [--repeat 10]
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from bench.common import (
    BENCH_ENV,
    QUICK,
    ROOT,
    SCHOOL,
    SECRET,
    CallLog,
    count_clients,
    emit,
    free_port,
    local_stack,
    median,
    moto_server,
    percentile,
    quiet_logs,
    ready_child,
    scratch_dir,
    table,
    token,
    use_env,
)
from bench.scale_pages import changes_cursor, list_cursor, moto_child, records

CATALOGS = ("dynamodb", "postgres")
SMALL = 100
PAGE = 100
TAIL = 50  # the deep cursors leave this many records
WARM = {"dynamodb": 1, "postgres": 12}  # psycopg prepares on a statement's 5th execution on a connection
GRANT = "grant, new file"


# -- PostgreSQL: statements, round trips and psycopg's CPU -------------------------------------------
@dataclass
class SqlLog:
    """What this process's main thread asked of PostgreSQL (the pool's own threads are not requests)."""

    statements: list[str] = field(default_factory=list)
    round_trips: int = 0
    cpu: float = 0.0  # process time inside psycopg and its pool
    _depth: int = 0

    def clear(self) -> None:
        self.statements.clear()
        self.round_trips = 0
        self.cpu = 0.0


def _kind(query: Any) -> str:
    """`SELECT files`, `INSERT quotas`, ...: a statement's verb and table."""
    text = query.decode() if isinstance(query, bytes) else str(query)
    verb = text.split(None, 1)[0].upper() if text.strip() else "?"
    table_name = re.search(r"\b(?:FROM|INTO|UPDATE)\s+(\w+)", text, re.IGNORECASE)
    return f"{verb} {table_name.group(1)}" if table_name else verb


def watch_psycopg(log: SqlLog) -> None:
    """Count every statement and round trip of the main thread, and time psycopg's calls (the outermost
    only: a cursor's execute inside the connection's is not counted twice)."""
    import psycopg
    import psycopg._cursor_base as cursor_base
    import psycopg.generators as generators
    from psycopg_pool import ConnectionPool

    main = threading.main_thread()

    def timed(owner: Any, name: str, label: Callable[..., str | None] | None = None) -> None:
        original = getattr(owner, name)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if threading.current_thread() is not main:
                return original(*args, **kwargs)
            if label is not None and (kind := label(*args, **kwargs)):
                log.statements.append(kind)
            log._depth += 1
            started = time.process_time() if log._depth == 1 else 0.0
            try:
                return original(*args, **kwargs)
            finally:
                log._depth -= 1
                if log._depth == 0:
                    log.cpu += time.process_time() - started

        setattr(owner, name, wrapper)

    timed(psycopg.Connection, "execute")
    timed(psycopg.Cursor, "execute", lambda _self, query, *a, **k: _kind(query))
    timed(psycopg.Cursor, "executemany", lambda _self, query, *a, **k: _kind(query))
    for name in ("fetchone", "fetchall", "fetchmany"):
        timed(psycopg.Cursor, name)
    timed(psycopg.Transaction, "__enter__", lambda *a, **k: "BEGIN")
    timed(psycopg.Transaction, "__exit__", lambda _self, exc_type, *a: "ROLLBACK" if exc_type else "COMMIT")
    timed(ConnectionPool, "getconn")
    timed(ConnectionPool, "putconn")

    def counting(original: Any) -> Any:
        # One call: the queued messages sent, results read until the server is ready again.
        def execute(pgconn: Any) -> Any:
            if threading.current_thread() is main:
                log.round_trips += 1
            return (yield from original(pgconn))

        return execute

    cursor_base.execute = counting(cursor_base.execute)  # type: ignore[attr-defined]  # statements
    generators.execute = counting(generators.execute)  # BEGIN, COMMIT, DEALLOCATE (the connection's)


def seed_postgres(url: str, user: str, count: int) -> dict[str, Any]:
    """The records of figure 5's drive as the PostgreSQL catalog keeps them: COPY, then ANALYZE."""
    import psycopg
    from psycopg.types.json import Jsonb

    from chalicelib.adapters.dynamodb.records import file_from_item
    from chalicelib.adapters.postgres.records import file_row, snapshot

    started = time.perf_counter()
    files = [file_from_item(item) for item in records(user, count) if item.get("sk") == "FILE"]
    columns = [*file_row(files[0]), "served_version", "change_seq"]
    with psycopg.connect(url, autocommit=True) as conn:
        with conn.transaction(), conn.cursor() as cur:
            with cur.copy(f"COPY files ({', '.join(columns)}) FROM STDIN") as copy:
                for seq, file in enumerate(files, 1):
                    copy.write_row([*file_row(file).values(), 1, seq])
            with cur.copy("COPY changes (school, space, file_id, seq, op, file) FROM STDIN") as copy:
                for seq, file in enumerate(files, 1):
                    copy.write_row([SCHOOL, str(file.space), file.id, seq, "upsert", Jsonb(snapshot(file))])
            cur.execute(
                "INSERT INTO feed_heads (school, space, seq) VALUES (%s, %s, %s)", (SCHOOL, str(files[0].space), count)
            )
        conn.execute("VACUUM ANALYZE")
    return {"seed_seconds": time.perf_counter() - started, "rows": 2 * count + 1}


def postgres_list_cursor(user: str, position: int) -> str:
    """The listing cursor a client holds after the record at `position`, as the PostgreSQL catalog writes it."""
    from chalicelib.adapters.postgres.db import encode_cursor

    return encode_cursor({"gsi1pk": f"{SCHOOL}#user:{user}#/", "gsi1sk": f"F#n{position:07d}.txt"})


# -- DynamoDB on moto ---------------------------------------------------------------------------------
@contextmanager
def catalog_env(catalog: str, user: str, count: int) -> Iterator[tuple[dict[str, str], dict[str, Any]]]:
    """The stack's environment over a seeded catalog, and how the seeding went."""
    from local.stack import LocalStack, StackConfig

    with scratch_dir("bench-catalogs-") as build:
        if catalog == "dynamodb":
            port = free_port()
            command = [sys.executable, "-m", "bench.catalogs", "--moto-child", str(port), user, str(count), str(build)]
            with ready_child(command, lambda: "the seeded moto server did not start", wait=30) as seeded:
                config = StackConfig(
                    build_dir=build, port=free_port(), moto_port=port, jwt_secret=SECRET, extra_env=dict(BENCH_ENV)
                )
                yield LocalStack(config).env, seeded
            return
        from local.postgres import start_postgres

        with moto_server() as moto, local_stack(moto, build) as stack:
            server = start_postgres()
            try:
                url = server.new_database()
                seeded = seed_postgres(url, user, count)
                yield {**stack.env, "CARTABLE_CATALOG": "postgres", "CARTABLE_DATABASE_URL": url}, seeded
            finally:
                server.stop()


# -- one catalog, one size ------------------------------------------------------------------------------
class Probe:
    """Runs one kind of request, round after round; keeps CPU, wall time and the catalog calls of each."""

    def __init__(self, aws: CallLog, sql: SqlLog) -> None:
        self.aws, self.sql = aws, sql
        self.samples: dict[str, dict[str, Any]] = {}

    def run(self, name: str, count: int, request: Callable[[int], Any]) -> list[Any]:
        kept = self.samples.setdefault(name, {"cpu": [], "wall": [], "driver": [], "trips": [], "calls": Counter()})
        answers = []
        for _ in range(count):
            self.aws.clear()
            self.sql.clear()
            started_cpu, started = time.process_time(), time.perf_counter()
            answers.append(request(len(kept["cpu"])))
            kept["wall"].append(time.perf_counter() - started)
            kept["cpu"].append(time.process_time() - started_cpu)
            kept["driver"].append(self.aws.sdk_cpu + self.sql.cpu)
            kept["trips"].append(self.sql.round_trips + sum(c.startswith("dynamodb:") for c in self.aws.calls))
            kept["calls"].update(self.aws.calls)
            kept["calls"].update(f"sql:{s}" for s in self.sql.statements)
        return answers

    def rows(self) -> dict[str, dict[str, Any]]:
        rows = {}
        for name, kept in self.samples.items():
            cpu, driver, trips, count = kept["cpu"], kept["driver"], kept["trips"], len(kept["cpu"])
            per = {k: v / count for k, v in sorted(kept["calls"].items())}
            rows[name] = {
                "n": count,
                "cpu_us": sum(cpu) / count * 1e6,
                "cpu_us_p50": median(cpu) * 1e6,
                "cpu_us_p99": percentile(cpu, 99) * 1e6,
                "driver_cpu_us": sum(driver) / count * 1e6,
                "cpu_us_outside_driver": (sum(cpu) - sum(driver)) / count * 1e6,
                "wall_ms": median(kept["wall"]) * 1000,
                # DynamoDB API calls, or PostgreSQL round trips: each is one wait on the catalog
                "catalog_calls": sum(trips) / count,
                "catalog_calls_range": [min(trips), max(trips)],
                "statements": sum(v for k, v in per.items() if k.startswith("sql:")),
                "calls": per,
            }
        return rows


def serve_space(catalog: str, count: int) -> None:
    """In a fresh process: one seeded drive of `count` records, warmed; then, at each line of stdin, one
    round of its pages (`pages`) or of `grants N`, each answered by a line; at `end`, the figures."""
    user = f"user{count}"
    with catalog_env(catalog, user, count) as (env, seeded):
        use_env(env)
        aws, sql = CallLog(), SqlLog()
        count_clients(aws)
        watch_psycopg(sql)
        from chalice.test import Client

        import app as application

        quiet_logs(application.app)
        client = Client(application.app, stage_name="local", project_dir=str(ROOT))
        headers = {"Authorization": f"Bearer {token(user)}", "Content-Type": "application/json"}
        if client.http.get(f"/v1/files/{user}-{1:07d}", headers=headers).status_code != 200:
            raise RuntimeError("the seeded drive is not readable")
        deep = list_cursor(user, count - TAIL) if catalog == "dynamodb" else postgres_list_cursor(user, count - TAIL)
        pages = [
            ("listing, first page", f"/v1/spaces/me/files?limit={PAGE}", "items", PAGE),
            ("listing, deep page", f"/v1/spaces/me/files?limit={PAGE}&cursor={deep}", "items", TAIL),
            ("changes, first page", f"/v1/spaces/me/changes?limit={PAGE}", "changes", PAGE),
            (
                "changes, recent cursor",
                f"/v1/spaces/me/changes?limit={PAGE}&cursor={changes_cursor(user, count - TAIL)}",
                "changes",
                TAIL,
            ),
        ]

        def get(path: str, key: str, expect: int) -> int:
            answer = client.http.get(path, headers=headers)
            if answer.status_code != 200:
                raise RuntimeError(f"{path}: {answer.status_code} {answer.body[:300]!r}")
            if (found := len(json.loads(answer.body)[key])) != expect:
                raise RuntimeError(f"{catalog} {path}: {found} items, expected {expect}")
            return found

        def grant(i: int, prefix: str = "g") -> str:
            body = {
                "space": "me",
                "path": "/",
                "name": f"{prefix}{i:05d}.txt",
                "size": 1024,
                "contentType": "text/plain",
            }
            answer = client.http.post("/v1/uploads", headers=headers, body=json.dumps(body))
            if answer.status_code != 201:
                raise RuntimeError(f"grant: {answer.status_code} {answer.body[:300]!r}")
            return str(json.loads(answer.body)["fileId"])

        for _name, path, key, expect in pages:
            for _ in range(WARM[catalog]):
                get(path, key, expect)
        probe = Probe(aws, sql)
        print(json.dumps({"ready": seeded}), flush=True)
        serve(probe, [(name, partial(get, path, key, expect)) for name, path, key, expect in pages], grant, catalog)
    print(json.dumps({"catalog": catalog, "count": count, "seeded": seeded, "rows": probe.rows()}), flush=True)


def _call(page: Callable[[], int], _: int) -> int:
    return page()


def serve(probe: Probe, pages: list[tuple[str, Callable[[], int]]], grant: Callable[..., str], catalog: str) -> None:
    """Rounds, as stdin asks for them: `pages` (each page once) or `grants N`; `end` stops."""
    warm_grants = False
    for line in sys.stdin:
        command = line.strip()
        if command == "end":
            return
        if command == "pages":
            for name, page in pages:
                probe.run(name, 1, partial(_call, page))
        else:  # grants come after every page: each grant adds a file to the folder and to the feed
            if not warm_grants:
                for i in range(WARM[catalog] + 1):
                    grant(i, "warm")
                warm_grants = True
            probe.run(GRANT, int(command.split()[1]), grant)
        print(json.dumps({"done": command}), flush=True)


def run_catalog(catalog: str, sizes: tuple[int, int], grants: int, repeat: int) -> list[dict[str, Any]]:
    """Both sizes at once, each in its process, measured in turn, round after round (which goes first
    swapped each round): what else runs on the machine meanwhile weighs on both alike."""
    started = time.perf_counter()
    with scratch_dir("bench-catalogs-logs-") as logs:
        children = []
        try:
            for count in sizes:
                command = [sys.executable, "-m", "bench.catalogs", "--space", catalog, str(count)]
                log = (logs / f"{count}.log").open("w+")
                children.append(
                    subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True)
                )
                ask(children[-1], None, log)  # seeded and warm
            per_round = [grants // repeat + (1 if r < grants % repeat else 0) for r in range(repeat)]
            commands = [*(["pages"] * repeat), *(f"grants {n}" for n in per_round if n)]
            for r, asked in enumerate(commands):
                for child in children if r % 2 == 0 else children[::-1]:
                    ask(child, asked)
            results = [ask(child, "end") for child in children]
        finally:
            for child in children:
                if child.poll() is None:
                    child.kill()
                child.wait()
    seconds = time.perf_counter() - started
    for result in results:
        result["seconds"] = seconds
    print(f"{catalog}: {seconds:.0f} s for both sizes", flush=True)
    return results


def ask(child: subprocess.Popen[str], command: str | None, log: Any = None) -> dict[str, Any]:
    """Send a command to a space's process (None: only wait until it is ready); its answer."""
    assert child.stdin is not None and child.stdout is not None
    if command is not None:
        child.stdin.write(command + "\n")
        child.stdin.flush()
    line = child.stdout.readline()
    if not line:
        child.wait()
        stderr = child.stderr or log
        text = ""
        if stderr is not None:
            stderr.seek(0)
            text = "\n".join(x for x in stderr.read().splitlines() if not x.startswith("127.0.0.1 - - ["))
        raise RuntimeError(f"a space's process ended (exit {child.returncode}):\n{text[-3000:]}")
    answer: dict[str, Any] = json.loads(line)
    return answer


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--large", type=int, default=10_000 if QUICK else 100_000)
    parser.add_argument("--grants", type=int, default=5 if QUICK else 30)
    parser.add_argument("--repeat", type=int, default=3 if QUICK else 10)
    parser.add_argument("--catalogs", nargs="+", choices=CATALOGS, default=list(CATALOGS))
    parser.add_argument("--space", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--moto-child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.moto_child:
        port, user, count, build = args.moto_child
        moto_child(int(port), user, int(count), build)
    elif args.space:
        serve_space(args.space[0], int(args.space[1]))
    else:
        spaces = {c: run_catalog(c, (SMALL, args.large), args.grants, args.repeat) for c in args.catalogs}
        report(spaces, args)


def _calls(calls: dict[str, float]) -> str:
    return ", ".join(f"{k.split(':', 1)[1]}×{v:g}" for k, v in calls.items()) or "-"


def report(spaces: dict[str, list[dict[str, Any]]], args: argparse.Namespace) -> None:
    rows = []
    for catalog, sized in spaces.items():
        for space in sized:
            for name, r in space["rows"].items():
                rows.append(
                    [
                        f"{catalog}: {name}",
                        space["count"],
                        r["catalog_calls"],
                        r["cpu_us_p50"],
                        r["cpu_us"],
                        r["driver_cpu_us"],
                        r["cpu_us_outside_driver"],
                        r["wall_ms"],
                    ]
                )
    table(
        ["request", "records", "calls", "CPU µs p50", "mean", "in driver", "outside", "wall ms"],
        rows,
        title=f"Figure 9: grant and pages on each catalog, 100 vs {args.large:,} records ({args.grants} grants, "
        f"{args.repeat} reads of each page; calls: DynamoDB API calls or SQL round trips; driver: botocore or psycopg)",
    )
    for catalog, sized in spaces.items():
        for name, r in sized[-1]["rows"].items():
            print(f"{catalog}, {name}: {_calls(r['calls'])}")
    figures: dict[str, Any] = {}
    for catalog, (small, large) in spaces.items():
        print(
            f"{catalog}: {large['seeded']['rows']:,} rows seeded in {large['seeded']['seed_seconds']:.1f} s; "
            f"both sizes, measured in alternation, took {large['seconds']:.0f} s"
        )
        requests = {}
        for name in small["rows"]:
            a, b = small["rows"][name], large["rows"][name]
            requests[name] = {
                "calls": [a["catalog_calls"], b["catalog_calls"]],
                "calls_range": [a["catalog_calls_range"], b["catalog_calls_range"]],
                "statements": [a["statements"], b["statements"]],
                "what": [a["calls"], b["calls"]],
                "cpu_us": [a["cpu_us_p50"], b["cpu_us_p50"]],  # medians: a burst of other work moves a mean
                "cpu_us_mean": [a["cpu_us"], b["cpu_us"]],
                "driver_cpu_us": [a["driver_cpu_us"], b["driver_cpu_us"]],
                "cpu_ratio": b["cpu_us_p50"] / a["cpu_us_p50"],
                "wall_ms": [a["wall_ms"], b["wall_ms"]],
            }
        figures[catalog] = {
            "seed_seconds": round(large["seeded"]["seed_seconds"], 1),
            "run_seconds": round(large["seconds"]),
            "requests": requests,
            "calls_flat": all(
                r["calls"][0] == r["calls"][1] and r["what"][0] == r["what"][1] for r in requests.values()
            ),
            "cpu_ratio": max(r["cpu_ratio"] for r in requests.values()),
        }
    emit(
        "catalogs",
        {"small": SMALL, "large": args.large, "grants": args.grants, "repeat": args.repeat, "catalogs": figures},
    )


if __name__ == "__main__":
    main()
