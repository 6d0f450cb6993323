"""A teacher tidies a folder while pupils upload to it: nobody fails because someone else was busy.
Ten deletes run at once with ten uploads into the same class folder: every delete answers 204, every
grant 201, and the space's change feed tells the same story read from scratch and from a cursor."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.integration.conftest import Api

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
