"""Content-hash dedup (no bytes for clean content already in the space), the trash listing, and the
purge after 30 days, over the real stack."""

from __future__ import annotations

import hashlib
import uuid
from datetime import timedelta
from typing import Any

import pytest
import requests

from chalicelib.adapters.s3 import S3ObjectStore
from chalicelib.domain.access import AccessControl
from chalicelib.domain.models import utcnow
from chalicelib.domain.permissions import load_rules
from chalicelib.domain.sync import TrashService
from local.stack import LocalStack
from tests.integration.conftest import SCHOOL, Api

pytestmark = pytest.mark.integration


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def klass(admin: Api, as_user: Any) -> dict[str, Any]:
    s = uuid.uuid4().hex[:6]
    class_id = f"D-{s}"
    admin.put(f"/v1/classes/{class_id}", {"name": "Dedup", "teachers": [f"prof-{s}"], "students": [f"a-{s}", f"b-{s}"]})
    return {
        "id": class_id,
        "space": f"class:{class_id}",
        "teacher": as_user(f"prof-{s}", "teacher"),
        "students": [as_user(f"a-{s}"), as_user(f"b-{s}")],
    }


def download(api: Api, file_id: str) -> bytes:
    answer = api.get(f"/v1/files/{file_id}/content")
    assert answer.status_code == 302, answer.text
    return requests.get(answer.headers["Location"], timeout=10).content


def test_known_clean_content_needs_no_bytes(klass: dict[str, Any]) -> None:
    teacher, space = klass["teacher"], klass["space"]
    data = b"fiche de revision, chapitre 3\n"
    first = teacher.upload("fiche.txt", data, "text/plain", space=space, sha256=sha(data))
    assert teacher.wait_status(first["fileId"])["status"] == "available"

    again = teacher.grant("fiche-copie.txt", data, "text/plain", space=space, sha256=sha(data).upper())
    assert again.status_code == 201, again.text
    body = again.json()
    assert body["upload"] == {"method": "NONE"}  # no bytes to send: the server copied the clean ones
    assert body["fileId"] != first["fileId"]
    # into the scan's path: only the scanner writes what is served (the API's role cannot)
    file = teacher.wait_status(body["fileId"])
    assert file["status"] == "available" and file["sha256"] == sha(data)
    assert download(teacher, body["fileId"]) == data
    # without a digest, or with another declared type or size, the bytes are needed
    assert teacher.grant("sans.txt", data, "text/plain", space=space).json()["upload"]["method"] == "POST"
    other_type = teacher.grant("autre.csv", data, "text/csv", space=space, sha256=sha(data))
    assert other_type.json()["upload"]["method"] == "POST"
    # a new version of an existing name from known content: version 2 at once
    changed = b"fiche corrigee\n"
    source = teacher.upload("corrigee.txt", changed, "text/plain", space=space, sha256=sha(changed))
    assert teacher.wait_status(source["fileId"])["status"] == "available"
    version = teacher.grant("fiche.txt", changed, "text/plain", space=space, sha256=sha(changed))
    assert version.json()["upload"] == {"method": "NONE"} and version.json()["file"]["version"] == 1
    assert teacher.wait_upload(version.json()["uploadId"])["status"] == "available"
    assert teacher.get(f"/v1/files/{first['fileId']}").json()["version"] == 2
    assert download(teacher, first["fileId"]) == changed


