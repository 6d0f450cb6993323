"""Upload → scan → index → download over the real local stack: HTTP, presigned POST, clamd, libmagic."""

from __future__ import annotations

import hashlib
import io
import uuid
import zipfile
from typing import Any

import pytest
import requests

from local.clamav import EICAR, TEST_MARKER
from tests.integration.conftest import Api, post_to_storage

pytestmark = pytest.mark.integration

PDF = (
    b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
    b"2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\n"
    b"trailer\n<< /Root 1 0 R >>\n%%EOF\n"
)
# A minimal PE: DOS header with e_lfanew pointing at a PE signature and a COFF header.
PE = b"MZ" + b"\x90" * 58 + (64).to_bytes(4, "little") + b"PE\x00\x00" + b"\x4c\x01\x01\x00" + b"\x00" * 200


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def error_of(answer: requests.Response) -> str:
    body = answer.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    return str(body["error"]["code"])


def test_health_needs_no_token(api_url: str) -> None:
    answer = requests.get(f"{api_url}/v1/health", timeout=10)
    assert answer.status_code == 200
    assert answer.json() == {"status": "ok"}


def test_pdf_upload_becomes_available_and_downloads_same_bytes(as_user: Any) -> None:
    student = as_user(unique("eleve"))
    name = "Devoir de français — été.pdf"
    grant = student.upload(name, PDF, "application/pdf", sha256=hashlib.sha256(PDF).hexdigest())
    assert set(grant) == {"uploadId", "fileId", "expiresAt", "upload"}
    assert grant["upload"]["method"] == "POST"
    assert grant["upload"]["fields"]["key"].startswith("incoming/")

    file = student.wait_status(grant["fileId"])
    assert file["status"] == "available", file
    assert file["reason"] is None
    assert file["sha256"] == hashlib.sha256(PDF).hexdigest()
    assert file["size"] == len(PDF) and file["contentType"] == "application/pdf"
    assert file["name"] == name and file["path"] == "/" and file["version"] == 1
    assert file["space"] == f"user:{file['owner']}"

    answer = student.get(f"/v1/files/{grant['fileId']}/content")
    assert answer.status_code == 302
    location = answer.headers["Location"]
    assert "X-Amz-Expires=300" in location or "Expires=" in location
    download = requests.get(location, timeout=10)
    assert download.status_code == 200
    assert download.content == PDF
    disposition = download.headers.get("Content-Disposition", "")
    assert disposition.startswith("attachment;")
    assert "filename*=UTF-8''Devoir%20de%20fran%C3%A7ais%20%E2%80%94%20%C3%A9t%C3%A9.pdf" in disposition

    upload = student.get(f"/v1/uploads/{grant['uploadId']}").json()
    assert upload["status"] == "available" and upload["fileId"] == grant["fileId"]


def test_eicar_as_text_is_infected_and_never_served(as_user: Any) -> None:
    student = as_user(unique("eleve"))
    grant = student.upload("notes.txt", EICAR, "text/plain")
    file = student.wait_status(grant["fileId"])
    assert file["status"] == "infected", file
    assert file["reason"].startswith("Cartable.Test.EICAR")
    answer = student.get(f"/v1/files/{grant['fileId']}/content")
    assert answer.status_code == 409
    assert error_of(answer) == "not_available"


def test_signature_inside_a_zip_is_infected(as_user: Any) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", b"hello\n")
        archive.writestr("payload.bin", b"padding " * 100 + TEST_MARKER)
    student = as_user(unique("eleve"))
    grant = student.upload("projet.zip", buffer.getvalue(), "application/zip")
    file = student.wait_status(grant["fileId"])
    assert file["status"] == "infected" and file["reason"].startswith("Cartable.Test.Marker"), file


@pytest.mark.parametrize(
    ("data", "declared", "reason"),
    [
        (PE, "application/pdf", "executable"),
        (b"#!/bin/sh\nrm -rf ~\n", "text/plain", "script"),
        (b"<html><body><script>alert(1)</script></body></html>", "text/plain", "script"),
        (PDF, "image/png", "type_mismatch"),
        (
            b"%PDF-1.4\n<html><script>alert(document.cookie)</script></html>\n%%EOF\n",
            "application/pdf",
            "type_mismatch",
        ),
        (b"<html>\n%PDF-1.4\n<script>alert(1)</script>", "application/pdf", "type_mismatch"),
    ],
    ids=["pe-as-pdf", "shell-script", "html-as-text", "pdf-as-png", "pdf-html-polyglot", "html-pdf-polyglot"],
)
def test_content_that_contradicts_its_type_is_rejected(as_user: Any, data: bytes, declared: str, reason: str) -> None:
    student = as_user(unique("eleve"))
    grant = student.upload("fichier", data, declared)
    file = student.wait_status(grant["fileId"])
    assert file["status"] == "rejected", file
    assert file["reason"] == reason
    assert student.get(f"/v1/files/{grant['fileId']}/content").status_code == 409


