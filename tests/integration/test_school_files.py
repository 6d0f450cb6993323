"""Real school files in, hostile files out, on the real local stack (libmagic, clamd, moto S3).

Every file of the corpus (tests/corpus.py: made by python-docx, openpyxl, python-pptx, odfpy, Pillow,
pillow-heif, fpdf2, ffmpeg, and as Scratch and GeoGebra save theirs) is sent with the type a browser
or tablet declares; each ends `available`, its `contentType` the type it was judged, and downloads
byte for byte with that `Content-Type` and `attachment`. All are sent first, then checked, so the
scans overlap. The corpus's hostile files (made from the same producers' files: a PDF that runs script
when opened, bare or inside a zip, a Word or an OpenDocument file, or embedded as an object in Office and
RTF files; a program packaged in one) each end `rejected` with their reason.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from tests import corpus
from tests.integration.conftest import Api

# Once, in make test's DynamoDB pass: content types and clamd's verdicts on the corpus, whatever the catalog.
pytestmark = [pytest.mark.integration, pytest.mark.catalog_independent]

OCTET = "application/octet-stream"


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, corpus.Sample]:
    return {s.id: s for s in corpus.build(tmp_path_factory.getbasetemp() / "corpus")}


@pytest.fixture(scope="module")
def pupil(api_url: str) -> Api:
    from tests.integration.conftest import make_token

    return Api(api_url, make_token(f"eleve-{uuid.uuid4().hex[:8]}"))


@pytest.fixture(scope="module")
def sent(pupil: Api, samples: dict[str, corpus.Sample]) -> dict[str, dict[str, Any]]:
    """Every sample sent to the pupil's drive, each in a folder of its own (some share a name)."""
    return {ident: pupil.upload(s.name, s.data, s.declared, path=f"/{ident}") for ident, s in samples.items()}


def download(user: Api, file_id: str) -> requests.Response:
    answer = user.get(f"/v1/files/{file_id}/content")
    assert answer.status_code == 302, answer.text
    got = requests.get(answer.headers["Location"], timeout=30)
    assert got.status_code == 200
    return got


@pytest.mark.parametrize("sample_id", corpus.sample_ids())
def test_a_school_file_is_served_as_what_it_is(
    pupil: Api, samples: dict[str, corpus.Sample], sent: dict[str, dict[str, Any]], sample_id: str
) -> None:
    sample, grant = samples[sample_id], sent[sample_id]
    file = pupil.wait_status(grant["fileId"], timeout=20)
    assert (file["status"], file["reason"]) == ("available", None), f"{sample.declared} → {file}"
    assert file["contentType"] == sample.judged
    assert file["sha256"] == hashlib.sha256(sample.data).hexdigest()
    got = download(pupil, grant["fileId"])
    assert got.content == sample.data
    assert got.headers["Content-Type"] == sample.judged
    assert got.headers["Content-Disposition"].startswith("attachment;")
    versions = pupil.get(f"/v1/files/{grant['fileId']}/versions").json()["items"]
    assert [v["contentType"] for v in versions] == [sample.judged]


HOSTILE = [
    ("programme.sb3", b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 56, "executable"),
    ("jeu.sb3", b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 100, "executable"),
    ("script.sb3", b"#!/bin/sh\nrm -rf ~\n", "script"),
    ("page.pdf", b"<!doctype html><html><script>alert(1)</script>%PDF-1.4", "script"),
    ("disque.bin", bytes(range(256)) * 8, "type_not_accepted"),
]


def test_files_of_no_declared_type_that_are_programs_or_unknown_are_refused(pupil: Api) -> None:
    grants = [(pupil.upload(name, data, OCTET, path="/hostile"), reason) for name, data, reason in HOSTILE]
    for grant, reason in grants:
        file = pupil.wait_status(grant["fileId"], timeout=20)
        assert (file["status"], file["reason"]) == ("rejected", reason)
        assert pupil.get(f"/v1/files/{grant['fileId']}/content").status_code == 409


def test_declared_types_refused_at_grant_and_accepted_ones(pupil: Api) -> None:
    for declared in ("application/x-msdownload", "text/html", "image/svg+xml"):
        answer = pupil.grant("x.bin", b"x", declared)
        assert answer.status_code == 415 and answer.json()["error"]["code"] == "unsupported_media_type"
    for declared in (OCTET, "audio/webm;codecs=opus", "application/x.scratch.sb3", "application/vnd.ms-excel"):
        assert pupil.grant(f"ok-{uuid.uuid4().hex[:6]}.bin", b"x", declared).status_code == 201


