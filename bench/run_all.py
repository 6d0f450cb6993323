"""`make bench`: every figure, one after another, then the targets at a glance.

Each figure runs in a process of its own and prints its table and JSON line as it goes; the JSON lines
are kept in .build/bench/, and bench/report.py writes BENCHMARKS.md's table from them at the end.
BENCH_QUICK=1 scales every figure down (a quick look, not figures to record: the table marks them).
Usage: .venv/bin/python -m bench.run_all [figure ...]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from typing import Any

from bench import report
from bench.common import QUICK, RESULTS, ROOT, table

FIGURES = [
    "cold_start",
    "warm_requests",
    "upload_latency",
    "scan_throughput",
    "scale_pages",
    "zip_memory",
    "archive_memory",
    "large_upload",
    "cost_model",
    "grant_contention",
    "catalogs",
]


def run(name: str) -> tuple[dict[str, Any] | None, float]:
    """Run one figure, its output passed through; answer its JSON line. Its previous JSON goes first: a
    figure that fails leaves no result, so BENCHMARKS.md says "not measured" rather than an old figure."""
    (RESULTS / f"{name}.json").unlink(missing_ok=True)
    command = [sys.executable, "-m", f"bench.{name}"]
    if name == "zip_memory" and QUICK:
        command += ["--files", "40"]
    print(f"\n=== bench.{name} ===", flush=True)
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    found: dict[str, Any] | None = None
    for line in process.stdout:
        print(line, end="", flush=True)
        if line.startswith('{"bench"'):
            found = json.loads(line)
    process.wait()
    seconds = time.perf_counter() - started
    if process.returncode != 0:
        print(f"bench.{name} failed (exit {process.returncode})", flush=True)
        return None, seconds
    return found, seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("figures", nargs="*", metavar="figure", help=f"some of: {', '.join(FIGURES)}")
    args = parser.parse_args()
    unknown = set(args.figures) - set(FIGURES)
    if unknown:
        parser.error(f"unknown figures: {', '.join(sorted(unknown))}")
    args.figures = args.figures or FIGURES
    started = time.perf_counter()
    timing: list[list[Any]] = []
    failed = []
    for name in args.figures:
        result, seconds = run(name)
        timing.append([name, seconds])
        if result is None:
            failed.append(name)
    # The targets at a glance, from every figure's last JSON (these and earlier runs'), into BENCHMARKS.md.
    report.show(report.update(), "At a glance, written to BENCHMARKS.md" + (" (BENCH_QUICK)" if QUICK else ""))
    table(["figure", "seconds"], timing, title=f"Run time: {time.perf_counter() - started:.0f} s")
    if failed:
        sys.exit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
