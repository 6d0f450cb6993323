"""Turn-in receipts over the real stack: issued for available submissions, verified, and refused when
changed in any field or shown to another school."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from local.clamav import EICAR
from tests.integration.conftest import OTHER_SCHOOL, Api, make_token

pytestmark = pytest.mark.integration

ESSAY = "Les Misérables, résumé.\n".encode()


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def wait_upload(user: Api, upload_id: str) -> dict[str, Any]:
    return user.wait_upload(upload_id)


@pytest.fixture(scope="module")
def turned_in(api_url: str, admin: Api) -> dict[str, Any]:
    """A class, an assignment due tomorrow, and alice's available submission with its receipt."""
    s = uuid.uuid4().hex[:6]
    users = {"prof": f"prof-{s}", "alice": f"al-{s}", "bob": f"bo-{s}", "outsider": f"zz-{s}"}
    roles = {"prof": "teacher"}
    api = {name: Api(api_url, make_token(user, roles.get(name, "student"))) for name, user in users.items()}
    klass = f"R-{s}"
    body = {"name": "Français", "teachers": [users["prof"]], "students": [users["alice"], users["bob"]]}
    assert admin.put(f"/v1/classes/{klass}", body).status_code == 200
    due = datetime.now(UTC) + timedelta(days=1)
    assignment = api["prof"].post(f"/v1/classes/{klass}/assignments", {"title": "Résumé", "dueAt": stamp(due)}).json()
    before = datetime.now(UTC).replace(microsecond=0)
    grant = api["alice"].upload("résumé.txt", ESSAY, "text/plain", space=assignment["space"])
    assert wait_upload(api["alice"], grant["uploadId"])["status"] == "available"
    after = datetime.now(UTC)
    answer = api["alice"].get(f"/v1/assignments/{assignment['id']}/receipt")
    assert answer.status_code == 200, answer.text
    return {
        "api": api,
        "users": users,
        "class": klass,
        "assignment": assignment,
        "grant": grant,
        "window": (before, after),
        "receipt": answer.json(),
    }


def test_a_receipt_states_the_submission_and_verifies(turned_in: dict[str, Any]) -> None:
    receipt, api, users = turned_in["receipt"], turned_in["api"], turned_in["users"]
    assignment = turned_in["assignment"]
    assert {k: receipt[k] for k in ("assignmentId", "classId", "school", "student", "fileId", "fileName")} == {
        "assignmentId": assignment["id"],
        "classId": turned_in["class"],
        "school": "lycee-hugo",
        "student": users["alice"],
        "fileId": turned_in["grant"]["fileId"],
        "fileName": "résumé.txt",
    }
    assert receipt["size"] == len(ESSAY) and receipt["sha256"] == hashlib.sha256(ESSAY).hexdigest()
    assert receipt["version"] == 1 and receipt["late"] is False and receipt["dueAt"] == assignment["dueAt"]
    before, after = turned_in["window"]
    assert stamp(before) <= receipt["receivedAt"] <= stamp(after) <= receipt["issuedAt"]
    assert receipt["kid"] and receipt["signature"]
    submissions = api["prof"].get(f"/v1/assignments/{assignment['id']}/submissions").json()["items"]
    (alice,) = [s for s in submissions if s["student"] == users["alice"]]
    assert (alice["submittedAt"], alice["late"]) == (receipt["receivedAt"], receipt["late"])
    for holder in ("alice", "bob", "prof"):
        answer = api[holder].post("/v1/receipts/verify", receipt)
        assert answer.status_code == 200 and answer.json() == {"valid": True, "reason": None}, holder


CHANGES: list[tuple[str, Any]] = [
    ("assignmentId", "another-assignment"),
    ("classId", "4A"),
    ("school", "college-zola"),
    ("student", "mallory"),
    ("fileId", "another-file"),
    ("fileName", "resume.txt"),
    ("size", 1),
    ("sha256", "0" * 64),
    ("version", 2),
    ("receivedAt", "2026-01-01T00:00:00Z"),
    ("dueAt", "2099-01-01T00:00:00Z"),
    ("late", True),
    ("issuedAt", "2026-01-01T00:00:00Z"),
    ("kid", "r-0000000000000000"),
    ("signature", "A" * 43),
]


@pytest.mark.parametrize(("field", "value"), CHANGES, ids=[name for name, _ in CHANGES])
def test_a_receipt_with_any_field_changed_fails(turned_in: dict[str, Any], field: str, value: Any) -> None:
    receipt = turned_in["receipt"]
    assert receipt[field] != value
    answer = turned_in["api"]["alice"].post("/v1/receipts/verify", {**receipt, field: value})
    assert answer.status_code == 200, answer.text
    assert answer.json()["valid"] is False


def test_an_added_field_fails(turned_in: dict[str, Any]) -> None:
    answer = turned_in["api"]["alice"].post("/v1/receipts/verify", {**turned_in["receipt"], "grade": "20/20"})
    assert answer.json() == {"valid": False, "reason": "unexpected_fields"}


def test_a_receipt_of_school_a_fails_for_school_b(turned_in: dict[str, Any], api_url: str) -> None:
    stranger = Api(api_url, make_token(turned_in["users"]["alice"], "teacher", school=OTHER_SCHOOL))
    answer = stranger.post("/v1/receipts/verify", turned_in["receipt"])
    assert answer.status_code == 200 and answer.json() == {"valid": False, "reason": "other_school"}
    # nor can school B see school A's assignment
    assert stranger.get(f"/v1/assignments/{turned_in['assignment']['id']}/receipt").status_code == 404


