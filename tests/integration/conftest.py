"""The real local stack as a fixture: moto server, clamd, `chalice local` and the event pump, on free ports."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests

from local.stack import LocalStack
from tests.stacks import running_stack

SECRET = "integration-secret-of-at-least-32-bytes"
SCHOOL = "lycee-hugo"
OTHER_SCHOOL = "college-zola"
MIB = 1024 * 1024
# Rows of the fault suite (tests/integration/test_faults.py): fault, files uploaded, lost, served unscanned.
FAULT_TABLE: list[tuple[str, int, int, int]] = []
# The catalog of this run's stacks (tests/stacks.py); `make test` runs the fault suite on each in turn.
CATALOG = os.environ.get("CARTABLE_TEST_CATALOG") or "dynamodb"
CATALOG_NAMES = {"dynamodb": "DynamoDB", "postgres": "PostgreSQL"}
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """The fault table, one column per catalog: this run's rows go to tests/artifacts/faults-<catalog>.json,
    and the table of every run on record there (`make test` clears them before its first pass) is printed
    and written to tests/artifacts/faults.md."""
    if not FAULT_TABLE:
        return
    ARTIFACTS.mkdir(exist_ok=True)
    run = {"at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "rows": FAULT_TABLE}
    (ARTIFACTS / f"faults-{CATALOG}.json").write_text(json.dumps(run, indent=1) + "\n", encoding="utf-8")
    lines = fault_table(ARTIFACTS)
    terminalreporter.section("fault suite: nothing lost, nothing served unscanned")
    for line in lines:
        terminalreporter.write_line(line)
    (ARTIFACTS / "faults.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


def fault_table(artifacts: Path) -> list[str]:
    """The Markdown table of the runs on record: a row per fault, a column per catalog, then when each ran."""
    runs = {
        catalog: json.loads((artifacts / f"faults-{catalog}.json").read_text(encoding="utf-8"))
        for catalog in CATALOG_NAMES
        if (artifacts / f"faults-{catalog}.json").exists()
    }
    cells: dict[str, dict[str, str]] = {}
    for catalog, run in runs.items():
        for fault, uploaded, lost, unscanned in run["rows"]:
            cells.setdefault(fault, {})[catalog] = f"{uploaded} files: {lost} lost, {unscanned} served unscanned"
    return [
        "| fault | " + " | ".join(CATALOG_NAMES.values()) + " |",
        "|---|" + "---|" * len(CATALOG_NAMES),
        *(
            f"| {fault} | " + " | ".join(row.get(catalog, "not run") for catalog in CATALOG_NAMES) + " |"
            for fault, row in cells.items()
        ),
        "",
        "; ".join(f"{CATALOG_NAMES[catalog]} run at {run['at']}" for catalog, run in runs.items()) + ".",
    ]


@pytest.hookimpl(tryfirst=True)  # before -m deselects
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The catalog's contract tests (test_catalog_*.py, on tests/catalog_fixtures.py's `subject`) run both
    catalogs in-process whatever the stack's: catalog_independent, run once in make test's first pass."""
    for item in items:
        if "subject" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.catalog_independent)


def make_token(sub: str, role: str = "student", school: str = SCHOOL, secret: str = SECRET, **claims: Any) -> str:
    now = int(time.time())
    payload: dict[str, Any] = {
        "sub": sub,
        "school": school,
        "role": role,
        "iat": now,
        "exp": now + 4 * 3600,  # a session's fixtures hold their tokens for the whole run, however slow
        "iss": "cartable-local",
        "aud": "cartable",
    }
    payload.update(claims)
    payload = {k: v for k, v in payload.items() if v is not None}
    return jwt.encode(payload, secret, algorithm="HS256")


