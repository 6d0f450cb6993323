"""A teacher tidies a folder while pupils upload to it: nobody fails because someone else was busy.
Ten deletes run at once with ten uploads into the same class folder: every delete answers 204, every
grant 201, and the space's change feed tells the same story read from scratch and from a cursor."""

from __future__ import annotations

import random
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.integration.conftest import Api, post_to_storage

pytestmark = pytest.mark.integration


def feed(api: Api, space: str, cursor: str | None = None) -> tuple[dict[str, str], str]:
    """Each file's last operation in the space's feed, read page after page; and the last cursor."""
    last: dict[str, str] = {}
    while True:
        params = {"limit": 50, **({"cursor": cursor} if cursor else {})}
        page = api.get(f"/v1/spaces/{space}/changes", params=params).json()
        for change in page["changes"]:
            last[change["file"]["id"]] = change["op"]
        cursor = page["cursor"]
        if not page["hasMore"]:
            return last, cursor


def test_ten_deletes_and_ten_uploads_at_once_in_one_folder(admin: Api, as_user: Any) -> None:
    tag = uuid.uuid4().hex[:6]
    class_id, teacher = f"TIDY-{tag}", f"prof-{tag}"
    assert admin.put(f"/v1/classes/{class_id}", {"name": "4e", "teachers": [teacher], "students": []}).ok
    prof, space = as_user(teacher, "teacher"), f"class:{class_id}"
    old = [prof.upload(f"ancien-{n}.txt", f"ancien {n}\n".encode(), "text/plain", space=space) for n in range(10)]
    for grant in old:
        assert prof.wait_status(grant["fileId"])["status"] == "available"
    _, cursor = feed(prof, space)

    def delete(file_id: str) -> int:
        return as_user(teacher, "teacher").request("DELETE", f"/v1/files/{file_id}").status_code

    def upload(n: int) -> str:
        return str(
            as_user(teacher, "teacher").upload(
                f"nouveau-{n}.txt", f"nouveau {n}\n".encode(), "text/plain", space=space
            )["fileId"]
        )

    with ThreadPoolExecutor(max_workers=20) as pool:
        deletes = [pool.submit(delete, grant["fileId"]) for grant in old]
        uploads = [pool.submit(upload, n) for n in range(10)]
        statuses = [d.result() for d in deletes]
        new = [u.result() for u in uploads]
    assert statuses == [204] * 10
    for file_id in new:
        assert prof.wait_status(file_id, timeout=30)["status"] == "available"

    expected = {grant["fileId"]: "delete" for grant in old} | dict.fromkeys(new, "upsert")
    from_scratch, _ = feed(prof, space)
    assert {f: op for f, op in from_scratch.items() if op == "upsert"} == dict.fromkeys(new, "upsert")
    since, _ = feed(prof, space, cursor)
    assert since == expected
    listed = prof.get(f"/v1/spaces/{space}/files").json()["items"]
    assert sorted(f["id"] for f in listed) == sorted(new)


def test_a_hundred_concurrent_writes_in_one_space_settle_without_409_or_503(admin: Api, as_user: Any) -> None:
    """Two teachers and a class folder: 20 deletes, 20 restores and 60 new files (each a grant, then a
    verdict that moves the space's feed) all at once. Nobody's own precondition fails, so nobody is
    refused: every delete 204, restore 200, grant 201, every new file available, and the feed read from
    scratch and from a cursor agrees with the folder's listing."""
    tag = uuid.uuid4().hex[:6]
    class_id, teachers = f"BUSY-{tag}", [f"prof-{tag}-a", f"prof-{tag}-b"]
    assert admin.put(f"/v1/classes/{class_id}", {"name": "3e", "teachers": teachers, "students": []}).ok
    prof, space = as_user(teachers[0], "teacher"), f"class:{class_id}"
    old = [prof.upload(f"ancien-{n}.txt", f"ancien {n}\n".encode(), "text/plain", space=space) for n in range(40)]
    for grant in old:
        assert prof.wait_status(grant["fileId"], timeout=30)["status"] == "available"
    doomed, trashed = [g["fileId"] for g in old[:20]], [g["fileId"] for g in old[20:]]
    for file_id in trashed:
        assert prof.request("DELETE", f"/v1/files/{file_id}").status_code == 204
    _, cursor = feed(prof, space)

    def write(n: int) -> tuple[str, int, str]:
        """The n-th write, by either teacher: what it was, its status, the file it touched."""
        teacher = as_user(teachers[n % 2], "teacher")
        if n < 20:
            deleted = teacher.request("DELETE", f"/v1/files/{doomed[n]}", timeout=120)
            return "delete", deleted.status_code, doomed[n] if deleted.ok else deleted.text
        if n < 40:
            restored = teacher.post(f"/v1/files/{trashed[n - 20]}/restore", timeout=120)
            return "restore", restored.status_code, trashed[n - 20] if restored.ok else restored.text
        data = f"nouveau {n}\n".encode()
        body = {"space": space, "path": "/", "name": f"nouveau-{n}.txt", "size": len(data), "contentType": "text/plain"}
        answer = teacher.post("/v1/uploads", body, timeout=120)
        if answer.status_code == 201:
            post_to_storage(answer.json(), data, "text/plain")
        return "grant", answer.status_code, answer.json()["fileId"] if answer.ok else answer.text

    # 25 at a time: the local API is one process on two cores; on AWS each request has its own Lambda.
    with ThreadPoolExecutor(max_workers=25) as pool:
        results = list(pool.map(write, random.sample(range(100), 100)))
    wanted = {"delete": 204, "restore": 200, "grant": 201}
    assert [result for result in results if result[1] != wanted[result[0]]] == []
    new = [file_id for kind, _, file_id in results if kind == "grant"]
    for file_id in new:
        assert prof.wait_status(file_id, timeout=60)["status"] == "available"

    present = set(trashed) | set(new)
    expected = dict.fromkeys(doomed, "delete") | dict.fromkeys(present, "upsert")
    from_scratch, _ = feed(prof, space)
    assert {f for f, op in from_scratch.items() if op == "upsert"} == present
    assert feed(prof, space, cursor)[0] == expected
    listed, page_cursor = [], None
    while True:
        params = {"limit": 100, **({"cursor": page_cursor} if page_cursor else {})}
        page = prof.get(f"/v1/spaces/{space}/files", params=params).json()
        listed += [f["id"] for f in page["items"]]
        page_cursor = page.get("nextCursor")
        if not page_cursor:
            break
    assert sorted(listed) == sorted(present)
