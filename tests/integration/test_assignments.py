"""Homework end to end: a teacher sets it, students turn in (on time, late, refused, infected), the teacher collects."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from local.clamav import EICAR
from tests.integration.conftest import Api

pytestmark = pytest.mark.integration

PDF = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    + "1f15c4890000000d49444154789c6300010000050001"
    + "0d0a2db40000000049454e44ae426082"
)


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def klass(admin: Api, as_user: Any) -> dict[str, Any]:
    s = uuid.uuid4().hex[:6]
    ids = {"id": f"H-{s}", "prof": f"prof-{s}", "students": [f"al-{s}", f"bo-{s}", f"cy-{s}"], "outsider": f"zz-{s}"}
    assert (
        admin.put(
            f"/v1/classes/{ids['id']}", {"name": "Histoire", "teachers": [ids["prof"]], "students": ids["students"]}
        ).status_code
        == 200
    )
    admin.put(f"/v1/classes/O-{s}", {"name": "Autre", "teachers": [], "students": [ids["outsider"]]})
    return ids


def wait_upload(user: Api, upload_id: str) -> dict[str, Any]:
    return user.wait_upload(upload_id)


def test_homework_from_setting_to_collecting(as_user: Any, klass: dict[str, Any]) -> None:
    prof = as_user(klass["prof"], "teacher")
    al, bo, cy = (as_user(s) for s in klass["students"])
    now = datetime.now(UTC)
    due = (now + timedelta(seconds=4)).replace(microsecond=0)
    body = {
        "title": "Exposé sur la Révolution",
        "dueAt": stamp(due),
        "closesAt": stamp(now + timedelta(hours=1)),
        "maxSize": 1_000_000,
        "allowedTypes": ["application/pdf", "image/*"],
    }
    created = prof.post(f"/v1/classes/{klass['id']}/assignments", body)
    assert created.status_code == 201, created.text
    assignment = created.json()
    assert assignment["space"] == f"assignment:{assignment['id']}" and assignment["classId"] == klass["id"]
    assert assignment["allowedTypes"] == ["application/pdf", "image/*"] and assignment["maxSize"] == 1_000_000
    space = assignment["space"]
    assert [a["id"] for a in al.get(f"/v1/classes/{klass['id']}/assignments").json()["items"]] == [assignment["id"]]

    # al on time, same file name as bo: each student's submission is their own
    on_time = al.upload("devoir.pdf", PDF, "application/pdf", space=space)
    assert wait_upload(al, on_time["uploadId"])["status"] == "available"
    # cy tries a forbidden type: refused at grant, nothing recorded
    refused = cy.grant("devoir.txt", b"texte", "text/plain", space=space)
    assert refused.status_code == 415 and refused.json()["error"]["code"] == "unsupported_media_type"
    assert cy.grant("gros.pdf", b"x" * 2_000_000, "application/pdf", space=space).status_code == 413
    # cy turns in EICAR disguised as a PNG: infected
    infected = cy.upload("photo.png", EICAR, "image/png", space=space)
    assert wait_upload(cy, infected["uploadId"])["status"] == "infected"
    # bo is late
    time.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds() + 1.1))  # timestamps count whole seconds
    late = bo.upload("devoir.pdf", PNG, "image/png", space=space)
    assert wait_upload(bo, late["uploadId"])["status"] == "available"
    assert late["fileId"] != on_time["fileId"]

    mine = al.get(f"/v1/assignments/{assignment['id']}/submissions").json()["items"]
    assert [(s["student"], s["late"]) for s in mine] == [(klass["students"][0], False)]
    assert [f["name"] for f in al.get(f"/v1/spaces/{space}/files").json()["items"]] == ["devoir.pdf"]
    assert al.get(f"/v1/files/{late['fileId']}").status_code == 404

    collected = {s["student"]: s for s in prof.get(f"/v1/assignments/{assignment['id']}/submissions").json()["items"]}
    assert set(collected) == set(klass["students"])
    assert collected[klass["students"][0]]["late"] is False
    assert collected[klass["students"][1]]["late"] is True
    assert [f["status"] for f in collected[klass["students"][2]]["files"]] == ["infected"]
    listing = prof.get(f"/v1/spaces/{space}/files").json()["items"]
    assert sorted((f["owner"], f["name"]) for f in listing) == sorted(
        [
            (klass["students"][0], "devoir.pdf"),
            (klass["students"][1], "devoir.pdf"),
            (klass["students"][2], "photo.png"),
        ]
    )
    content = prof.get(f"/v1/files/{on_time['fileId']}/content")
    assert requests.get(content.headers["Location"], timeout=10).content == PDF


def test_replacing_a_submission_keeps_earlier_versions_for_the_teacher(as_user: Any, klass: dict[str, Any]) -> None:
    prof = as_user(klass["prof"], "teacher")
    al = as_user(klass["students"][0])
    now = datetime.now(UTC)
    assignment = prof.post(
        f"/v1/classes/{klass['id']}/assignments", {"title": "Brouillon", "dueAt": stamp(now + timedelta(days=1))}
    ).json()
    first = al.upload("copie.txt", b"premier jet\n", "text/plain", space=assignment["space"])
    wait_upload(al, first["uploadId"])
    second = al.upload("copie.txt", b"version finale\n", "text/plain", space=assignment["space"])
    assert wait_upload(al, second["uploadId"])["status"] == "available" and second["fileId"] == first["fileId"]
    versions = prof.get(f"/v1/files/{first['fileId']}/versions").json()["items"]
    assert [v["version"] for v in versions] == [2, 1]
    old = prof.get(f"/v1/files/{first['fileId']}/content", params={"version": 1})
    assert requests.get(old.headers["Location"], timeout=10).content == b"premier jet\n"
    assert prof.get(f"/v1/files/{first['fileId']}/content", params={"version": 9}).status_code == 404


def test_closed_assignments_and_outsiders(as_user: Any, klass: dict[str, Any]) -> None:
    prof = as_user(klass["prof"], "teacher")
    past = datetime.now(UTC) - timedelta(hours=1)
    assignment = prof.post(
        f"/v1/classes/{klass['id']}/assignments", {"title": "Fini", "dueAt": stamp(past), "closesAt": stamp(past)}
    ).json()
    answer = as_user(klass["students"][0]).grant("tard.pdf", PDF, "application/pdf", space=assignment["space"])
    assert answer.status_code == 403 and answer.json()["error"]["code"] == "assignment_closed"
    outsider = as_user(klass["outsider"])
    missing = outsider.get("/v1/files/missing").json()
    for response in (
        outsider.get(f"/v1/assignments/{assignment['id']}/submissions"),
        outsider.get(f"/v1/spaces/{assignment['space']}/files"),
        outsider.grant("x.pdf", PDF, "application/pdf", space=assignment["space"]),
        outsider.get(f"/v1/classes/{klass['id']}/assignments"),
    ):
        assert response.status_code == 404 and response.json() == missing
    # students do not set homework, teachers do not turn it in
    student = as_user(klass["students"][0])
    assert (
        student.post(f"/v1/classes/{klass['id']}/assignments", {"title": "x", "dueAt": stamp(past)}).status_code == 403
    )
    open_one = prof.post(
        f"/v1/classes/{klass['id']}/assignments",
        {"title": "Ouvert", "dueAt": stamp(datetime.now(UTC) + timedelta(days=1))},
    ).json()
    assert prof.grant("corrige.pdf", PDF, "application/pdf", space=open_one["space"]).status_code == 403


@pytest.mark.parametrize(
    "body",
    [
        {"dueAt": "2026-12-01T17:00:00Z"},
        {"title": "x"},
        {"title": "x", "dueAt": "demain"},
        {"title": "x", "dueAt": "2026-12-01T17:00:00Z", "closesAt": "2026-11-01T17:00:00Z"},
        {"title": "x", "dueAt": "2026-12-01T17:00:00Z", "maxSize": 0},
        {"title": "x", "dueAt": "2026-12-01T17:00:00Z", "allowedTypes": ["application/x-msdownload"]},
        {"title": "x", "dueAt": "2026-12-01T17:00:00Z", "allowedTypes": "image/*"},
    ],
)
def test_bad_assignments_answer_400(as_user: Any, klass: dict[str, Any], body: dict[str, Any]) -> None:
    prof = as_user(klass["prof"], "teacher")
    assert prof.post(f"/v1/classes/{klass['id']}/assignments", body).status_code == 400


def test_the_teacher_downloads_every_available_submission_as_one_zip(as_user: Any, klass: dict[str, Any]) -> None:
    import io
    import zipfile

    prof = as_user(klass["prof"], "teacher")
    al, bo, cy = (as_user(s) for s in klass["students"])
    future = stamp(datetime.now(UTC) + timedelta(days=1))
    assignment = prof.post(
        f"/v1/classes/{klass['id']}/assignments", {"title": "Carte / Europe", "dueAt": future}
    ).json()
    space = assignment["space"]
    bodies = [(al, b"copie d'Al\n" * 1000), (bo, b"copie de Bo\n")]
    for student, data in bodies:
        grant = student.upload("carte.txt", data, "text/plain", space=space)
        assert wait_upload(student, grant["uploadId"])["status"] == "available"
    bad = cy.upload("carte.txt", EICAR, "text/plain", space=space)
    assert wait_upload(cy, bad["uploadId"])["status"] == "infected"

    answer = prof.get(f"/v1/assignments/{assignment['id']}/archive")
    assert answer.status_code == 302, answer.text
    download = requests.get(answer.headers["Location"], timeout=30)
    assert download.status_code == 200
    assert "Histoire - Carte _ Europe.zip" in download.headers["Content-Disposition"]
    with zipfile.ZipFile(io.BytesIO(download.content)) as archive:
        assert archive.testzip() is None
        names = sorted(archive.namelist())
        assert names == [
            f"Histoire - Carte _ Europe/{klass['students'][0]} - carte.txt",
            f"Histoire - Carte _ Europe/{klass['students'][1]} - carte.txt",
        ]
        assert archive.read(names[0]) == bodies[0][1]
        assert archive.read(names[1]) == bodies[1][1]
    assert al.get(f"/v1/assignments/{assignment['id']}/archive").status_code == 403
    assert as_user(klass["outsider"]).get(f"/v1/assignments/{assignment['id']}/archive").status_code == 404


def test_feedback_reaches_only_its_student_and_the_teachers(as_user: Any, klass: dict[str, Any]) -> None:
    prof = as_user(klass["prof"], "teacher")
    al, bo = as_user(klass["students"][0]), as_user(klass["students"][1])
    future = stamp(datetime.now(UTC) + timedelta(days=1))
    assignment = prof.post(f"/v1/classes/{klass['id']}/assignments", {"title": "Rédaction", "dueAt": future}).json()
    space = assignment["space"]
    turned_in = al.upload("redaction.txt", b"Il etait une fois\n", "text/plain", space=space)
    wait_upload(al, turned_in["uploadId"])
    # the teacher's feedback may even carry the same name: it never replaces the student's work
    feedback = prof.upload(
        "redaction.txt", b"Bien, 15/20\n", "text/plain", space=space, feedbackFor=klass["students"][0]
    )
    assert wait_upload(prof, feedback["uploadId"])["status"] == "available"
    assert feedback["fileId"] != turned_in["fileId"]

    assert al.get(f"/v1/files/{feedback['fileId']}").status_code == 200
    content = al.get(f"/v1/files/{feedback['fileId']}/content")
    assert requests.get(content.headers["Location"], timeout=10).content == b"Bien, 15/20\n"
    assert bo.get(f"/v1/files/{feedback['fileId']}").status_code == 404
    mine = al.get(f"/v1/assignments/{assignment['id']}/submissions").json()["items"]
    assert [f["id"] for f in mine[0]["files"]] == [turned_in["fileId"]]
    assert [f["id"] for f in mine[0]["feedback"]] == [feedback["fileId"]]
    assert bo.get(f"/v1/assignments/{assignment['id']}/submissions").json()["items"] == []
    # only teachers give feedback, and only to students of the class
    assert al.grant("x.txt", b"x", "text/plain", space=space, feedbackFor=klass["students"][1]).status_code == 403
    assert prof.grant("x.txt", b"x", "text/plain", space=space, feedbackFor=klass["outsider"]).status_code == 404
    assert prof.grant("x.txt", b"x", "text/plain", space="me", feedbackFor=klass["students"][0]).status_code == 400


def test_one_assignment_is_read_by_its_class_only(as_user: Any, klass: dict[str, Any]) -> None:
    prof = as_user(klass["prof"], "teacher")
    body = {"title": "Lecture", "dueAt": stamp(datetime.now(UTC) + timedelta(days=1)), "instructions": "Chapitre 3."}
    created = prof.post(f"/v1/classes/{klass['id']}/assignments", body).json()
    assert created["instructions"] == "Chapitre 3."
    for member in (prof, as_user(klass["students"][0])):
        answer = member.get(f"/v1/assignments/{created['id']}")
        assert answer.status_code == 200 and answer.json() == created
    missing = as_user(klass["outsider"]).get("/v1/files/missing").json()
    for stranger in (as_user(klass["outsider"]), as_user(klass["outsider"], "teacher")):
        answer = stranger.get(f"/v1/assignments/{created['id']}")
        assert answer.status_code == 404 and answer.json() == missing
    assert prof.get("/v1/assignments/nope").status_code == 404


def test_the_teacher_changes_an_assignment_and_late_follows_the_due_date(as_user: Any, klass: dict[str, Any]) -> None:
    prof = as_user(klass["prof"], "teacher")
    al, bo = as_user(klass["students"][0]), as_user(klass["students"][1])
    now = datetime.now(UTC)
    assignment = prof.post(
        f"/v1/classes/{klass['id']}/assignments", {"title": "Carte", "dueAt": stamp(now + timedelta(days=1))}
    ).json()
    path = f"/v1/assignments/{assignment['id']}"
    handed = al.upload("carte.pdf", PDF, "application/pdf", space=assignment["space"])
    assert wait_upload(al, handed["uploadId"])["status"] == "available"

    def late() -> dict[str, bool]:
        items = prof.get(f"{path}/submissions").json()["items"]
        return {s["student"]: s["late"] for s in items if not s["missing"]}

    assert late() == {klass["students"][0]: False}
    # al turned in between the new due date (an hour ago) and the old one (tomorrow): now late
    earlier = stamp(now - timedelta(hours=1))
    changed = prof.request("PATCH", path, json={"title": "Carte de l'Europe", "dueAt": earlier})
    assert changed.status_code == 200, changed.text
    assert changed.json() == {**assignment, "title": "Carte de l'Europe", "dueAt": earlier}
    assert prof.get(path).json() == changed.json() == al.get(path).json()
    assert [a["title"] for a in al.get(f"/v1/classes/{klass['id']}/assignments").json()["items"]] == [
        "Carte de l'Europe"
    ]
    assert late() == {klass["students"][0]: True}
    assert al.get(f"{path}/submissions").json()["items"][0]["late"] is True
    # back to tomorrow: on time again; the other fields, each as at creation
    rest = {
        "dueAt": stamp(now + timedelta(days=1)),
        "closesAt": stamp(now + timedelta(days=2)),
        "maxSize": 1_000,
        "allowedTypes": ["image/*"],
        "instructions": "Une carte, une légende.",
    }
    changed = prof.request("PATCH", path, json=rest)
    assert changed.status_code == 200, changed.text
    assert changed.json() == {**assignment, "title": "Carte de l'Europe", **rest}
    assert late() == {klass["students"][0]: False}
    assert bo.grant("carte.pdf", PDF, "application/pdf", space=assignment["space"]).status_code == 415
    assert bo.grant("carte.png", PNG * 100, "image/png", space=assignment["space"]).status_code == 413
    cleared = prof.request("PATCH", path, json={"closesAt": None, "maxSize": None, "allowedTypes": None})
    assert cleared.status_code == 200 and cleared.json()["allowedTypes"] is None
    assert cleared.json()["closesAt"] is None and cleared.json()["maxSize"] is None
    # a pupil of the class: 403; anyone else: 404; and nothing changed
    refused = al.request("PATCH", path, json={"title": "Pas de devoir"})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    assert as_user(klass["outsider"]).request("PATCH", path, json={"title": "x"}).status_code == 404
    assert prof.get(path).json() == cleared.json()


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"title": ""},
        {"title": None},
        {"dueAt": "demain"},
        {"dueAt": None},
        {"closesAt": "2020-01-01T00:00:00Z"},
        {"maxSize": 0},
        {"maxSize": True},
        {"allowedTypes": ["application/x-msdownload"]},
        {"allowedTypes": []},
        {"instructions": 3},
        {"instructions": "x" * 10_001},
        {"instructions": "a\u202eb"},
        {"classId": "ailleurs"},
    ],
)
def test_bad_changes_answer_400(as_user: Any, klass: dict[str, Any], body: dict[str, Any]) -> None:
    prof = as_user(klass["prof"], "teacher")
    due = stamp(datetime.now(UTC) + timedelta(days=1))
    assignment = prof.post(f"/v1/classes/{klass['id']}/assignments", {"title": "x", "dueAt": due}).json()
    answer = prof.request("PATCH", f"/v1/assignments/{assignment['id']}", json=body)
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "bad_request", answer.text
    assert prof.get(f"/v1/assignments/{assignment['id']}").json() == assignment


def test_deleting_an_assignment_sends_its_submissions_to_the_trash(as_user: Any, klass: dict[str, Any]) -> None:
    prof = as_user(klass["prof"], "teacher")
    al, bo = as_user(klass["students"][0]), as_user(klass["students"][1])
    due = stamp(datetime.now(UTC) + timedelta(days=1))
    kept = prof.post(f"/v1/classes/{klass['id']}/assignments", {"title": "Garde", "dueAt": due}).json()
    assignment = prof.post(f"/v1/classes/{klass['id']}/assignments", {"title": "Jetable", "dueAt": due}).json()
    path, space = f"/v1/assignments/{assignment['id']}", assignment["space"]
    handed = []
    for student, name in ((al, "a.pdf"), (bo, "b.pdf")):
        grant = student.upload(name, PDF, "application/pdf", space=space)
        assert wait_upload(student, grant["uploadId"])["status"] == "available"
        handed.append((student, grant["fileId"]))
    # a pupil may not; an outsider does not see it
    assert al.request("DELETE", path).status_code == 403
    assert as_user(klass["outsider"]).request("DELETE", path).status_code == 404
    assert prof.get(path).status_code == 200

    answer = prof.request("DELETE", path)
    assert answer.status_code == 204 and answer.content == b""
    for user in (prof, al):
        assert user.get(path).status_code == 404
        assert user.get(f"{path}/submissions").status_code == 404
        assert [a["id"] for a in user.get(f"/v1/classes/{klass['id']}/assignments").json()["items"]] == [kept["id"]]
    assert prof.request("PATCH", path, json={"title": "x"}).status_code == 404
    assert prof.request("DELETE", path).status_code == 404
    assert al.grant("c.pdf", PDF, "application/pdf", space=space).status_code == 404
    # the submissions are in the trash, and no longer served
    trash = prof.get(f"/v1/spaces/{space}/trash")
    assert trash.status_code == 200, trash.text
    assert sorted(f["id"] for f in trash.json()["items"]) == sorted(file_id for _, file_id in handed)
    assert all(f["purgeAt"] > f["trashedAt"] for f in trash.json()["items"])
    assert [f["id"] for f in al.get(f"/v1/spaces/{space}/trash").json()["items"]] == [handed[0][1]]
    assert as_user(klass["outsider"]).get(f"/v1/spaces/{space}/trash").status_code == 404
    for student, file_id in handed:
        for user in (prof, student):
            assert user.get(f"/v1/files/{file_id}").status_code == 404
            assert user.get(f"/v1/files/{file_id}/content").status_code == 404
        # the assignment cannot come back, nor its files one by one (they would have no assignment)
        assert student.post(f"/v1/files/{file_id}/restore").status_code == 404