def test_dedup_never_reveals_a_classmates_submission(admin: Api, klass: dict[str, Any]) -> None:
    teacher = klass["teacher"]
    created = teacher.post(
        f"/v1/classes/{klass['id']}/assignments",
        {"title": "Dissertation", "dueAt": (utcnow() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")},
    )
    assert created.status_code == 201, created.text
    space = created.json()["space"]
    alice, bob = klass["students"]
    essay = b"ma dissertation, toute seule\n"
    grant = alice.upload("copie.txt", essay, "text/plain", space=space, sha256=sha(essay))
    assert alice.wait_status(grant["fileId"])["status"] == "available"
    probe = bob.grant("copie.txt", essay, "text/plain", space=space, sha256=sha(essay))
    assert probe.status_code == 201 and probe.json()["upload"]["method"] == "POST"  # as if unknown
    # her own second file with the same bytes is deduplicated
    mine = alice.grant("copie-bis.txt", essay, "text/plain", space=space, sha256=sha(essay))
    assert mine.json()["upload"] == {"method": "NONE"}


def test_trash_lists_what_the_caller_may_restore(klass: dict[str, Any]) -> None:
    teacher, space = klass["teacher"], klass["space"]
    student = klass["students"][0]
    grant = teacher.upload("ancien.txt", b"ancien cours\n", "text/plain", space=space)
    teacher.wait_status(grant["fileId"])
    assert teacher.request("DELETE", f"/v1/files/{grant['fileId']}").status_code == 204
    trash = teacher.get(f"/v1/spaces/{space}/trash").json()["items"]
    assert [f["id"] for f in trash] == [grant["fileId"]]
    assert trash[0]["purgeAt"] > trash[0]["trashedAt"]
    assert student.get(f"/v1/spaces/{space}/trash").json()["items"] == []  # students cannot restore here
    outsider = Api(teacher.base, None)  # no token
    assert outsider.get(f"/v1/spaces/{space}/trash").status_code == 401


def test_purge_after_30_days_removes_objects_and_records(stack: LocalStack, klass: dict[str, Any]) -> None:
    teacher, space = klass["teacher"], klass["space"]
    doomed = teacher.upload("perime.txt", b"v1\n", "text/plain", space=space)
    teacher.wait_status(doomed["fileId"])
    teacher.upload("perime.txt", b"v2\n", "text/plain", space=space)
    kept = teacher.upload("garde.txt", b"garde\n", "text/plain", space=space)
    teacher.wait_status(kept["fileId"])
    versions = teacher.get(f"/v1/files/{doomed['fileId']}/versions").json()["items"]
    while len(versions) < 2:
        versions = teacher.get(f"/v1/files/{doomed['fileId']}/versions").json()["items"]
    shared = teacher.post(
        "/v1/shares", {"fileId": doomed["fileId"], "with": {"type": "class", "id": klass["id"]}, "role": "viewer"}
    )
    assert shared.status_code == 201, shared.text
    for grant in (doomed, kept):
        assert teacher.request("DELETE", f"/v1/files/{grant['fileId']}").status_code == 204
    assert teacher.post(f"/v1/files/{kept['fileId']}/restore").status_code == 200

    catalog = stack.catalog()
    s3 = stack.aws("s3")
    keys = [v.object_key for v in catalog.file_versions(doomed["fileId"])]
    assert len(keys) == 2
    trash = TrashService(catalog, AccessControl(catalog, load_rules()), S3ObjectStore(s3, stack.config.bucket))
    assert trash.purge(utcnow()).purged == 0  # nothing is due yet
    report = trash.purge(utcnow() + timedelta(days=30, minutes=1))
    assert report.purged >= 1
    for key in keys:
        with pytest.raises(s3.exceptions.ClientError):
            s3.head_object(Bucket=stack.config.bucket, Key=key)
    assert catalog.file_versions(doomed["fileId"]) == []
    assert catalog.file_shares(doomed["fileId"]) == []
    assert catalog.get_share(SCHOOL, shared.json()["id"]) is None
    assert teacher.post(f"/v1/files/{doomed['fileId']}/restore").status_code == 404
    assert teacher.get(f"/v1/files/{kept['fileId']}").json()["status"] == "available"  # restored: kept
    assert download(teacher, kept["fileId"]) == b"garde\n"
    assert trash.purge(utcnow() + timedelta(days=30, minutes=1)).purged == 0  # a second run finds nothing
