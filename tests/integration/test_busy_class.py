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
