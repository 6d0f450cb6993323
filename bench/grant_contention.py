"""Figure 8: grants into one space by 1, 10 and 50 concurrent writers, through the real local stack.

A class turning in at 23:59 is many grants into one space at once. The whole stack of `make dev` runs in
a child process (bench/stack_process.py), with every AWS call of every function written down
(CARTABLE_RECORD_CALLS, as test_least_privilege reads them) and the functions' log lines kept
(CARTABLE_LOG_DIR). This process is the writers: threads that start together and each ask
POST /v1/uploads for new files, one after another, until the level's grants are made, into
- one class folder (`class:{id}`), each writer a teacher of the class (pupils may not write there);
- one pupil's drive (`me`), every writer the same pupil (a tablet, a phone and a laptop at once).
Each grant is timed from request to answer; grants per second are the grants answered 201 over the
level's wall time. A grant is one TransactWriteItems; a writer who loses a race on a record the space's
writers share is tried again inside the API (retried_on_races in chalicelib/adapters/dynamodb/table.py),
each attempt another transaction, so the retries are the API function's transactions less the grants
made (and the API's "race retried" log lines are counted beside them).
Every level runs on a fresh stack: moto backs a table up once per transaction, so its cost grows with
the table and levels on one stack would not compare. The stack's API is one process (`chalice local`,
a thread per request) on 2 cores and moto serialises the catalog, so the figure is the service's
behaviour under contention (errors, retries, latency's spread), not AWS's throughput.
Target (bench/targets.py): every grant answers 201. Throughput and latency have none.
Usage: .venv/bin/python -m bench.grant_contention [--grants 100] [--writers 1 10 50]
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from bench.common import MIB, QUICK, emit, median, percentile, scratch_dir, table, token
from bench.report import GRANT_SPACES, GRANT_WRITERS
from bench.stack_process import local_stack_process, stack_log_on_error

CLASS_FOLDER, PUPILS_DRIVE = GRANT_SPACES
MAX_UPLOAD = 64 * MIB
SIZE = 1024
WARM_UP = 3  # grants before the level (the API's first grant loads the content rules)
RACE_LINE = "race retried"  # the API's log line for each retry (table.py)


@dataclass
class Level:
    """One space, one number of writers: every grant's answer and time, and what the API did meanwhile."""

    space: str
    writers: int
    statuses: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    wall: float = 0.0
    transactions: int = 0
    race_lines: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, status: str, seconds: float) -> None:
        with self.lock:
            self.statuses[status] += 1
            self.latencies.append(seconds)

    @property
    def grants(self) -> int:
        return sum(self.statuses.values())

    @property
    def created(self) -> int:
        return self.statuses["201"]

    def figures(self) -> dict[str, Any]:
        """Unrounded: BENCHMARKS.md reads them (bench/report.py)."""
        ms = [s * 1000 for s in self.latencies]
        return {
            "space": self.space,
            "writers": self.writers,
            "grants": self.grants,
            "created": self.created,
            "errors": self.grants - self.created,
            "statuses": dict(sorted(self.statuses.items())),
            "grants_per_s": self.created / self.wall if self.wall else 0.0,
            "p50_ms": median(ms),
            "p99_ms": percentile(ms, 99),
            "max_ms": max(ms, default=0.0),
            "transactions": self.transactions,
            # Each attempt is a transaction; one per grant made (a grant refused after losing every
            # attempt made its attempts too, and shows among the errors).
            "retries": max(0, self.transactions - self.created),
            "race_retried_lines": self.race_lines,
        }


# -- what the API did ----------------------------------------------------------------------------------
def api_transactions(calls: Path) -> int:
    """TransactWriteItems made so far by the API function (local/stack.py records each AWS call)."""
    return sum(
        json.loads(line)["operation"] == "TransactWriteItems"
        for path in calls.glob("api_handler-*.jsonl")
        for line in path.read_text(encoding="utf-8").splitlines()
        if line
    )


def race_lines(logs: Path) -> int:
    """The "race retried" lines the functions logged so far."""
    return sum(path.read_text(encoding="utf-8", errors="replace").count(RACE_LINE) for path in logs.glob("*.jsonl"))


