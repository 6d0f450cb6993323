"""The commands: argparse, one function each, their output. Errors print `error: <code>: <message>` on stderr.

Exit codes: 0 done, 1 the API refused (or a roster line, or the job failed), 2 usage, 3 the API unreachable
or failing (5xx, 429) after a few tries.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import re
import sys
import urllib.parse
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from admin import roster
from admin.api import REFUSED, USAGE, AdminError, Client, read_token

JOB_TIMEOUT = 3600.0  # seconds --wait follows a job (a whole school's year close, a big export)
YEAR = r"[0-9A-Za-z_-]{1,32}"
EPILOG = "The API's URL: --api or CARTABLE_API_URL. The token: CARTABLE_TOKEN or --token-file (never an argument)."
Command = Callable[[argparse.Namespace, Client, TextIO], int]


def quoted(value: str) -> str:
    return urllib.parse.quote(value, safe="")


def moment(text: str, end_of_day: bool = False) -> datetime:
    """A date (`2026-09-01`, the whole day in UTC) or an RFC 3339 time, as an aware datetime."""
    try:
        if len(text) == 10:
            day = datetime.fromisoformat(text).replace(tzinfo=UTC)
            return day + timedelta(days=1) - timedelta(microseconds=1) if end_of_day else day
        when = datetime.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date or an RFC 3339 time: {text!r}") from exc
    if when.tzinfo is None:
        raise argparse.ArgumentTypeError(f"a time needs its offset (Z or +01:00): {text!r}")
    return when


def since(text: str) -> datetime:
    return moment(text)


def until(text: str) -> datetime:
    return moment(text, end_of_day=True)


def counted(value: Any, one: str, many: str = "") -> str:
    """`1 class`, `2 classes`: a count (a job's result may carry 1.0 for 1) with its noun."""
    number = int(value) if isinstance(value, float) and value.is_integer() else value
    return f"{number} {one if number == 1 else many or one + 's'}"


def positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1: {text!r}")
    return int(text)


# -- the commands -------------------------------------------------------------------------------------------
def roster_import(args: argparse.Namespace, client: Client, out: TextIO) -> int:
    raw = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
    if args.dry_run:
        return roster_preview(raw, client, out)
    roster.check_size(raw)
    answer = client.request("POST", "/v1/roster/import", body=raw, content_type="text/csv; charset=utf-8").json()
    classes, members = counted(answer["classes"], "class", "classes"), counted(answer["members"], "member")
    print(f"applied: {classes}, {members}", file=out)
    for error in answer["errors"]:
        where = f"line {error['line']}" if error["line"] else "file"
        print(f"{where}: {error['message']}", file=out)
    return REFUSED if answer["errors"] else 0


def roster_preview(raw: bytes, client: Client, out: TextIO) -> int:
    """The CSV checked here, and the school's classes read (nothing is written): what an import would do."""
    found = roster.preview(raw)
    existing = {c["id"]: c for page in client.pages("/v1/classes", {"limit": "1000"}) for c in page["items"]}
    closed = sorted(c for c in found.classes if existing.get(c, {}).get("archivedAt"))
    kept = {c: people for c, people in found.classes.items() if c not in closed}
    new = sum(1 for c in kept if c not in existing)
    members = sum(len(people) for people in kept.values())
    classes = counted(len(kept), "class", "classes")
    print(f"dry run: {classes} ({new} new, {len(kept) - new} replaced), {counted(members, 'member')}", file=out)
    for line, message in found.errors:
        print(f"line {line}: {message}", file=out)
    for class_id in closed:
        print(f"file: class {class_id} belongs to a closed school year: not changed", file=out)
    return REFUSED if found.errors or closed else 0


def year_close(args: argparse.Namespace, client: Client, out: TextIO) -> int:
    job = client.post("/v1/years/close", {"year": args.year})
    if not args.wait:
        print(f"job {job['id']}: {job['status']} (python -m admin job {job['id']} --wait follows it)", file=out)
        return 0
    result = client.wait_job(job, args.timeout)["result"] or {}
    classes = counted(result.get("classes"), "class", "classes")
    assignments, shares = counted(result.get("assignments"), "assignment"), counted(result.get("sharesEnded"), "share")
    print(
        f"year {result.get('year')} closed at {result.get('closedAt')}: {classes}, {assignments}, {shares} ended",
        file=out,
    )
    return 0


def export(args: argparse.Namespace, client: Client, out: TextIO) -> int:
    job = client.post(f"/v1/users/{quoted(args.user)}/export")
    if not (args.wait or args.output):
        print(f"job {job['id']}: {job['status']} (python -m admin job {job['id']} --output FILE fetches it)", file=out)
        return 0
    job = client.wait_job(job, args.timeout)
    return download(client, job["id"], args.output or f"{args.user}.zip", out)


def download(client: Client, job_id: str, output: str, out: TextIO) -> int:
    """The ZIP to `output` (`-`: standard output), written whole to a temporary name first."""
    if output == "-":
        client.download_job(job_id, sys.stdout.buffer)
        return 0
    target = Path(output)
    partial = target.with_name(f".{target.name}.partial")
    try:
        with partial.open("wb") as file:
            size = client.download_job(job_id, file)
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    print(f"wrote {target} ({size} bytes)", file=out)
    return 0


def job(args: argparse.Namespace, client: Client, out: TextIO) -> int:
    state = client.get(f"/v1/jobs/{quoted(args.id)}")
    if args.wait or args.output:
        state = client.wait_job(state, args.timeout)
    if args.output:
        return download(client, state["id"], args.output, out)
    print(json.dumps(state, ensure_ascii=False), file=out)
    return 0


def audit_entries(client: Client, args: argparse.Namespace) -> Iterator[dict[str, Any]]:
    """The trail newest first, filtered; paging stops once past --since or --limit."""
    page_size = str(min(args.limit or 1000, 1000))
    count = 0
    for page in client.pages("/v1/audit", {"user": args.user, "limit": page_size}):
        for entry in page["items"]:
            at = datetime.fromisoformat(entry["at"])
            if args.since and at < args.since:
                return
            if (args.until and at > args.until) or (
                args.action and not fnmatch.fnmatchcase(entry["action"], args.action)
            ):
                continue
            yield entry
            count += 1
            if args.limit and count >= args.limit:
                return


def audit_line(entry: Mapping[str, Any]) -> str:
    """One entry, tab-separated: at, actor, role, action, target, decision, reason."""
    fields = ("at", "actor", "role", "action", "target", "decision", "reason")
    return "\t".join(str(entry.get(name, "")).replace("\t", " ").replace("\n", " ") for name in fields)


def audit(args: argparse.Namespace, client: Client, out: TextIO) -> int:
    for entry in audit_entries(client, args):
        print(json.dumps(entry, ensure_ascii=False) if args.json else audit_line(entry), file=out)
    return 0


def retention(args: argparse.Namespace, client: Client, out: TextIO) -> int:
    first: dict[str, Any] | None = None
    for page in client.pages("/v1/retention", {"asOf": args.as_of, "limit": "1000"}):
        if first is None:
            first = page
            if page["retentionDays"] is None:
                print(f"retention: none set for this school (as of {page['asOf']}, nothing would go)", file=out)
            else:
                print(f"retention: {page['retentionDays']} days, as of {page['asOf']}", file=out)
        for item in page["items"]:
            if args.json:
                print(json.dumps(item, ensure_ascii=False), file=out)
            else:
                fields = ("purgeAfter", "owner", "classId", "space", "name", "size")
                print("\t".join(str(item[name]) for name in fields), file=out)
    return 0


# -- the parser ---------------------------------------------------------------------------------------------
def _command(subparsers: Any, name: str, function: Command, summary: str, example: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        name,
        help=summary,
        description=summary,
        epilog=f"example:\n  {example}\n\n{EPILOG}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[_connection(argparse.SUPPRESS)],
        allow_abbrev=False,
    )
    parser.set_defaults(run=function)
    return parser


def _connection(default: Any) -> argparse.ArgumentParser:
    """--api, --token-file and --retries, before or after the command (`default` SUPPRESS keeps the first)."""
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    parser.add_argument("--api", default=default, metavar="URL", help="the API (default: $CARTABLE_API_URL)")
    parser.add_argument("--token-file", type=Path, default=default, metavar="FILE", help="a file holding the token")
    parser.add_argument("--retries", type=int, default=default, metavar="N", help="tries again (default 3)")
    return parser


def _wait(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--wait", action="store_true", help=f"follow the job until {what}")
    parser.add_argument("--timeout", type=float, default=JOB_TIMEOUT, metavar="SECONDS", help="how long --wait waits")


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="python -m admin",
        description="Cartable's school office from a script: the public HTTP API with an admin's token.",
        epilog=f"{EPILOG}\nExit codes: 0 done, 1 refused or failed, 2 usage, 3 API unreachable or failing.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[_connection(None)],
        allow_abbrev=False,
    )
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    groups = commands.add_parser("roster", help="the classes and their members", allow_abbrev=False)
    import_ = _command(
        groups.add_subparsers(dest="action", required=True, metavar="ACTION"),
        "import",
        roster_import,
        "Apply a roster CSV (class_id,class_name,user_id,role): good lines are applied, refused ones printed "
        "as `line N: message` (exit 1 if any).",
        "python -m admin roster import rentree-2026.csv --dry-run",
    )
    import_.add_argument("file", metavar="FILE.csv", help="the CSV (UTF-8), or - for standard input")
    import_.add_argument(
        "--dry-run", action="store_true", help="check it here and against the school's classes; nothing is written"
    )

    years = commands.add_parser("year", help="the school year", allow_abbrev=False)
    close = _command(
        years.add_subparsers(dest="action", required=True, metavar="ACTION"),
        "close",
        year_close,
        "Close the school year: every open class becomes a read-only archive and its shares end (a job).",
        "python -m admin year close 2025-2026 --wait",
    )
    close.add_argument("year", metavar="YEAR", help=f"the year's name, {YEAR} (for example 2025-2026)")
    _wait(close, "it is done, and print its counts")

    exporting = _command(
        commands,
        "export",
        export,
        "One person's files as a ZIP with its manifest (the right of access), built as a job.",
        "python -m admin export eleve-alice --output alice.zip",
    )
    exporting.add_argument("user", metavar="USER", help="the person's id")
    exporting.add_argument(
        "--output", metavar="FILE", help="where the ZIP goes (- for standard output; implies --wait)"
    )
    _wait(exporting, "the ZIP is ready, then download it (to USER.zip without --output)")

    following = _command(
        commands, "job", job, "A job's state (as JSON), or its ZIP once ready.", "python -m admin job 01JD... --wait"
    )
    following.add_argument("id", metavar="JOB_ID")
    following.add_argument("--output", metavar="FILE", help="download its ZIP (implies --wait)")
    _wait(following, "it is no longer pending")

    trail = _command(
        commands,
        "audit",
        audit,
        "The school's audit trail, newest first: every page, one tab-separated line per entry "
        "(at, actor, role, action, target, decision, reason).",
        "python -m admin audit --since 2026-09-01 --action 'share.*' --json",
    )
    trail.add_argument("--since", type=since, help="from this date (UTC) or RFC 3339 time")
    trail.add_argument("--until", type=until, help="up to this date (the whole day, UTC) or time")
    trail.add_argument("--user", help="only this person's entries")
    trail.add_argument("--action", metavar="PATTERN", help="only these actions (user.export, 'share.*')")
    trail.add_argument("--limit", type=positive, help="at most this many entries")
    trail.add_argument("--json", action="store_true", help="one JSON object per line")

    dry = _command(
        commands,
        "retention",
        retention,
        "What the school's retention would remove on a date: a dry run, nothing changes. One tab-separated line "
        "per file (purgeAfter, owner, classId, space, name, size).",
        "python -m admin retention --as-of 2027-09-01",
    )
    dry.add_argument("--as-of", metavar="DATE", help="a date or RFC 3339 time (default: now)")
    dry.add_argument("--json", action="store_true", help="one JSON object per line")
    return top


def client_for(args: argparse.Namespace, environ: Mapping[str, str]) -> Client:
    base = args.api or environ.get("CARTABLE_API_URL", "")
    url = urllib.parse.urlsplit(base)
    if url.scheme not in ("http", "https") or not url.hostname:
        raise AdminError("usage", "the API's URL: --api URL or CARTABLE_API_URL (https://...)", USAGE)
    if url.scheme == "http" and url.hostname not in ("127.0.0.1", "localhost", "::1"):
        print(f"warning: {url.hostname} over plain http: the token travels in clear", file=sys.stderr)
    retries = 3 if args.retries is None else max(0, args.retries)
    return Client(base, read_token(args.token_file, environ), retries=retries)


def main(
    argv: Sequence[str] | None = None,
    environ: Mapping[str, str] | None = None,
    out: TextIO | None = None,
    connect: Callable[[argparse.Namespace, Mapping[str, str]], Client] = client_for,
) -> int:
    args = parser().parse_args(argv)  # a usage error exits 2 here
    if getattr(args, "year", None) is not None and not re.fullmatch(YEAR, args.year):
        print(f"error: usage: the year's name must match {YEAR}, not {args.year!r}", file=sys.stderr)
        return USAGE
    try:
        client = connect(args, os.environ if environ is None else environ)
        code: int = args.run(args, client, out or sys.stdout)
        return code
    except AdminError as error:
        print(f"error: {error.code}: {error.message}", file=sys.stderr)
        return error.exit_code
    except OSError as error:  # the CSV or the output file
        print(f"error: file: {error.strerror or error}: {error.filename or ''}", file=sys.stderr)
        return REFUSED
    except KeyboardInterrupt:
        return 130
