"""ZIPs built off the request, over the real stack (the jobs queue and its pump run `run_jobs`):
asked with POST, checked at once, followed with GET /v1/jobs/{id}, fetched once ready."""

from __future__ import annotations

import io
import json
import time
import zipfile
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

pytestmark = pytest.mark.integration


def wait_job(user: Any, job_id: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        job: dict[str, Any] = user.get(f"/v1/jobs/{job_id}").json()
        if job["status"] != "pending" or time.monotonic() > deadline:
            return job
        time.sleep(0.2)


def fetch_zip(user: Any, job_id: str) -> zipfile.ZipFile:
    answer = user.get(f"/v1/jobs/{job_id}/content")
    assert answer.status_code == 302, answer.text
    return zipfile.ZipFile(io.BytesIO(requests.get(answer.headers["Location"], timeout=30).content))


def test_an_export_asked_with_post_is_built_off_the_request(as_user: Any) -> None:
    student = as_user("job-eleve")
    grant = student.upload("cahier.txt", b"mon cahier\n", "text/plain")
    assert student.wait_status(grant["fileId"])["status"] == "available"
    answer = student.post("/v1/me/export")
    assert answer.status_code == 202, answer.text
    job = answer.json()
    assert (job["kind"], job["subject"], job["status"]) == ("export", "job-eleve", "pending")
    assert as_user("job-autre").get(f"/v1/jobs/{job['id']}").status_code == 404  # the requester's only
    done = wait_job(student, job["id"])
    assert done["status"] == "ready" and done["finishedAt"] is not None, done
    archive = fetch_zip(student, job["id"])
    manifest = json.loads(archive.read("manifest.json"))
    assert [f["id"] for f in manifest["files"]] == [grant["fileId"]]
    assert as_user("job-autre").get(f"/v1/jobs/{job['id']}/content").status_code == 404
    assert student.get("/v1/jobs/pas-un-job").status_code == 404


def test_rights_are_checked_when_asked_not_only_when_built(as_user: Any, admin: Any) -> None:
    assert as_user("job-eleve-2").post("/v1/users/job-eleve/export").status_code == 404
    assert admin.post("/v1/users/job-eleve/export").status_code == 202
    klass = {"name": "Jobs", "teachers": ["job-prof"], "students": ["job-eleve-3"]}
    assert admin.put("/v1/classes/JOB-C", klass).status_code == 200
    prof, student = as_user("job-prof", "teacher"), as_user("job-eleve-3")
    due = (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assignment = prof.post("/v1/classes/JOB-C/assignments", {"title": "Jobs", "dueAt": due}).json()
    sent = student.upload("rendu.txt", b"mon rendu\n", "text/plain", space=assignment["space"])
    assert student.wait_status(sent["fileId"])["status"] == "available"
    assert student.post(f"/v1/assignments/{assignment['id']}/archive").status_code == 403
    answer = prof.post(f"/v1/assignments/{assignment['id']}/archive")
    assert answer.status_code == 202, answer.text
    assert wait_job(prof, answer.json()["id"])["status"] == "ready"
    names = fetch_zip(prof, answer.json()["id"]).namelist()
    assert len(names) == 1 and names[0].endswith("job-eleve-3 - rendu.txt")
