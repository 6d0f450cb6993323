"""Figure 6: dollars per million uploads, from the measured figures and stated prices.

An upload's life, as modelled: one grant, the tablet's POST of the bytes, the S3 event through SQS to the
scan function (S3 → clamd), two status reads by the tablet, and one download (URL, then the bytes).
AWS calls and DynamoDB units per request come from figure 2 (bench.warm_requests), the scan's duration
from figure 4 (bench.scan_throughput); both are read from .build/bench/ (run them first, or `make bench`),
else this figure says it used the defaults below. Prices are eu-west-3 (Paris) list prices as assumed
here, on-demand, without free tier: check them against the AWS pricing pages before quoting a total.
Usage: .venv/bin/python -m bench.cost_model [--file-mb 2]
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

from bench.common import emit, load_result, table

# Prices (USD), eu-west-3, as assumed on 2026-11-29: verify before quoting.
PRICES = {
    "lambda_gb_second_arm64": 0.0000133334,
    "lambda_request": 0.20 / 1e6,
    "api_gateway_rest_request": 3.50 / 1e6,
    "s3_put_copy_post_list": 0.0053 / 1000,
    "s3_get_head": 0.00042 / 1000,
    "dynamodb_write_unit": 0.7063 / 1e6,  # on demand, after the November 2024 price cut
    "dynamodb_read_unit": 0.1413 / 1e6,
    "sqs_request": 0.40 / 1e6,
    "fargate_vcpu_hour_arm64": 0.03725,
    "fargate_gb_hour_arm64": 0.00409,
    "s3_gb_month": 0.024,
    "data_transfer_out_gb": 0.09,
}
# Workload and platform assumptions.
ASSUMPTIONS = {
    "file_mb": 2.0,  # a photo of homework, a PDF
    "status_reads_per_upload": 2,
    "downloads_per_upload": 1,
    "api_memory_mb": 512,  # .chalice/config.json
    "scan_memory_mb": 1024,  # .chalice/config.json, scan_uploads
    "lambda_mb_per_vcpu": 1769,  # Lambda gives a full vCPU at 1,769 MB: CPU time stretches below it
    "aws_call_ms": 8,  # one DynamoDB or S3 round trip from Lambda, in region
    "sqs_batch": 5,  # scan_uploads batch_size
    "official_db_slowdown": 4.0,  # our bench clamd has 2 signatures; the official database scans slower
    "clamd_task_vcpu": 1,
    "clamd_task_gb": 3,  # the official database loaded, with room for a reload
    "clamd_utilisation": 0.5,  # head room for the evening before a deadline
    "clamd_min_tasks": 2,
}
# Used when a figure has not been run in this tree (values of the run recorded in BENCHMARKS.md).
DEFAULTS: dict[str, dict[str, float]] = {
    "grant, new file": {"cpu_us": 8500, "calls": 2, "dynamodb_write_units": 8, "dynamodb_reads": 1},
    "scan of a 1 KB upload": {"cpu_us": 31000, "calls": 8, "dynamodb_write_units": 12, "dynamodb_reads": 3},
    "metadata read": {"cpu_us": 4500, "calls": 1, "dynamodb_write_units": 0, "dynamodb_reads": 1},
    "download URL": {"cpu_us": 8900, "calls": 2, "dynamodb_write_units": 1, "dynamodb_reads": 1},
}
DEFAULT_SCAN_CALLS = {"s3:HeadObject": 1, "s3:GetObject": 1, "s3:CopyObject": 1, "s3:DeleteObject": 1}
DEFAULT_STREAM_MB_S = 45.0


@dataclass
class Line:
    component: str
    per_upload: float
    unit: str
    price: float

    @property
    def per_million(self) -> float:
        return self.per_upload * self.price * 1e6


def request_figures() -> tuple[dict[str, dict[str, Any]], str]:
    measured = load_result("warm_requests")
    if measured is None:
        return {k: dict(v) for k, v in DEFAULTS.items()}, "defaults (run bench.warm_requests)"
    ops: dict[str, dict[str, Any]] = {}
    for name in DEFAULTS:
        row = measured["ops"][name]
        ops[name] = {
            "cpu_us": row["cpu_us"],
            "calls": sum(row["calls"].values()),
            "dynamodb_write_units": row.get("dynamodb_write_units", DEFAULTS[name]["dynamodb_write_units"]),
            "dynamodb_reads": row["dynamodb_reads"],
            "breakdown": row["calls"],
        }
    return ops, "figure 2 (.build/bench/warm_requests.json)"


def scan_throughput() -> tuple[float, str]:
    measured = load_result("scan_throughput")
    if measured is None:
        return DEFAULT_STREAM_MB_S, "default (run bench.scan_throughput)"
    return float(measured["stream_mb_s"]), "figure 4 (.build/bench/scan_throughput.json)"


def lambda_ms(op: dict[str, Any], memory_mb: float) -> float:
    """Billed duration: our CPU, stretched by Lambda's share of a vCPU at this memory, plus the AWS waits."""
    stretch = max(1.0, ASSUMPTIONS["lambda_mb_per_vcpu"] / memory_mb)
    return float(op["cpu_us"]) / 1000 * stretch + float(op["calls"]) * ASSUMPTIONS["aws_call_ms"]


