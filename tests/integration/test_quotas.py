"""Quotas reserved atomically at grant time, released by a refused verdict and by the purge, over the
real stack (tests/quotas.json gives the school `quota-school` 1000 bytes per user, 500 per class)."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest

from chalicelib.adapters.s3 import S3ObjectStore
from chalicelib.domain.access import AccessControl
from chalicelib.domain.models import utcnow
from chalicelib.domain.permissions import load_rules
from chalicelib.domain.sync import TrashService
from local.clamav import EICAR
from local.stack import LocalStack
from tests.integration.conftest import Api, make_token, post_to_storage

pytestmark = pytest.mark.integration
SCHOOL = "quota-school"


def user(api_url: str) -> tuple[Api, str]:
    sub = f"q-{uuid.uuid4().hex[:8]}"
    return Api(api_url, make_token(sub, "student", SCHOOL)), sub


def grant_until_decided(api: Api, n: int) -> int:
    """A grant of 100 bytes; a busy catalog (503) is retried as a client would."""
    for _ in range(20):
        answer = api.grant(f"devoir-{n}.txt", b"x" * 100, "text/plain")
        if answer.status_code != 503:
            if answer.status_code == 403:
                assert answer.json()["error"]["code"] == "quota_exceeded"
            return answer.status_code
    raise AssertionError("the catalog stayed busy")


def test_fifty_concurrent_grants_against_a_quota_for_ten(api_url: str, stack: LocalStack) -> None:
    api, sub = user(api_url)
    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(lambda n: grant_until_decided(api, n), range(50)))
    assert statuses.count(201) == 10, statuses
    assert statuses.count(403) == 40
    catalog = stack.catalog()
    assert catalog.quota_used(f"{SCHOOL}#user:{sub}") == 1000


def test_refused_bytes_and_purged_files_give_their_room_back(api_url: str, stack: LocalStack) -> None:
    api, sub = user(api_url)
    catalog = stack.catalog()
    key = f"{SCHOOL}#user:{sub}"
    infected = api.upload("virus.txt", EICAR, "text/plain")
    assert api.wait_status(infected["fileId"])["status"] == "infected"
    assert catalog.quota_used(key) == 0  # quarantined bytes do not count
    big = api.upload("gros.txt", b"y" * 600, "text/plain")
    assert api.wait_status(big["fileId"])["status"] == "available"
    assert catalog.quota_used(key) == 600
    assert api.grant("encore.txt", b"z" * 600, "text/plain").status_code == 403
    assert api.request("DELETE", f"/v1/files/{big['fileId']}").status_code == 204
    assert catalog.quota_used(key) == 600  # the trash still holds the bytes, restorable
    trash = TrashService(
        catalog, AccessControl(catalog, load_rules()), S3ObjectStore(stack.aws("s3"), stack.config.bucket)
    )
    trash.purge(utcnow() + timedelta(days=30, minutes=1))
    assert catalog.quota_used(key) == 0
    assert api.grant("encore.txt", b"z" * 600, "text/plain").status_code == 201


def test_a_file_larger_than_the_quota_is_refused_at_once(api_url: str) -> None:
    api, _ = user(api_url)
    answer = api.grant("enorme.txt", b"e" * 1001, "text/plain")
    assert answer.status_code == 403 and answer.json()["error"]["code"] == "quota_exceeded"


def test_class_folders_have_their_own_quota(admin: Any, api_url: str) -> None:
    school_admin = Api(api_url, make_token("q-admin", "admin", SCHOOL))
    s = uuid.uuid4().hex[:6]
    school_admin.put(f"/v1/classes/Q-{s}", {"name": "Q", "teachers": [f"qt-{s}"], "students": []})
    teacher = Api(api_url, make_token(f"qt-{s}", "teacher", SCHOOL))
    assert teacher.grant("a.txt", b"a" * 400, "text/plain", space=f"class:Q-{s}").status_code == 201
    answer = teacher.grant("b.txt", b"b" * 400, "text/plain", space=f"class:Q-{s}")
    assert answer.status_code == 403 and answer.json()["error"]["code"] == "quota_exceeded"
    assert teacher.grant("b.txt", b"b" * 400, "text/plain").status_code == 201  # the teacher's own drive


def test_a_grant_that_expires_unused_gives_its_room_back(api_url: str, stack: LocalStack) -> None:
    api, sub = user(api_url)
    catalog = stack.catalog()
    trash = TrashService(
        catalog, AccessControl(catalog, load_rules()), S3ObjectStore(stack.aws("s3"), stack.config.bucket)
    )
    unused = api.grant("jamais.txt", b"j" * 700, "text/plain").json()
    sent = api.upload("envoye.txt", b"s" * 200, "text/plain")
    assert catalog.quota_used(f"{SCHOOL}#user:{sub}") == 900
    assert api.wait_status(sent["fileId"])["status"] == "available"
    trash.expire_grants(utcnow())  # not due yet: nothing happens
    assert api.get(f"/v1/files/{unused['fileId']}").json()["status"] == "pending"
    later = utcnow() + timedelta(hours=1)
    assert trash.expire_grants(later) >= 1
    file = api.get(f"/v1/files/{unused['fileId']}").json()
    assert (file["status"], file["reason"]) == ("rejected", "grant_expired")
    assert catalog.quota_used(f"{SCHOOL}#user:{sub}") == 200
    assert api.get(f"/v1/files/{sent['fileId']}").json()["status"] == "available"
    assert trash.expire_grants(later) == 0  # a second sweep finds nothing more


def test_each_pupil_has_room_of_their_own_in_an_assignment(api_url: str, stack: LocalStack) -> None:
    """One pupil cannot reserve what the class shares: 800 bytes each in the quota school, a refusal
    403 quota_exceeded for the one who asks for more, none for the classmate."""
    tag = uuid.uuid4().hex[:6]
    admin = Api(api_url, make_token("q-admin", "admin", SCHOOL))
    (greedy, greedy_id), (classmate, classmate_id) = user(api_url), user(api_url)
    teacher = Api(api_url, make_token(f"q-prof-{tag}", "teacher", SCHOOL))
    roster = {"name": "Q", "teachers": [f"q-prof-{tag}"], "students": [greedy_id, classmate_id]}
    assert admin.put(f"/v1/classes/Q-{tag}", roster).ok
    assignment = teacher.post(f"/v1/classes/Q-{tag}/assignments", {"title": "Q", "dueAt": "2030-01-01T00:00:00Z"})
    space = assignment.json()["space"]
    assert greedy.grant("a.txt", b"x" * 600, "text/plain", space=space).status_code == 201
    refused = greedy.grant("b.txt", b"x" * 300, "text/plain", space=space)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "quota_exceeded"
    assert classmate.grant("a.txt", b"x" * 600, "text/plain", space=space).status_code == 201
    catalog = stack.catalog()
    assert catalog.quota_used(f"{SCHOOL}#{space}#{greedy_id}") == 600


def test_grants_waiting_for_their_bytes_are_counted_per_user_and_per_submission(api_url: str) -> None:
    """`waiting-school` lets a user wait for 4 grants at once, a pupil for 2 in one assignment: the next
    answers 429 with Retry-After; a grant that ends (bytes scanned, or cancelled) makes room again."""
    school, tag = "waiting-school", uuid.uuid4().hex[:6]
    admin = Api(api_url, make_token("w-admin", "admin", school))
    pupil_id, classmate_id = f"w-{tag}", f"w2-{tag}"
    pupil, classmate = (
        Api(api_url, make_token(pupil_id, "student", school)),
        Api(api_url, make_token(classmate_id, "student", school)),
    )
    teacher = Api(api_url, make_token(f"w-prof-{tag}", "teacher", school))
    roster = {"name": "W", "teachers": [f"w-prof-{tag}"], "students": [pupil_id, classmate_id]}
    assert admin.put(f"/v1/classes/W-{tag}", roster).ok
    created = teacher.post(f"/v1/classes/W-{tag}/assignments", {"title": "W", "dueAt": "2030-01-01T00:00:00Z"})
    space = created.json()["space"]

    waiting = [pupil.grant(f"rendu-{n}.txt", b"x" * 10, "text/plain", space=space) for n in range(2)]
    assert [g.status_code for g in waiting] == [201, 201]
    third = pupil.grant("rendu-3.txt", b"x" * 10, "text/plain", space=space)
    assert third.status_code == 429 and third.json()["error"]["code"] == "too_many_requests"
    assert int(third.headers["Retry-After"]) > 0
    assert classmate.grant("rendu.txt", b"x" * 10, "text/plain", space=space).status_code == 201  # their own count

    drive = [pupil.grant(f"brouillon-{n}.txt", b"x" * 10, "text/plain") for n in range(3)]
    assert [g.status_code for g in drive] == [201, 201, 429]  # 2 in the assignment + 2 in the drive: 4

    cancelled = pupil.request("DELETE", f"/v1/uploads/{waiting[0].json()['uploadId']}")
    assert cancelled.status_code == 204
    assert pupil.grant("rendu-3.txt", b"x" * 10, "text/plain", space=space).status_code == 201
    assert pupil.grant("brouillon-9.txt", b"x" * 10, "text/plain").status_code == 429  # full again

    post_to_storage(drive[0].json(), b"x" * 10, "text/plain")  # its bytes arrive and are judged
    assert pupil.wait_status(drive[0].json()["fileId"], timeout=30)["status"] == "available"
    assert pupil.grant("brouillon-9.txt", b"x" * 10, "text/plain").status_code == 201
