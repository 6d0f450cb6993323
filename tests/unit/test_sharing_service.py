"""SharingService on the in-memory catalog: the same rules as the end-to-end tests, in milliseconds."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from chalicelib.adapters.memory import MemoryCatalog
from chalicelib.domain.access import AccessControl
from chalicelib.domain.models import ClassRecord, FileRecord, FileStatus, Principal, Role, SpaceKind, SpaceRef, utcnow
from chalicelib.domain.permissions import load_rules
from chalicelib.domain.sharing import SharingService
from chalicelib.errors import BadRequestError, NotFoundError
from tests.records import sample_file

ANA = Principal("ana", "s1", Role.STUDENT)
BEN = Principal("ben", "s1", Role.STUDENT)
CHLOE = Principal("chloe", "s1", Role.STUDENT)  # in no class with ana
OTHER_SCHOOL = Principal("ben", "s2", Role.STUDENT)


def drive_file(file_id: str, owner: str = "ana", status: FileStatus = FileStatus.AVAILABLE) -> FileRecord:
    return sample_file(file_id, SpaceRef(SpaceKind.USER, owner), owner, status)


@pytest.fixture
def catalog() -> MemoryCatalog:
    store = MemoryCatalog()
    store.add_class(ClassRecord("5B", "s1", "5B", ("mme",), ("ana", "ben")))
    store.add_class(ClassRecord("4A", "s1", "4A", ("mme",), ("chloe",)))
    for file_id in ("f1", "f2", "f3"):
        store.add_file(drive_file(file_id))
    store.add_file(drive_file("pending", status=FileStatus.PENDING))
    return store


@pytest.fixture
def sharing(catalog: MemoryCatalog) -> SharingService:
    return SharingService(catalog, AccessControl(catalog, load_rules()))


def share(sharing: SharingService, file_id: str, target: tuple[str, str], **extra: str) -> dict[str, object]:
    body = {"fileId": file_id, "with": {"type": target[0], "id": target[1]}, "role": "viewer", **extra}
    return sharing.create(ANA, body)


def test_a_share_with_a_classmate_is_received_and_audited(sharing: SharingService, catalog: MemoryCatalog) -> None:
    made = share(sharing, "f1", ("user", "ben"))
    assert (made["fileId"], made["with"], made["createdBy"]) == ("f1", {"type": "user", "id": "ben"}, "ana")
    received = sharing.received(BEN)
    assert [(i["id"], i["file"]["id"]) for i in received["items"]] == [(made["id"], "f1")]
    assert [(e.actor, e.action, e.target) for e in catalog.trail] == [("ana", "share.create", f"share:{made['id']}")]


def test_a_share_with_a_class_reaches_its_members_only(sharing: SharingService) -> None:
    share(sharing, "f1", ("class", "5B"))
    assert [i["fileId"] for i in sharing.received(BEN)["items"]] == ["f1"]
    assert sharing.received(CHLOE)["items"] == []


def test_only_what_the_caller_may_share_with_whom_it_may_reach(sharing: SharingService) -> None:
    with pytest.raises(NotFoundError):  # ben cannot see ana's drive: her file does not exist for him
        sharing.create(BEN, {"fileId": "f1", "with": {"type": "user", "id": "ana"}, "role": "viewer"})
    with pytest.raises(NotFoundError):
        share(sharing, "nope", ("user", "ben"))
    with pytest.raises(NotFoundError):  # no such class in the school
        share(sharing, "f1", ("class", "9Z"))
    with pytest.raises(BadRequestError):
        sharing.create(ANA, {"fileId": "f1", "with": {"type": "user", "id": "ben"}, "role": "owner"})
    with pytest.raises(BadRequestError):
        share(sharing, "f1", ("user", "ben"), expiresAt="tomorrow")


def test_expired_shares_and_unserved_files_are_not_listed(sharing: SharingService, catalog: MemoryCatalog) -> None:
    made = share(sharing, "f1", ("user", "ben"))
    share(sharing, "pending", ("user", "ben"))
    assert [i["id"] for i in sharing.received(BEN)["items"]] == [made["id"]]
    past = (utcnow() - timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    catalog.shares.clear()
    share(sharing, "f1", ("user", "ben"), expiresAt=past)
    assert sharing.received(BEN)["items"] == []


def test_received_pages_never_skip_a_share(sharing: SharingService) -> None:
    made = {str(share(sharing, f, ("user", "ben"))["id"]) for f in ("f1", "f2", "f3")}
    first = sharing.received(BEN, limit="2")
    assert len(first["items"]) == 2 and first["nextCursor"]
    second = sharing.received(BEN, limit="2", cursor=first["nextCursor"])
    assert second["nextCursor"] is None
    assert {i["id"] for i in first["items"] + second["items"]} == made


def test_a_share_is_revoked_by_its_creator_and_no_one_else(sharing: SharingService, catalog: MemoryCatalog) -> None:
    made = share(sharing, "f1", ("user", "ben"))
    with pytest.raises(NotFoundError):
        sharing.revoke(BEN, str(made["id"]))
    with pytest.raises(NotFoundError):
        sharing.revoke(OTHER_SCHOOL, str(made["id"]))
    sharing.revoke(ANA, str(made["id"]))
    assert catalog.shares == {}
    assert sharing.received(BEN)["items"] == []
    assert catalog.trail[-1].action == "share.revoke"
    with pytest.raises(NotFoundError):
        sharing.revoke(ANA, str(made["id"]))


def test_given_lists_the_callers_live_shares_a_page_at_a_time(sharing: SharingService, catalog: MemoryCatalog) -> None:
    made = [str(share(sharing, f, ("user", "ben"))["id"]) for f in ("f1", "f2", "f3")]
    past = (utcnow() - timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    share(sharing, "f1", ("user", "ben"), expiresAt=past)  # expired: not listed
    catalog.add_file(drive_file("b1", owner="ben"))
    sharing.create(BEN, {"fileId": "b1", "with": {"type": "user", "id": "ana"}, "role": "viewer"})
    everything = sharing.given(ANA)
    assert {i["id"] for i in everything["items"]} == set(made) and everything["nextCursor"] is None
    assert all(i["createdBy"] == "ana" and i["file"]["id"] == i["fileId"] for i in everything["items"])
    first = sharing.given(ANA, limit="2")
    second = sharing.given(ANA, limit="2", cursor=first["nextCursor"])
    assert [i["id"] for i in first["items"] + second["items"]] == [i["id"] for i in everything["items"]]
    sharing.revoke(ANA, made[0])
    catalog.files["f2"] = replace(catalog.files["f2"], trashed_at=utcnow())  # in the trash: not revocable
    assert [i["id"] for i in sharing.given(ANA)["items"]] == [made[2]]
    assert [i["fileId"] for i in sharing.given(BEN)["items"]] == ["b1"]
    assert sharing.given(OTHER_SCHOOL)["items"] == []
    with pytest.raises(BadRequestError):
        sharing.given(ANA, cursor="nope")


def test_given_shows_a_file_only_while_the_caller_may_read_it(sharing: SharingService, catalog: MemoryCatalog) -> None:
    mme = Principal("mme", "s1", Role.TEACHER)
    catalog.add_file(sample_file("course", SpaceRef(SpaceKind.CLASS, "5B"), "mme"))
    made = sharing.create(mme, {"fileId": "course", "with": {"type": "class", "id": "4A"}, "role": "viewer"})
    assert sharing.given(mme)["items"][0]["file"]["id"] == "course"
    catalog.put_class(ClassRecord("5B", "s1", "5B", (), ("ana", "ben")))  # she no longer teaches 5B
    assert [(i["id"], i["file"]) for i in sharing.given(mme)["items"]] == [(made["id"], None)]
    sharing.revoke(mme, str(made["id"]))  # what she made, she may still end
    assert sharing.given(mme)["items"] == []
