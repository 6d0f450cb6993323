"""The admin command line's pure parts: its arguments, its errors, its retries and its paging, over a fake
`send` (the HTTP exchange) that answers from a script. The real API is tests/integration/test_admin_cli.py's."""

from __future__ import annotations

import ast
import io
import json
import sys
import urllib.parse
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from admin import cli, roster
from admin.api import REFUSED, UNREACHABLE, USAGE, AdminError, Answer, Client, error_of, read_token, retry_after

ADMIN_DIR = Path(__file__).resolve().parents[2] / "admin"


def answer(status: int, body: Any = None, **headers: str) -> Answer:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return Answer(status, {k.lower().replace("_", "-"): v for k, v in headers.items()}, data)


class FakeApi:
    """Answers each request with `route(method, path, query)`; keeps what was sent."""

    def __init__(self, route: Callable[[str, str, dict[str, str]], Answer | Exception]) -> None:
        self.route = route
        self.sent: list[urllib.request.Request] = []
        self.slept: list[float] = []

    def send(self, request: urllib.request.Request, timeout: float) -> Answer:
        self.sent.append(request)
        url = urllib.parse.urlsplit(request.full_url)
        reply = self.route(request.get_method(), url.path, dict(urllib.parse.parse_qsl(url.query)))
        if isinstance(reply, Exception):
            raise reply
        return reply

    def client(self, retries: int = 3) -> Client:
        return Client("https://api.test/", "the-token", retries=retries, send=self.send, sleep=self.slept.append)

    def main(self, argv: list[str], retries: int = 3) -> tuple[int, str]:
        out = io.StringIO()
        code = cli.main(argv, {}, out, connect=lambda args, environ: self.client(retries))
        return code, out.getvalue()


def scripted(*replies: Answer | Exception) -> FakeApi:
    queue = list(replies)
    return FakeApi(lambda method, path, query: queue.pop(0))


# -- arguments ----------------------------------------------------------------------------------------------
def test_connection_options_go_before_or_after_the_command() -> None:
    before = cli.parser().parse_args(["--api", "https://a", "--retries", "1", "retention"])
    after = cli.parser().parse_args(["retention", "--api", "https://b", "--token-file", "/t"])
    assert (before.api, before.retries, before.token_file) == ("https://a", 1, None)
    assert (after.api, after.retries, after.token_file) == ("https://b", None, Path("/t"))