def test_an_assignment_judges_what_was_sent_without_a_type(
    admin: Api, as_user: Any, samples: dict[str, corpus.Sample]
) -> None:
    suffix = uuid.uuid4().hex[:6]
    teacher, student = f"prof-{suffix}", f"eleve-{suffix}"
    klass = {"name": "5C", "teachers": [teacher], "students": [student]}
    assert admin.put(f"/v1/classes/C-{suffix}", klass).status_code == 200
    due = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    body = {"title": "Exposé", "dueAt": due, "allowedTypes": ["application/pdf", "image/*"]}
    assignment = as_user(teacher, "teacher").post(f"/v1/classes/C-{suffix}/assignments", body).json()
    pupil = as_user(student)
    assert pupil.grant("notes.csv", b"a", "application/vnd.ms-excel", space=assignment["space"]).status_code == 415
    pdf, project = samples["pdf-no-type"], samples["sb3-no-type"]
    sent_pdf = pupil.upload("expose.pdf", pdf.data, OCTET, space=assignment["space"])
    sent_project = pupil.upload("jeu.sb3", project.data, OCTET, space=assignment["space"])
    served = pupil.wait_status(sent_pdf["fileId"], timeout=20)
    assert (served["status"], served["contentType"]) == ("available", "application/pdf")
    refused = pupil.wait_status(sent_project["fileId"], timeout=20)
    assert (refused["status"], refused["reason"]) == ("rejected", "type_not_allowed")


def test_the_same_bytes_declared_as_what_they_were_judged_need_no_upload(
    pupil: Api, samples: dict[str, corpus.Sample], sent: dict[str, dict[str, Any]]
) -> None:
    # The served copy of the untyped PDF is stored as application/pdf: a grant declaring that type
    # with its digest is filled from it, and scanned again as such.
    pdf = samples["pdf-no-type"]
    assert pupil.wait_status(sent["pdf-no-type"]["fileId"], timeout=20)["status"] == "available"
    digest = hashlib.sha256(pdf.data).hexdigest()
    answer = pupil.grant("copie.pdf", pdf.data, "application/pdf", sha256=digest, path="/pdf-no-type")
    assert answer.status_code == 201, answer.text
    assert answer.json()["upload"]["method"] == "NONE"
    file = pupil.wait_status(answer.json()["fileId"], timeout=20)
    assert (file["status"], file["contentType"]) == ("available", "application/pdf")
    assert download(pupil, file["id"]).content == pdf.data


def _docx_carrying(member: str, data: bytes) -> bytes:
    """A real Word document (python-docx) with one more member, as an attacker repacks one."""
    import io
    import zipfile

    from local.clamav import EICAR

    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(corpus._docx())) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for info in source.infolist():
            target.writestr(info, source.read(info.filename))
        target.writestr(member, data if data else EICAR)
    return out.getvalue()


SVG_SCRIPT = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.cookie)</script></svg>'


@pytest.mark.parametrize(
    ("name", "build", "declared", "verdict"),
    [
        ("devoir.docx", lambda: _docx_carrying("word/embeddings/oleObject1.bin", b""), corpus.DOCX, "infected"),
        ("dessin.svg", lambda: SVG_SCRIPT, OCTET, "rejected"),
        ("dessin.png", lambda: SVG_SCRIPT, "image/png", "rejected"),
        ("notes.txt", lambda: b"<html><body onload=alert(1)>Bonjour</body></html>", "text/plain", "rejected"),
    ],
    ids=["eicar-in-a-docx", "svg-script-untyped", "svg-script-as-png", "html-as-text"],
)
def test_hostile_documents_are_never_served(pupil: Api, name: str, build: Any, declared: str, verdict: str) -> None:
    grant = pupil.upload(name, build(), declared, path="/hostile-docs")
    file = pupil.wait_status(grant["fileId"], timeout=20)
    assert file["status"] == verdict, file
    assert file["reason"], file
    assert pupil.get(f"/v1/files/{grant['fileId']}/content").status_code == 409


@pytest.fixture(scope="module")
def hostile() -> dict[str, corpus.Hostile]:
    return {h.id: h for h in corpus.hostile()}


@pytest.fixture(scope="module")
def sent_hostile(pupil: Api, hostile: dict[str, corpus.Hostile]) -> dict[str, dict[str, Any]]:
    """Every hostile file sent at once, so their scans overlap too."""
    return {ident: pupil.upload(h.name, h.data, h.declared, path=f"/hostile-{ident}") for ident, h in hostile.items()}


@pytest.mark.parametrize("hostile_id", corpus.hostile_ids())
def test_a_hostile_file_of_the_corpus_is_refused_with_its_reason(
    pupil: Api, hostile: dict[str, corpus.Hostile], sent_hostile: dict[str, dict[str, Any]], hostile_id: str
) -> None:
    threat, grant = hostile[hostile_id], sent_hostile[hostile_id]
    file = pupil.wait_status(grant["fileId"], timeout=20)
    assert (file["status"], file["reason"]) == ("rejected", threat.reason), f"{threat.declared} → {file}"
    answer = pupil.get(f"/v1/files/{grant['fileId']}/content")
    assert answer.status_code == 409 and answer.json()["error"]["code"] == "not_available", answer.text
