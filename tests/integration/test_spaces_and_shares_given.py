"""GET /v1/spaces/{space} (a space as the caller sees it) and GET /v1/shares/given (the shares the caller
made), over the real local stack."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.integration.conftest import OTHER_SCHOOL, Api

pytestmark = pytest.mark.integration

PDF = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
DEFAULT_USER, DEFAULT_CLASS = 2147483648, 21474836480  # tests/quotas.json
DEFAULT_SUBMISSION = 1024**3


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def school(admin: Api) -> dict[str, str]:
    s = uuid.uuid4().hex[:6]
    ids = {"class": f"G-{s}", "other": f"X-{s}", "prof": f"prof-{s}", "ana": f"ana-{s}", "bob": f"bob-{s}"}
    ids["zoe"] = f"zoe-{s}"
    answer = admin.put(
        f"/v1/classes/{ids['class']}",
        {"name": "4e Géo", "teachers": [ids["prof"]], "students": [ids["ana"], ids["bob"]]},
    )
    assert answer.status_code == 200, answer.text
    admin.put(f"/v1/classes/{ids['other']}", {"name": "Autre", "teachers": [], "students": [ids["zoe"]]})
    return ids


def available(user: Api, name: str, data: bytes, content_type: str = "text/plain", space: str = "me") -> str:
    grant = user.upload(name, data, content_type, space=space)
    assert user.wait_status(grant["fileId"])["status"] == "available"
    return str(grant["fileId"])


def test_a_pupil_and_a_teacher_see_a_class_folder_differently(as_user: Any, school: dict[str, str]) -> None:
    prof, ana = as_user(school["prof"], "teacher"), as_user(school["ana"])
    space = f"class:{school['class']}"
    seen = ana.get(f"/v1/spaces/{space}")
    assert seen.status_code == 200, seen.text
    assert seen.json() == {
        "space": space,
        "title": "4e Géo",
        "can": {"read": True, "upload": False, "delete": False, "share": False},
        "usage": {"bytes": 0, "quota": DEFAULT_CLASS},
    }
    taught = prof.get(f"/v1/spaces/{space}").json()
    assert taught["can"] == {"read": True, "upload": True, "delete": True, "share": True}
    data = b"cours du lundi\n" * 10
    available(prof, "cours.txt", data, space=space)
    # the class folder's quota is the class's: both see its use grow
    assert prof.get(f"/v1/spaces/{space}").json()["usage"] == {"bytes": len(data), "quota": DEFAULT_CLASS}
    assert ana.get(f"/v1/spaces/{space}").json()["usage"]["bytes"] == len(data)
    # as the upload route itself decides: the pupil is refused, the teacher was not
    assert ana.grant("x.txt", b"x\n", "text/plain", space=space).status_code == 403


def test_my_drive_and_its_usage(as_user: Any, school: dict[str, str]) -> None:
    ana = as_user(school["ana"])
    before = ana.get("/v1/spaces/me")
    assert before.status_code == 200, before.text
    assert before.json() == {
        "space": f"user:{school['ana']}",
        "title": None,
        "can": {"read": True, "upload": True, "delete": True, "share": True},
        "usage": {"bytes": 0, "quota": DEFAULT_USER},
    }
    data = b"mon brouillon\n" * 3
    available(ana, "brouillon.txt", data)
    assert ana.get(f"/v1/spaces/user:{school['ana']}").json()["usage"]["bytes"] == len(data)
    # someone else's drive, even a classmate's, is not there
    bob = as_user(school["bob"])
    assert bob.get(f"/v1/spaces/user:{school['ana']}").status_code == 404


def test_in_an_assignment_a_pupils_usage_is_their_own(as_user: Any, school: dict[str, str]) -> None:
    prof, ana, bob = as_user(school["prof"], "teacher"), as_user(school["ana"]), as_user(school["bob"])
    due = stamp(datetime.now(UTC) + timedelta(days=2))
    created = prof.post(f"/v1/classes/{school['class']}/assignments", {"title": "Carte", "dueAt": due})
    assert created.status_code == 201, created.text
    space = created.json()["space"]
    available(ana, "carte.pdf", PDF, "application/pdf", space=space)
    mine = ana.get(f"/v1/spaces/{space}").json()
    assert mine == {
        "space": space,
        "title": "Carte",
        "can": {"read": True, "upload": True, "delete": True, "share": False},
        "usage": {"bytes": len(PDF), "quota": DEFAULT_SUBMISSION},
    }
    assert bob.get(f"/v1/spaces/{space}").json()["usage"] == {"bytes": 0, "quota": DEFAULT_SUBMISSION}
    teacher = prof.get(f"/v1/spaces/{space}").json()
    assert teacher["title"] == "Carte"
    assert teacher["can"] == {"read": True, "upload": False, "delete": False, "share": False}


def test_a_closed_assignment_takes_no_more_uploads(as_user: Any, school: dict[str, str]) -> None:
    prof, ana = as_user(school["prof"], "teacher"), as_user(school["ana"])
    past = stamp(datetime.now(UTC) - timedelta(hours=1))
    space = prof.post(
        f"/v1/classes/{school['class']}/assignments", {"title": "Fini", "dueAt": past, "closesAt": past}
    ).json()["space"]
    assert ana.get(f"/v1/spaces/{space}").json()["can"]["upload"] is False


def test_a_space_the_caller_cannot_see_answers_404(as_user: Any, admin: Api, school: dict[str, str]) -> None:
    zoe, prof = as_user(school["zoe"]), as_user(school["prof"], "teacher")
    foreign = f"class:{school['class']}"
    missing = zoe.get("/v1/spaces/class:no-such-class")
    assert missing.status_code == 404
    for answer in (
        zoe.get(f"/v1/spaces/{foreign}"),
        as_user(school["prof"], "teacher", OTHER_SCHOOL).get(f"/v1/spaces/{foreign}"),
        prof.get(f"/v1/spaces/class:{school['other']}"),
        zoe.get("/v1/spaces/assignment:nope"),
        zoe.get("/v1/spaces/bogus"),
    ):
        assert answer.status_code == 404 and answer.json() == missing.json()
    # exactly as listing that space answers
    assert zoe.get(f"/v1/spaces/{foreign}/files").json() == missing.json()
    # an admin sees every class folder of the school
    assert admin.get(f"/v1/spaces/{foreign}").json()["can"]["upload"] is True


def test_shares_given_newest_first_a_page_at_a_time(as_user: Any, school: dict[str, str]) -> None:
    ana, bob, prof = as_user(school["ana"]), as_user(school["bob"]), as_user(school["prof"], "teacher")
    files = [available(ana, f"doc{n}.txt", f"doc {n}\n".encode()) for n in range(3)]
    made = []
    for file_id in files:
        answer = ana.post(
            "/v1/shares", {"fileId": file_id, "with": {"type": "user", "id": school["bob"]}, "role": "viewer"}
        )
        assert answer.status_code == 201, answer.text
        made.append(answer.json())
    past = stamp(datetime.now(UTC) - timedelta(minutes=5))
    expired = ana.post(
        "/v1/shares",
        {"fileId": files[0], "with": {"type": "user", "id": school["prof"]}, "role": "viewer", "expiresAt": past},
    )
    assert expired.status_code == 201
    # someone else's shares, even of the same file's reader, never show in ana's list
    bobs = available(bob, "bob.txt", b"bob\n")
    assert (
        bob.post(
            "/v1/shares", {"fileId": bobs, "with": {"type": "user", "id": school["ana"]}, "role": "viewer"}
        ).status_code
        == 201
    )

    everything = ana.get("/v1/shares/given").json()
    assert everything["nextCursor"] is None
    ids = [item["id"] for item in everything["items"]]
    assert set(ids) == {share["id"] for share in made}  # the expired one is not listed
    first = everything["items"][0]
    assert first["createdBy"] == school["ana"] and first["with"] == {"type": "user", "id": school["bob"]}
    assert first["file"]["id"] == first["fileId"] and first["role"] == "viewer"

    pages: list[str] = []
    cursor = None
    for _ in range(5):
        page = ana.get("/v1/shares/given", params={"limit": 1, **({"cursor": cursor} if cursor else {})}).json()
        pages += [item["id"] for item in page["items"]]
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert pages == ids  # every share once, in the same order, one at a time

    assert ana.request("DELETE", f"/v1/shares/{made[1]['id']}").status_code == 204
    assert [item["id"] for item in ana.get("/v1/shares/given").json()["items"]] == [
        i for i in ids if i != made[1]["id"]
    ]
    given_by_bob = bob.get("/v1/shares/given").json()["items"]
    assert [item["fileId"] for item in given_by_bob] == [bobs]
    assert prof.get("/v1/shares/given").json() == {"items": [], "nextCursor": None}
    assert ana.get("/v1/shares/given", params={"limit": 0}).status_code == 400
    assert ana.get("/v1/shares/given", params={"cursor": "not-a-cursor"}).status_code == 400
