"""A rescan that acts, over the real stack: clamd learns a new signature that matches a file already
served; the rescan (run by hand, as an operator would) quarantines it, its share to a teacher ends,
its feeds report it gone, and its owner and that teacher are told."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from typing import Any

import pytest

from local.stack import ROOT, LocalStack

pytestmark = pytest.mark.integration


def rescan(stack: LocalStack, *args: str) -> list[str]:
    """`python -m local.rescan`, with the functions' environment: its progress lines then the record."""
    done = subprocess.run(
        [sys.executable, "-m", "local.rescan", *args],
        cwd=ROOT,
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return done.stdout.strip().splitlines()


def test_a_rescan_with_a_new_signature_quarantines_a_served_file(stack: LocalStack, admin: Any, as_user: Any) -> None:
    klass = {"name": "Rescan", "teachers": ["rs-prof"], "students": ["rs-eleve"]}
    assert admin.put("/v1/classes/RS-C", klass).status_code == 200
    student, teacher = as_user("rs-eleve"), as_user("rs-prof", "teacher")
    marker = f"nouvelle menace {uuid.uuid4().hex}".encode()
    bad = student.upload("expose.txt", b"mon expose\n" + marker + b"\nfin\n", "text/plain")
    good = student.upload("propre.txt", b"rien a signaler\n", "text/plain")
    assert student.wait_status(bad["fileId"])["status"] == "available"  # clean for today's signatures
    assert student.wait_status(good["fileId"])["status"] == "available"
    share = {"fileId": bad["fileId"], "with": {"type": "user", "id": "rs-prof"}, "role": "viewer"}
    assert student.post("/v1/shares", share).status_code == 201
    assert teacher.get(f"/v1/files/{bad['fileId']}/content").status_code == 302

    cursor = student.get("/v1/spaces/me/changes").json()["cursor"]  # the tablet is in sync

    stack.clamd.learn("Cartable.Test.Rescan", marker)
    lines = rescan(stack, "--force")
    final = json.loads(lines[-1])
    assert final["finishedAt"] is not None and final["infected"] >= 1 and final["errors"] == 0
    assert any(line.startswith("scanned ") for line in lines[:-1])  # progress as it goes

    file = student.get(f"/v1/files/{bad['fileId']}").json()
    assert (file["status"], file["reason"]) == ("infected", "Cartable.Test.Rescan.UNOFFICIAL")
    assert student.get(f"/v1/files/{bad['fileId']}/content").status_code == 409
    assert teacher.get(f"/v1/files/{bad['fileId']}").status_code == 404  # the share grants nothing now
    assert teacher.get(f"/v1/files/{bad['fileId']}/content").status_code == 404
    assert student.get(f"/v1/files/{good['fileId']}/content").status_code == 302  # the clean one stays
    changes = student.get("/v1/spaces/me/changes", params={"cursor": cursor}).json()["changes"]
    assert [(c["op"], c["file"]["id"]) for c in changes] == [("delete", bad["fileId"])]  # the tablet drops it
    listed = student.get("/v1/spaces/me/files").json()["items"]
    assert {f["id"]: f["status"] for f in listed}[bad["fileId"]] == "infected"  # its owner sees why
    for user in (student, teacher):
        notes = user.get("/v1/notifications").json()["items"]
        assert any(n["type"] == "file.quarantined" and n["fileId"] == bad["fileId"] for n in notes), notes

    # The generation is done: a run without --force reads nothing again.
    assert json.loads(rescan(stack)[-1])["startedAt"] == final["startedAt"]
