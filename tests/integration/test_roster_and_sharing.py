"""Roster import, shares and the audit trail over the real local stack."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from tests.integration.conftest import OTHER_SCHOOL, Api

pytestmark = pytest.mark.integration


def tag() -> str:
    return uuid.uuid4().hex[:6]


def csv_post(user: Api, text: str | bytes) -> requests.Response:
    data = text.encode() if isinstance(text, str) else text
    return user.request("POST", "/v1/roster/import", data=data, headers={"Content-Type": "text/csv"})


def school_csv(suffix: str, classes: int, students_per_class: int) -> str:
    lines = ["class_id,class_name,user_id,role"]
    for c in range(classes):
        lines.append(f"C{c}-{suffix},Classe {c},prof{c}-{suffix},teacher")
        lines += [f"C{c}-{suffix},Classe {c},el{c}x{s}-{suffix},student" for s in range(students_per_class)]
    return "\n".join(lines) + "\n"


def test_a_school_sized_import_applies_and_reimporting_changes_nothing(admin: Api, as_user: Any) -> None:
    suffix = tag()
    text = school_csv(suffix, classes=60, students_per_class=25)  # 1,500 students, 60 classes
    started = time.monotonic()
    answer = csv_post(admin, text)
    elapsed = time.monotonic() - started
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"classes": 60, "members": 1560, "errors": []}
    print(f"import of 1,560 members in 60 classes: {elapsed:.2f}s")
    student = as_user(f"el7x3-{suffix}")
    assert [c["id"] for c in student.get("/v1/classes").json()["items"]] == [f"C7-{suffix}"]
    before = admin.get("/v1/classes?limit=1000").json()["items"]
    again = csv_post(admin, text)
    assert again.json() == {"classes": 60, "members": 1560, "errors": []}
    assert admin.get("/v1/classes?limit=1000").json()["items"] == before


def test_bad_lines_are_reported_and_good_ones_applied(admin: Api, as_user: Any) -> None:
    s = tag()
    text = (
        "class_id,class_name,user_id,role\n"
        f"A-{s},6e A,prof-{s},teacher\n"
        f"A-{s},6e A,ana-{s},student\n"
        f"A-{s},6e A,ana-{s},student\n"  # 4: duplicate
        f"A-{s},6e A,bob-{s},principal\n"  # 5: unknown role
        f"A-{s},6e A,bad/id,student\n"  # 6: bad user id
        f"A-{s},Autre nom,cyd-{s},student\n"  # 7: another name for the class
        f"A-{s},6e A,too,many,fields\n"  # 8
        f"A-{s},6e A,prof-{s},student\n"  # 9: contradicts line 2
        f"A-{s},6e A,dan-{s},student\n"
    )
    office = as_user(f"office-{s}", "admin")
    answer = csv_post(office, text)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["classes"] == 1 and body["members"] == 3
    (trail,) = admin.get("/v1/audit", params={"user": f"office-{s}"}).json()["items"]  # who imported what
    assert (trail["action"], trail["reason"]) == ("roster.import", "1 classes, 3 members, 6 lines refused")
    assert [e["line"] for e in body["errors"]] == [4, 5, 6, 7, 8, 9]
    assert all(e["message"] for e in body["errors"])
    cls = next(c for c in admin.get("/v1/classes?limit=1000").json()["items"] if c["id"] == f"A-{s}")
    assert cls == {"id": f"A-{s}", "name": "6e A", "teachers": [f"prof-{s}"], "students": [f"ana-{s}", f"dan-{s}"]}
    assert as_user(f"bob-{s}").get("/v1/classes").json()["items"] == []


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ("class_id,class_name,user_id\nA,B,C\n", 400),  # missing column
        ("", 400),
        (b"\xff\xfe\x00garbage\x00", 400),
        (b"x" * (10 * 1024 * 1024), 413),  # 10 MB of garbage
    ],
    ids=["missing-column", "empty", "binary", "10MB"],
)
def test_malformed_imports_get_a_clear_answer(admin: Api, body: Any, status: int) -> None:
    answer = csv_post(admin, body)
    assert answer.status_code == status, answer.text[:200]
    assert answer.json()["error"]["message"]


def test_only_admins_import(as_user: Any) -> None:
    answer = csv_post(as_user("prof-x", "teacher"), "class_id,class_name,user_id,role\n")
    assert answer.status_code == 403


def test_removal_by_import_revokes_on_the_next_request(admin: Api, as_user: Any) -> None:
    s = tag()
    csv_post(admin, f"class_id,class_name,user_id,role\nR-{s},R,prof-{s},teacher\nR-{s},R,eve-{s},student\n")
    student = as_user(f"eve-{s}")
    assert student.get(f"/v1/spaces/class:R-{s}/files").status_code == 200
    csv_post(admin, f"class_id,class_name,user_id,role\nR-{s},R,prof-{s},teacher\n")
    assert student.get(f"/v1/spaces/class:R-{s}/files").status_code == 404


@pytest.fixture
def sharing_class(admin: Api) -> dict[str, str]:
    s = tag()
    ids = {
        "class": f"S-{s}",
        "other": f"T-{s}",
        "prof": f"prof-{s}",
        "ana": f"ana-{s}",
        "bob": f"bob-{s}",
        "zoe": f"zoe-{s}",
    }
    admin.put(
        f"/v1/classes/{ids['class']}", {"name": "S", "teachers": [ids["prof"]], "students": [ids["ana"], ids["bob"]]}
    )
    admin.put(f"/v1/classes/{ids['other']}", {"name": "T", "teachers": [], "students": [ids["zoe"]]})
    return ids


def _own_file(user: Api, name: str = "expose.txt", data: bytes = b"mon expose\n") -> str:
    grant = user.upload(name, data, "text/plain")
    assert user.wait_status(grant["fileId"])["status"] == "available"
    return str(grant["fileId"])


def test_share_with_a_classmate_then_revoke(as_user: Any, sharing_class: dict[str, str]) -> None:
    ana, bob = as_user(sharing_class["ana"]), as_user(sharing_class["bob"])
    file_id = _own_file(ana)
    assert bob.get(f"/v1/files/{file_id}").status_code == 404
    answer = ana.post(
        "/v1/shares", {"fileId": file_id, "with": {"type": "user", "id": sharing_class["bob"]}, "role": "viewer"}
    )
    assert answer.status_code == 201, answer.text
    share = answer.json()
    assert share["with"] == {"type": "user", "id": sharing_class["bob"]} and share["role"] == "viewer"
    assert share["expiresAt"] is None and share["createdBy"] == sharing_class["ana"]
    received = bob.get("/v1/shares/received").json()["items"]
    assert [(r["id"], r["file"]["id"]) for r in received] == [(share["id"], file_id)]
    content = bob.get(f"/v1/files/{file_id}/content")
    assert content.status_code == 302
    assert requests.get(content.headers["Location"], timeout=10).content == b"mon expose\n"
    # a viewer cannot write a new version, nor revoke the share
    assert bob.grant("expose.txt", b"pirate", "text/plain", space=f"user:{sharing_class['ana']}").status_code == 403
    assert bob.request("DELETE", f"/v1/shares/{share['id']}").status_code == 404
    assert ana.request("DELETE", f"/v1/shares/{share['id']}").status_code == 204
    assert bob.get(f"/v1/files/{file_id}").status_code == 404
    assert bob.get("/v1/shares/received").json()["items"] == []
    assert ana.request("DELETE", f"/v1/shares/{share['id']}").status_code == 404


def test_an_editor_may_upload_a_new_version(as_user: Any, sharing_class: dict[str, str]) -> None:
    ana, bob = as_user(sharing_class["ana"]), as_user(sharing_class["bob"])
    file_id = _own_file(ana, "groupe.txt", b"v1\n")
    ana.post("/v1/shares", {"fileId": file_id, "with": {"type": "user", "id": sharing_class["bob"]}, "role": "editor"})
    grant = bob.upload("groupe.txt", b"v2 par bob\n", "text/plain", space=f"user:{sharing_class['ana']}")
    assert grant["fileId"] == file_id
    deadline = time.monotonic() + 10
    while ana.get(f"/v1/files/{file_id}").json()["version"] != 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert ana.get(f"/v1/files/{file_id}").json()["version"] == 2
    # an editor of one file may not add other files to the drive
    assert bob.grant("autre.txt", b"x", "text/plain", space=f"user:{sharing_class['ana']}").status_code == 404


def test_share_with_a_class_reaches_its_members_only_while_they_are_members(
    admin: Api, as_user: Any, sharing_class: dict[str, str]
) -> None:
    prof = as_user(sharing_class["prof"], "teacher")
    file_id = _own_file(prof, "fiche.txt", b"fiche de revision\n")
    answer = prof.post(
        "/v1/shares", {"fileId": file_id, "with": {"type": "class", "id": sharing_class["class"]}, "role": "viewer"}
    )
    assert answer.status_code == 201, answer.text
    bob = as_user(sharing_class["bob"])
    assert bob.get(f"/v1/files/{file_id}").status_code == 200
    assert as_user(sharing_class["zoe"]).get(f"/v1/files/{file_id}").status_code == 404
    admin.put(
        f"/v1/classes/{sharing_class['class']}",
        {"name": "S", "teachers": [sharing_class["prof"]], "students": [sharing_class["ana"]]},
    )
    assert bob.get(f"/v1/files/{file_id}").status_code == 404


def test_an_expired_share_grants_nothing(as_user: Any, sharing_class: dict[str, str]) -> None:
    ana, bob = as_user(sharing_class["ana"]), as_user(sharing_class["bob"])
    file_id = _own_file(ana)
    past = (datetime.now(UTC) - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    answer = ana.post(
        "/v1/shares",
        {"fileId": file_id, "with": {"type": "user", "id": sharing_class["bob"]}, "role": "editor", "expiresAt": past},
    )
    assert answer.status_code == 201
    assert bob.get(f"/v1/files/{file_id}").status_code == 404
    assert bob.get("/v1/shares/received").json()["items"] == []


def test_share_targets_follow_the_rules(as_user: Any, sharing_class: dict[str, str]) -> None:
    ana = as_user(sharing_class["ana"])
    file_id = _own_file(ana)

    def share(kind: str, ident: str) -> int:
        body = {"fileId": file_id, "with": {"type": kind, "id": ident}, "role": "viewer"}
        return ana.post("/v1/shares", body).status_code

    assert share("user", sharing_class["prof"]) == 201  # a teacher of her class
    assert share("class", sharing_class["class"]) == 201  # her own class
    assert share("user", sharing_class["zoe"]) == 403  # a student of another class
    assert share("class", sharing_class["other"]) == 403
    assert share("user", "nobody-at-all") == 404
    assert share("class", "no-such-class") == 404
    # bob sees the file through the class share but may not reshare it: 403
    bob = as_user(sharing_class["bob"])
    body = {"fileId": file_id, "with": {"type": "user", "id": sharing_class["bob"]}, "role": "viewer"}
    assert bob.post("/v1/shares", body).status_code == 403
    # zoe cannot see it at all: 404, exactly as a missing one
    zoe = as_user(sharing_class["zoe"])
    assert zoe.post("/v1/shares", body).json() == zoe.post("/v1/shares", {**body, "fileId": "missing"}).json()


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"fileId": "a/b", "with": {"type": "user", "id": "x"}, "role": "viewer"},
        {"fileId": "f", "with": {"type": "group", "id": "x"}, "role": "viewer"},
        {"fileId": "f", "with": {"type": "user", "id": "x"}, "role": "owner"},
        {"fileId": "f", "with": {"type": "user", "id": "x"}, "role": "viewer", "expiresAt": "tomorrow"},
    ],
)
def test_bad_share_bodies_answer_400(as_user: Any, body: dict[str, Any]) -> None:
    assert as_user("someone").post("/v1/shares", body).status_code == 400


def test_idor_attempts_all_answer_the_same_404(admin: Api, as_user: Any, sharing_class: dict[str, str]) -> None:
    ana, zoe = as_user(sharing_class["ana"]), as_user(sharing_class["zoe"])
    file_id = _own_file(ana)
    share = ana.post(
        "/v1/shares", {"fileId": file_id, "with": {"type": "user", "id": sharing_class["bob"]}, "role": "viewer"}
    ).json()
    prof = as_user(sharing_class["prof"], "teacher")
    class_file = prof.upload("cours.txt", b"cours\n", "text/plain", space=f"class:{sharing_class['class']}")
    prof.wait_status(class_file["fileId"])
    missing = zoe.get("/v1/files/NoSuchFileAtAll").json()
    attempts = [
        zoe.get(f"/v1/files/{file_id}"),  # another student's file
        zoe.get(f"/v1/files/{file_id}/content"),
        zoe.request("DELETE", f"/v1/shares/{share['id']}"),  # someone else's share
        as_user("intrus", "teacher", OTHER_SCHOOL).get(f"/v1/spaces/class:{sharing_class['class']}/files"),
        as_user("intrus", "admin", OTHER_SCHOOL).get(f"/v1/files/{class_file['fileId']}"),
    ]
    # a student who left the class
    admin.put(
        f"/v1/classes/{sharing_class['class']}",
        {"name": "S", "teachers": [sharing_class["prof"]], "students": [sharing_class["bob"]]},
    )
    attempts.append(ana.get(f"/v1/files/{class_file['fileId']}"))
    for answer in attempts:
        assert answer.status_code == 404
        assert answer.json() == missing


def test_audit_trail_records_grants_downloads_shares_and_denials(
    admin: Api, as_user: Any, sharing_class: dict[str, str]
) -> None:
    ana, zoe = as_user(sharing_class["ana"]), as_user(sharing_class["zoe"])
    file_id = _own_file(ana)
    ana.get(f"/v1/files/{file_id}/content")
    share = ana.post(
        "/v1/shares", {"fileId": file_id, "with": {"type": "user", "id": sharing_class["bob"]}, "role": "viewer"}
    ).json()
    ana.request("DELETE", f"/v1/shares/{share['id']}")
    zoe.get(f"/v1/files/{file_id}")
    trail = admin.get("/v1/audit", params={"user": sharing_class["ana"]}).json()["items"]
    assert [e["action"] for e in trail] == ["share.revoke", "share.create", "file.download", "upload.grant"]
    assert all(e["actor"] == sharing_class["ana"] and e["decision"] == "allow" for e in trail)
    denied = admin.get("/v1/audit", params={"user": sharing_class["zoe"]}).json()["items"]
    assert denied[0]["action"] == "access.denied" and denied[0]["decision"] == "deny"
    assert denied[0]["target"] == f"GET /v1/files/{file_id}"
    # never another school's, and never for non-admins
    assert (
        as_user("admin-1", "admin", OTHER_SCHOOL)
        .get("/v1/audit", params={"user": sharing_class["ana"]})
        .json()["items"]
        == []
    )
    assert ana.get("/v1/audit").status_code == 403


def test_shares_received_come_a_page_at_a_time_from_the_user_and_their_classes(
    as_user: Any, sharing_class: dict[str, str]
) -> None:
    ana, bob, prof = as_user(sharing_class["ana"]), as_user(sharing_class["bob"]), as_user(sharing_class["prof"])
    made = set()
    for n in range(4):  # directly with bob
        file_id = _own_file(ana, f"direct-{n}.txt", f"direct {n}\n".encode())
        body = {"fileId": file_id, "with": {"type": "user", "id": sharing_class["bob"]}, "role": "viewer"}
        made.add(ana.post("/v1/shares", body).json()["id"])
    for n in range(3):  # with bob's class
        file_id = _own_file(prof, f"classe-{n}.txt", f"classe {n}\n".encode())
        body = {"fileId": file_id, "with": {"type": "class", "id": sharing_class["class"]}, "role": "viewer"}
        made.add(prof.post("/v1/shares", body).json()["id"])
    seen: list[dict[str, Any]] = []
    cursor = None
    for _ in range(10):
        params = {"limit": "3", **({"cursor": cursor} if cursor else {})}
        page = bob.get("/v1/shares/received", params=params).json()
        assert len(page["items"]) <= 3
        seen += page["items"]
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert [s["id"] for s in seen if s["id"] in made] == [s["id"] for s in seen]  # nothing of others'
    assert {s["id"] for s in seen} == made and len(seen) == len(made)  # each once, none skipped
    stamps = [(s["createdAt"], s["id"]) for s in seen]
    assert stamps == sorted(stamps, reverse=True)  # newest first across the partitions
    assert bob.get("/v1/shares/received", params={"cursor": "pas-un-curseur"}).status_code == 400
    assert bob.get("/v1/shares/received", params={"limit": "0"}).status_code == 400


def test_a_file_a_pupil_cannot_see_answers_404_whatever_the_method(as_user: Any, sharing_class: dict[str, str]) -> None:
    """A refused file in the class folder shows to its teachers only: to a pupil of the class it does not
    exist, to a DELETE as to a GET (403 would say the id exists); a served one she may read but not delete."""
    from local.clamav import EICAR

    prof, ana = as_user(sharing_class["prof"], "teacher"), as_user(sharing_class["ana"])
    space = f"class:{sharing_class['class']}"
    infected = prof.upload("virus.txt", EICAR, "text/plain", space=space)
    assert prof.wait_status(infected["fileId"])["status"] == "infected"
    served = prof.upload("cours-2.txt", b"cours\n", "text/plain", space=space)
    assert prof.wait_status(served["fileId"])["status"] == "available"
    missing = ana.request("DELETE", "/v1/files/NoSuchFileAtAll")
    for answer in (
        ana.get(f"/v1/files/{infected['fileId']}"),
        ana.request("DELETE", f"/v1/files/{infected['fileId']}"),
    ):
        assert (answer.status_code, answer.json()) == (404, missing.json())
    refused = ana.request("DELETE", f"/v1/files/{served['fileId']}")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