# -- the writers ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Writer:
    """One device: a user's token and the space its grants go to."""

    api: str
    bearer: str
    space: str

    def grant(self, name: str) -> tuple[str, float]:
        """The answer's status (or the name of the error when none came) and the time it took."""
        body = {"space": self.space, "path": "/", "name": name, "size": SIZE, "contentType": "text/plain"}
        headers = {"Authorization": f"Bearer {self.bearer}"}
        started = time.perf_counter()
        try:
            answer = requests.post(f"{self.api}/v1/uploads", json=body, headers=headers, timeout=60)
            status = str(answer.status_code)
        except requests.RequestException as error:
            status = type(error).__name__  # no answer: an error like any other non-201
            print(f"{name}: {error}", file=sys.stderr)
        return status, time.perf_counter() - started


def writers_of(api: str, space: str, count: int) -> list[Writer]:
    """`count` devices writing into one space: teachers of one class, or one pupil many times."""
    if space == PUPILS_DRIVE:
        return [Writer(api, token("bench-grant-pupil"), "me")] * count
    class_id = f"BENCH-{uuid.uuid4().hex[:6]}"
    teachers = [f"bench-grant-prof-{i:02d}" for i in range(count)]
    admin = {"Authorization": f"Bearer {token('bench-grant-admin', 'admin')}"}
    made = requests.put(
        f"{api}/v1/classes/{class_id}", json={"name": "3e B", "teachers": teachers}, headers=admin, timeout=30
    )
    if made.status_code != 200:
        raise RuntimeError(f"the class was refused: {made.status_code} {made.text[:300]}")
    return [Writer(api, token(t, "teacher"), f"class:{class_id}") for t in teachers]


def share(total: int, writers: int) -> list[int]:
    """`total` grants split between `writers` as evenly as can be."""
    return [total // writers + (i < total % writers) for i in range(writers)]


def run_level(space: str, count: int, total: int) -> Level:
    """One level on a fresh stack: a warm-up, then `count` writers at once making `total` grants."""
    with scratch_dir("bench-grant-") as build:
        calls, logs = build / "calls", build / "logs"
        env = {"CARTABLE_RECORD_CALLS": str(calls), "CARTABLE_LOG_DIR": str(logs)}
        with local_stack_process(build, MAX_UPLOAD, env) as stack, stack_log_on_error(build):
            writers = writers_of(stack["api"], space, count)
            for n in range(WARM_UP):
                status, _ = writers[0].grant(f"warm-{n}.txt")
                if status != "201":
                    raise RuntimeError(f"the warm-up grant answered {status}")
            level = Level(space, count)
            before_tx, before_lines = api_transactions(calls), race_lines(logs)
            start = threading.Barrier(count)

            def write(i: int, grants: int) -> None:
                start.wait()
                for n in range(grants):
                    level.record(*writers[i].grant(f"devoir-{i:02d}-{n:03d}.txt"))

            started = time.perf_counter()
            with ThreadPoolExecutor(max_workers=count) as pool:
                list(pool.map(write, range(count), share(total, count)))
            level.wall = time.perf_counter() - started
            time.sleep(0.2)  # the last calls' lines are written after their answers
            level.transactions = api_transactions(calls) - before_tx
            level.race_lines = race_lines(logs) - before_lines
    return level


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--grants", type=int, default=40 if QUICK else 100, help="grants per level")
    parser.add_argument("--writers", type=int, nargs="+", default=list(GRANT_WRITERS))
    args = parser.parse_args()
    # At least a grant per writer: a level of 50 writers is 50 devices asking at once.
    levels = [run_level(space, n, max(args.grants, n)) for space in GRANT_SPACES for n in args.writers]
    rows = []
    for level in levels:
        f = level.figures()
        statuses = ", ".join(f"{k}×{v}" for k, v in f["statuses"].items())
        rows.append(
            [
                level.space,
                level.writers,
                f["grants"],
                statuses,
                f["grants_per_s"],
                f["p50_ms"],
                f["p99_ms"],
                f["transactions"],
                f["retries"],
                f["race_retried_lines"],
            ]
        )
    table(
        ["space", "writers", "grants", "answers", "grants/s", "p50 ms", "p99 ms", "transactions", "retries", "logged"],
        rows,
        title="Figure 8: grants into one space by concurrent writers (local stack; retries: transactions − 201s)",
    )
    emit(
        "grant_contention",
        {"grants_per_level": args.grants, "levels": {f"{lv.space}, {lv.writers}": lv.figures() for lv in levels}},
    )


if __name__ == "__main__":
    main()
