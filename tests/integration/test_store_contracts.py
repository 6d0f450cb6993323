"""The narrow ports' contract: the same tests against the in-memory fake and the DynamoDB catalog on the
real stack, so the services' fast unit tests on the fake prove what the real adapter does."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.adapters.dynamodb import DynamoCatalog
from chalicelib.adapters.memory import MemoryCatalog
from chalicelib.domain.models import (
    AuditEntry,
    ClassRecord,
    FileRecord,
    FileStatus,
    Share,
    ShareRole,
    SpaceKind,
    SpaceRef,
    UploadRecord,
    iso,
)
from chalicelib.errors import StaleWriteError

# Once, in make test's DynamoDB pass: the fake against DynamoCatalog, which it builds itself.
pytestmark = [pytest.mark.integration, pytest.mark.catalog_independent]
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


@pytest.fixture(params=["memory", "dynamodb"])
def store(request: pytest.FixtureRequest) -> Any:
    if request.param == "memory":
        return MemoryCatalog()
    stack = request.getfixturevalue("stack")
    return DynamoCatalog(stack.aws("dynamodb"), stack.config.table)


def fresh(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def audit(school: str, actor: str, n: int) -> AuditEntry:
    return AuditEntry(
        fresh("a"), school, actor, "teacher", "file.grant", f"file:f{n}", "allow", "", T0 + timedelta(seconds=n)
    )


def new_file(store: Any, school: str, owner: str) -> FileRecord:
    file = FileRecord(
        id=fresh("f"),
        school=school,
        space=SpaceRef(SpaceKind.USER, owner),
        path="/",
        name=f"{fresh('n')}.pdf",
        size=10,
        content_type="application/pdf",
        sha256=None,
        status=FileStatus.PENDING,
        reason=None,
        version=0,
        owner=owner,
        created_at=T0,
        updated_at=T0,
    )
    upload = UploadRecord(
        id=fresh("u"),
        file_id=file.id,
        school=school,
        space=file.space,
        path="/",
        name=file.name,
        size=10,
        content_type="application/pdf",
        sha256=None,
        owner=owner,
        status=FileStatus.PENDING,
        reason=None,
        created_at=T0,
        expires_at=T0 + timedelta(minutes=15),
        key=f"incoming/{file.id}/x",
    )
    store.create_file(file, upload, [])
    return file


def share(file: FileRecord, kind: str, target: str, n: int) -> Share:
    return Share(fresh("s"), file.school, file.id, kind, target, ShareRole.VIEWER, None, file.owner, T0 + timedelta(n))


def test_the_audit_trail_newest_first_a_page_at_a_time(store: Any) -> None:
    school, other = fresh("school"), fresh("school")
    for n in range(5):
        store.record_audit(audit(school, "mme" if n % 2 else "boss", n))
    store.record_audit(audit(other, "boss", 9))
    seen: list[str] = []
    cursor = None
    for _ in range(3):
        page, cursor = store.list_audit(school, None, 2, cursor)
        seen += [e.target for e in page]
        if cursor is None:
            break
    assert (seen, cursor) == (["file:f4", "file:f3", "file:f2", "file:f1", "file:f0"], None)
    mine, cursor = store.list_audit(school, "mme", 10, None)
    assert ([e.target for e in mine], cursor) == (["file:f3", "file:f1"], None)


def test_shares_under_their_file_by_id_and_by_target(store: Any) -> None:
    school = fresh("school")
    file = new_file(store, school, "ana")
    older, newer, to_class = share(file, "user", "ben", 1), share(file, "user", "ben", 2), share(file, "class", "5B", 3)
    for made in (older, newer, to_class):
        store.create_share(made, audit(school, "ana", 1))
    assert {s.id for s in store.file_shares(file.id)} == {older.id, newer.id, to_class.id}
    assert store.get_share(school, newer.id) == newer
    assert store.get_share(fresh("school"), newer.id) is None
    targets = [("user", "ben"), ("class", "5B")]
    assert [s.id for s in store.shares_received(school, targets, 1)] == [newer.id, to_class.id]
    before = f"{iso(newer.created_at)}#{newer.id}"
    assert [s.id for s in store.shares_received(school, [("user", "ben")], 5, before)] == [older.id]
    assert [s.id for s in store.shares_given(school, "ana", 2)] == [to_class.id, newer.id]
    assert [s.id for s in store.shares_given(school, "ana", 5, before)] == [older.id]
    assert store.shares_given(school, "ben", 5) == [] and store.shares_given(fresh("school"), "ana", 5) == []
    store.delete_share(newer, audit(school, "ana", 2))
    assert store.get_share(school, newer.id) is None
    assert {s.id for s in store.file_shares(file.id)} == {older.id, to_class.id}
    assert [s.id for s in store.shares_given(school, "ana", 5)] == [to_class.id, older.id]
    with pytest.raises(StaleWriteError):  # the file must exist
        store.create_share(replace(share(file, "user", "ben", 4), file_id=fresh("f")), audit(school, "ana", 3))
    assert len(store.list_audit(school, "ana", 10, None)[0]) == 4  # each share's entry went with it


def test_classes_memberships_and_files_by_id(store: Any) -> None:
    school = fresh("school")
    record = ClassRecord(fresh("c"), school, "5B", ("mme",), ("ana", "ben"))
    store.put_class(record)
    assert store.get_class(school, record.id) == record
    assert store.get_class(fresh("school"), record.id) is None
    teacher, pupil = store.membership(school, "mme"), store.membership(school, "ana")
    assert (teacher.teaching, teacher.studying) == (frozenset({record.id}), frozenset())
    assert (pupil.teaching, pupil.studying) == (frozenset(), frozenset({record.id}))
    assert not store.membership(school, "nobody").teaching | store.membership(school, "nobody").studying
    mine = new_file(store, school, "ana")
    elsewhere = new_file(store, fresh("school"), "ana")
    assert store.get_file(school, mine.id) is not None and store.get_file(school, elsewhere.id) is None
    assert set(store.get_files(school, [mine.id, elsewhere.id, fresh("f")])) == {mine.id}
