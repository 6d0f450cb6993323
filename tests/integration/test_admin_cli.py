"""The admin command line (`python -m admin`) over the real local stack, run as a school's IT would: a
subprocess with CARTABLE_API_URL and CARTABLE_TOKEN, and Python's site-packages left out (`-S`: the
standard library only). Everything happens in a school of its own, so closing its year archives only
its classes and other tests of the session's stack never see it."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from local.stack import LocalStack, free_port
from tests.integration.conftest import Api, make_token

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
ADMIN = "cli-admin"
TEACHER, PUPIL = "cli-prof", "cli-eleve"
CSV = (
    "class_id,class_name,user_id,role\n"
    f"6C,Sixième C,{TEACHER},teacher\n"
    f"6C,Sixième C,{PUPIL},student\n"
    "6C,Sixième C,cli-autre,pupil\n"
)


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str


@dataclass(frozen=True)
class School:
    id: str
    api: str
    admin: Api

    def cli(self, *args: str, token: str | None = None, env: dict[str, str] | None = None, stdin: str = "") -> Run:
        """`python -S -m admin ARGS` with the admin's token in CARTABLE_TOKEN (or `token`)."""
        environ = {"CARTABLE_API_URL": self.api, "CARTABLE_TOKEN": token or self.admin.token or ""}
        return run_cli(args, {**environ, **(env or {})}, stdin)

    def classes(self) -> dict[str, dict[str, object]]:
        answer = self.admin.get("/v1/classes?limit=1000")
        assert answer.status_code == 200, answer.text
        return {c["id"]: c for c in answer.json()["items"]}


