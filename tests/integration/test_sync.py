"""Device sync over the real stack: changes feed, long-poll, trash and restore, conflicts, batch grants."""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from typing import Any

import pytest
import requests

from tests.integration.conftest import Api

pytestmark = pytest.mark.integration


class Device:
    """A tablet following a space: it applies the feed to a local copy, page by page."""

    def __init__(self, api: Api, space: str, page: int = 2) -> None:
        self.api, self.space, self.page = api, space, page
        self.files: dict[str, dict[str, Any]] = {}
        self.cursor: str | None = None

    def sync(self) -> int:
        rounds = 0
        while True:
            params: dict[str, Any] = {"limit": self.page}
            if self.cursor:
                params["cursor"] = self.cursor
            answer = self.api.get(f"/v1/spaces/{self.space}/changes", params=params)
            assert answer.status_code == 200, answer.text
            body = answer.json()
            for change in body["changes"]:
                if change["op"] == "delete":
                    self.files.pop(change["file"]["id"], None)
                else:
                    assert change["file"]["status"] == "available"
                    self.files[change["file"]["id"]] = change["file"]
            self.cursor = body["cursor"]
            rounds += 1
            if not body["hasMore"]:
                return rounds

    def state(self) -> dict[str, tuple[str, int]]:
        return {i: (f["name"], f["version"]) for i, f in self.files.items()}


def listing_state(api: Api, space: str) -> dict[str, tuple[str, int]]:
    items = api.get(f"/v1/spaces/{space}/files", params={"limit": 1000}).json()["items"]
    return {f["id"]: (f["name"], f["version"]) for f in items if f["status"] == "available"}


