"""The right of access over the real stack: a user's export holds all and only their own files and
records (manifest and bytes), whoever else wrote in the same class and assignment."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from tests.integration.conftest import Api, make_token

pytestmark = pytest.mark.integration

CLASS = "EXP-C"


def unzip(api: Any, path: str) -> zipfile.ZipFile:
    answer = api.get(path)
    assert answer.status_code == 302, answer.text
    return zipfile.ZipFile(io.BytesIO(requests.get(answer.headers["Location"], timeout=30).content))


@pytest.fixture(scope="module")
def school(admin: Any, api_url: str) -> dict[str, Any]:
    """A class where two students and a teacher each put files in the same places."""

    def as_user(sub: str, role: str = "student") -> Api:
        return Api(api_url, make_token(sub, role))

    klass = {"name": "Export", "teachers": ["exp-prof"], "students": ["exp-eleve-1", "exp-eleve-2"]}
    assert admin.put(f"/v1/classes/{CLASS}", klass).status_code == 200
    prof, one, two = as_user("exp-prof", "teacher"), as_user("exp-eleve-1"), as_user("exp-eleve-2")
    due = (datetime.now(UTC) + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assignment = prof.post(f"/v1/classes/{CLASS}/assignments", {"title": "Export", "dueAt": due}).json()
    sent = {
        "cv": (one, "mon-cv.txt", b"mon cv\n", "me"),
        "devoir-1": (one, "devoir.txt", b"devoir de l eleve 1\n", assignment["space"]),
        "devoir-2": (two, "devoir.txt", b"devoir de l eleve 2\n", assignment["space"]),
        "autre": (two, "autre.txt", b"fichier de l eleve 2\n", "me"),
        "cours": (prof, "cours.txt", b"le cours\n", f"class:{CLASS}"),
    }
    files = {}
    for key, (user, name, data, space) in sent.items():
        grant = user.upload(name, data, "text/plain", space=space)
        assert user.wait_status(grant["fileId"])["status"] == "available"
        files[key] = {"id": grant["fileId"], "data": data}
    feedback = prof.upload(
        "correction.txt", b"bien\n", "text/plain", space=assignment["space"], feedbackFor="exp-eleve-1"
    )
    assert prof.wait_status(feedback["fileId"])["status"] == "available"
    share = {"fileId": files["autre"]["id"], "with": {"type": "user", "id": "exp-eleve-1"}, "role": "viewer"}
    assert two.post("/v1/shares", share).status_code == 201
    return {"files": files, "assignment": assignment}


def test_a_students_export_holds_all_and_only_their_own_files_and_records(as_user: Any, school: dict[str, Any]) -> None:
    files = school["files"]
    archive = unzip(as_user("exp-eleve-1"), "/v1/me/export")
    names = archive.namelist()
    assert names[0] == "manifest.json"
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["user"] == "exp-eleve-1"
    listed = {f["id"]: f["zipName"] for f in manifest["files"]}
    # Theirs: the drive and the submission. Not the classmate's, not the shared file, not the feedback.
    assert set(listed) == {files["cv"]["id"], files["devoir-1"]["id"]}
    assert sorted(names[1:]) == sorted(listed.values())
    for key in ("cv", "devoir-1"):
        assert archive.read(listed[files[key]["id"]]) == files[key]["data"]
    assert all(f["owner"] == "exp-eleve-1" for f in manifest["files"])
    assert manifest["audit"] and {e["actor"] for e in manifest["audit"]} == {"exp-eleve-1"}
    assert any(e["action"] == "upload.grant" for e in manifest["audit"])


def test_an_admin_exports_one_user_and_nobody_else_can(admin: Any, as_user: Any, school: dict[str, Any]) -> None:
    archive = unzip(admin, "/v1/users/exp-eleve-1/export")
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["user"] == "exp-eleve-1" and manifest["exportedBy"] == admin_name(admin)
    assert {f["id"] for f in manifest["files"]} == {school["files"]["cv"]["id"], school["files"]["devoir-1"]["id"]}
    assert as_user("exp-eleve-2").get("/v1/users/exp-eleve-1/export").status_code == 404
    assert as_user("exp-prof", "teacher").get("/v1/users/exp-eleve-1/export").status_code == 404


def test_a_teachers_export_holds_their_class_material_not_the_submissions(as_user: Any, school: dict[str, Any]) -> None:
    manifest = json.loads(unzip(as_user("exp-prof", "teacher"), "/v1/me/export").read("manifest.json"))
    names = {f["name"] for f in manifest["files"]}
    assert "cours.txt" in names and "devoir.txt" not in names


def admin_name(admin: Any) -> str:
    import jwt

    return str(jwt.decode(admin.token, options={"verify_signature": False})["sub"])


def test_an_export_uploaded_again_is_scanned_and_kept(as_user: Any, school: dict[str, Any]) -> None:
    """Our own ZIP is written without ZIP64 headers for members under 4 GiB: clamd reads it, the
    archive inspector finds nothing, and a pupil who keeps her export in her drive gets it back."""
    pupil = as_user("exp-eleve-1")
    answer = pupil.get("/v1/me/export")
    data = requests.get(answer.headers["Location"], timeout=30).content
    grant = pupil.upload("mon-export.zip", data, "application/zip")
    file = pupil.wait_status(grant["fileId"])
    assert (file["status"], file["reason"]) == ("available", None)