def run_cli(args: Sequence[str], env: dict[str, str], stdin: str = "") -> Run:
    done = subprocess.run(
        [sys.executable, "-S", "-m", "admin", *args],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", **env},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    return Run(done.returncode, done.stdout, done.stderr)


@pytest.fixture(scope="module")
def school(stack: LocalStack) -> School:
    name = f"cli-{uuid.uuid4().hex[:8]}"
    return School(name, stack.api_url, Api(stack.api_url, make_token(ADMIN, "admin", school=name)))


@pytest.fixture(scope="module")
def imported(school: School, tmp_path_factory: pytest.TempPathFactory) -> Run:
    roster = tmp_path_factory.mktemp("roster") / "rentree.csv"
    roster.write_text(CSV, encoding="utf-8")
    preview = school.cli("roster", "import", str(roster), "--dry-run")
    assert preview.code == 1, preview
    assert "dry run: 1 class (1 new, 0 replaced), 2 members" in preview.out
    assert "line 4: role must be teacher or student, not 'pupil'" in preview.out
    assert "6C" not in school.classes(), "a dry run writes nothing"
    return school.cli("roster", "import", str(roster))


def test_roster_import_applies_the_good_lines_and_shows_each_refused_one(school: School, imported: Run) -> None:
    assert imported.code == 1, imported
    assert imported.out.splitlines() == [
        "applied: 1 class, 2 members",
        "line 4: role must be teacher or student, not 'pupil'",
    ]
    klass = school.classes()["6C"]
    assert (klass["name"], klass["teachers"], klass["students"]) == ("Sixième C", [TEACHER], [PUPIL])


@pytest.fixture(scope="module")
def exported(school: School, tmp_path_factory: pytest.TempPathFactory) -> tuple[Run, Path]:
    pupil = Api(school.api, make_token(PUPIL, "student", school=school.id))
    grant = pupil.upload("devoir.txt", b"Mon devoir, pour l'export.\n", "text/plain")
    assert pupil.wait_status(grant["fileId"], timeout=30)["status"] == "available"
    target = tmp_path_factory.mktemp("export") / "eleve.zip"
    return school.cli("export", PUPIL, "--output", str(target)), target


def test_export_writes_the_users_zip_to_a_file(exported: tuple[Run, Path]) -> None:
    run, target = exported
    assert run.code == 0, run
    assert run.out.strip() == f"wrote {target} ({target.stat().st_size} bytes)"
    with zipfile.ZipFile(target) as archive:
        assert archive.testzip() is None
        names = archive.namelist()
        assert names[0] == "manifest.json"
        assert [n for n in names if n.startswith("files/") and n.endswith("devoir.txt")], names
        assert archive.read(next(n for n in names if n.endswith("devoir.txt"))) == b"Mon devoir, pour l'export.\n"
    assert not list(target.parent.glob(".*.partial"))


def test_audit_lists_every_page_filtered(school: School, exported: tuple[Run, Path], imported: Run) -> None:
    entries = school.cli("audit", "--action", "user.*", "--since", "2020-01-01", "--json")
    assert entries.code == 0, entries
    lines = [json.loads(line) for line in entries.out.splitlines()]
    assert [(e["actor"], e["action"], e["target"]) for e in lines] == [(ADMIN, "user.export", f"user:{PUPIL}")]
    text = school.cli("audit", "--user", ADMIN, "--limit", "1")
    assert text.code == 0, text
    at, actor, role, action, target, decision, _reason = text.out.rstrip("\n").split("\t")
    assert at.endswith("Z") and at[:4].isdigit(), at
    assert (actor, role, action, target, decision) == (ADMIN, "admin", "user.export", f"user:{PUPIL}", "allow")
    assert school.cli("audit", "--until", "2020-01-01").out == ""


def test_retention_dry_run(school: School) -> None:
    run = school.cli("retention", "--as-of", "2030-09-01")
    assert run.code == 0, run
    assert run.out.startswith("retention: none set for this school (as of 2030-09-01T00:00:00Z")
    refused = school.cli("retention", "--as-of", "l'an prochain")
    assert refused.code == 1 and refused.err.startswith("error: bad_request: "), refused


def test_refusals_usage_and_an_unreachable_api(school: School, tmp_path: Path) -> None:
    pupil = make_token(PUPIL, "student", school=school.id)
    refused = school.cli("audit", token=pupil)
    assert refused.code == 1 and refused.err.startswith("error: forbidden: "), refused
    token_file = tmp_path / "token"
    token_file.write_text(school.admin.token or "", encoding="utf-8")
    from_file = run_cli(["--token-file", str(token_file), "retention"], {"CARTABLE_API_URL": school.api})
    assert from_file.code == 0, from_file
    no_token = run_cli(["retention"], {"CARTABLE_API_URL": school.api})
    assert no_token.code == 2 and "error: usage: no token" in no_token.err, no_token
    assert run_cli(["audit", "--token", "x"], {}).code == 2  # no token on the command line, not even abbreviated
    gone = school.cli("retention", "--retries", "1", env={"CARTABLE_API_URL": f"http://127.0.0.1:{free_port()}"})
    assert gone.code == 3 and gone.err.startswith("error: network: GET /v1/retention"), gone


def test_year_close_waits_for_the_job_and_prints_its_counts(school: School, imported: Run) -> None:
    # Last: it archives this school's classes (only this school's: the token's `school`).
    closed = school.cli("year", "close", "2025-2026", "--wait")
    assert closed.code == 0, closed
    assert closed.out.startswith("year 2025-2026 closed at ")
    assert closed.out.rstrip().endswith(": 1 class, 0 assignments, 0 shares ended")
    assert school.classes()["6C"]["year"] == "2025-2026"
    again = school.cli("roster", "import", "-", stdin=CSV)
    assert again.code == 1, again
    assert again.out.splitlines() == [
        "applied: 0 classes, 0 members",
        "line 4: role must be teacher or student, not 'pupil'",
        "file: class 6C belongs to a closed school year: not changed",
    ]
    empty = school.cli("roster", "import", "-")
    assert empty.code == 1 and empty.err.startswith("error: bad_request: The CSV header must name"), empty
    assert school.cli("year", "close", "l'an dernier").code == 2
