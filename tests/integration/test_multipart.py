"""Multipart uploads over the real stack: parts PUT to signed URLs, resume, complete, cancel, scan.

The test stack goes multipart above 6 MiB with 5 MiB parts (S3's smallest) and scans at most 12 MiB,
so these files are small; the contract's 64 MiB threshold is the default (tests/unit/test_settings.py)
and `make bench` sends 200 MiB through the default stack.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import pytest
import requests

from chalicelib.adapters.s3 import S3ObjectStore
from chalicelib.domain.access import AccessControl
from chalicelib.domain.models import utcnow
from chalicelib.domain.permissions import load_rules
from chalicelib.domain.sync import TrashService
from chalicelib.errors import StaleWriteError
from local.stack import LocalStack
from tests.integration.conftest import MIB, put_part, put_parts

pytestmark = pytest.mark.integration


def homework(size: int, seed: str = "devoir") -> bytes:
    """Plain text of exactly `size` bytes that libmagic calls text/plain."""
    line = f"{seed}: la Seine prend sa source sur le plateau de Langres.\n".encode()
    return (line * (size // len(line) + 1))[:size]


def grant(user: Any, name: str, data: bytes, **extra: Any) -> dict[str, Any]:
    answer = user.grant(name, data, "text/plain", **extra)
    assert answer.status_code == 201, answer.text
    body: dict[str, Any] = answer.json()
    return body


def test_above_the_threshold_the_grant_is_multipart_with_a_url_per_part(as_user: Any) -> None:
    student = as_user("mp-seuil")
    at_threshold = grant(student, "pile.txt", homework(6 * MIB))
    assert at_threshold["upload"]["method"] == "POST"
    above = grant(student, "au-dessus.txt", homework(11 * MIB))
    upload = above["upload"]
    assert upload["method"] == "MULTIPART"
    assert upload["partSize"] == 5 * MIB and upload["partCount"] == 3
    assert [p["partNumber"] for p in upload["parts"]] == [1, 2, 3]
    # Each URL is signed for its part's exact length: the store refuses another one.
    assert all("content-length" in p["url"] for p in upload["parts"])


def test_a_tablet_resumes_sends_the_missing_part_and_the_file_becomes_available(as_user: Any) -> None:
    student = as_user("mp-reprise")
    data = homework(11 * MIB + 123)
    answer = grant(student, "expose.txt", data, sha256=hashlib.sha256(data).hexdigest())
    upload = answer["upload"]
    etags = {1: put_part(upload, 1, data), 3: put_part(upload, 3, data)}

    # The connection dropped; the tablet asks what arrived and gets fresh URLs for the rest only.
    state = student.get(f"/v1/uploads/{answer['uploadId']}").json()
    multipart = state["multipart"]
    assert state["status"] == "pending" and multipart["open"] is True
    assert [(p["partNumber"], p["size"]) for p in multipart["received"]] == [(1, 5 * MIB), (3, MIB + 123)]
    assert [p["partNumber"] for p in multipart["parts"]] == [2]
    etags[2] = put_part({**upload, "parts": multipart["parts"]}, 2, data)

    parts = [{"partNumber": n, "etag": etags[n]} for n in (1, 2, 3)]
    done = student.post(f"/v1/uploads/{answer['uploadId']}/complete", {"parts": parts})
    assert done.status_code == 200, done.text
    assert done.json()["status"] in ("pending", "available")
    file = student.wait_status(answer["fileId"], timeout=20)
    assert file["status"] == "available", file
    assert file["size"] == len(data) and file["sha256"] == hashlib.sha256(data).hexdigest()
    assert file["version"] == 1  # S3 sends two events per multipart completion: one version
    location = student.get(f"/v1/files/{answer['fileId']}/content").headers["Location"]
    assert hashlib.sha256(requests.get(location, timeout=30).content).digest() == hashlib.sha256(data).digest()

    # Completing again (a lost answer, retried) answers the upload; nothing changes.
    again = student.post(f"/v1/uploads/{answer['uploadId']}/complete", {"parts": parts})
    assert again.status_code == 200, again.text
    assert student.get(f"/v1/files/{answer['fileId']}").json()["version"] == 1
    assert student.get(f"/v1/uploads/{answer['uploadId']}").json()["multipart"]["open"] is False


def test_a_wrong_completion_is_a_400_and_loses_nothing(as_user: Any) -> None:
    student = as_user("mp-erreurs")
    data = homework(11 * MIB, seed="erreurs")
    answer = grant(student, "erreurs.txt", data)
    upload, complete = answer["upload"], f"/v1/uploads/{answer['uploadId']}/complete"
    etags = put_parts(upload, data)

    bad_bodies = [
        {},
        {"parts": []},
        {"parts": etags[:2]},  # a part left out
        {"parts": [etags[1], etags[0], etags[2]]},  # out of order
        {"parts": [etags[0], etags[1], {"partNumber": 3, "etag": '"0123456789abcdef0123456789abcdef"'}]},
        {"parts": [etags[0], etags[1], {"partNumber": "3", "etag": etags[2]["etag"]}]},
    ]
    for body in bad_bodies:
        refused = student.post(complete, body)
        assert refused.status_code == 400, (body, refused.text)
        assert refused.json()["error"]["code"] == "bad_request"

    # A part sent with the wrong bytes (here: the next part's) is named; resending it fixes the upload.
    wrong = requests.put(upload["parts"][0]["url"], data=data[5 * MIB : 10 * MIB], timeout=60)
    assert wrong.status_code == 200
    etags[0] = {"partNumber": 1, "etag": wrong.headers["ETag"]}
    same_size = student.post(complete, {"parts": etags})
    assert same_size.status_code == 200  # same length: only the sha256 or the scan could tell; see below
    file = student.wait_status(answer["fileId"], timeout=20)
    assert file["status"] == "available" and file["sha256"] != hashlib.sha256(data).hexdigest()


def test_a_short_part_is_named_and_can_be_sent_again(as_user: Any) -> None:
    student = as_user("mp-court")
    data = homework(11 * MIB, seed="court")
    answer = grant(student, "court.txt", data, sha256=hashlib.sha256(data).hexdigest())
    upload, complete = answer["upload"], f"/v1/uploads/{answer['uploadId']}/complete"
    etags = put_parts(upload, data)
    # Where the store does not check the signed length (moto), a short part still never completes.
    short = requests.put(upload["parts"][1]["url"], data=data[5 * MIB : 9 * MIB], timeout=60)
    if short.status_code == 200:
        refused = student.post(
            complete, {"parts": [etags[0], {"partNumber": 2, "etag": short.headers["ETag"]}, etags[2]]}
        )
        assert refused.status_code == 400
        assert "part 2 has 4194304 bytes, not 5242880" in refused.json()["error"]["message"]
    fresh = student.get(f"/v1/uploads/{answer['uploadId']}").json()["multipart"]
    assert fresh["open"] is True
    etags[1] = {"partNumber": 2, "etag": put_part(upload, 2, data)}
    assert student.post(complete, {"parts": etags}).status_code == 200
    file = student.wait_status(answer["fileId"], timeout=20)
    assert file["status"] == "available" and file["sha256"] == hashlib.sha256(data).hexdigest()


def test_a_cancelled_upload_ends_its_parts_and_answers_409_after(as_user: Any) -> None:
    student = as_user("mp-annule")
    data = homework(7 * MIB, seed="annule")
    answer = grant(student, "annule.txt", data)
    upload = answer["upload"]
    put_part(upload, 1, data)
    assert student.request("DELETE", f"/v1/uploads/{answer['uploadId']}").status_code == 204
    state = student.get(f"/v1/uploads/{answer['uploadId']}").json()
    assert (state["status"], state["reason"], state["multipart"]["open"]) == ("rejected", "cancelled", False)
    late = requests.put(upload["parts"][1]["url"], data=data[5 * MIB :], timeout=60)
    assert late.status_code >= 400  # the store dropped the upload (S3: 404 NoSuchUpload; moto: 500)
    refused = student.post(
        f"/v1/uploads/{answer['uploadId']}/complete",
        {"parts": [{"partNumber": 1, "etag": "x"}, {"partNumber": 2, "etag": "y"}]},
    )
    assert refused.status_code == 409
    assert student.request("DELETE", f"/v1/uploads/{answer['uploadId']}").status_code == 409
    assert student.get(f"/v1/files/{answer['fileId']}").json()["status"] == "rejected"
    # Someone else's upload is invisible.
    assert as_user("mp-autre").request("DELETE", f"/v1/uploads/{answer['uploadId']}").status_code == 404


def test_a_file_over_the_scan_limit_ends_too_large_to_scan(as_user: Any) -> None:
    student = as_user("mp-trop-gros")
    data = homework(13 * MIB, seed="trop")  # the stack scans at most 12 MiB
    answer = student.upload("trop-gros.txt", data, "text/plain")
    file = student.wait_status(answer["fileId"], timeout=20)
    assert (file["status"], file["reason"]) == ("rejected", "too_large_to_scan")
    assert student.get(f"/v1/files/{answer['fileId']}/content").status_code == 409


def test_completing_a_single_post_upload_is_a_400(as_user: Any) -> None:
    student = as_user("mp-post")
    answer = grant(student, "petit.txt", b"petit devoir\n")
    refused = student.post(f"/v1/uploads/{answer['uploadId']}/complete", {"parts": [{"partNumber": 1, "etag": "x"}]})
    assert refused.status_code == 400


def test_an_abandoned_multipart_upload_is_aborted_by_the_sweep(as_user: Any, stack: LocalStack) -> None:
    student = as_user("mp-abandon")
    data = homework(7 * MIB, seed="abandon")
    answer = grant(student, "abandon.txt", data)
    put_part(answer["upload"], 1, data)  # the tablet went away after one part
    s3 = stack.aws("s3")
    store = S3ObjectStore(s3, stack.config.bucket)
    catalog = stack.catalog()
    upload = catalog.get_upload(answer["uploadId"])
    assert upload is not None and upload.multipart_id is not None
    assert [p.number for p in store.uploaded_parts(upload.key, upload.multipart_id) or []] == [1]
    trash = TrashService(catalog, AccessControl(catalog, load_rules()), store)
    trash.expire_grants(utcnow())  # a multipart grant lives a day: nothing yet
    assert student.get(f"/v1/uploads/{answer['uploadId']}").json()["status"] == "pending"
    assert trash.expire_grants(utcnow() + timedelta(days=2)) >= 1
    state = student.get(f"/v1/uploads/{answer['uploadId']}").json()
    assert (state["status"], state["reason"], state["multipart"]["open"]) == ("rejected", "grant_expired", False)
    assert store.uploaded_parts(upload.key, upload.multipart_id) is None  # the parts are gone


def test_objects_over_the_copy_limit_are_copied_part_by_part_on_the_scanned_etag(stack: LocalStack) -> None:
    """copy_object stops at 5 GB; above the limit the store copies ranges (UploadPartCopy), each on the
    ETag that was scanned. Here the limit is lowered to 6 MiB so that 11 MiB go in three parts."""
    s3 = stack.aws("s3")
    bucket = stack.config.bucket
    data = homework(11 * MIB, seed="copie")
    # Outside incoming/: the stack's scanner would remove an object there that has no grant.
    s3.put_object(Bucket=bucket, Key="scratch/copytest/big", Body=data, ContentType="text/plain")
    etag = s3.head_object(Bucket=bucket, Key="scratch/copytest/big")["ETag"]
    store = S3ObjectStore(s3, bucket, copy_limit=6 * MIB, copy_part=5 * MIB)
    store.copy("scratch/copytest/big", "files/copytest/big", etag, len(data))
    copied = s3.get_object(Bucket=bucket, Key="files/copytest/big")
    assert copied["ContentType"] == "text/plain"
    assert hashlib.sha256(copied["Body"].read()).digest() == hashlib.sha256(data).digest()
    # The source replaced since its scan: nothing is copied.
    s3.put_object(Bucket=bucket, Key="scratch/copytest/big", Body=data[::-1], ContentType="text/plain")
    with pytest.raises(StaleWriteError):
        store.copy("scratch/copytest/big", "files/copytest/other", etag, len(data))
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix="files/copytest/other")
    with pytest.raises(FileNotFoundError):
        store.copy("scratch/copytest/missing", "files/copytest/missing", None, len(data))
    for key in ("scratch/copytest/big", "files/copytest/big"):
        s3.delete_object(Bucket=bucket, Key=key)


def test_a_multipart_submission_arrives_when_its_student_completes_it(
    as_user: Any, admin: Any, stack: LocalStack
) -> None:
    """The late flag and the receipt take the moment `complete` was called (our clock), not the end
    of the scan nor S3's stamp of a multipart object (which may be the upload's start)."""
    klass = {"name": "MP", "teachers": ["mp-prof"], "students": ["mp-eleve"]}
    assert admin.put("/v1/classes/MP-C", klass).status_code == 200
    due = (utcnow() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    prof, student = as_user("mp-prof", "teacher"), as_user("mp-eleve")
    assignment = prof.post("/v1/classes/MP-C/assignments", {"title": "Vidéo", "dueAt": due}).json()
    data = homework(7 * MIB, seed="rendu")
    answer = grant(student, "rendu.txt", data, space=assignment["space"])
    etags = put_parts(answer["upload"], data)
    assert student.post(f"/v1/uploads/{answer['uploadId']}/complete", {"parts": etags}).status_code == 200
    completed = stack.catalog().get_upload(answer["uploadId"])
    assert completed is not None and completed.completed_at is not None
    assert student.wait_status(answer["fileId"], timeout=20)["status"] == "available"
    receipt = student.get(f"/v1/assignments/{assignment['id']}/receipt").json()
    assert receipt["receivedAt"] == completed.completed_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert receipt["late"] is False
