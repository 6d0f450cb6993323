"""BENCHMARKS.md's "Regressions at a glance", generated from the last `make bench`.

Figures drift when a table is copied by hand (it said 1.57× and 8 calls per scan where the code measured
1.25× and 11), so the table is written from `.build/bench/*.json` only: every row below names its figure,
its target (declared once, in bench/targets.py), the unrounded number the target judges and how the
last value is shown. The prose of BENCHMARKS.md stays hand-written around the generated block
(between the GENERATED and END markers). `bench/run_all.py` calls this after every run; on its own:
Usage: .venv/bin/python -m bench.report [--check] [--keep]   (--check: exit 1 when BENCHMARKS.md is not up to
date; --keep: a figure with no JSON in .build/bench, a fresh checkout's or a wiped one's, keeps the rows
BENCHMARKS.md has for it instead of "not measured")
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from bench import targets as t
from bench.common import RESULTS, ROOT, table
from bench.targets import Target

BENCHMARKS = ROOT / "BENCHMARKS.md"
GENERATED = "<!-- generated: bench.report -->"
END = "<!-- end generated: bench.report -->"
DASH = "–"
YES, NO = "yes", "no"
Result = dict[str, Any]


# -- the judge ------------------------------------------------------------------------------------------
def judge(target: Target | None, figure: float | None, complete: bool = True) -> str:
    """yes / no against the target, on the figure as measured (never its rounded display); "–" without
    a target. A figure not measured, not a number, or whose measurement did not end as meant (uploads
    that did not all become available) is not met, whatever its value."""
    if target is None:
        return DASH
    if figure is None or not complete or math.isnan(figure):
        return NO
    return YES if target.holds(figure) else NO


# -- the rows -------------------------------------------------------------------------------------------
def _always(_: Result) -> bool:
    return True


@dataclass(frozen=True)
class Row:
    """One line of the table: the figure's name, the JSON it comes from (`bench`), its target, the
    figure the target judges, how its last value reads, and whether its measurement ended as meant."""

    figure: str
    bench: str
    target: Target | None
    shown: Callable[[Result], str]
    value: Callable[[Result], float | None] | None = None
    complete: Callable[[Result], bool] = _always


@dataclass(frozen=True)
class Line:
    """A row as written: every cell text."""

    figure: str
    target: str
    value: str
    met: str
    date: str


def _ms(value: float) -> str:
    return f"{value / 1000:.2f} s" if value >= 1000 else f"{value:,.0f} ms"


def _calls(calls: dict[str, float]) -> str:
    return " + ".join(f"{k.split(':')[1]}×{v:g}" for k, v in calls.items()) or "none"


def cold_start_rows() -> list[Row]:
    def shown(r: Result) -> str:
        return f"{r['ratio']:.2f}× ({r['cartable_ms']:.0f} vs {r['baseline_ms']:.0f} ms, median of {r['runs']})"

    return [
        Row(
            "1 cold start, import + health + first listing",
            "cold_start",
            t.COLD_START_RATIO,
            shown,
            lambda r: r["ratio"],
        ),
        Row(
            "1 heavy modules after those requests (aiobotocore, magic, clamd, ZIP streamer)",
            "cold_start",
            t.COLD_START_HEAVY_MODULES,
            lambda r: ", ".join(r["heavy_loaded"]) or "none",
            lambda r: len(r["heavy_loaded"]),
        ),
    ]


def _grant(r: Result) -> Result:
    grant: Result = r["ops"]["grant, new file"]
    return grant


def _pages(r: Result) -> list[Result]:
    return [r["ops"][p] for p in ("listing page (limit 100)", "changes page (limit 100)")]


def warm_rows() -> list[Row]:
    def scan(r: Result) -> str:
        calls = r["ops"]["scan of a 1 KB upload"]["calls"]
        by_service = {s: sum(n for c, n in calls.items() if c.startswith(f"{s}:")) for s in ("dynamodb", "s3")}
        return f"{sum(calls.values()):g} ({by_service['dynamodb']:g} DynamoDB, {by_service['s3']:g} S3)"

    def writes(r: Result) -> str:
        grant = _grant(r)
        items = grant["dynamodb_items_written"]
        return f"{grant['dynamodb_writes']:g} ({items:g} items; calls: {_calls(grant['calls'])})"

    return [
        Row(
            "2 DynamoDB writes per grant",
            "warm_requests",
            t.GRANT_DYNAMODB_WRITES,
            writes,
            lambda r: _grant(r)["dynamodb_writes"],
        ),
        Row(
            "2 DynamoDB reads per grant",
            "warm_requests",
            t.GRANT_DYNAMODB_READS,
            lambda r: f"{_grant(r)['dynamodb_reads']:g}",
            lambda r: _grant(r)["dynamodb_reads"],
        ),
        Row(
            "2 CPU per grant",
            "warm_requests",
            t.GRANT_CPU_US,
            lambda r: f"{_grant(r)['cpu_us'] / 1000:.2f} ms",
            lambda r: _grant(r)["cpu_us"],
        ),
        Row(
            "2 CPU per grant outside the AWS SDK",
            "warm_requests",
            t.GRANT_CPU_US_OUTSIDE_SDK,
            lambda r: f"{_grant(r)['cpu_us_outside_sdk'] / 1000:.2f} ms",
            lambda r: _grant(r)["cpu_us_outside_sdk"],
        ),
        Row(
            "2 queries per listing page / changes page",
            "warm_requests",
            t.QUERIES_PER_PAGE,
            lambda r: " / ".join(_calls(p["calls"]) for p in _pages(r)),
            lambda r: max(sum(p["calls"].values()) for p in _pages(r)),
        ),
        Row("2 AWS calls per scan of an upload", "warm_requests", None, scan),
        Row(
            "2 DynamoDB write units per grant (on demand)",
            "warm_requests",
            None,
            lambda r: f"{_grant(r)['dynamodb_write_units']:g}",
        ),
    ]


UPLOAD_FIGURES = ("1 KB", "1 MB", "50 MB")
UPLOAD_TARGETED = ("1 KB", "1 MB")  # alone; 50 MB and the crowds are shown without a target


def _upload(key: str) -> Callable[[Result], Result]:
    def figure(r: Result) -> Result:
        found: Result = r["figures"][key]
        return found

    return figure


def _p50(pick: Callable[[Result], Result], r: Result) -> float:
    return float(pick(r)["p50_ms"])


def _all_available(pick: Callable[[Result], Result], r: Result) -> bool:
    """A latency figure counts only if every one of its uploads became available."""
    f = pick(r)
    return bool(f["available"] == f["n"])


def upload_rows() -> list[Row]:
    rows = []
    for size in UPLOAD_FIGURES:
        for mode, label in (("alone", "alone"), ("in flight", "all in flight (local stack: one pump)")):
            pick = _upload(f"{size} {mode}")

            def shown(r: Result, pick: Callable[[Result], Result] = pick) -> str:
                f = pick(r)
                return f"p50 {_ms(f['p50_ms'])}, p99 {_ms(f['p99_ms'])} ({f['available']}/{f['n']} available)"

            rows.append(
                Row(
                    f"3 last byte stored → available, {size}, {label}",
                    "upload_latency",
                    t.UPLOAD_P50_MS if mode == "alone" and size in UPLOAD_TARGETED else None,
                    shown,
                    partial(_p50, pick),
                    partial(_all_available, pick),
                )
            )
    return rows


def _scan_ratio(r: Result) -> float:
    """The worst size's ratio, recomputed from each size's two rates (the script rounds its min_ratio)."""
    return float(min(f["stream_mb_s"] / f["local_mb_s"] for f in r["by_size"].values()))


def scan_rows() -> list[Row]:
    def ratio(r: Result) -> str:
        sizes = " / ".join(f"{f['stream_mb_s'] / f['local_mb_s']:.2f}" for f in r["by_size"].values())
        return f"{_scan_ratio(r):.2f} worst size ({sizes} for {' / '.join(map(str, r['sizes_mb']))} MB)"

    def growth(r: Result) -> str:
        return f"{' / '.join(f'{g:g}' for g in r['rss_growth_mb'])} MB for {' / '.join(map(str, r['sizes_mb']))} MB"

    return [
        Row(
            "4 S3 → clamd streaming vs clamd scanning a local file", "scan_throughput", t.SCAN_RATIO, ratio, _scan_ratio
        ),
        Row(
            "4 scanner peak RSS growth by size",
            "scan_throughput",
            t.SCAN_RSS_FLAT,
            growth,
            lambda r: float(r["rss_flat"]),
        ),
    ]


def scale_rows() -> list[Row]:
    def calls(r: Result) -> float:
        pages = r["pages"].values()
        return float(max(sum(c.values()) for p in pages for c in (p["calls"], p.get("small_calls", p["calls"]))))

    def cpu(r: Result) -> str:
        return ", ".join(f"{p['cpu_us'][0] / 1000:.1f} vs {p['cpu_us'][1] / 1000:.1f} ms" for p in r["pages"].values())

    size = "{small} vs {large} records"
    return [
        Row(
            f"5 calls per page, {size} (listing and changes, 4 pages)",
            "scale_pages",
            t.PAGE_QUERIES,
            lambda r: "; ".join(sorted({_calls(p["calls"]) for p in r["pages"].values()})) + " everywhere",
            calls,
        ),
        Row(
            f"5 our CPU per page, {size}",
            "scale_pages",
            t.PAGE_CPU_RATIO,
            lambda r: f"at most {max(p['cpu_ratio'] for p in r['pages'].values()):.2f}× ({cpu(r)})",
            lambda r: max(p["cpu_ratio"] for p in r["pages"].values()),
        ),
    ]


CATALOG_NAMES = {"dynamodb": "DynamoDB", "postgres": "PostgreSQL"}
CATALOG_REQUESTS = {  # the figure's requests, as the table names them
    "grant, new file": "grant",
    "listing, first page": "listing",
    "listing, deep page": "deep listing",
    "changes, first page": "changes",
    "changes, recent cursor": "recent changes",
}


def _catalog(name: str) -> Callable[[Result], Result]:
    def figure(r: Result) -> Result:
        found: Result = r["catalogs"][name]
        return found

    return figure


def _catalog_figure(pick: Callable[[Result], Result], key: str, r: Result) -> float:
    return float(pick(r)[key])


def catalog_rows() -> list[Row]:
    """Figure 9: per catalog, calls and CPU per request at both sizes; then the grant on each, side by side."""
    rows = []
    for name, title in CATALOG_NAMES.items():
        pick = _catalog(name)
        unit = "calls" if name == "dynamodb" else "round trips"

        def calls(r: Result, pick: Callable[[Result], Result] = pick, unit: str = unit) -> str:
            requests = pick(r)["requests"]
            each = ", ".join(
                f"{CATALOG_REQUESTS.get(k, k)} {v['calls'][0]:g}"
                + ("" if v["calls"][0] == v["calls"][1] else f" vs {v['calls'][1]:g}")
                for k, v in requests.items()
            )
            return f"{unit}: {each}"

        def cpu(r: Result, pick: Callable[[Result], Result] = pick) -> str:
            requests = pick(r)["requests"].items()
            each = ", ".join(
                f"{CATALOG_REQUESTS.get(k, k)} {v['cpu_us'][0] / 1000:.1f} vs {v['cpu_us'][1] / 1000:.1f} ms"
                for k, v in requests
            )
            return f"at most {pick(r)['cpu_ratio']:.2f}× ({each})"

        size = "{small} vs {large} records"
        rows += [
            Row(
                f"9 {title}: calls per request, {size}",
                "catalogs",
                t.CATALOG_CALLS_FLAT,
                calls,
                partial(_catalog_figure, pick, "calls_flat"),
            ),
            Row(
                f"9 {title}: our CPU per request (median), {size}",
                "catalogs",
                t.CATALOG_CPU_RATIO,
                cpu,
                partial(_catalog_figure, pick, "cpu_ratio"),
            ),
        ]

    def grants(r: Result) -> str:
        each = []
        for name, title in CATALOG_NAMES.items():
            grant = r["catalogs"][name]["requests"]["grant, new file"]
            each.append(
                f"{title} {grant['cpu_us'][1] / 1000:.1f} ms ({grant['driver_cpu_us'][1] / 1000:.1f} in the driver)"
            )
        return ", ".join(each)

    rows.append(Row("9 CPU per grant, {large} records, DynamoDB vs PostgreSQL", "catalogs", None, grants))
    return rows


def memory_rows() -> list[Row]:
    return [
        Row(
            "ZIP of submissions: RSS growth",
            "zip_memory",
            t.ZIP_RSS_GROWTH_MB,
            lambda r: (
                f"{r['rss_growth_mb']:.0f} MB for {r['files']} files, {r['total_mb']:,.0f} MB in {r['seconds']:.1f} s"
            ),
            lambda r: r["rss_growth_mb"],
        ),
        Row(
            "archive inspector: RSS growth, every member inflated",
            "archive_memory",
            t.ARCHIVE_RSS_GROWTH_MB,
            lambda r: (
                f"{r['rss_growth_mb']:.1f} MB for {r['archive_mb']:,.0f} MB "
                f"({r['small_rss_growth_mb']:.1f} MB for {r['small_archive_mb']:,.0f} MB), {r['seconds']:.1f} s"
            ),
            lambda r: r["rss_growth_mb"],
        ),
    ]


def large_upload_rows() -> list[Row]:
    def ok(r: Result) -> float:
        return float(r["status"] == "available" and r["sha256_ok"])

    return [
        Row(
            "7 {mib} MiB multipart upload through the local stack",
            "large_upload",
            t.LARGE_UPLOAD_OK,
            lambda r: (
                f"{r['status']}, sha256 {'right' if r['sha256_ok'] else 'WRONG'}, "
                f"{r['parts']} parts of {r['part_mib']} MiB; available {r['scan_s']:.1f} s after complete"
            ),
            ok,
        ),
        Row(
            "7 scanner peak memory during it (the event pump's VmHWM)",
            "large_upload",
            t.LARGE_UPLOAD_SCANNER_PEAK_MB,
            lambda r: f"{r['scanner_peak_mb']:.1f} MB (idle {r['scanner_peak_before_mb']:.1f} MB)",
            lambda r: r["scanner_peak_mb"],
        ),
    ]


def cost_rows() -> list[Row]:
    return [
        Row(
            "6 cost per million uploads of {file_mb} MB",
            "cost_model",
            None,
            lambda r: (
                f"${r['usd_per_million_uploads']:,.0f}, plus a clamd floor of ${r['clamd_floor_usd_month']:,}/month"
            ),
        )
    ]


GRANT_SPACES = ("class folder", "pupil's drive")
GRANT_WRITERS = (1, 10, 50)


def _level(space: str, writers: int) -> Callable[[Result], Result]:
    def level(r: Result) -> Result:
        found: Result = r["levels"][f"{space}, {writers}"]
        return found

    return level


def grant_rows() -> list[Row]:
    rows = []
    for space in GRANT_SPACES:
        for writers in GRANT_WRITERS:
            pick = _level(space, writers)

            def shown(r: Result, pick: Callable[[Result], Result] = pick) -> str:
                f = pick(r)
                return (
                    f"{f['grants_per_s']:.1f} grants/s, p99 {_ms(f['p99_ms'])}, "
                    f"{f['retries']:,} retries for {f['grants']:,} grants"
                )

            who = "writer" if writers == 1 else "writers"
            rows.append(Row(f"8 grants into one {space}, {writers} {who}", "grant_contention", None, shown))

        def errors(r: Result, space: str = space) -> float:
            return float(sum(pick(r)["errors"] for pick in (_level(space, w) for w in GRANT_WRITERS)))

        def errors_shown(r: Result, space: str = space) -> str:
            levels = [_level(space, w)(r) for w in GRANT_WRITERS]
            made = sum(level["grants"] for level in levels)
            wrong: Counter[str] = Counter()
            for level in levels:
                wrong.update({k: v for k, v in level.get("statuses", {}).items() if k != "201"})
            answers = f" ({', '.join(f'{k}×{v}' for k, v in sorted(wrong.items()))})" if wrong else ""
            return f"{sum(level['errors'] for level in levels):,} of {made:,} grants not 201{answers}"

        rows.append(
            Row(f"8 grants into one {space}, every one 201", "grant_contention", t.GRANT_ERRORS, errors_shown, errors)
        )
    return rows


def rows() -> list[Row]:
    """Every row, in the order of the figures."""
    return [
        *cold_start_rows(),
        *warm_rows(),
        *upload_rows(),
        *scan_rows(),
        *scale_rows(),
        *memory_rows(),
        *cost_rows(),
        *large_upload_rows(),
        *grant_rows(),
        *catalog_rows(),
    ]


# -- reading the results --------------------------------------------------------------------------------
def load_results(directory: Path = RESULTS) -> dict[str, Result]:
    """Each figure's last JSON, by bench name; its date from the file when it predates `measured_at`."""
    results: dict[str, Result] = {}
    for path in sorted(directory.glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            continue  # half-written by a run still going: as if not measured
        if isinstance(data, dict):
            stamp = datetime.fromtimestamp(path.stat().st_mtime, UTC).isoformat(timespec="seconds")
            data.setdefault("measured_at", stamp)
            results[path.stem] = data
    return results


def date_of(result: Result) -> str:
    """The day and minute (UTC) a figure was measured; a scaled-down measurement says so."""
    stamp = str(result.get("measured_at", ""))[:16].replace("T", " ")
    return f"{stamp} (BENCH_QUICK)" if result.get("quick") else stamp


def line(row: Row, results: dict[str, Result]) -> Line:
    """One row against the last results: a figure not measured, or a JSON from an older script that
    lacks what the row reads, shows so and is not met."""
    result = results.get(row.bench)
    target = row.target.text if row.target else DASH
    label = row.figure
    if result is None:
        return Line(
            label.format_map(_Labels()), target, f"not measured (bench.{row.bench})", judge(row.target, None), DASH
        )
    try:
        label = row.figure.format_map(_Labels(result))
        shown = row.shown(result)
        figure = None if row.value is None else row.value(result)
        complete = row.complete(result)
    except (KeyError, TypeError, ValueError, ZeroDivisionError) as error:
        met = judge(row.target, None)
        return Line(
            label.format_map(_Labels()), target, f"unreadable ({error!r}): run bench.{row.bench}", met, date_of(result)
        )
    return Line(label, target, shown, judge(row.target, figure, complete), date_of(result))


class _Labels(dict[str, Any]):
    """A figure's JSON as a label's placeholders: numbers with thousands separators, "…" when missing."""

    def __getitem__(self, key: str) -> str:
        value = self.get(key, "…")
        return f"{value:,}" if isinstance(value, int | float) and not isinstance(value, bool) else str(value)


def lines(results: dict[str, Result]) -> list[Line]:
    return [line(row, results) for row in rows()]


# -- writing BENCHMARKS.md ------------------------------------------------------------------------------
def markdown(table_lines: Sequence[Line], results: dict[str, Result], earlier: Recorded | None = None) -> str:
    """The generated block: the table and where each figure was measured."""
    out = [
        GENERATED,
        "<!-- Written by `python -m bench.report` from .build/bench/*.json (every `make bench` runs it): "
        "edit bench/targets.py or bench/report.py, not this table. -->",
        "",
        "| figure | target | last value | met | measured (UTC) |",
        "|---|---|---|---|---|",
    ]
    out += [f"| {c.figure} | {c.target} | {c.value} | {c.met} | {c.date} |" for c in table_lines]
    out += ["", machine(results, earlier), END]
    return "\n".join(out)


def machine(results: dict[str, Result], earlier: Recorded | None = None) -> str:
    """Python, CPUs, and each figure's tree and load average at its end: absolute times move with the
    load, and a figure belongs to the code it measured (with --keep, also those of the rows kept)."""
    seen = sorted(results.items())
    pythons = {str(r["python"]) for _, r in seen if "python" in r} | (earlier.pythons if earlier else set())
    cpus = {str(r["cpus"]) for _, r in seen if "cpus" in r} | (earlier.cpus if earlier else set())
    entries = {
        name: f"{name} {r.get('tree', 'tree not recorded')}, load {r['load_1m']:.1f}" if "load_1m" in r else name
        for name, r in seen
    }
    entries |= {k: v for k, v in (earlier.entries if earlier else {}).items() if k not in results}
    each = "; ".join(entries[name] for name in sorted(entries))
    python, cpu = ", ".join(sorted(pythons)) or "unknown", ", ".join(sorted(cpus)) or "unknown"
    return (
        f"Measured with Python {python} on {cpu} CPUs. "
        f"Each figure's tree and load average (1 min) when it ended: {each or 'none'}."
    )


def splice(document: str, block: str) -> str:
    """The document with its generated block replaced; the hand-written text around it kept as is."""
    start, end = document.find(GENERATED), document.find(END)
    if start < 0 or end < start:
        raise ValueError(f"BENCHMARKS.md needs the markers {GENERATED} and {END} around the generated table")
    return document[:start] + block + document[end + len(END) :]


@dataclass(frozen=True)
class Recorded:
    """What a document's generated block says: its rows, and its machine sentence's parts."""

    lines: list[Line]
    entries: dict[str, str]  # figure name -> "name tree, load x"
    pythons: set[str]
    cpus: set[str]


_MACHINE = re.compile(
    r"Measured with Python (?P<pythons>.+?) on (?P<cpus>.+?) CPUs\. "
    r"Each figure's tree and load average \(1 min\) when it ended: (?P<each>.*)\.$"
)


def recorded(document: str) -> Recorded:
    start, end = document.find(GENERATED), document.find(END)
    block = document[start:end] if 0 <= start < end else ""
    found: list[Line] = []
    entries: dict[str, str] = {}
    pythons: set[str] = set()
    cpus: set[str] = set()
    for text in block.splitlines():
        cells = text.strip().removeprefix("| ").removesuffix(" |").split(" | ")
        if text.startswith("| ") and len(cells) == len(Line.__dataclass_fields__) and cells[0] != "figure":
            found.append(Line(*cells))
        elif match := _MACHINE.match(text):
            pythons, cpus = set(match["pythons"].split(", ")), set(match["cpus"].split(", "))
            entries = {e.split(" ", 1)[0]: e for e in match["each"].split("; ") if e and e != "none"}
    return Recorded(found, entries, pythons - {"unknown"}, cpus - {"unknown"})


def keep(table_lines: Sequence[Line], results: dict[str, Result], earlier: Recorded) -> list[Line]:
    """The rows of figures with no JSON here as the document last recorded them (a fresh checkout or a
    wiped .build/bench does not erase the record): matched by the row's label, whatever its numbers."""
    kept = []
    for row, made in zip(rows(), table_lines, strict=True):
        pattern = re.compile(".+?".join(re.escape(part) for part in re.split(r"\{\w+\}", row.figure)) + "$")
        if row.bench in results:
            kept.append(made)
        else:
            kept.append(next((old for old in earlier.lines if pattern.match(old.figure)), made))
    return kept


def update(path: Path = BENCHMARKS, directory: Path = RESULTS, keep_unmeasured: bool = False) -> list[Line]:
    """Rewrite the generated block of `path` from the results in `directory`; answer the lines. With
    `keep_unmeasured`, a figure without a JSON in `directory` keeps the rows `path` has for it."""
    results = load_results(directory)
    table_lines = lines(results)
    document = path.read_text(encoding="utf-8")
    earlier = recorded(document) if keep_unmeasured else None
    if earlier is not None:
        table_lines = keep(table_lines, results, earlier)
    written = splice(document, markdown(table_lines, results, earlier))
    if written != document:
        path.write_text(written, encoding="utf-8")
    return table_lines


def show(table_lines: Sequence[Line], title: str) -> None:
    table(["figure", "target", "last value", "met", "measured"], [list(vars(c).values()) for c in table_lines], title)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="only say whether BENCHMARKS.md is up to date")
    parser.add_argument(
        "--keep",
        action="store_true",
        help="figures without a JSON in .build/bench keep their rows as BENCHMARKS.md has them (not 'not measured')",
    )
    args = parser.parse_args()
    if args.check:
        results = load_results()
        document = BENCHMARKS.read_text(encoding="utf-8")
        earlier = recorded(document) if args.keep else None
        table_lines = lines(results) if earlier is None else keep(lines(results), results, earlier)
        if splice(document, markdown(table_lines, results, earlier)) != document:
            sys.exit("BENCHMARKS.md is not the last results' table: run python -m bench.report")
        return
    show(update(keep_unmeasured=args.keep), "At a glance (written to BENCHMARKS.md)")


if __name__ == "__main__":
    main()