def test_a_receipt_of_school_b_fails_for_school_a(turned_in: dict[str, Any], api_url: str) -> None:
    s = uuid.uuid4().hex[:6]
    admin_b = Api(api_url, make_token("admin-b", "admin", school=OTHER_SCHOOL))
    prof_b = Api(api_url, make_token(f"pb-{s}", "teacher", school=OTHER_SCHOOL))
    pupil_b = Api(api_url, make_token(f"eb-{s}", "student", school=OTHER_SCHOOL))
    body = {"name": "Zola", "teachers": [f"pb-{s}"], "students": [f"eb-{s}"]}
    assert admin_b.put(f"/v1/classes/Z-{s}", body).status_code == 200
    due = stamp(datetime.now(UTC) + timedelta(days=1))
    assignment = prof_b.post(f"/v1/classes/Z-{s}/assignments", {"title": "Germinal", "dueAt": due}).json()
    grant = pupil_b.upload("germinal.txt", b"Germinal\n", "text/plain", space=assignment["space"])
    assert wait_upload(pupil_b, grant["uploadId"])["status"] == "available"
    receipt = pupil_b.get(f"/v1/assignments/{assignment['id']}/receipt").json()
    assert pupil_b.post("/v1/receipts/verify", receipt).json()["valid"] is True
    assert turned_in["api"]["prof"].post("/v1/receipts/verify", receipt).json()["valid"] is False


@pytest.mark.parametrize(
    "body",
    [["not", "an", "object"], {"fileId": "x"}, "receipt"],
    ids=["list", "missing-fields", "string"],
)
def test_a_body_that_is_not_a_receipt_is_a_bad_request(turned_in: dict[str, Any], body: Any) -> None:
    answer = turned_in["api"]["alice"].post("/v1/receipts/verify", body)
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "bad_request"


def test_wrong_types_are_bad_requests(turned_in: dict[str, Any]) -> None:
    alice = turned_in["api"]["alice"]
    for field, value in (("size", str(len(ESSAY))), ("late", "false"), ("version", None)):
        answer = alice.post("/v1/receipts/verify", {**turned_in["receipt"], field: value})
        assert answer.status_code == 400, field
    answer = alice.request("POST", "/v1/receipts/verify", data=b"{not json")
    assert answer.status_code == 400


def test_who_gets_which_receipt(turned_in: dict[str, Any]) -> None:
    api, users = turned_in["api"], turned_in["users"]
    path = f"/v1/assignments/{turned_in['assignment']['id']}/receipt"
    # the teacher asks for a student's
    answer = api["prof"].get(path, params={"student": users["alice"]})
    assert answer.status_code == 200 and answer.json()["fileId"] == turned_in["grant"]["fileId"]
    assert api["prof"].post("/v1/receipts/verify", answer.json()).json()["valid"] is True
    # nothing turned in, not a student of the class, another student's, a teacher's own, unknown: all 404
    assert api["bob"].get(path).status_code == 404
    assert api["bob"].get(path, params={"student": users["alice"]}).status_code == 404
    assert api["outsider"].get(path).status_code == 404
    assert api["outsider"].get(path, params={"student": users["alice"]}).status_code == 404
    assert api["prof"].get(path).status_code == 404
    assert api["prof"].get(path, params={"student": users["bob"]}).status_code == 404
    assert api["alice"].get("/v1/assignments/no-such-assignment/receipt").status_code == 404
    assert api["prof"].get(path, params={"student": "not an id!"}).status_code == 400


def test_the_receipt_follows_the_latest_version_and_ignores_refused_uploads(turned_in: dict[str, Any]) -> None:
    api, assignment = turned_in["api"], turned_in["assignment"]
    bob = api["bob"]
    path = f"/v1/assignments/{assignment['id']}/receipt"
    infected = bob.upload("virus.txt", EICAR, "text/plain", space=assignment["space"])
    assert wait_upload(bob, infected["uploadId"])["status"] == "infected"
    assert bob.get(path).status_code == 404  # an infected upload earns no receipt
    first = bob.upload("copie.txt", b"premier jet\n", "text/plain", space=assignment["space"])
    assert wait_upload(bob, first["uploadId"])["status"] == "available"
    second = bob.upload("copie.txt", b"version finale\n", "text/plain", space=assignment["space"])
    assert wait_upload(bob, second["uploadId"])["status"] == "available"
    receipt = bob.get(path).json()
    assert (receipt["fileId"], receipt["version"]) == (first["fileId"], 2)
    assert receipt["sha256"] == hashlib.sha256(b"version finale\n").hexdigest()
    assert bob.post("/v1/receipts/verify", receipt).json()["valid"] is True


def test_a_late_submission_has_a_late_receipt(turned_in: dict[str, Any], api_url: str) -> None:
    api, klass = turned_in["api"], turned_in["class"]
    past = stamp(datetime.now(UTC) - timedelta(hours=1))
    assignment = api["prof"].post(f"/v1/classes/{klass}/assignments", {"title": "En retard", "dueAt": past}).json()
    grant = api["alice"].upload("tard.txt", b"desole\n", "text/plain", space=assignment["space"])
    assert wait_upload(api["alice"], grant["uploadId"])["status"] == "available"
    receipt = api["alice"].get(f"/v1/assignments/{assignment['id']}/receipt").json()
    assert receipt["late"] is True and receipt["receivedAt"] > past
    assert api["alice"].post("/v1/receipts/verify", receipt).json()["valid"] is True
    assert api["alice"].post("/v1/receipts/verify", {**receipt, "late": False}).json()["valid"] is False