@pytest.mark.parametrize(
    "argv",
    [
        ["audit", "--token", "secret"],  # no token on the command line, not even as an abbreviation
        ["audit", "--limit", "0"],
        ["audit", "--since", "hier"],
        ["audit", "--until", "2026-09-01T08:00:00"],  # a time without its offset
        ["year", "close"],
        ["roster"],
        [],
    ],
)
def test_usage_errors_exit_2(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.parser().parse_args(argv)
    assert exit_.value.code == USAGE


def test_a_year_outside_the_apis_pattern_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert scripted().main(["year", "close", "l'an dernier"]) == (USAGE, "")
    assert capsys.readouterr().err.startswith("error: usage: the year's name must match")


def test_dates_are_whole_days_in_utc_or_rfc3339_times() -> None:
    args = cli.parser().parse_args(["audit", "--since", "2026-09-01", "--until", "2026-09-30"])
    assert args.since == datetime(2026, 9, 1, tzinfo=UTC)
    assert args.until == datetime(2026, 9, 30, 23, 59, 59, 999999, tzinfo=UTC)
    assert cli.since("2026-09-01T10:00:00+02:00") == datetime(2026, 9, 1, 8, tzinfo=UTC)


def test_every_command_has_help_with_an_example(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["roster", "import"], ["year", "close"], ["export"], ["job"], ["audit"], ["retention"]):
        with pytest.raises(SystemExit) as exit_:
            cli.parser().parse_args([*argv, "--help"])
        assert exit_.value.code == 0
        assert "example:\n  python -m admin " in capsys.readouterr().out


def test_the_token_comes_from_a_file_or_the_environment(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("from-file\n", encoding="utf-8")
    assert read_token(tmp_path / "token", {"CARTABLE_TOKEN": "from-env"}) == "from-file"
    assert read_token(None, {"CARTABLE_TOKEN": " from-env "}) == "from-env"
    for path in (None, tmp_path / "missing"):
        with pytest.raises(AdminError) as error:
            read_token(path, {})
        assert error.value.exit_code == USAGE


def test_the_api_url_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["retention"], {"CARTABLE_TOKEN": "t"}, io.StringIO()) == USAGE
    assert "error: usage: the API's URL" in capsys.readouterr().err


# -- errors and retries -------------------------------------------------------------------------------------
def test_errors_are_the_apis_code_and_message() -> None:
    forbidden = error_of(answer(403, {"error": {"code": "forbidden", "message": "Admins only."}}))
    assert (str(forbidden), forbidden.exit_code) == ("forbidden: Admins only.", REFUSED)
    gateway = error_of(answer(502, b"<html>Bad Gateway</html>"))
    assert (gateway.code, gateway.exit_code) == ("http_502", UNREACHABLE)
    assert error_of(answer(429, {"error": {"code": "too_many_requests", "message": "m"}})).exit_code == UNREACHABLE


def test_a_refusal_prints_error_code_message_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    api = scripted(answer(403, {"error": {"code": "forbidden", "message": "Only the school's admins."}}))
    assert api.main(["audit"]) == (REFUSED, "")
    assert capsys.readouterr().err == "error: forbidden: Only the school's admins.\n"
    assert len(api.sent) == 1, "a 4xx is an answer, not tried again"


def test_5xx_and_429_are_tried_again_after_retry_after_with_the_same_idempotency_key() -> None:
    busy = {"error": {"code": "too_many_requests", "message": "later"}}
    down = {"error": {"code": "service_unavailable", "message": "down"}}
    job = {"id": "j1", "kind": "year-close", "status": "pending"}
    api = scripted(answer(429, busy, Retry_After="7"), answer(503, down), OSError("reset"), answer(202, job))
    assert api.main(["year", "close", "2025-2026"]) == (
        0,
        "job j1: pending (python -m admin job j1 --wait follows it)\n",
    )
    assert api.slept == [7.0, 2.0, 4.0]  # Retry-After when told, else 1, 2, 4 s by the try
    keys = {request.get_header("Idempotency-key") for request in api.sent}
    assert len(api.sent) == 4 and len(keys) == 1 and None not in keys
    assert json.loads(api.sent[0].data or b"") == {"year": "2025-2026"}  # type: ignore[arg-type]


def test_year_close_waits_for_its_job_and_prints_whole_counts() -> None:
    pending = {"id": "j1", "kind": "year-close", "status": "pending"}
    result = {"year": "2025", "closedAt": "2026-07-04T10:00:00Z", "classes": 12.0, "assignments": 3, "sharesEnded": 0}
    ready = pending | {"status": "ready", "result": result}
    api = scripted(answer(202, pending), answer(200, pending), answer(200, ready))
    code, out = api.main(["year", "close", "2025", "--wait"])
    assert (code, out) == (0, "year 2025 closed at 2026-07-04T10:00:00Z: 12 classes, 3 assignments, 0 shares ended\n")
    assert [r.full_url for r in api.sent[1:]] == ["https://api.test/v1/jobs/j1"] * 2
    failed = scripted(
        answer(202, pending), answer(200, pending | {"status": "failed", "reason": "service_unavailable"})
    )
    assert failed.main(["year", "close", "2025", "--wait"]) == (REFUSED, "")


def test_after_the_last_try_the_exit_code_is_3(capsys: pytest.CaptureFixture[str]) -> None:
    api = scripted(*[answer(503, {"error": {"code": "service_unavailable", "message": "down"}})] * 3)
    assert api.main(["retention"], retries=2) == (UNREACHABLE, "")
    assert capsys.readouterr().err == "error: service_unavailable: down\n"
    unreachable = scripted(OSError("Connection refused"))
    assert unreachable.main(["retention"], retries=0)[0] == UNREACHABLE
    assert capsys.readouterr().err == "error: network: GET /v1/retention: Connection refused\n"


def test_retry_after_reads_seconds_or_an_http_date() -> None:
    assert retry_after("5", 0.0) == 5.0
    assert retry_after("Thu, 01 Jan 1970 00:01:40 GMT", 40.0) == 60.0
    assert retry_after("soon", 0.0) is None and retry_after(None, 0.0) is None


def test_only_posts_carry_an_idempotency_key_and_each_invocation_its_own() -> None:
    api = scripted(answer(200, {"ok": 1}), answer(200, {"ok": 2}))
    first, second = api.client(), api.client()
    first.get("/v1/audit")
    first.post("/v1/years/close", {"year": "y"})
    assert api.sent[0].get_header("Idempotency-key") is None
    assert api.sent[1].get_header("Idempotency-key") == first.idempotency_key != second.idempotency_key


# -- paging -------------------------------------------------------------------------------------------------
def audit_pages(entries: list[dict[str, str]], size: int) -> FakeApi:
    """The trail served `size` entries a page, its cursor the next offset."""

    def route(method: str, path: str, query: dict[str, str]) -> Answer:
        assert (method, path) == ("GET", "/v1/audit")
        start = int(query.get("cursor", "0"))
        end = start + size
        return answer(200, {"items": entries[start:end], "nextCursor": str(end) if end < len(entries) else None})

    return FakeApi(route)


TRAIL = [
    {"at": f"2026-09-{30 - i:02d}T12:00:00Z", "actor": f"u{i}", "role": "admin", "action": action, "target": "t"}
    | {"decision": "allow", "reason": ""}
    for i, action in enumerate(["share.create", "user.export", "share.revoke", "file.download", "share.create"])
]


def test_audit_reads_every_page_one_line_per_entry() -> None:
    api = audit_pages(TRAIL, size=2)
    code, out = api.main(["audit"])
    assert code == 0
    assert out.splitlines() == [cli.audit_line(e) for e in TRAIL]
    assert out.splitlines()[0] == "2026-09-30T12:00:00Z\tu0\tadmin\tshare.create\tt\tallow\t"
    assert [r.full_url.split("?")[1] for r in api.sent] == ["limit=1000", "limit=1000&cursor=2", "limit=1000&cursor=4"]


def test_audit_filters_and_stops_paging_once_past_since_or_the_limit() -> None:
    api = audit_pages(TRAIL, size=2)
    code, out = api.main(["audit", "--action", "share.*", "--since", "2026-09-28", "--json"])
    assert code == 0
    assert [json.loads(line)["actor"] for line in out.splitlines()] == ["u0", "u2"]
    assert len(api.sent) == 2, "the third page is older than --since: not read"
    limited = audit_pages(TRAIL, size=2)
    assert limited.main(["audit", "--limit", "1", "--until", "2026-09-29"])[1].split("\t")[1] == "u1"
    assert "limit=1" in limited.sent[0].full_url and len(limited.sent) == 1


def test_a_cursor_given_twice_stops_the_loop(capsys: pytest.CaptureFixture[str]) -> None:
    api = FakeApi(lambda method, path, query: answer(200, {"items": [], "nextCursor": "same"}))
    assert api.main(["audit"]) == (REFUSED, "")
    assert "error: bad_answer: /v1/audit gave the same cursor twice" in capsys.readouterr().err


def test_retention_prints_its_setting_then_a_line_per_file() -> None:
    item = {"fileId": "f", "space": "assignment:a", "name": "rendu.pdf", "owner": "s1", "size": 12, "classId": "5B"}
    item |= {"archivedAt": "2025-07-01T00:00:00Z", "purgeAfter": "2026-07-01T00:00:00Z"}
    api = scripted(
        answer(200, {"retentionDays": 365, "asOf": "2027-09-01T00:00:00Z", "items": [item], "nextCursor": None})
    )
    code, out = api.main(["retention", "--as-of", "2027-09-01"])
    assert (code, out) == (
        0,
        "retention: 365 days, as of 2027-09-01T00:00:00Z\n2026-07-01T00:00:00Z\ts1\t5B\tassignment:a\trendu.pdf\t12\n",
    )
    assert "asOf=2027-09-01" in api.sent[0].full_url


# -- the roster ---------------------------------------------------------------------------------------------
def test_an_import_prints_counts_and_each_refused_line(tmp_path: Path) -> None:
    (tmp_path / "r.csv").write_bytes(b"class_id,class_name,user_id,role\n")
    errors = [{"line": 3, "message": "role must be teacher or student"}, {"line": 0, "message": "class 5B is closed"}]
    api = scripted(answer(200, {"classes": 2, "members": 40, "errors": errors}))
    code, out = api.main(["roster", "import", str(tmp_path / "r.csv")])
    assert (code, out.splitlines()) == (
        REFUSED,
        ["applied: 2 classes, 40 members", "line 3: role must be teacher or student", "file: class 5B is closed"],
    )
    assert api.sent[0].get_header("Content-type") == "text/csv; charset=utf-8"
    assert api.sent[0].data == b"class_id,class_name,user_id,role\n"
    ok = scripted(answer(200, {"classes": 1, "members": 1, "errors": []}))
    assert ok.main(["roster", "import", str(tmp_path / "r.csv")]) == (0, "applied: 1 class, 1 member\n")


def test_the_dry_run_checks_lines_here_and_reads_the_schools_classes(tmp_path: Path) -> None:
    csv = (
        "Class_ID,class_name,user_id,role\n"
        "5B,Cinquième B,t1,teacher\n"
        "5B,Cinquième B,s1,student\n"
        "5B,5e B,s2,student\n"
        "5B,Cinquième B,s1,teacher\n"
        "4A,Quatrième A,s3,Student\n"
        "3C,Troisième C,s4,student\n"
        "6D,Sixième D,s5\n"
        "\n"
        "6D,Sixième D,bad id,student\n"
    )
    (tmp_path / "r.csv").write_text(csv, encoding="utf-8")
    classes = [{"id": "4A", "name": "Quatrième A"}, {"id": "3C", "name": "3C", "archivedAt": "2026-07-01T00:00:00Z"}]
    api = scripted(answer(200, {"items": classes, "nextCursor": None}))
    code, out = api.main(["roster", "import", "--dry-run", str(tmp_path / "r.csv")])
    assert code == REFUSED
    assert out.splitlines() == [
        "dry run: 2 classes (1 new, 1 replaced), 3 members",
        "line 4: class 5B is named 'Cinquième B' on line 2, not '5e B'",
        "line 5: s1 in 5B contradicts (student) line 3",
        "line 8: expected 4 fields, found 3",
        "line 10: user_id must match [A-Za-z0-9_-]{1,64}",
        "file: class 3C belongs to a closed school year: not changed",
    ]
    assert [r.get_method() for r in api.sent] == ["GET"], "a dry run writes nothing"


def test_the_dry_run_refuses_a_file_the_api_would_refuse_whole() -> None:
    with pytest.raises(AdminError, match="missing: role"):
        roster.preview(b"class_id,class_name,user_id\n")
    with pytest.raises(AdminError, match="UTF-8"):
        roster.preview("class_id,class_name,user_id,role\n5B,Cinquième,s,student\n".encode("latin-1"))
    with pytest.raises(AdminError, match="limited to"):
        roster.preview(b"x" * (roster.MAX_BYTES + 1))
    assert roster.line_problem("5B", "B\u202e", "s1", "student") == (
        "class_name must not contain bidirectional control characters"
    )


# -- a bare Python ------------------------------------------------------------------------------------------
def test_admin_imports_only_the_standard_library() -> None:
    for module in ADMIN_DIR.glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                assert top in sys.stdlib_module_names or top in ("admin", "__future__"), f"{module.name}: {name}"
