"""Serve what was judged (issue 16): a download is answered by the front (CloudFront on AWS, the local stack's
own here), over real HTTP, with the judged Content-Type, the `attachment` disposition, `X-Content-Type-Options:
nosniff` and the stored bytes byte for byte; the signed URL still holds through it."""

from __future__ import annotations

import io
import uuid
import zipfile
from typing import Any
from urllib.parse import quote, urlsplit

import requests

from local.stack import LocalStack


def test_a_served_file_downloads_through_the_front_with_nosniff(stack: LocalStack, as_user: Any) -> None:
    pupil = as_user(f"front-{uuid.uuid4().hex[:8]}")
    name = "Exposé, version «finale».txt"
    data = "Bonjour, je m'appelle Élodie.\r\nJ'aime le foot, le basket et la danse.\r\n".encode()
    grant = pupil.upload(name, data, "text/plain")
    file = pupil.wait_status(grant["fileId"])
    assert file["status"] == "available", file

    answer = pupil.get(f"/v1/files/{grant['fileId']}/content")
    assert answer.status_code == 302, answer.text
    location = urlsplit(answer.headers["Location"])
    assert f"{location.scheme}://{location.netloc}" == stack.download_origin, "answered on the front, not the store"

    download = requests.get(answer.headers["Location"], timeout=30)
    assert download.status_code == 200, download.text
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert download.headers["Content-Type"] == file["contentType"]
    assert download.headers["Content-Type"].startswith("text/plain")
    disposition = download.headers["Content-Disposition"]
    assert disposition.startswith("attachment;") and f"filename*=UTF-8''{quote(name, safe='')}" in disposition
    assert download.content == data

    head = requests.head(answer.headers["Location"], timeout=30)
    assert head.status_code == 200 and head.headers["X-Content-Type-Options"] == "nosniff"
    assert int(head.headers["Content-Length"]) == len(data)


def test_the_stores_own_answers_pass_through_the_front(stack: LocalStack) -> None:
    """The front forwards, it never decides: the store's refusal and its CORS answer for the page reach the
    browser as the store gave them, with nosniff."""
    missing = requests.get(f"{stack.download_origin}/{stack.config.bucket}/files/no-such-file", timeout=30)
    assert missing.status_code in (403, 404) and missing.headers["X-Content-Type-Options"] == "nosniff"
    page = stack.api_url
    preflight = requests.options(
        f"{stack.download_origin}/{stack.config.bucket}/files/any",
        headers={"Origin": page, "Access-Control-Request-Method": "GET"},
        timeout=30,
    )
    assert preflight.status_code == 200 and preflight.headers["Access-Control-Allow-Origin"] == page


def test_an_export_zip_downloads_through_the_front(stack: LocalStack, as_user: Any) -> None:
    pupil = as_user(f"front-{uuid.uuid4().hex[:8]}")
    grant = pupil.upload("devoir.txt", b"mon devoir\n", "text/plain")
    assert pupil.wait_status(grant["fileId"])["status"] == "available"

    answer = pupil.get("/v1/me/export")
    assert answer.status_code == 302, answer.text
    assert answer.headers["Location"].startswith(f"{stack.download_origin}/")
    download = requests.get(answer.headers["Location"], timeout=60)
    assert download.status_code == 200, download.text
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert download.headers["Content-Type"] == "application/zip"
    assert download.headers["Content-Disposition"].startswith("attachment;")
    with zipfile.ZipFile(io.BytesIO(download.content)) as archive:
        assert b"mon devoir\n" in [archive.read(n) for n in archive.namelist() if n != "manifest.json"]
