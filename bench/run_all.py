"""`make bench`: every figure, one after another, then the targets at a glance.

Each figure runs in a process of its own and prints its table and JSON line as it goes; the JSON lines
are kept in .build/bench/. BENCH_QUICK=1 scales every figure down (a quick look, not figures to record).
Usage: .venv/bin/python -m bench.run_all [figure ...]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

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
]
Glance = list[list[str]]


def yes(met: bool) -> str:
    return "yes" if met else "NO"


def cold_start(r: dict[str, Any]) -> Glance:
    heavy = ", ".join(r["heavy_loaded"]) or "none"
    return [
        [
            "1 cold start: import + first requests",
            f"≤ {r['target_ratio']}× baseline",
            f"{r['ratio']}× ({r['cartable_ms']:.0f} vs {r['baseline_ms']:.0f} ms)",
            yes(r["ratio"] <= r["target_ratio"]),
        ],
        ["1 cold start: heavy modules loaded", "none", heavy, yes(not r["heavy_loaded"])],
    ]


def warm_requests(r: dict[str, Any]) -> Glance:
    ops = r["ops"]
    grant = ops["grant, new file"]
    pages = [ops["listing page (limit 100)"]["calls"], ops["changes page (limit 100)"]["calls"]]
    return [
        [
            "2 DynamoDB writes per grant",
            "1",
            f"{r['grant_dynamodb_writes']:g} ({r['grant_items_written']:g} items)",
            yes(r["grant_dynamodb_writes"] == 1),
        ],
        [
            "2 CPU per grant",
            "< 2,000 µs",
            f"{r['grant_cpu_us']:,} µs ({r['grant_cpu_us_outside_sdk']:,} outside the SDK)",
            yes(r["grant_cpu_us"] < 2000),
        ],
        [
            "2 queries per listing / changes page",
            "1",
            " / ".join("+".join(f"{k.split(':')[1]}×{v:g}" for k, v in p.items()) for p in pages),
            yes(r["pages_one_query"]),
        ],
        ["2 AWS calls per scan", "-", f"{sum(ops['scan of a 1 KB upload']['calls'].values()):g}", "-"],
        ["2 DynamoDB write units per grant (on demand)", "-", f"{grant['dynamodb_write_units']:g}", "-"],
    ]


def upload_latency(r: dict[str, Any]) -> Glance:
    f = r["figures"]
    rows = []
    for size in ("1 KB", "1 MB", "50 MB"):
        alone, crowd = f[f"{size} alone"], f[f"{size} in flight"]
        target = f"p50 < {r['target_p50_ms']:,} ms" if size != "50 MB" else "-"
        met = yes(alone["p50_ms"] < r["target_p50_ms"]) if size != "50 MB" else "-"
        rows.append([f"3 stored → available, {size} alone", target, _p(alone), met])
        rows.append([f"3 stored → available, {size}, {crowd['n']} in flight", "-", _p(crowd), "-"])
    return rows


def _p(figure: dict[str, Any]) -> str:
    return f"p50 {figure['p50_ms']:,} ms, p99 {figure['p99_ms']:,} ms"


def scan_throughput(r: dict[str, Any]) -> Glance:
    growth = ", ".join(f"{g:g}" for g in r["rss_growth_mb"])
    sizes = ", ".join(str(s) for s in r["sizes_mb"])
    return [
        [
            "4 S3 → clamd vs local-file scan",
            "≥ 0.8",
            f"{r['min_ratio']} (worst size; {r['stream_mb_s']} vs {r['local_mb_s']} MB/s)",
            yes(r["min_ratio"] >= 0.8),
        ],
        ["4 scanner RSS growth by size", "flat", f"{growth} MB for {sizes} MB", yes(r["rss_flat"])],
    ]


def scale_pages(r: dict[str, Any]) -> Glance:
    rows = []
    for name, page in r["pages"].items():
        calls = "+".join(f"{k.split(':')[1]}×{v:g}" for k, v in page["calls"].items())
        cpu = page["cpu_us"]
        rows.append(
            [
                f"5 {name}, {r['small']:,} vs {r['large']:,} records",
                "same calls and CPU",
                f"{calls}; {cpu[0]:,} vs {cpu[1]:,} µs",
                yes(sum(page["calls"].values()) == 1 and page["cpu_ratio"] < 1.5),
            ]
        )
    return rows


def zip_memory(r: dict[str, Any]) -> Glance:
    # Bounded, whatever the total: a quarter of the 512 MB API function at most.
    return [
        [
            "ZIP of submissions: RSS growth",
            "< 128 MB, any total",
            f"{r['rss_growth_mb']} MB for {r['total_mb']} MB in {r['seconds']} s",
            yes(r["rss_growth_mb"] < 128),
        ]
    ]


def archive_memory(r: dict[str, Any]) -> Glance:
    # The inspector runs in the scan function beside the read-ahead chunks: a few MiB, whatever the zip.
    large, small = (
        f"{r['rss_growth_mb']} MB for {r['archive_mb']:,} MB",
        f"{r['small_rss_growth_mb']} for {r['small_archive_mb']} MB",
    )
    return [
        [
            "Archive inspector: RSS growth",
            "flat, < 32 MB",
            f"{large}, {small}",
            yes(r["rss_growth_mb"] < 32 and r["rss_growth_mb"] <= r["small_rss_growth_mb"] + 8),
        ]
    ]


def large_upload(r: dict[str, Any]) -> Glance:
    return [
        [
            f"7 {r['mib']} MiB multipart upload",
            "available, right sha256",
            f"{r['status']}, sha256 {'right' if r['sha256_ok'] else 'WRONG'}; available {r['scan_s']} s after complete",
            yes(r["status"] == "available" and r["sha256_ok"]),
        ],
        [
            "7 scanner peak memory (event pump's VmHWM)",
            f"< {r['target_peak_mb']} MiB",
            f"{r['scanner_peak_mb']} MB (idle {r['scanner_peak_before_mb']} MB)",
            yes(r["scanner_peak_mb"] < r["target_peak_mb"]),
        ],
    ]


def cost_model(r: dict[str, Any]) -> Glance:
    return [
        [
            f"6 cost per million uploads of {r['file_mb']:g} MB",
            "-",
            f"${r['usd_per_million_uploads']:,.0f} (+ clamd floor ${r['clamd_floor_usd_month']}/month)",
            "-",
        ]
    ]


GLANCES: dict[str, Callable[[dict[str, Any]], Glance]] = {
    "cold_start": cold_start,
    "warm_requests": warm_requests,
    "upload_latency": upload_latency,
    "scan_throughput": scan_throughput,
    "scale_pages": scale_pages,
    "zip_memory": zip_memory,
    "archive_memory": archive_memory,
    "large_upload": large_upload,
    "cost_model": cost_model,
}


def run(name: str) -> tuple[dict[str, Any] | None, float]:
    """Run one figure, its output passed through; answer its JSON line."""
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
    if found is not None and name == "zip_memory":  # it predates .build/bench: keep its line with the others
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "zip_memory.json").write_text(json.dumps(found, indent=1) + "\n", encoding="utf-8")
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
    rows: list[list[str]] = []
    timing: list[list[Any]] = []
    failed = []
    for name in args.figures:
        result, seconds = run(name)
        timing.append([name, seconds])
        if result is None:
            failed.append(name)
            rows.append([name, "-", "failed", "NO"])
            continue
        rows.extend(GLANCES[name](result))
    print()
    table(["figure", "target", "measured", "met"], rows, title="At a glance" + (" (BENCH_QUICK)" if QUICK else ""))
    table(["figure", "seconds"], timing, title=f"Run time: {time.perf_counter() - started:.0f} s")
    if failed:
        sys.exit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
