"""Bad input from a tablet (or a curious pupil) gets a clear 400/413/415 in the contract's body."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.integration

GOOD = {"space": "me", "path": "/", "name": "ok.txt", "size": 10, "contentType": "text/plain"}


def _code(answer: Any) -> str:
    body = answer.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    assert "Traceback" not in body["error"]["message"]
    return str(body["error"]["code"])


@pytest.mark.parametrize(
    "name",
    [
        "..",
        ".",
        "a/b",
        "bad\x00name",
        "tab\there",
        "new\nline",
        "x" * 300,
        "",
        "evil\u202eexe.pdf",
        "lone\ud800surrogate.txt",
        42,
        None,
    ],
    ids=[
        "dotdot",
        "dot",
        "slash",
        "nul",
        "tab",
        "newline",
        "300-chars",
        "empty",
        "bidi",
        "lone-surrogate",
        "number",
        "null",
    ],
)
def test_bad_names_answer_400(as_user: Any, name: Any) -> None:
    answer = as_user("val-1").post("/v1/uploads", {**GOOD, "name": name})
    assert answer.status_code == 400, answer.text
    assert _code(answer) == "bad_request"


def test_a_name_typed_on_an_ipad_round_trips_as_nfc(as_user: Any) -> None:
    pupil = as_user("val-nfd")
    nfd, stored = "re\u0301daction e\u0301te\u0301.txt", "r\u00e9daction \u00e9t\u00e9.txt"
    grant = pupil.upload(nfd, b"Mon ete.\n", "text/plain", path="/Franc\u0327ais/")
    file = pupil.wait_status(grant["fileId"])
    assert (file["status"], file["name"], file["path"]) == ("available", stored, "/Fran\u00e7ais/")
    listing = pupil.get("/v1/spaces/me/files", params={"path": "/Fran\u00e7ais/"}).json()
    assert [f["name"] for f in listing["items"]] == [stored]
    # the same name in NFC is the same file: a new version, not a second file
    again = pupil.upload(stored, b"Mon ete, encore.\n", "text/plain", path="/Fran\u00e7ais/")
    assert again["fileId"] == grant["fileId"]


@pytest.mark.parametrize("title", ["5e\ud800B", "5e\x07B", "\u202e5eB"], ids=["lone-surrogate", "control", "bidi"])
def test_bad_titles_answer_400_never_503(admin: Any, as_user: Any, title: str) -> None:
    answer = admin.put("/v1/classes/val-class", {"name": title, "teachers": ["val-prof"], "students": []})
    assert answer.status_code == 400, answer.text
    assert _code(answer) == "bad_request"
    assert admin.put("/v1/classes/val-class", {"name": "5e B", "teachers": ["val-prof"], "students": []}).ok
    created = as_user("val-prof", "teacher").post(
        "/v1/classes/val-class/assignments", {"title": title, "dueAt": "2030-01-01T00:00:00Z"}
    )
    assert created.status_code == 400, created.text
    assert _code(created) == "bad_request"


@pytest.mark.parametrize("path", ["relative/", "/a/../b/", "/a//b/", "/./", 7, "/\x07/"])
def test_bad_paths_answer_400(as_user: Any, path: Any) -> None:
    answer = as_user("val-1").post("/v1/uploads", {**GOOD, "path": path})
    assert answer.status_code == 400, answer.text
    assert _code(answer) == "bad_request"


@pytest.mark.parametrize("size", [0, -1, "10", 1.5, True, None, "ten"], ids=str)
def test_bad_sizes_answer_400(as_user: Any, size: Any) -> None:
    answer = as_user("val-1").post("/v1/uploads", {**GOOD, "size": size})
    assert answer.status_code == 400, answer.text
    assert _code(answer) == "bad_request"


def test_size_over_the_limit_answers_413(as_user: Any) -> None:
    answer = as_user("val-1").post("/v1/uploads", {**GOOD, "size": 10**12})
    assert answer.status_code == 413
    assert _code(answer) == "payload_too_large"


@pytest.mark.parametrize("content_type", ["application/x-msdownload", "text/html", "image/svg+xml"])
def test_types_not_accepted_answer_415(as_user: Any, content_type: str) -> None:
    answer = as_user("val-1").post("/v1/uploads", {**GOOD, "contentType": content_type})
    assert answer.status_code == 415
    assert _code(answer) == "unsupported_media_type"


@pytest.mark.parametrize("body", ["not json", "[1, 2]", '"string"', ""])
def test_bodies_that_are_not_objects_answer_400(as_user: Any, body: str) -> None:
    answer = as_user("val-1").request("POST", "/v1/uploads", data=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == 400
    assert _code(answer) == "bad_request"


@pytest.mark.parametrize("sha", ["abc", "z" * 64, 12])
def test_bad_sha256_answers_400(as_user: Any, sha: Any) -> None:
    answer = as_user("val-1").post("/v1/uploads", {**GOOD, "sha256": sha})
    assert answer.status_code == 400


@pytest.mark.parametrize("limit", ["0", "1001", "-5", "abc"])
def test_bad_limits_answer_400(as_user: Any, limit: str) -> None:
    answer = as_user("val-1").get("/v1/spaces/me/files", params={"limit": limit})
    assert answer.status_code == 400


def test_unknown_and_malformed_ids_answer_404(as_user: Any) -> None:
    user = as_user("val-1")
    for path in ("/v1/files/nope", "/v1/files/x%2F..%2Fy", "/v1/files/nope/content", "/v1/uploads/nope"):
        answer = user.get(path)
        assert answer.status_code == 404, (path, answer.text)
        assert _code(answer) == "not_found"
    for space in ("nope", "user:", "class:a%2Fb", "planet:x", "assignment:zz"):
        assert user.get(f"/v1/spaces/{space}/files").status_code == 404, space


def test_nothing_was_recorded_for_refused_grants(as_user: Any) -> None:
    user = as_user("val-empty")
    user.post("/v1/uploads", {**GOOD, "name": ".."})
    user.post("/v1/uploads", {**GOOD, "size": 10**12})
    assert user.get("/v1/spaces/me/files").json() == {"items": [], "folders": [], "nextCursor": None}