def lines(ops: dict[str, dict[str, Any]], stream_mb_s: float) -> list[Line]:
    a, p = ASSUMPTIONS, PRICES
    reads, downloads = a["status_reads_per_upload"], a["downloads_per_upload"]
    api_ops = [(ops["grant, new file"], 1.0), (ops["metadata read"], reads), (ops["download URL"], downloads)]
    api_requests = sum(n for _, n in api_ops)
    api_gb_s = sum(lambda_ms(op, a["api_memory_mb"]) / 1000 * n for op, n in api_ops) * a["api_memory_mb"] / 1024
    scan = ops["scan of a 1 KB upload"]
    # The scan function waits while clamd reads the stream: its bytes at the measured rate, slowed down
    # by the official database, on top of the fixed cost measured for a 1 KB file.
    stream_s = a["file_mb"] / stream_mb_s * a["official_db_slowdown"]
    scan_s = lambda_ms(scan, a["scan_memory_mb"]) / 1000 + stream_s
    scan_gb_s = scan_s * a["scan_memory_mb"] / 1024
    breakdown = scan.get("breakdown", DEFAULT_SCAN_CALLS)
    s3_put = 1 + breakdown.get("s3:CopyObject", 1) + breakdown.get("s3:PutObject", 0)
    s3_get = breakdown.get("s3:HeadObject", 1) + breakdown.get("s3:GetObject", 1) + downloads
    write_units = sum(float(op["dynamodb_write_units"]) * n for op, n in api_ops) + float(scan["dynamodb_write_units"])
    read_units = sum(float(op["dynamodb_reads"]) * n for op, n in api_ops) + float(scan["dynamodb_reads"])
    sqs_requests = 1 + 2 / a["sqs_batch"]  # S3's send; the event source's receive and delete, per batch
    vcpu_s = stream_s / a["clamd_utilisation"]
    task_hours = vcpu_s / a["clamd_task_vcpu"] / 3600
    return [
        Line("API Gateway (REST) requests", api_requests, "requests", p["api_gateway_rest_request"]),
        Line("Lambda requests (API)", api_requests, "invocations", p["lambda_request"]),
        Line("Lambda duration (API, 512 MB)", api_gb_s, "GB-s", p["lambda_gb_second_arm64"]),
        Line("Lambda requests (scan)", 1 / a["sqs_batch"], "invocations", p["lambda_request"]),
        Line("Lambda duration (scan, 1024 MB)", scan_gb_s, "GB-s", p["lambda_gb_second_arm64"]),
        Line("S3 PUT/COPY/POST", s3_put, "requests", p["s3_put_copy_post_list"]),
        Line("S3 GET/HEAD", s3_get, "requests", p["s3_get_head"]),
        Line("DynamoDB writes (on demand)", write_units, "WRU", p["dynamodb_write_unit"]),
        Line("DynamoDB reads (on demand)", read_units, "RRU", p["dynamodb_read_unit"]),
        Line("SQS requests", sqs_requests, "requests", p["sqs_request"]),
        Line("clamd fleet vCPU (Fargate)", task_hours * a["clamd_task_vcpu"], "vCPU-h", p["fargate_vcpu_hour_arm64"]),
        Line("clamd fleet memory (Fargate)", task_hours * a["clamd_task_gb"], "GB-h", p["fargate_gb_hour_arm64"]),
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--file-mb", type=float, default=ASSUMPTIONS["file_mb"])
    args = parser.parse_args()
    ASSUMPTIONS["file_mb"] = args.file_mb
    ops, ops_source = request_figures()
    stream_mb_s, scan_source = scan_throughput()
    costs = lines(ops, stream_mb_s)
    total = sum(line.per_million for line in costs)
    table(
        ["component", "per upload", "unit", "$ per million units", "$ per million uploads"],
        [[c.component, c.per_upload, c.unit, c.price * 1e6, c.per_million] for c in costs]
        + [["total", "", "", "", total]],
        title=f"Figure 6: cost model, {args.file_mb:g} MB per upload (arm64, eu-west-3, on demand)",
    )
    a, p = ASSUMPTIONS, PRICES
    floor = (
        a["clamd_min_tasks"]
        * 730
        * (a["clamd_task_vcpu"] * p["fargate_vcpu_hour_arm64"] + a["clamd_task_gb"] * p["fargate_gb_hour_arm64"])
    )
    storage_year = a["file_mb"] / 1024 * p["s3_gb_month"] * 12 * 1e6
    egress = a["file_mb"] / 1024 * a["downloads_per_upload"] * p["data_transfer_out_gb"] * 1e6
    print(f"inputs: requests from {ops_source}; scan rate {stream_mb_s:.0f} MB/s from {scan_source}")
    print("assumptions: " + ", ".join(f"{k}={v:g}" for k, v in a.items()))
    print("prices: " + ", ".join(f"{k}={v:g}" for k, v in p.items()))
    print(
        f"not in the total: clamd fleet floor of {a['clamd_min_tasks']} tasks ${floor:,.0f}/month; per million uploads,"
    )
    print(f"  S3 storage for a year ${storage_year:,.0f} and data transfer out for the downloads ${egress:,.0f}")
    emit(
        "cost_model",
        {
            "file_mb": a["file_mb"],
            "usd_per_million_uploads": round(total, 2),
            "lines": {c.component: round(c.per_million, 2) for c in costs},
            "clamd_floor_usd_month": round(floor),
            "inputs": {"requests": ops_source, "scan": scan_source, "stream_mb_s": stream_mb_s},
            "assumptions": a,
            "prices": p,
        },
    )


if __name__ == "__main__":
    main()
