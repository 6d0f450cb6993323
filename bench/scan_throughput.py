"""Figure 4: scan throughput and the scanner's memory.

The scan path streams an object from S3 (a moto server) to clamd's INSTREAM through the scan handler's own
function, `scanning.scan_object`: `S3ObjectStore.read_chunks` (with its read-ahead) → `Tally` (sha256,
head, tail, the archive and PDF inspectors) → `ClamdScanner.scan_stream`, in a fresh process per run
whose peak RSS (VmHWM, reset before the scan) is reported. The reference is clamd scanning the same bytes
from a local file (`zSCAN`, no transfer at all). Beside it, for diagnosis, the same bytes streamed from
the local file through the same client and tally ("vs INSTREAM": what S3 alone costs), and clamd's CPU
for the local scan over its CPU for the stream ("clamd CPU ratio": what INSTREAM's spooling costs it,
hardly moved by other load on the machine). The same clamd
serves all, with the project's database, limits roomy enough for the largest size and its result cache
off (the same bytes scanned twice cost twice). INSTREAM spools the whole stream to a file before scanning
it, reading 4 KiB at a time, so the ratio is bounded by scan / (transfer + scan) whatever the client.
S3 is a moto server that sends a GET's body from its first bytes on, as S3 does (local.moto_serve; moto's
own copies the whole object first: 90 ms of idle clamd at 200 MB, which S3 does not cost). Each size has
a round first that is not counted (the first scans after its files are written pay for memory the machine
has just taken back), then the median of its rounds.
Targets: streaming ≥ 0.8× the local-file scan (zSCAN); the scanner's peak RSS flat as the file grows.
Usage: .venv/bin/python -m bench.scan_throughput [--sizes-mb 10 50 200] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.common import (
    MIB,
    QUICK,
    BenchClamd,
    emit,
    median,
    moto_server,
    peak_rss_mb,
    scratch_dir,
    table,
)

BUCKET = "bench-scan"
TARGET_RATIO = 0.8


def worker(endpoint: str, key: str, clamd: str, mode: str, local: str) -> None:
    """In a fresh process: stream one object as the scan handler does (to clamd, or nowhere), or the same
    bytes from the local file, and report time and memory."""
    from bench.common import aws_client
    from chalicelib.adapters.clamav import ClamdScanner
    from chalicelib.adapters.s3 import S3ObjectStore
    from chalicelib.domain.content import load_content_policy
    from chalicelib.domain.inspection import Inspection
    from chalicelib.domain.scanning import CHUNK, Tally, scan_object

    store = S3ObjectStore(aws_client("s3", endpoint), BUCKET)
    scanner = ClamdScanner(clamd, timeout=600)
    stored = store.head(key)
    assert stored is not None
    # What ScanService._examine builds: digest, head, tail and the archive and PDF inspectors.
    tally = Tally(inspection=Inspection(load_content_policy()))

    baseline = reset_peak_rss()
    started = time.perf_counter()
    if mode == "stream":
        verdict = str(scan_object(store, scanner, stored, tally))
    elif mode == "local":
        # The same bytes from a local file, through the same client and tally: S3's share, isolated.
        verdict = str(scanner.scan_stream(tally.watch(file_chunks(Path(local), CHUNK))))
    else:
        for _ in tally.watch(store.read_chunks(key, stored.etag, CHUNK)):
            pass
        verdict = "-"
    seconds = time.perf_counter() - started
    peak = peak_rss_mb(os.getpid())
    assert tally.size == stored.size
    print(json.dumps({"seconds": seconds, "rss_baseline_mb": baseline, "rss_peak_mb": peak, "verdict": verdict}))


def file_chunks(path: Path, size: int) -> Iterator[bytes]:
    with path.open("rb") as file:
        while chunk := file.read(size):
            yield chunk


def cpu_seconds(pid: int) -> float:
    """User and system CPU a process has used, its threads (live or ended) included, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def reset_peak_rss() -> float:
    """Start this process's peak RSS afresh (Linux keeps ru_maxrss across exec, so the parent's size would
    show through it): the peak becomes the current RSS, which is answered."""
    Path("/proc/self/clear_refs").write_text("5")
    return peak_rss_mb(os.getpid())


