"""The catalog's contract, school side: the same tests on the DynamoDB catalog (in-process moto) and the
PostgreSQL catalog (a real server): classes, the roster and assignments, shares, the audit trail, jobs,
the rescan's progress, idempotency keys and rate windows, and writers racing into one space."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from chalicelib.domain.idempotency import Prior, StoredAnswer
from chalicelib.domain.jobs import Job
from chalicelib.domain.models import Assignment, ClassRecord, Share, ShareRole, SpaceKind, SpaceRef, iso
from chalicelib.errors import StaleWriteError
from tests.catalogs import T0, audit, fresh, new_file, records, serve

pytestmark = pytest.mark.integration
pytest_plugins = ["tests.postgres", "tests.catalog_fixtures"]


def test_classes_the_roster_and_memberships(catalog: Any) -> None:
    school = fresh("school")
    five_b = ClassRecord("5B", school, "5e B", ("mme",), ("ana", "ben"))
    four_a = ClassRecord("4A", school, "4e A", ("mme", "mr"), ("cleo",))
    assert catalog.put_roster(school, [five_b, four_a]) == 2 + 6  # two classes, six memberships
    assert catalog.put_roster(school, [five_b, four_a]) == 0  # nothing changed, nothing written
    assert catalog.get_class(school, "5B") == five_b and catalog.get_class(fresh("s"), "5B") is None
    mme = catalog.membership(school, "mme")
    assert (mme.teaching, mme.studying, mme.archived) == (frozenset({"4A", "5B"}), frozenset(), frozenset())
    moved = replace(five_b, teachers=("mr",), students=("ana",))
    catalog.put_class(moved)
    assert catalog.membership(school, "ben").studying == frozenset()
    assert catalog.membership(school, "mme").teaching == frozenset({"4A"})
    assert catalog.get_classes(school, ["5B", "4A", "nope"]) == [four_a, moved]
    for n in range(3):
        catalog.put_class(ClassRecord(f"6{n}", school, f"6e {n}", (), ()))
    seen: list[str] = []
    cursor = None
    for _ in range(5):
        page = catalog.list_classes(school, 2, cursor)
        seen += [c.id for c in page.classes]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == ["4A", "5B", "60", "61", "62"]


def test_assignments_and_closing_a_year(catalog: Any) -> None:
    school = fresh("school")
    record = ClassRecord("5B", school, "5e B", ("mme",), ("ana",))
    catalog.put_class(record)
    later = Assignment("hw2", school, "5B", "Essay", T0 + timedelta(days=9), None, None, None, "mme", T0)
    sooner = Assignment(
        "hw1", school, "5B", "Maths", T0 + timedelta(days=2), T0 + timedelta(days=3), 1000, ("a/b",), "mme", T0
    )
    for made in (later, sooner):
        catalog.put_assignment(made)
    with pytest.raises(StaleWriteError):
        catalog.put_assignment(later)
    assert catalog.get_assignment(school, "hw1") == sooner
    assert catalog.list_assignments(school, "5B") == [sooner, later]
    assert catalog.list_assignments(school, "4A") == []
    closed = T0 + timedelta(days=120)
    catalog.archive_class(record, "2025-2026", closed, [sooner, later])
    assert catalog.get_class(school, "5B") == replace(record, archived_at=closed, year="2025-2026")
    assert catalog.membership(school, "ana").archived == frozenset({"5B"})
    assert catalog.get_assignment(school, "hw2").archived_at == closed
    with pytest.raises(StaleWriteError):  # closed once
        catalog.archive_class(record, "2025-2026", closed, [])


def test_assignments_changed_and_deleted(catalog: Any) -> None:
    school = fresh("school")
    record = ClassRecord("5B", school, "5e B", ("mme",), ("ana",))
    catalog.put_class(record)
    essay = Assignment("hw1", school, "5B", "Essay", T0 + timedelta(days=2), None, None, None, "mme", T0)
    maths = Assignment(
        "hw2", school, "5B", "Maths", T0 + timedelta(days=5), T0 + timedelta(days=6), 1000, ("a/b",), "mme", T0
    )
    for made in (essay, maths):
        catalog.put_assignment(made)
    # Every editable field, set and cleared; the class's list follows the new due date.
    later = replace(essay, title="Long essay", instructions="Two pages.\nNo more.", due_at=T0 + timedelta(days=9))
    later = replace(later, closes_at=T0 + timedelta(days=10), max_size=5, allowed_types=("image/*", "a/b"))
    catalog.update_assignment(later)
    assert catalog.get_assignment(school, "hw1") == later
    assert catalog.list_assignments(school, "5B") == [maths, later]
    cleared = replace(maths, instructions=None, closes_at=None, max_size=None, allowed_types=None)
    catalog.update_assignment(cleared)
    assert catalog.get_assignment(school, "hw2") == cleared
    catalog.update_assignment(cleared)  # the same again: the last writer wins, no error
    with pytest.raises(StaleWriteError):  # no such assignment: nothing is created
        catalog.update_assignment(replace(essay, id="nope"))
    assert catalog.get_assignment(school, "nope") is None
    # Deleted: out of the list, still read by id (its trash), first deletion's time kept, never changed again.
    gone = T0 + timedelta(days=3)
    catalog.delete_assignment(school, "hw1", gone)
    catalog.delete_assignment(school, "hw1", gone + timedelta(days=1))
    assert catalog.get_assignment(school, "hw1") == replace(later, deleted_at=gone)
    assert catalog.list_assignments(school, "5B") == [cleared]
    with pytest.raises(StaleWriteError):
        catalog.update_assignment(replace(later, title="Back"))
    assert catalog.get_assignment(school, "hw1") == replace(later, deleted_at=gone)
    with pytest.raises(StaleWriteError):
        catalog.delete_assignment(school, "nope", gone)
    # Archived with its class: a change would undo nothing of the closing.
    closed = T0 + timedelta(days=120)
    catalog.archive_class(record, "2025-2026", closed, [cleared])
    with pytest.raises(StaleWriteError):
        catalog.update_assignment(replace(cleared, title="After"))
    assert catalog.get_assignment(school, "hw2") == replace(cleared, archived_at=closed)


def test_shares_under_their_file_by_id_and_by_target(catalog: Any) -> None:
    school = fresh("school")
    file, _ = new_file(catalog, school, "ana")

    def share(kind: str, target: str, n: int, expires: Any = None) -> Share:
        return Share(fresh("s"), school, file.id, kind, target, ShareRole.VIEWER, expires, "ana", T0 + timedelta(n))

    older, newer, to_class = (
        share("user", "ben", 1),
        share("user", "ben", 2, T0 + timedelta(days=9)),
        share("class", "5B", 3),
    )
    for made in (older, newer, to_class):
        catalog.create_share(made, audit(school, "ana", 1))
    assert {s.id for s in catalog.file_shares(file.id)} == {older.id, newer.id, to_class.id}
    assert catalog.get_share(school, newer.id) == newer and catalog.get_share(fresh("s"), newer.id) is None
    targets = [("user", "ben"), ("class", "5B")]
    assert [s.id for s in catalog.shares_received(school, targets, 1)] == [newer.id, to_class.id]
    before = f"{iso(newer.created_at)}#{newer.id}"
    assert [s.id for s in catalog.shares_received(school, [("user", "ben")], 5, before)] == [older.id]
    by_cyd = replace(share("user", "ben", 5), created_by="cyd")
    catalog.create_share(by_cyd, audit(school, "cyd", 1))
    # by whom they were made: newest first, a page at a time, nobody else's, no other school's
    assert [s.id for s in catalog.shares_given(school, "ana", 5)] == [to_class.id, newer.id, older.id]
    assert catalog.shares_given(school, "ana", 5)[1] == newer
    assert [s.id for s in catalog.shares_given(school, "ana", 2, before)] == [older.id]
    assert [s.id for s in catalog.shares_given(school, "cyd", 5)] == [by_cyd.id]
    assert catalog.shares_given(fresh("school"), "ana", 5) == []
    catalog.delete_share(newer, audit(school, "ana", 2))
    assert catalog.get_share(school, newer.id) is None
    assert [s.id for s in catalog.shares_given(school, "ana", 5)] == [to_class.id, older.id]  # revoked: gone
    with pytest.raises(StaleWriteError):  # the file must exist
        catalog.create_share(replace(share("user", "ben", 4), file_id=fresh("f")), audit(school, "ana", 3))
    with pytest.raises(StaleWriteError):  # an id is used once
        catalog.create_share(older, audit(school, "ana", 3))
    assert len(catalog.list_audit(school, "ana", 10, None)[0]) == 4  # each share's entry went with it
    assert [s.id for s in catalog.shares_given(school, "ana", 5)] == [to_class.id, older.id]  # nothing half-made


def test_the_audit_trail_newest_first_a_page_at_a_time(catalog: Any) -> None:
    school, other = fresh("school"), fresh("school")
    for n in range(5):
        catalog.record_audit(audit(school, "mme" if n % 2 else "boss", n))
    catalog.record_audit(audit(other, "boss", 9))
    seen: list[str] = []
    cursor = None
    for _ in range(4):
        page, cursor = catalog.list_audit(school, None, 2, cursor)
        seen += [e.target for e in page]
        if cursor is None:
            break
    assert (seen, cursor) == (["file:f4", "file:f3", "file:f2", "file:f1", "file:f0"], None)
    mine, cursor = catalog.list_audit(school, "mme", 1, None)
    assert [e.target for e in mine] == ["file:f3"]
    assert [e.target for e in catalog.list_audit(school, "mme", 5, cursor)[0]] == ["file:f1"]
    with pytest.raises(Exception) as refused:  # a cursor of another school's trail
        catalog.list_audit(other, "mme", 1, cursor)
    assert getattr(refused.value, "status", None) == 400


def test_jobs_end_once_and_the_rescan_keeps_its_place(catalog: Any) -> None:
    job = Job(fresh("j"), fresh("school"), "mme", "teacher", "archive", "hw1", "pending", T0)
    catalog.put_job(job)
    assert catalog.get_job(job.id) == job and catalog.get_job(fresh("j")) is None
    done = replace(
        job, status="ready", finished_at=T0 + timedelta(minutes=1), target="exports/x.zip", summary={"files": 3}
    )
    catalog.finish_job(done)
    assert catalog.get_job(job.id) == done
    with pytest.raises(StaleWriteError):  # a repeated message never rewrites it
        catalog.finish_job(replace(done, status="failed", reason="late"))
    catalog.save_rescan_progress({"generation": "27000", "started_at": iso(T0), "after": "files/a", "scanned": 3})
    progress = catalog.rescan_progress()
    assert (progress["generation"], progress["after"], int(progress["scanned"])) == ("27000", "files/a", 3)


def test_idempotency_keys_and_rate_windows(subject: Any) -> None:
    store, scope, key = subject.idempotency, fresh("school#"), fresh("k")
    assert store.claim(scope, key, "fp1", T0, T0 - timedelta(seconds=60)) is None
    assert store.claim(scope, key, "fp1", T0, T0 - timedelta(seconds=60)) == Prior("fp1", None)  # still running
    answer = StoredAnswer(201, {"Location": "/v1/x"}, '{"id":"x"}', True)
    store.complete(scope, key, answer, T0 + timedelta(hours=24))
    assert store.claim(scope, key, "fp2", T0, T0 - timedelta(seconds=60)) == Prior("fp1", answer)
    assert store.claim(scope, key, "fp2", T0 + timedelta(hours=25), T0) is None  # expired: claimable again
    store.release(scope, key)
    assert store.claim(scope, key, "fp3", T0, T0) is None
    later = T0 + timedelta(minutes=2)
    assert store.claim(scope, key, "fp4", later, later - timedelta(seconds=60)) is None  # a dead claim taken over
    window, expires = fresh("w"), T0 + timedelta(minutes=2)
    assert [subject.rate.take(scope, window, 3, expires) for _ in range(4)] == [True, True, True, False]
    assert subject.rate.take(scope, fresh("w"), 3, expires)


def test_fifty_writers_into_one_space_lose_no_position(subject: Any) -> None:
    """50 threads each grant a file and serve it in one class space at once: no error, and the feed has
    50 distinct positions, one per file, that a reader paging through sees in order."""
    if subject.kind == "dynamodb":
        pytest.skip("in-process moto serialises calls; the DynamoDB feed's races run on the real stack")
    catalog, school, space = subject.catalog, fresh("school"), SpaceRef(SpaceKind.CLASS, fresh("c"))
    errors: list[BaseException] = []
    start = threading.Barrier(50)

    def write(n: int) -> None:
        try:
            file, upload = records(school, "mme", space=space, name=f"{n:02d}.pdf", quota=(f"{school}#{space}", 10**9))
            start.wait(timeout=30)
            catalog.create_file(file, upload, [])
            serve(catalog, upload)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(50)]
    seen: list[int] = []
    for thread in threads:
        thread.start()
    while any(t.is_alive() for t in threads):  # a reader pages the feed while writers commit
        seen += [c.seq for c in catalog.changes(school, space, seen[-1] if seen else 0, 7)]
    for thread in threads:
        thread.join()
    seen += [c.seq for c in catalog.changes(school, space, seen[-1] if seen else 0, 100)]
    assert errors == []
    assert seen == list(range(1, 51))  # every position, once, in order: none skipped by the reader
    assert len({c.file.id for c in catalog.changes(school, space, 0, 100)}) == 50
    assert catalog.quota_used(f"{school}#{space}") == 500


def test_expired_rows_go_with_the_sweeper(subject: Any) -> None:
    """What DynamoDB's TTL drops, the PostgreSQL catalog deletes in `expire` (the sweeper's run)."""
    if subject.kind == "dynamodb":
        pytest.skip("DynamoDB's TTL deletes by itself")
    catalog, school = subject.catalog, fresh("school")
    file, upload = new_file(catalog, school, "ana")
    serve(catalog, upload)
    share = Share(fresh("s"), school, file.id, "user", "ben", ShareRole.VIEWER, T0 + timedelta(days=1), "ana", T0)
    catalog.create_share(share, audit(school, "ana", 1))
    subject.rate.take(school, "w", 5, T0 + timedelta(minutes=2))
    first = catalog.expire(T0 + timedelta(days=1))
    assert (first.deleted["shares"], first.deleted["rate_windows"] >= 1) == (0, True)
    report = catalog.expire(T0 + timedelta(days=91))
    assert report.deleted["shares"] >= 1 and report.deleted["notifications"] >= 1
    assert catalog.file_shares(file.id) == []
    assert catalog.notifications(school, ["user:ana"], None, 10, T0) == ([], False)
    assert catalog.list_audit(school, None, 10, None)[0] != []  # 400 days
    assert catalog.expire(T0 + timedelta(days=401)).deleted["audit"] >= 1


def test_roster_imports_racing_on_one_class_leave_memberships_that_match_it(subject: Any) -> None:
    """Ten imports of one class at once, each with other pupils: the class ends as one of them, and
    exactly its members can reach it (each import applied against what the one before wrote)."""
    if subject.kind == "dynamodb":
        pytest.skip("the DynamoDB roster import writes in batches, not in one transaction")
    catalog, school = subject.catalog, fresh("school")
    start = threading.Barrier(10)
    errors: list[BaseException] = []

    def put(n: int) -> None:
        try:
            start.wait(timeout=30)
            catalog.put_class(ClassRecord("5B", school, "5e B", ("mme",), (f"p{n}a", f"p{n}b")))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=put, args=(n,)) for n in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    final = catalog.get_class(school, "5B")
    members = {f"p{n}{x}" for n in range(10) for x in "ab"}
    reaching = {user for user in members if "5B" in catalog.membership(school, user).studying}
    assert reaching == set(final.students)