def test_stored_size_different_from_the_grant_is_rejected(as_user: Any) -> None:
    # moto does not enforce the signed policy; the scanner must catch what arrived.
    student = as_user(unique("eleve"))
    answer = student.grant("court.pdf", PDF, "application/pdf")
    assert answer.status_code == 201
    post_to_storage(answer.json(), PDF + b"% extra bytes\n", "application/pdf")
    file = student.wait_status(answer.json()["fileId"])
    assert file["status"] == "rejected" and file["reason"] == "size_mismatch", file


def test_checksum_mismatch_is_rejected(as_user: Any) -> None:
    student = as_user(unique("eleve"))
    grant = student.upload("somme.pdf", PDF, "application/pdf", sha256="0" * 64)
    file = student.wait_status(grant["fileId"])
    assert file["status"] == "rejected" and file["reason"] == "checksum_mismatch", file


def test_stored_content_type_must_match_the_grant(as_user: Any) -> None:
    student = as_user(unique("eleve"))
    answer = student.grant("image.png", PDF, "image/png")
    post_fields = dict(answer.json()["upload"]["fields"])
    post_fields["Content-Type"] = "text/html"
    requests.post(
        answer.json()["upload"]["url"],
        data=post_fields,
        files={"file": ("x", PDF, "text/html")},
        timeout=30,
    )
    file = student.wait_status(answer.json()["fileId"])
    assert file["status"] == "rejected" and file["reason"] == "type_mismatch", file


def test_same_name_makes_a_new_version_once_available(as_user: Any) -> None:
    student = as_user(unique("eleve"))
    first = student.upload("brouillon.txt", b"premier jet\n", "text/plain")
    assert student.wait_status(first["fileId"])["status"] == "available"
    second = student.upload("brouillon.txt", b"second jet, plus long\n", "text/plain")
    assert second["fileId"] == first["fileId"]
    assert student.get(f"/v1/files/{first['fileId']}").json()["version"] == 1  # until the new bytes are clean
    assert _wait_upload(student, second["uploadId"])["status"] == "available"
    file = student.get(f"/v1/files/{first['fileId']}").json()
    assert file["version"] == 2 and file["size"] == len(b"second jet, plus long\n")
    # An infected new version leaves the earlier one served.
    third = student.upload("brouillon.txt", EICAR, "text/plain")
    assert _wait_upload(student, third["uploadId"])["status"] == "infected"
    file = student.get(f"/v1/files/{first['fileId']}").json()
    assert file["status"] == "available" and file["version"] == 2
    assert requests.get(
        student.get(f"/v1/files/{first['fileId']}/content").headers["Location"], timeout=10
    ).content == (b"second jet, plus long\n")


def _wait_upload(user: Api, upload_id: str) -> dict[str, Any]:
    return user.wait_upload(upload_id)


def test_listing_shows_folders_then_files_with_pages(as_user: Any) -> None:
    student = as_user(unique("eleve"))
    for name in ("a.txt", "b.txt", "c.txt"):
        student.upload(name, f"{name}\n".encode(), "text/plain")
    for folder in ("/Maths/", "/Histoire/Moyen Âge/"):
        answer = student.post(
            "/v1/uploads",
            {"space": "me", "path": folder, "name": "cours.txt", "size": 6, "contentType": "text/plain"},
        )
        assert answer.status_code == 201, answer.text
    root = student.get("/v1/spaces/me/files?limit=2").json()
    assert root["folders"] == ["Histoire", "Maths"] and root["items"] == []
    assert root["nextCursor"]
    names = []
    cursor = root["nextCursor"]
    while cursor:
        page = student.get("/v1/spaces/me/files", params={"limit": 2, "cursor": cursor}).json()
        names += [f["name"] for f in page["items"]]
        cursor = page["nextCursor"]
    assert names == ["a.txt", "b.txt", "c.txt"]
    sub = student.get("/v1/spaces/me/files", params={"path": "/Histoire/"}).json()
    assert sub == {"items": [], "folders": ["Moyen Âge"], "nextCursor": None}
    deep = student.get("/v1/spaces/me/files", params={"path": "/Histoire/Moyen Âge"}).json()
    assert [f["name"] for f in deep["items"]] == ["cours.txt"]
    assert student.get("/v1/spaces/me/files?cursor=not-a-cursor").status_code == 400


def test_a_duplicate_event_changes_nothing(stack: Any, as_user: Any) -> None:
    import json

    student = as_user(unique("eleve"))
    grant = student.upload("double.txt", b"une fois\n", "text/plain")
    file = student.wait_status(grant["fileId"])
    assert file["status"] == "available"
    sqs = stack.aws("sqs")
    key = grant["upload"]["fields"]["key"]
    event = {"Records": [{"eventName": "ObjectCreated:Post", "s3": {"object": {"key": key.replace("/", "%2F")}}}]}
    sqs.send_message(QueueUrl=stack.queue_url, MessageBody=json.dumps(event))
    sqs.send_message(QueueUrl=stack.queue_url, MessageBody=json.dumps({"Event": "s3:TestEvent"}))
    sqs.send_message(QueueUrl=stack.queue_url, MessageBody="not json at all")
    import time

    time.sleep(2)
    again = student.get(f"/v1/files/{grant['fileId']}").json()
    assert again == file