def run_worker(endpoint: str, key: str, clamd: str, mode: str, local: Path) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "bench.scan_throughput", "--worker", endpoint, key, clamd, mode, str(local)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"scan worker failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def scan_local(socket_path: Path, path: Path) -> float:
    """clamd scans a file it reads itself (no transfer, no spooling): the target's reference, the ceiling
    for the same engine on the same bytes; its time."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(600)
        sock.connect(str(socket_path))
        started = time.perf_counter()
        sock.sendall(b"zSCAN " + str(path).encode() + b"\0")
        reply = b""
        while not reply.endswith(b"\0"):
            part = sock.recv(4096)
            if not part:
                break
            reply += part
        seconds = time.perf_counter() - started
    answer = reply.rstrip(b"\0").decode()
    if not answer.endswith(": OK"):
        raise RuntimeError(f"clamd SCAN answered {answer!r}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--worker", nargs=5, metavar=("ENDPOINT", "KEY", "CLAMD", "MODE", "LOCAL"))
    parser.add_argument("--sizes-mb", type=int, nargs="+", default=[10, 50] if QUICK else [10, 50, 200])
    parser.add_argument("--rounds", type=int, default=2 if QUICK else 5)
    args = parser.parse_args()
    if args.worker:
        worker(*args.worker)
        return
    rows: list[list[Any]] = []
    figures: dict[str, Any] = {}
    with moto_server() as moto, scratch_dir("bench-scan-") as scratch:
        clamd = BenchClamd(scratch / "clamd", max_stream=max(args.sizes_mb) * MIB + MIB)
        clamd.start()
        try:
            s3 = moto.client("s3")
            s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-3"})
            for size_mb in args.sizes_mb:
                figures[str(size_mb)] = measure_size(moto, s3, clamd, scratch, size_mb, args.rounds, rows)
            clamd_rss = clamd.rss_mb()
        finally:
            clamd.stop()
    table(
        [
            "size MB",
            "S3 read MB/s",
            "S3→clamd MB/s",
            "local SCAN MB/s",
            "ratio",
            "local INSTREAM MB/s",
            "vs INSTREAM",
            "clamd CPU ratio",
            "peak RSS MB",
            "RSS growth MB",
        ],
        rows,
        title=f"Figure 4: scan throughput, median of {args.rounds} rounds (target ratio ≥ {TARGET_RATIO}, RSS flat)",
    )
    growths = [f["rss_growth_mb"] for f in figures.values()]
    ratio = min(f["ratio"] for f in figures.values())
    flat = max(growths) - min(growths) < 16
    print(f"clamd RSS at the end: {clamd_rss:.0f} MB (project database: two signatures, not the official one)")
    emit(
        "scan_throughput",
        {
            "sizes_mb": args.sizes_mb,
            "rounds": args.rounds,
            "by_size": figures,
            "min_ratio": round(ratio, 2),
            "stream_mb_s": round(median([f["stream_mb_s"] for f in figures.values()]), 1),
            "local_mb_s": round(median([f["local_mb_s"] for f in figures.values()]), 1),
            "min_ratio_instream": round(min(f["ratio_instream"] for f in figures.values()), 2),
            "min_clamd_cpu_ratio": round(min(f["clamd_cpu_ratio"] for f in figures.values()), 2),
            "rss_growth_mb": [round(g, 1) for g in growths],
            "rss_flat": flat,
            "met": ratio >= TARGET_RATIO and flat,
        },
    )


def measure_size(
    moto: Any, s3: Any, clamd: BenchClamd, scratch: Path, size_mb: int, rounds: int, rows: list[list[Any]]
) -> dict[str, Any]:
    """Store `size_mb` of random bytes in S3 and in a local file; scan both `rounds` times."""
    data = os.urandom(size_mb * MIB)
    key = f"incoming/bench/{size_mb}mb"
    s3.put_object(Bucket=BUCKET, Key=key, Body=data, ContentType="application/octet-stream")
    local = scratch / f"{size_mb}mb.bin"
    local.write_bytes(data)
    del data
    reads, streams, locals_, instreams, peaks, growths = [], [], [], [], [], []
    clamd_stream, clamd_local = [], []  # clamd's CPU seconds for each
    assert clamd.process is not None
    # One round first, not counted: the first scans after the files are written pay for memory this VM
    # has just taken back (the last size's objects and spool files), which a scanner at work does not.
    run_worker(moto.endpoint, key, clamd.address, "stream", local)
    scan_local(clamd.socket_path, local)
    run_worker(moto.endpoint, key, clamd.address, "local", local)
    for turn in range(rounds):
        reads.append(run_worker(moto.endpoint, key, clamd.address, "read", local)["seconds"])
        # Every other round the local scans come first, so a drift of the machine's load favours neither.
        for step in ("stream", "local") if turn % 2 == 0 else ("local", "stream"):
            before = cpu_seconds(clamd.process.pid)
            if step == "local":
                locals_.append(scan_local(clamd.socket_path, local))
                clamd_local.append(cpu_seconds(clamd.process.pid) - before)
                instreams.append(run_worker(moto.endpoint, key, clamd.address, "local", local)["seconds"])
                continue
            stream = run_worker(moto.endpoint, key, clamd.address, "stream", local)
            clamd_stream.append(cpu_seconds(clamd.process.pid) - before)
            if stream["verdict"] != str(_clean()):
                raise RuntimeError(f"unexpected verdict {stream['verdict']}")
            streams.append(stream["seconds"])
            peaks.append(stream["rss_peak_mb"])
            growths.append(stream["rss_peak_mb"] - stream["rss_baseline_mb"])
    s3.delete_object(Bucket=BUCKET, Key=key)
    local.unlink()
    figure = {
        "read_mb_s": size_mb / median(reads),
        "stream_mb_s": size_mb / median(streams),
        "local_mb_s": size_mb / median(locals_),
        "local_instream_mb_s": size_mb / median(instreams),
        "rss_peak_mb": median(peaks),
        "rss_growth_mb": median(growths),
        # What INSTREAM costs clamd over reading the file itself (its 4 KiB reads and spool writes):
        # CPU seconds, which other load on the machine moves far less than wall time.
        "clamd_cpu_ratio": median(clamd_local) / median(clamd_stream),
    }
    figure["ratio"] = figure["stream_mb_s"] / figure["local_mb_s"]
    figure["ratio_instream"] = figure["stream_mb_s"] / figure["local_instream_mb_s"]
    rows.append(
        [
            size_mb,
            figure["read_mb_s"],
            figure["stream_mb_s"],
            figure["local_mb_s"],
            figure["ratio"],
            figure["local_instream_mb_s"],
            figure["ratio_instream"],
            figure["clamd_cpu_ratio"],
            figure["rss_peak_mb"],
            figure["rss_growth_mb"],
        ]
    )
    return {k: round(v, 2) for k, v in figure.items()}


def _clean() -> Any:
    from chalicelib.domain.content import ScanOutcome, ScanResult

    return ScanResult(ScanOutcome.CLEAN)


if __name__ == "__main__":
    main()
