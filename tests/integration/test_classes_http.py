"""Class folders: who reads, who writes, and nothing across classes or schools (404, never a leak)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import requests

from tests.integration.conftest import OTHER_SCHOOL, Api

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def classes(admin: Api) -> dict[str, str]:
    suffix = uuid.uuid4().hex[:6]
    c, d = f"5B-{suffix}", f"4A-{suffix}"
    answer = admin.put(
        f"/v1/classes/{c}", {"name": "5e B", "teachers": ["prof-b"], "students": ["eleve-b1", "eleve-b2"]}
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"id": c, "name": "5e B", "teachers": ["prof-b"], "students": ["eleve-b1", "eleve-b2"]}
    assert (
        admin.put(f"/v1/classes/{d}", {"name": "4e A", "teachers": ["prof-a"], "students": ["eleve-a1"]}).status_code
        == 200
    )
    return {"mine": c, "other": d}


def test_teacher_uploads_class_material_students_read_it(as_user: Any, classes: dict[str, str]) -> None:
    space = f"class:{classes['mine']}"
    teacher = as_user("prof-b", "teacher")
    grant = teacher.upload("consignes.txt", b"Lire le chapitre 3.\n", "text/plain", space=space)
    assert teacher.wait_status(grant["fileId"])["status"] == "available"

    student = as_user("eleve-b1")
    listing = student.get(f"/v1/spaces/{space}/files")
    assert listing.status_code == 200
    assert [f["name"] for f in listing.json()["items"]] == ["consignes.txt"]
    content = student.get(f"/v1/files/{grant['fileId']}/content")
    assert content.status_code == 302
    assert requests.get(content.headers["Location"], timeout=10).content == b"Lire le chapitre 3.\n"


def test_student_of_the_class_cannot_upload_to_it(as_user: Any, classes: dict[str, str]) -> None:
    answer = as_user("eleve-b1").grant("tag.txt", b"x", "text/plain", space=f"class:{classes['mine']}")
    assert answer.status_code == 403
    assert answer.json()["error"]["code"] == "forbidden"


def test_student_of_another_class_sees_nothing(as_user: Any, classes: dict[str, str]) -> None:
    teacher = as_user("prof-b", "teacher")
    grant = teacher.upload("secret.txt", b"corrige\n", "text/plain", space=f"class:{classes['mine']}")
    teacher.wait_status(grant["fileId"])
    outsider = as_user("eleve-a1")
    missing = outsider.get("/v1/files/doesnotexist")
    for answer in (
        outsider.get(f"/v1/spaces/class:{classes['mine']}/files"),
        outsider.get(f"/v1/files/{grant['fileId']}"),
        outsider.get(f"/v1/files/{grant['fileId']}/content"),
        outsider.grant("x.txt", b"x", "text/plain", space=f"class:{classes['mine']}"),
        as_user("prof-a", "teacher").get(f"/v1/files/{grant['fileId']}"),
    ):
        assert answer.status_code == 404
        assert answer.json() == missing.json()


def test_another_school_sees_nothing(as_user: Any, classes: dict[str, str]) -> None:
    teacher = as_user("prof-b", "teacher")
    grant = teacher.upload("interne.txt", b"interne\n", "text/plain", space=f"class:{classes['mine']}")
    teacher.wait_status(grant["fileId"])
    # Same user ids and role, other tenant: nothing of school one exists for them.
    for user in (as_user("prof-b", "teacher", OTHER_SCHOOL), as_user("admin-1", "admin", OTHER_SCHOOL)):
        assert user.get(f"/v1/files/{grant['fileId']}").status_code == 404
        assert user.get(f"/v1/spaces/class:{classes['mine']}/files").status_code == 404
        assert user.get("/v1/classes").json()["items"] == []
    stranger = as_user("eleve-b1", "student", OTHER_SCHOOL)
    own = stranger.get("/v1/spaces/me/files").json()
    assert own["items"] == []


def test_personal_drives_are_private(as_user: Any) -> None:
    owner = as_user(f"u-{uuid.uuid4().hex[:6]}")
    grant = owner.upload("journal.txt", b"cher journal\n", "text/plain")
    owner.wait_status(grant["fileId"])
    owner_id = owner.get(f"/v1/files/{grant['fileId']}").json()["owner"]
    for other in (as_user("curieux"), as_user("prof-b", "teacher"), as_user("admin-1", "admin")):
        assert other.get(f"/v1/files/{grant['fileId']}").status_code == 404
        assert other.get(f"/v1/spaces/user:{owner_id}/files").status_code == 404
        assert other.grant("x.txt", b"x", "text/plain", space=f"user:{owner_id}").status_code == 404


def test_classes_listing_by_role(admin: Api, as_user: Any, classes: dict[str, str]) -> None:
    everything = admin.get("/v1/classes").json()["items"]
    assert {classes["mine"], classes["other"]} <= {c["id"] for c in everything}
    teacher_view = as_user("prof-b", "teacher").get("/v1/classes").json()["items"]
    mine = [c for c in teacher_view if c["id"] == classes["mine"]]
    assert mine and mine[0]["students"] == ["eleve-b1", "eleve-b2"]
    student_view = as_user("eleve-b2").get("/v1/classes").json()["items"]
    assert [c["id"] for c in student_view if c["id"] in classes.values()] == [classes["mine"]]
    assert all("students" not in c for c in student_view)


def test_only_admins_change_classes_and_removal_revokes_at_once(admin: Api, as_user: Any) -> None:
    class_id = f"3C-{uuid.uuid4().hex[:6]}"
    teacher = as_user("prof-c", "teacher")
    assert teacher.put(f"/v1/classes/{class_id}", {"name": "x", "teachers": [], "students": []}).status_code == 403
    assert (
        admin.put(
            f"/v1/classes/{class_id}", {"name": "3e C", "teachers": ["prof-c"], "students": ["eleve-c"]}
        ).status_code
        == 200
    )
    student = as_user("eleve-c")
    assert student.get(f"/v1/spaces/class:{class_id}/files").status_code == 200
    assert (
        admin.put(f"/v1/classes/{class_id}", {"name": "3e C", "teachers": ["prof-c"], "students": []}).status_code
        == 200
    )
    assert student.get(f"/v1/spaces/class:{class_id}/files").status_code == 404
    assert admin.get("/v1/spaces/class:nonexistent/files").status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {"teachers": [], "students": []},
        {"name": "", "teachers": []},
        {"name": "x", "teachers": "prof"},
        {"name": "x", "teachers": ["a/b"]},
        {"name": "x", "teachers": ["p"], "students": ["p"]},
    ],
)
def test_bad_class_bodies_answer_400(admin: Api, body: dict[str, Any]) -> None:
    answer = admin.put("/v1/classes/valid-id", body)
    assert answer.status_code == 400, answer.text
