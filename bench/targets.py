"""Every target of `make bench`, declared once, as data.

The figure scripts print their target from here and `bench/report.py` judges the last measurement
against it, so a target changed here changes both (and BENCHMARKS.md at the next `make bench`). A
target is a bound on one number, the unrounded figure a script keeps in its JSON line; a figure
without a target has none here and shows "–".
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass

# How a figure is compared with its bound: `figure <op> bound`.
OPS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">=": operator.ge,
    "==": operator.eq,
}


@dataclass(frozen=True)
class Target:
    """`figure <op> bound`, shown in the table as `text`."""

    op: str
    bound: float
    text: str

    def __post_init__(self) -> None:
        if self.op not in OPS:
            raise ValueError(f"unknown comparison {self.op!r}; one of {', '.join(OPS)}")

    def holds(self, figure: float) -> bool:
        return OPS[self.op](figure, self.bound)


def holds(text: str) -> Target:
    """A yes-or-no target: the figure is a truth (1.0 when it holds)."""
    return Target("==", 1, text)


# 1. Cold start: import + health + first listing against a boto3-only Chalice app; no heavy module.
COLD_START_RATIO = Target("<=", 1.3, "≤ 1.3× a boto3-only Chalice app")
COLD_START_HEAVY_MODULES = Target("==", 0, "none")
# 2. Warm requests: the grant's writes and CPU, one query a page.
GRANT_DYNAMODB_WRITES = Target("==", 1, "1")
GRANT_CPU_US = Target("<", 2000, "< 2 ms")
# Issue 18: the grant reads the catalog at most once, and our own CPU (outside the AWS SDK) stays under 1 ms.
GRANT_DYNAMODB_READS = Target("<=", 1, "≤ 1")
GRANT_CPU_US_OUTSIDE_SDK = Target("<", 1000, "< 1 ms")
QUERIES_PER_PAGE = Target("==", 1, "1")
# 3. Last byte stored → available, small files alone.
UPLOAD_P50_MS = Target("<", 1000, "p50 < 1 s")
# 4. Scan throughput: S3 → clamd streaming against clamd scanning a local file; memory flat.
#    (bench/scan_throughput.py still declares its own TARGET_RATIO = 0.8 for its title.)
SCAN_RATIO = Target(">=", 0.8, "≥ 0.8")
SCAN_RSS_FLAT = holds("flat")
# 5. Pages: one query and the same CPU for 100 and 100,000 records.
PAGE_QUERIES = Target("==", 1, "same, 1 query")
PAGE_CPU_RATIO = Target("<", 1.5, "same (< 1.5×)")
# ZIP of submissions: a quarter of the 512 MB API function at most, whatever the total.
ZIP_RSS_GROWTH_MB = Target("<", 128, "< 128 MB, any total")
# Archive inspector: it runs in the scan function beside the read-ahead chunks, a few MiB whatever the zip.
ARCHIVE_RSS_GROWTH_MB = Target("<", 32, "flat, < 32 MB")
# 7. A 200 MiB multipart upload through the local stack.
LARGE_UPLOAD_OK = holds("available, right sha256")
LARGE_UPLOAD_SCANNER_PEAK_MB = Target("<", 100, "< 100 MiB")
# 8. Grants into one space by concurrent writers: every grant answers 201 (throughput and latency: no target).
GRANT_ERRORS = Target("==", 0, "errors: 0")
# 9. Grant and pages on each catalog (issue 20): the same calls (DynamoDB API calls, SQL round trips) in a
#    space of 100 and of 100,000 records, and the same CPU (medians, < 1.5× as figure 5).
CATALOG_CALLS_FLAT = holds("same at both sizes")
CATALOG_CPU_RATIO = Target("<", 1.5, "same (< 1.5×)")
