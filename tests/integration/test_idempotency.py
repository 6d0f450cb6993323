"""`Idempotency-Key` on POSTs (contract v1.1), over the real stack: a tablet that lost the answer sends
the same POST again and gets the first answer; nothing is done twice; the key is the user's own."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import pytest

pytestmark = pytest.mark.integration

GRANT = {"space": "me", "path": "/", "name": "devoir.txt", "size": 12, "contentType": "text/plain"}


def key() -> str:
    return f"tablet-{uuid.uuid4().hex}"


def test_a_retried_grant_answers_the_first_grant_and_reserves_once(as_user: Any) -> None:
    pupil = as_user(f"idem-{uuid.uuid4().hex[:8]}")
    headers = {"Idempotency-Key": key()}
    first = pupil.post("/v1/uploads", GRANT, headers=dict(headers))
    again = pupil.post("/v1/uploads", GRANT, headers=dict(headers))
    assert first.status_code == again.status_code == 201, again.text
    assert again.json() == first.json()
    # The grant was made once: its upload is the only one pending for the file.
    other = pupil.post("/v1/uploads", GRANT, headers={"Idempotency-Key": key()})
    assert other.status_code == 201 and other.json()["uploadId"] != first.json()["uploadId"]
    assert other.json()["fileId"] == first.json()["fileId"]


def test_the_same_key_for_another_request_answers_409(as_user: Any) -> None:
    pupil = as_user(f"idem-{uuid.uuid4().hex[:8]}")
    headers = {"Idempotency-Key": key()}
    assert pupil.post("/v1/uploads", GRANT, headers=dict(headers)).status_code == 201
    reused = pupil.post("/v1/uploads", {**GRANT, "name": "autre.txt"}, headers=dict(headers))
    assert reused.status_code == 409, reused.text
    assert reused.json()["error"]["code"] == "idempotency_key_reused"


def test_a_refusal_is_the_first_answer_too_and_keys_are_each_users_own(as_user: Any) -> None:
    pupil, classmate = as_user(f"idem-{uuid.uuid4().hex[:8]}"), as_user(f"idem-{uuid.uuid4().hex[:8]}")
    headers = {"Idempotency-Key": key()}
    bad = {**GRANT, "name": "a/b"}
    first = pupil.post("/v1/uploads", bad, headers=dict(headers))
    assert first.status_code == 400
    assert pupil.post("/v1/uploads", bad, headers=dict(headers)).json() == first.json()
    # Another user's request with the same key is theirs: it runs.
    assert classmate.post("/v1/uploads", GRANT, headers=dict(headers)).status_code == 201


def test_a_retried_assignment_creation_makes_one_assignment(admin: Any, as_user: Any) -> None:
    class_id = f"IDEM-{uuid.uuid4().hex[:6]}"
    teacher = f"prof-{uuid.uuid4().hex[:6]}"
    assert admin.put(f"/v1/classes/{class_id}", {"name": "5e", "teachers": [teacher], "students": []}).ok
    prof = as_user(teacher, "teacher")
    body = {"title": "Rédaction", "dueAt": "2030-06-01T18:00:00Z"}
    headers = {"Idempotency-Key": key()}
    first = prof.post(f"/v1/classes/{class_id}/assignments", body, headers=dict(headers))
    again = prof.post(f"/v1/classes/{class_id}/assignments", body, headers=dict(headers))
    assert first.status_code == again.status_code == 201 and again.json() == first.json()
    listed = prof.get(f"/v1/classes/{class_id}/assignments").json()["items"]
    assert [a["id"] for a in listed] == [first.json()["id"]]


def test_copies_sent_at_once_run_once(as_user: Any) -> None:
    pupil = as_user(f"idem-{uuid.uuid4().hex[:8]}")
    headers = {"Idempotency-Key": key()}
    answers: list[Any] = []

    def send() -> None:
        answers.append(pupil.post("/v1/uploads", GRANT, headers=dict(headers)))

    threads = [threading.Thread(target=send) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    granted = [a.json()["uploadId"] for a in answers if a.status_code == 201]
    waiting = [a for a in answers if a.status_code == 409]
    assert len(granted) + len(waiting) == 6, [a.text for a in answers]
    assert granted and len(set(granted)) == 1, "one upload, whatever answered first"
    assert all(a.json()["error"]["code"] == "conflict" for a in waiting)
    # Once the first has answered, every retry gets its answer.
    assert pupil.post("/v1/uploads", GRANT, headers=dict(headers)).json()["uploadId"] == granted[0]


@pytest.mark.parametrize("bad", ["", "x" * 65, "espace interdite", "é"])
def test_a_malformed_key_answers_400(as_user: Any, bad: str) -> None:
    answer = as_user("idem-bad").post("/v1/uploads", GRANT, headers={"Idempotency-Key": bad.encode("utf-8")})
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["code"] == "bad_request"