def wait_version(api: Api, file_id: str, version: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if api.get(f"/v1/files/{file_id}").json().get("version") == version:
            return
        time.sleep(0.1)
    raise AssertionError(f"{file_id} never reached version {version}")


@pytest.fixture
def class_space(admin: Api, as_user: Any) -> dict[str, Any]:
    s = uuid.uuid4().hex[:6]
    class_id = f"Y-{s}"
    admin.put(
        f"/v1/classes/{class_id}", {"name": "Sync", "teachers": [f"prof-{s}"], "students": [f"el1-{s}", f"el2-{s}"]}
    )
    return {
        "space": f"class:{class_id}",
        "teacher": as_user(f"prof-{s}", "teacher"),
        "students": [as_user(f"el1-{s}"), as_user(f"el2-{s}")],
        "admin": admin,
        "class_id": class_id,
        "suffix": s,
    }


def test_two_devices_converge_from_scratch_and_incrementally(class_space: dict[str, Any]) -> None:
    teacher, space = class_space["teacher"], class_space["space"]
    tablet, laptop = (Device(s, space) for s in class_space["students"])
    ids = []
    for n in range(5):
        grant = teacher.upload(f"cours-{n}.txt", f"cours {n}\n".encode(), "text/plain", space=space)
        teacher.wait_status(grant["fileId"])
        ids.append(grant["fileId"])
    tablet.sync()
    assert tablet.state() == listing_state(teacher, space) and len(tablet.files) == 5

    replaced = teacher.upload("cours-1.txt", b"cours 1, corrige\n", "text/plain", space=space)
    wait_version(teacher, replaced["fileId"], 2)
    assert teacher.request("DELETE", f"/v1/files/{ids[3]}").status_code == 204
    added = teacher.upload("cours-9.txt", b"nouveau\n", "text/plain", space=space)
    teacher.wait_status(added["fileId"])

    assert tablet.sync() >= 2  # incrementally, across pages of limit=2
    laptop.sync()  # from scratch
    expected = listing_state(teacher, space)
    assert tablet.state() == laptop.state() == expected
    assert expected[ids[1]] == ("cours-1.txt", 2) and ids[3] not in expected
    # nothing new: an empty page, the same position
    cursor = tablet.cursor
    body = tablet.api.get(f"/v1/spaces/{space}/changes", params={"cursor": cursor}).json()
    assert body["changes"] == [] and body["hasMore"] is False


def test_trash_and_restore_appear_in_the_feed(class_space: dict[str, Any]) -> None:
    teacher, space = class_space["teacher"], class_space["space"]
    device = Device(class_space["students"][0], space)
    grant = teacher.upload("fiche.txt", b"fiche\n", "text/plain", space=space)
    teacher.wait_status(grant["fileId"])
    device.sync()
    assert teacher.request("DELETE", f"/v1/files/{grant['fileId']}").status_code == 204
    assert teacher.get(f"/v1/files/{grant['fileId']}").status_code == 404
    assert grant["fileId"] not in listing_state(teacher, space)
    device.sync()
    assert grant["fileId"] not in device.files
    # a student may not delete class material; nor restore it
    restored = teacher.post(f"/v1/files/{grant['fileId']}/restore")
    assert restored.status_code == 200 and restored.json()["version"] == 1
    device.sync()
    assert device.files[grant["fileId"]]["name"] == "fiche.txt"
    assert class_space["students"][0].request("DELETE", f"/v1/files/{grant['fileId']}").status_code == 403
    assert teacher.post(f"/v1/files/{grant['fileId']}/restore").status_code == 404  # not in the trash


def test_restore_refuses_a_name_taken_meanwhile(class_space: dict[str, Any]) -> None:
    teacher, space = class_space["teacher"], class_space["space"]
    first = teacher.upload("plan.txt", b"un\n", "text/plain", space=space)
    teacher.wait_status(first["fileId"])
    teacher.request("DELETE", f"/v1/files/{first['fileId']}")
    second = teacher.upload("plan.txt", b"deux\n", "text/plain", space=space)
    assert second["fileId"] != first["fileId"]
    answer = teacher.post(f"/v1/files/{first['fileId']}/restore")
    assert answer.status_code == 409 and answer.json()["error"]["code"] == "conflict"


def test_a_stale_device_gets_a_conflict(class_space: dict[str, Any]) -> None:
    teacher, space = class_space["teacher"], class_space["space"]
    grant = teacher.upload("notes.txt", b"v1\n", "text/plain", space=space)
    teacher.wait_status(grant["fileId"])
    newer = teacher.upload("notes.txt", b"v2\n", "text/plain", space=space, baseVersion=1)
    wait_version(teacher, newer["fileId"], 2)
    stale = teacher.grant("notes.txt", b"v2 from an offline tablet\n", "text/plain", space=space, baseVersion=1)
    assert stale.status_code == 409 and stale.json()["error"]["code"] == "conflict"
    assert "version is 2" in stale.json()["error"]["message"]
    assert teacher.grant("nouveau.txt", b"x", "text/plain", space=space, baseVersion=0).status_code == 201
    # two devices both holding version 2: the second one's bytes never overwrite the first's
    a = teacher.upload("notes.txt", b"from A\n", "text/plain", space=space, baseVersion=2)
    b = teacher.upload("notes.txt", b"from B\n", "text/plain", space=space, baseVersion=2)
    deadline = time.monotonic() + 10
    verdicts: list[str] = []
    while time.monotonic() < deadline:
        verdicts = sorted(teacher.get(f"/v1/uploads/{u['uploadId']}").json()["status"] for u in (a, b))
        if "pending" not in verdicts:
            break
        time.sleep(0.1)
    assert verdicts == ["available", "rejected"]
    assert teacher.get(f"/v1/files/{grant['fileId']}").json()["version"] == 3


def _tamper(cursor: str) -> str:
    body, _, mac = cursor.partition(".")
    data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    data["q"] = 0
    forged = base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")
    return f"{forged}.{mac}"


def test_forged_truncated_and_foreign_cursors(class_space: dict[str, Any], as_user: Any) -> None:
    teacher, space = class_space["teacher"], class_space["space"]
    grant = teacher.upload("a.txt", b"a\n", "text/plain", space=space)
    teacher.wait_status(grant["fileId"])
    cursor = teacher.get(f"/v1/spaces/{space}/changes").json()["cursor"]
    mine = teacher.get("/v1/spaces/me/changes").json()["cursor"]
    for bad in (_tamper(cursor), cursor[:-3], cursor.split(".")[0], "garbage", mine):
        answer = teacher.get(f"/v1/spaces/{space}/changes", params={"cursor": bad})
        assert answer.status_code == 400, (bad, answer.text)
        assert answer.json()["error"]["code"] == "bad_request"
    # a cursor of a space the caller lost access to: 404
    student = class_space["students"][0]
    student_cursor = student.get(f"/v1/spaces/{space}/changes").json()["cursor"]
    class_space["admin"].put(f"/v1/classes/{class_space['class_id']}", {"name": "Sync", "teachers": [], "students": []})
    assert student.get(f"/v1/spaces/{space}/changes", params={"cursor": student_cursor}).status_code == 404


def test_long_poll_answers_early_on_a_change_and_at_its_timeout(class_space: dict[str, Any]) -> None:
    """Behaviour, not speed: `false` when nothing changed by the timeout; `true` once something did,
    answered long before its own 25 s timeout (a generous deadline, never a tight bound)."""
    teacher, space = class_space["teacher"], class_space["space"]
    student = class_space["students"][0]
    cursor = student.get(f"/v1/spaces/{space}/changes").json()["cursor"]
    quiet = student.get(f"/v1/spaces/{space}/changes/poll", params={"cursor": cursor, "timeout": 1}).json()
    assert quiet == {"changes": False}

    result: dict[str, Any] = {}
    polling = threading.Event()

    def wait() -> None:
        polling.set()
        answer = student.get(f"/v1/spaces/{space}/changes/poll", params={"cursor": cursor, "timeout": 25})
        result.update(answer.json())

    waiter = threading.Thread(target=wait)
    waiter.start()
    assert polling.wait(10)
    grant = teacher.upload("urgent.txt", b"controle demain\n", "text/plain", space=space)
    assert teacher.wait_status(grant["fileId"])["status"] == "available"
    waiter.join(timeout=20)  # the poll's own timeout is 25 s: an answer before it is an early one
    assert not waiter.is_alive() and result["changes"] is True
    assert student.get(f"/v1/spaces/{space}/changes/poll", params={"timeout": 26}).status_code == 400


def test_batch_grant_answers_each_item_as_a_single_grant(class_space: dict[str, Any]) -> None:
    teacher, space = class_space["teacher"], class_space["space"]
    uploads = [
        {"space": space, "name": "ok-1.txt", "size": 3, "contentType": "text/plain"},
        {"space": space, "name": "..", "size": 3, "contentType": "text/plain"},
        {"space": space, "name": "big.txt", "size": 10**12, "contentType": "text/plain"},
        {"space": "class:nowhere", "name": "x.txt", "size": 3, "contentType": "text/plain"},
        {"space": space, "name": "ok-2.txt", "size": 3, "contentType": "text/plain"},
    ]
    answer = teacher.post("/v1/uploads/batch", {"uploads": uploads})
    assert answer.status_code == 200, answer.text
    items = answer.json()["items"]
    assert [i["status"] for i in items] == [201, 400, 413, 404, 201]
    assert items[1]["error"]["code"] == "bad_request"
    for item in (items[0], items[4]):
        form = item["upload"]
        requests.post(form["url"], data=form["fields"], files={"file": ("x", b"ok\n", "text/plain")}, timeout=10)
        assert teacher.wait_status(item["fileId"])["status"] == "available"
    assert teacher.post("/v1/uploads/batch", {"uploads": uploads * 21}).status_code == 400
