"""PATCH /v1/files/{fileId}: rename a file or move it to another folder of its space, over the real local
stack (run it on PostgreSQL too: CARTABLE_TEST_CATALOG=postgres)."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from tests.integration.conftest import Api

pytestmark = pytest.mark.integration


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def patch(user: Api, file_id: str, body: Any) -> requests.Response:
    return user.request("PATCH", f"/v1/files/{file_id}", json=body)


def available(user: Api, name: str, data: bytes = b"un devoir\n", space: str = "me", path: str = "/") -> dict[str, Any]:
    grant = user.upload(name, data, "text/plain", space=space, path=path)
    file = user.wait_status(grant["fileId"])
    assert file["status"] == "available", file
    return file


def listing(user: Api, space: str, path: str) -> tuple[list[str], list[str]]:
    answer = user.get(f"/v1/spaces/{space}/files", params={"path": path})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    return body["folders"], [f["name"] for f in body["items"]]


def error_code(answer: requests.Response) -> str:
    return str(answer.json()["error"]["code"])


@pytest.fixture
def school(admin: Api) -> dict[str, str]:
    s = uuid.uuid4().hex[:6]
    ids = {"class": f"R-{s}", "other": f"Q-{s}", "prof": f"prof-{s}", "ana": f"ana-{s}", "bob": f"bob-{s}"}
    ids["zoe"] = f"zoe-{s}"
    answer = admin.put(
        f"/v1/classes/{ids['class']}", {"name": "5e", "teachers": [ids["prof"]], "students": [ids["ana"], ids["bob"]]}
    )
    assert answer.status_code == 200, answer.text
    admin.put(f"/v1/classes/{ids['other']}", {"name": "Autre", "teachers": [], "students": [ids["zoe"]]})
    return ids


def test_rename_then_move_into_a_subfolder(as_user: Any, school: dict[str, str]) -> None:
    ana = as_user(school["ana"])
    file = available(ana, "brouillon.txt")
    renamed = patch(ana, file["id"], {"name": "devoir.txt"})
    assert renamed.status_code == 200, renamed.text
    body = renamed.json()
    assert (body["id"], body["path"], body["name"]) == (file["id"], "/", "devoir.txt")
    assert body["version"] == file["version"] and body["updatedAt"] >= file["updatedAt"]
    assert {k: v for k, v in body.items() if k not in ("name", "updatedAt")} == {
        k: v for k, v in file.items() if k not in ("name", "updatedAt")
    }
    moved = patch(ana, file["id"], {"path": "/cours/maths"})  # a folder is written `/a/b/`
    assert moved.status_code == 200, moved.text
    assert (moved.json()["path"], moved.json()["name"]) == ("/cours/maths/", "devoir.txt")
    assert ana.get(f"/v1/files/{file['id']}").json() == moved.json()
    assert listing(ana, "me", "/") == (["cours"], [])
    assert listing(ana, "me", "/cours/") == (["maths"], [])
    assert listing(ana, "me", "/cours/maths/") == ([], ["devoir.txt"])
    both = patch(ana, file["id"], {"path": "/", "name": "e\u0301te\u0301.txt"})  # NFD from an iPad: stored NFC
    assert both.status_code == 200, both.text
    assert (both.json()["path"], both.json()["name"]) == ("/", "\u00e9t\u00e9.txt")
    # folders are written by uploads and moves and stay when emptied (as after a delete)
    assert listing(ana, "me", "/cours/") == (["maths"], [])
    assert listing(ana, "me", "/") == (["cours"], ["\u00e9t\u00e9.txt"])
    # the download names the new name
    answer = ana.get(f"/v1/files/{file['id']}/content")
    assert answer.status_code == 302
    download = requests.get(answer.headers["Location"], timeout=30)
    assert download.status_code == 200 and download.content == b"un devoir\n"
    assert "filename*=UTF-8''%C3%A9t%C3%A9.txt" in download.headers["Content-Disposition"]
    # the same name and folder: nothing changes
    same = patch(ana, file["id"], {"name": "\u00e9t\u00e9.txt", "path": "/"})
    assert same.status_code == 200 and same.json() == both.json()


def test_names_taken_and_bad_names(as_user: Any, school: dict[str, str]) -> None:
    ana = as_user(school["ana"])
    file = available(ana, "a.txt")
    other = available(ana, "b.txt", b"autre\n", path="/td/")
    taken = patch(ana, file["id"], {"path": "/td/", "name": "b.txt"})
    assert taken.status_code == 409 and error_code(taken) == "conflict", taken.text
    assert ana.get(f"/v1/files/{file['id']}").json()["name"] == "a.txt"
    assert ana.get(f"/v1/files/{other['id']}").json()["path"] == "/td/"
    for body in (
        {"name": "a/b.txt"},
        {"name": ".."},
        {"name": ""},
        {"name": "x" * 256},
        {"name": "\u202etxt.exe"},
        {"name": None},
        {"path": "td"},
        {"path": "/td/../"},
        {"path": None},
        {"size": 3},
        {"name": "c.txt", "owner": "bob"},
        {},
        ["c.txt"],
    ):
        answer = patch(ana, file["id"], body)
        assert answer.status_code == 400 and error_code(answer) == "bad_request", (body, answer.text)
    not_json = ana.request("PATCH", f"/v1/files/{file['id']}", data=b"{name", headers={"Content-Type": "text/plain"})
    assert not_json.status_code == 400
    pending = ana.grant("pas-encore.txt", b"x", "text/plain").json()["fileId"]  # bytes never sent
    answer = patch(ana, pending, {"name": "renomme.txt"})
    assert answer.status_code == 409 and error_code(answer) == "not_available", answer.text
    assert patch(ana, "nope", {"name": "c.txt"}).status_code == 404
    ana.request("DELETE", f"/v1/files/{file['id']}")
    assert patch(ana, file["id"], {"name": "c.txt"}).status_code == 404  # in the trash


def test_who_may_rename(as_user: Any, school: dict[str, str]) -> None:
    ana, bob, zoe = (as_user(school[k]) for k in ("ana", "bob", "zoe"))
    prof = as_user(school["prof"], "teacher")
    space = f"class:{school['class']}"
    lesson = available(prof, "cours.txt", b"le cours\n", space=space)
    seen = patch(ana, lesson["id"], {"name": "mien.txt"})  # a pupil reads the class folder, may not change it
    assert seen.status_code == 403 and error_code(seen) == "forbidden", seen.text
    assert patch(zoe, lesson["id"], {"name": "mien.txt"}).status_code == 404  # another class: unseen
    assert patch(prof, lesson["id"], {"name": "cours-1.txt"}).status_code == 200
    assert listing(ana, space, "/") == ([], ["cours-1.txt"])
    # shares are by file id: they follow the file
    mine = available(ana, "expose.txt", b"mon expose\n")
    share = ana.post(
        "/v1/shares", {"fileId": mine["id"], "with": {"type": "user", "id": school["bob"]}, "role": "viewer"}
    )
    assert share.status_code == 201, share.text
    assert patch(bob, mine["id"], {"name": "a-moi.txt"}).status_code == 403  # a viewer sees, may not change
    assert patch(zoe, mine["id"], {"name": "a-moi.txt"}).status_code == 404
    assert patch(ana, mine["id"], {"path": "/rendus/", "name": "expose-final.txt"}).status_code == 200
    got = bob.get(f"/v1/files/{mine['id']}")
    assert got.status_code == 200 and (got.json()["path"], got.json()["name"]) == ("/rendus/", "expose-final.txt")
    received = bob.get("/v1/shares/received").json()["items"]
    assert [item["file"]["name"] for item in received if item["fileId"] == mine["id"]] == ["expose-final.txt"]


def test_a_pupil_renames_their_submission_until_closes_at(as_user: Any, school: dict[str, str]) -> None:
    prof, ana, bob = as_user(school["prof"], "teacher"), as_user(school["ana"]), as_user(school["bob"])
    now = datetime.now(UTC)
    created = prof.post(
        f"/v1/classes/{school['class']}/assignments",
        {"title": "Rédaction", "dueAt": stamp(now + timedelta(hours=1)), "closesAt": stamp(now + timedelta(hours=2))},
    )
    assert created.status_code == 201, created.text
    assignment = created.json()
    space = assignment["space"]
    submission = available(ana, "redac.txt", space=space)
    available(bob, "final.txt", b"bob\n", space=space)
    renamed = patch(ana, submission["id"], {"name": "final.txt"})  # bob's final.txt is his own
    assert renamed.status_code == 200, renamed.text
    assert listing(ana, space, "/") == ([], ["final.txt"])
    assert patch(bob, submission["id"], {"name": "vole.txt"}).status_code == 404  # not his to see
    assert patch(prof, submission["id"], {"name": "note.txt"}).status_code == 403  # the teacher reads it
    moved = patch(ana, submission["id"], {"path": "/brouillons/"})
    assert moved.status_code == 400, moved.text  # submissions stay at the root
    past = now - timedelta(hours=1)
    closed = prof.request(
        "PATCH", f"/v1/assignments/{assignment['id']}", json={"dueAt": stamp(past), "closesAt": stamp(past)}
    )
    assert closed.status_code == 200, closed.text
    late = patch(ana, submission["id"], {"name": "trop-tard.txt"})
    assert late.status_code == 403 and error_code(late) == "assignment_closed", late.text


def test_the_changes_feed_reports_the_rename(as_user: Any, school: dict[str, str]) -> None:
    ana = as_user(school["ana"])
    space = f"user:{school['ana']}"
    file = available(ana, "a.txt")
    kept = available(ana, "b.txt", b"b\n")
    cursor = ana.get(f"/v1/spaces/{space}/changes").json()["cursor"]
    assert patch(ana, file["id"], {"path": "/archives/", "name": "a-2025.txt"}).status_code == 200
    since = ana.get(f"/v1/spaces/{space}/changes", params={"cursor": cursor}).json()
    assert [(c["op"], c["file"]["id"], c["file"]["path"], c["file"]["name"]) for c in since["changes"]] == [
        ("upsert", file["id"], "/archives/", "a-2025.txt")
    ]
    scratch = ana.get(f"/v1/spaces/{space}/changes").json()
    assert scratch["hasMore"] is False
    assert sorted(
        (c["op"], c["file"]["id"], c["file"]["path"], c["file"]["name"]) for c in scratch["changes"]
    ) == sorted([("upsert", file["id"], "/archives/", "a-2025.txt"), ("upsert", kept["id"], "/", "b.txt")])


def test_later_uploads_of_the_old_and_the_new_name(as_user: Any, school: dict[str, str]) -> None:
    ana = as_user(school["ana"])
    file = available(ana, "old.txt", b"v1\n")
    assert patch(ana, file["id"], {"name": "new.txt"}).status_code == 200
    again = ana.upload("new.txt", b"v2 plus long\n", "text/plain")
    assert again["fileId"] == file["id"]
    assert ana.wait_upload(again["uploadId"])["status"] == "available"
    current = ana.get(f"/v1/files/{file['id']}").json()
    assert (current["name"], current["version"]) == ("new.txt", file["version"] + 1)
    fresh = ana.upload("old.txt", b"un autre\n", "text/plain")
    assert fresh["fileId"] != file["id"]
    assert listing(ana, "me", "/")[1] == ["new.txt", "old.txt"]


def test_renames_and_uploads_at_once_in_one_folder_never_refuse_one_another(
    as_user: Any, school: dict[str, str]
) -> None:
    prof = as_user(school["prof"], "teacher")
    space = f"class:{school['class']}"
    files = [available(prof, f"{n}.txt", f"fichier {n}\n".encode(), space=space) for n in range(6)]
    answers: list[int] = []
    start = threading.Barrier(10)

    def rename(n: int) -> None:
        start.wait(timeout=30)
        answers.append(patch(prof, files[n]["id"], {"name": f"{n}-bis.txt"}).status_code)

    def grant(n: int) -> None:
        start.wait(timeout=30)
        answers.append(prof.grant(f"neuf-{n}.txt", b"neuf\n", "text/plain", space=space).status_code)

    threads = [threading.Thread(target=rename, args=(n,)) for n in range(6)]
    threads += [threading.Thread(target=grant, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers) == [200] * 6 + [201] * 4
    names = listing(prof, space, "/")[1]
    assert [n for n in names if "bis" in n] == [f"{n}-bis.txt" for n in range(6)]
    feed = prof.get(f"/v1/spaces/{space}/changes").json()["changes"]
    assert sorted(c["file"]["name"] for c in feed) == [f"{n}-bis.txt" for n in range(6)]