@dataclass
class Api:
    """A thin HTTP client for one user, speaking to the API over real HTTP."""

    base: str
    token: str | None

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = kwargs.pop("headers", {})
        if self.token:
            headers.setdefault("Authorization", f"Bearer {self.token}")
        kwargs.setdefault("timeout", 30)
        return requests.request(method, f"{self.base}{path}", headers=headers, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, allow_redirects=False, **kwargs)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, json=body, **kwargs)

    def put(self, path: str, body: Any = None, **kwargs: Any) -> requests.Response:
        return self.request("PUT", path, json=body, **kwargs)

    def grant(self, name: str, data: bytes, content_type: str, space: str = "me", **extra: Any) -> requests.Response:
        body = {"space": space, "path": "/", "name": name, "size": len(data), "contentType": content_type}
        body.update(extra)
        return self.post("/v1/uploads", body)

    def upload(self, name: str, data: bytes, content_type: str, space: str = "me", **extra: Any) -> dict[str, Any]:
        """Grant, then send the bytes to the signed POST exactly as a tablet would."""
        answer = self.grant(name, data, content_type, space, **extra)
        assert answer.status_code == 201, answer.text
        grant: dict[str, Any] = answer.json()
        if grant["upload"]["method"] == "MULTIPART":
            etags = put_parts(grant["upload"], data)
            done = self.post(f"/v1/uploads/{grant['uploadId']}/complete", {"parts": etags})
            assert done.status_code == 200, done.text
        elif grant["upload"]["method"] == "POST":
            post_to_storage(grant, data, content_type)
        return grant

    def wait_upload(self, upload_id: str, timeout: float = 10.0) -> dict[str, Any]:
        """Poll one upload until its verdict (or the timeout)."""
        deadline = time.monotonic() + timeout
        while True:
            upload: dict[str, Any] = self.get(f"/v1/uploads/{upload_id}").json()
            if upload["status"] != "pending" or time.monotonic() > deadline:
                return upload
            time.sleep(0.1)

    def wait_status(self, file_id: str, timeout: float = 10.0, leave: str = "pending") -> dict[str, Any]:
        """Poll the file until it leaves `leave` (the contract promises within 10 s locally)."""
        deadline = time.monotonic() + timeout
        while True:
            answer = self.get(f"/v1/files/{file_id}")
            assert answer.status_code == 200, answer.text
            file: dict[str, Any] = answer.json()
            if file["status"] != leave or time.monotonic() > deadline:
                return file
            time.sleep(0.1)


def put_part(upload: dict[str, Any], number: int, data: bytes) -> str:
    """PUT one part of a multipart upload to its signed URL, as a tablet would; its ETag."""
    size = upload["partSize"]
    url = next(p["url"] for p in upload["parts"] if p["partNumber"] == number)
    answer = requests.put(url, data=data[(number - 1) * size : number * size], timeout=60)
    assert answer.status_code == 200, answer.text
    return str(answer.headers["ETag"])


def put_parts(upload: dict[str, Any], data: bytes) -> list[dict[str, Any]]:
    return [{"partNumber": p["partNumber"], "etag": put_part(upload, p["partNumber"], data)} for p in upload["parts"]]


def post_to_storage(grant: dict[str, Any], data: bytes, content_type: str) -> requests.Response:
    form = grant["upload"]
    files = {"file": ("upload", data, content_type)}
    answer = requests.post(form["url"], data=form["fields"], files=files, timeout=30)
    assert answer.status_code in (200, 201, 204), answer.text
    return answer


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    yield from running_stack(
        tmp_path_factory,
        "stack",
        jwt_secret=SECRET,
        scan_max_size=12 * MIB,  # the multipart tests send 13 MiB to see too_large_to_scan
        extra_env={
            "CARTABLE_QUOTAS_FILE": str(Path(__file__).resolve().parents[1] / "quotas.json"),
            # Every AWS call of every function, for test_least_privilege.py.
            "CARTABLE_RECORD_CALLS": str(tmp_path_factory.mktemp("aws-calls")),
            # Every process's JSON log lines and EMF metrics, for test_operating.py.
            "CARTABLE_LOG_DIR": str(tmp_path_factory.mktemp("logs")),
        },
    )


@pytest.fixture(scope="session")
def api_url(stack: LocalStack) -> str:
    return stack.api_url


@pytest.fixture
def as_user(api_url: str) -> Any:
    def make(sub: str, role: str = "student", school: str = SCHOOL) -> Api:
        return Api(api_url, make_token(sub, role, school))

    return make


@pytest.fixture(scope="session")
def admin(api_url: str) -> Api:
    return Api(api_url, make_token("admin-1", "admin"))
