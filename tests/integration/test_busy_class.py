"""A class turning in at 23:59: thirty pupils grant and send at the same second; none is refused
because the others were busy, every file is scanned and available, and the teacher sees all thirty."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.integration.conftest import Api, post_to_storage

pytestmark = pytest.mark.integration

PUPILS = 30


def test_thirty_pupils_turn_in_at_the_same_second(admin: Api, as_user: Any) -> None:
    tag = uuid.uuid4().hex[:6]
    class_id, teacher = f"RUSH-{tag}", f"prof-{tag}"
    pupils = [f"eleve-{tag}-{n:02d}" for n in range(PUPILS)]
    assert admin.put(f"/v1/classes/{class_id}", {"name": "3e", "teachers": [teacher], "students": pupils}).ok
    prof = as_user(teacher, "teacher")
    due = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assignment = prof.post(f"/v1/classes/{class_id}/assignments", {"title": "Rédaction", "dueAt": due}).json()

    def turn_in(pupil: str) -> tuple[str, int, str]:
        api = as_user(pupil)
        body = {"space": assignment["space"], "name": "redaction.txt", "size": 20, "contentType": "text/plain"}
        answer = api.post("/v1/uploads", body)
        if answer.status_code != 201:
            return pupil, answer.status_code, answer.text
        post_to_storage(answer.json(), f"Ma redaction {pupil[-2:]}.\n".encode()[:20].ljust(20), "text/plain")
        return pupil, 201, answer.json()["fileId"]

    with ThreadPoolExecutor(max_workers=PUPILS) as pool:
        results = list(pool.map(turn_in, pupils))
    refused = [(pupil, status, text) for pupil, status, text in results if status != 201]
    assert refused == [], refused
    for pupil, _, file_id in results:
        assert as_user(pupil).wait_status(file_id, timeout=60)["status"] == "available", pupil
    submissions = prof.get(f"/v1/assignments/{assignment['id']}/submissions").json()["items"]
    turned_in = {s["student"] for s in submissions if s["files"]}
    assert turned_in == set(pupils)


def test_the_teacher_pages_through_every_pupil_and_sees_who_turned_in_nothing(admin: Api, as_user: Any) -> None:
    tag = uuid.uuid4().hex[:6]
    class_id, teacher = f"PAGE-{tag}", f"prof-{tag}"
    pupils = [f"eleve-{tag}-{n:02d}" for n in range(7)]
    assert admin.put(f"/v1/classes/{class_id}", {"name": "6e", "teachers": [teacher], "students": pupils}).ok
    prof = as_user(teacher, "teacher")
    due = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assignment = prof.post(f"/v1/classes/{class_id}/assignments", {"title": "Exposé", "dueAt": due}).json()
    turned_in = pupils[1::2]
    for pupil in turned_in:
        grant = as_user(pupil).upload("expose.txt", b"mon expose\n", "text/plain", space=assignment["space"])
        assert as_user(pupil).wait_status(grant["fileId"])["status"] == "available"

    seen: list[dict[str, Any]] = []
    cursor: str | None = None
    pages = 0
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = prof.get(f"/v1/assignments/{assignment['id']}/submissions", params=params).json()
        assert len(page["items"]) <= 3
        seen.extend(page["items"])
        pages += 1
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert pages == 3 and [s["student"] for s in seen] == pupils
    for line in seen:
        if line["student"] in turned_in:
            assert line["missing"] is False and [f["name"] for f in line["files"]] == ["expose.txt"]
        else:
            assert line == {
                "student": line["student"],
                "files": [],
                "submittedAt": None,
                "late": False,
                "missing": True,
                "feedback": [],
            }
    # a pupil sees their own line only, never the class's
    own = as_user(turned_in[0]).get(f"/v1/assignments/{assignment['id']}/submissions").json()
    assert [s["student"] for s in own["items"]] == [turned_in[0]] and own["nextCursor"] is None
    assert as_user(pupils[0]).get(f"/v1/assignments/{assignment['id']}/submissions").json()["items"] == []
    bad = prof.get(f"/v1/assignments/{assignment['id']}/submissions", params={"cursor": "!!"})
    assert bad.status_code == 400


def test_a_pupil_removed_after_taking_a_grant_never_gets_the_bytes_served(admin: Api, as_user: Any) -> None:
    tag = uuid.uuid4().hex[:6]
    class_id, teacher, leaving, staying = f"LEFT-{tag}", f"prof-{tag}", f"part-{tag}", f"reste-{tag}"
    roster = {"name": "5e", "teachers": [teacher], "students": [leaving, staying]}
    assert admin.put(f"/v1/classes/{class_id}", roster).ok
    prof = as_user(teacher, "teacher")
    due = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assignment = prof.post(f"/v1/classes/{class_id}/assignments", {"title": "Devoir", "dueAt": due}).json()
    body = {"space": assignment["space"], "name": "devoir.txt", "size": 11, "contentType": "text/plain"}
    grants = {pupil: as_user(pupil).post("/v1/uploads", body).json() for pupil in (leaving, staying)}
    assert admin.put(f"/v1/classes/{class_id}", {**roster, "students": [staying]}).ok  # removed meanwhile
    for grant in grants.values():
        post_to_storage(grant, b"mon devoir\n", "text/plain")
    kept = as_user(staying).wait_status(grants[staying]["fileId"])
    assert kept["status"] == "available"
    upload = as_user(leaving).wait_upload(grants[leaving]["uploadId"])
    assert (upload["status"], upload["reason"]) == ("rejected", "access_revoked")
    lines = prof.get(f"/v1/assignments/{assignment['id']}/submissions").json()["items"]
    assert [line["student"] for line in lines] == [staying]
