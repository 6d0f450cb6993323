"""Year rollover on the demo school, over the real stack: the closed year's classes are read-only
archives, their shares end, and the retention dry run lists exactly the pupils' work past it."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.domain.access import AccessControl
from chalicelib.domain.permissions import load_rules
from chalicelib.domain.rollover import YearService
from local.demo import DemoApi, DemoSchool, seed
from local.stack import LocalStack

pytestmark = pytest.mark.integration


def day(offset: int) -> str:
    return (datetime.now(UTC) + timedelta(days=offset)).date().isoformat()


def answer(api: DemoApi, method: str, path: str, body: Any = None) -> Any:
    import requests

    return requests.request(
        method,
        f"{api.base}{path}",
        json=body,
        headers={"Authorization": f"Bearer {api.token}"},
        timeout=30,
        allow_redirects=False,
    )


def close(admin: DemoApi, year: str) -> dict[str, Any]:
    """Close the school year: a job (a whole school's files), followed until it is done."""
    started = answer(admin, "POST", "/v1/years/close", {"year": year})
    assert started.status_code == 202, started.text
    deadline = time.monotonic() + 30
    while True:
        job = answer(admin, "GET", f"/v1/jobs/{started.json()['id']}").json()
        if job["status"] != "pending" or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert job["status"] == "ready", job
    result: dict[str, Any] = job["result"]
    return result


@pytest.fixture(scope="module")
def demo(api_url: str) -> DemoSchool:
    return seed(api_url)


def test_closing_the_year_archives_classes_ends_their_shares_and_keeps_reads(
    api_url: str, demo: DemoSchool, stack: LocalStack
) -> None:
    direction, durand = DemoApi(api_url, "dir-martin"), DemoApi(api_url, "prof-durand")
    bilal, david = DemoApi(api_url, "eleve-bilal"), DemoApi(api_url, "eleve-david")
    consignes = demo.files["consignes"]["id"]
    # Before: the teacher shares the class material with a pupil of another class, and with that class.
    for target in ({"type": "user", "id": "eleve-david"}, {"type": "class", "id": "4A"}):
        share = {"fileId": consignes, "with": target, "role": "viewer"}
        assert answer(durand, "POST", "/v1/shares", share).status_code == 201
    assert answer(david, "GET", f"/v1/files/{consignes}").status_code == 200
    assert answer(direction, "GET", f"/v1/retention?asOf={day(400)}").json()["items"] == []

    closed = close(direction, "2025-2026")
    assert (closed["classes"], closed["assignments"]) == (2, 2)
    assert closed["sharesEnded"] >= 2
    assert answer(bilal, "POST", "/v1/years/close", {"year": "2025-2026"}).status_code in (403, 404)
    assert answer(direction, "POST", "/v1/years/close", {"year": "l'an dernier"}).status_code == 400

    # Writes to last year's class folders and assignments: 403.
    grant = {"space": "class:5B", "path": "/", "name": "nouveau.txt", "size": 5, "contentType": "text/plain"}
    refused = answer(durand, "POST", "/v1/uploads", grant)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden", refused.text
    submission = {**grant, "space": demo.assignments["redaction"]["space"], "name": "encore.txt"}
    assert answer(bilal, "POST", "/v1/uploads", submission).status_code == 403
    assert answer(durand, "DELETE", f"/v1/files/{consignes}").status_code == 403
    # Reads still work, for the same people as before.
    assert answer(durand, "GET", "/v1/spaces/class:5B/files").status_code == 200
    assert answer(bilal, "GET", f"/v1/files/{consignes}/content").status_code == 302
    assert answer(bilal, "GET", f"/v1/files/{demo.files['redaction']['id']}").status_code == 200
    classes = answer(direction, "GET", "/v1/classes").json()["items"]
    assert {c["id"]: c.get("year") for c in classes} == {"5B": "2025-2026", "4A": "2025-2026"}
    # The shares ended: the pupil of another class no longer sees the material.
    assert answer(david, "GET", f"/v1/files/{consignes}").status_code == 404
    # A personal drive is not a class: it goes on.
    alice = DemoApi(api_url, "eleve-alice")
    own = {"space": "me", "path": "/", "name": "vacances.txt", "size": 5, "contentType": "text/plain"}
    assert answer(alice, "POST", "/v1/uploads", own).status_code == 201

    # Closing again changes nothing; the new year: last year's classes cannot be rewritten, new ones can.
    assert close(direction, "2025-2026")["classes"] == 0
    same = {"name": "5e B", "teachers": ["prof-durand"], "students": ["eleve-alice"]}
    assert answer(direction, "PUT", "/v1/classes/5B", same).status_code == 409
    assert answer(direction, "PUT", "/v1/classes/5B-2026", same).status_code == 200
    assert answer(durand, "POST", "/v1/uploads", {**grant, "space": "class:5B-2026"}).status_code == 201


def test_the_retention_dry_run_lists_exactly_the_pupils_work_past_it(
    api_url: str, demo: DemoSchool, stack: LocalStack
) -> None:
    direction = DemoApi(api_url, "dir-martin")
    close(direction, "2025-2026")  # the first test may have done it
    within = answer(direction, "GET", f"/v1/retention?asOf={day(364)}").json()
    assert within["retentionDays"] == 365 and within["items"] == []
    past = answer(direction, "GET", f"/v1/retention?asOf={day(366)}").json()
    listed = {item["fileId"] for item in past["items"]}
    # Submissions only: not the class material, not a pupil's own drive.
    assert listed == {demo.files["redaction"]["id"], demo.files["compte-rendu"]["id"]}
    first = answer(direction, "GET", f"/v1/retention?asOf={day(366)}&limit=1").json()
    rest = answer(direction, "GET", f"/v1/retention?asOf={day(366)}&limit=1&cursor={first['nextCursor']}").json()
    assert {i["fileId"] for i in first["items"] + rest["items"]} == listed and rest["nextCursor"] is None
    assert answer(DemoApi(api_url, "prof-durand"), "GET", "/v1/retention").status_code in (403, 404)
    assert answer(direction, "GET", "/v1/retention?asOf=demain").status_code == 400

    # What the sweeper does once due: exactly those go to the trash.
    catalog = stack.catalog()
    years = YearService(catalog, AccessControl(catalog, load_rules()))
    assert years.apply_retention("demo", datetime.now(UTC) + timedelta(days=366)) == 2
    bilal = DemoApi(api_url, "eleve-bilal")
    assert answer(bilal, "GET", f"/v1/files/{demo.files['redaction']['id']}").status_code == 404
    assert answer(bilal, "GET", f"/v1/files/{demo.files['consignes']['id']}").status_code == 200
    assert answer(direction, "GET", f"/v1/retention?asOf={day(366)}").json()["items"] == []
