"""The catalog's contract, files side: the same tests on the DynamoDB catalog (in-process moto) and the
PostgreSQL catalog (a real server): files, uploads, quotas, verdicts and their settlement, versions and
digests, folder listings, the trash and purges, due work, and the change feed."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from chalicelib.domain.content import Verdict
from chalicelib.domain.models import FileStatus, Share, ShareRole, SpaceKind, SpaceRef, iso
from chalicelib.domain.quotas import quota_key
from chalicelib.errors import AlreadyExistsError, QuotaExceededError, StaleWriteError
from tests.catalogs import T0, audit, fresh, grant, new_file, records, serve

pytestmark = pytest.mark.integration
pytest_plugins = ["tests.postgres", "tests.catalog_fixtures"]


def test_a_file_its_name_and_its_grants(catalog: Any) -> None:
    school = fresh("school")
    file, upload = records(school, "ana", path="/maths/", name="devoir.pdf")
    catalog.create_file(file, upload, [("/", "maths")], audit(school, "ana", 1))
    assert catalog.get_file(school, file.id) == file
    assert catalog.get_file(fresh("school"), file.id) is None
    assert catalog.get_file_anywhere(file.id) == file
    assert catalog.get_files(school, [file.id, fresh("f")]) == {file.id: file}
    assert catalog.find_file_id(school, file.space, "/maths/", "devoir.pdf", "ana") == file.id
    assert catalog.find_file_id(school, file.space, "/", "devoir.pdf", "ana") is None
    assert catalog.get_upload(upload.id) == replace(upload, quota_limit=None)
    assert catalog.list_audit(school, None, 10, None)[0][0].actor == "ana"
    again, second_upload = records(school, "ana", path="/maths/", name="devoir.pdf")
    with pytest.raises(AlreadyExistsError):
        catalog.create_file(again, second_upload, [])
    bigger = grant(file, size=99, at=T0 + timedelta(minutes=1))
    catalog.add_upload(bigger)
    pending = catalog.get_file(school, file.id)
    assert (pending.size, pending.status, pending.updated_at) == (99, FileStatus.PENDING, T0 + timedelta(minutes=1))
    catalog.set_multipart(bigger.id, "mp-1")
    with pytest.raises(StaleWriteError):  # once
        catalog.set_multipart(bigger.id, "mp-2")
    catalog.set_completed(bigger.id, T0 + timedelta(minutes=2))
    stored = catalog.get_upload(bigger.id)
    assert (stored.multipart_id, stored.completed_at) == ("mp-1", T0 + timedelta(minutes=2))
    with pytest.raises(StaleWriteError):  # a grant for a file that is not there
        catalog.add_upload(grant(replace(file, id=fresh("f"))))


def test_quotas_are_reserved_by_grants_and_given_back_by_refusals(catalog: Any) -> None:
    school, quota = fresh("school"), fresh("q")
    new_file(catalog, school, "ana", size=60, quota=(quota, 100))
    with pytest.raises(QuotaExceededError):
        new_file(catalog, school, "ana", size=50, quota=(quota, 100))
    assert catalog.quota_used(quota) == 60
    file, upload = new_file(catalog, school, "ana", size=40, quota=(quota, 100))
    assert catalog.quota_used(quota) == 100
    infected = catalog.record_verdict(upload, Verdict(FileStatus.INFECTED, "Eicar"), "cd" * 32, "quarantine/x", T0)
    assert infected == Verdict(FileStatus.INFECTED, "Eicar")
    assert catalog.quota_used(quota) == 60  # refused bytes are not kept
    described = catalog.get_file(school, file.id)
    assert (described.status, described.reason) == (FileStatus.INFECTED, "Eicar")
    assert catalog.quota_used(fresh("q")) == 0


def test_a_clean_verdict_serves_a_version_once(catalog: Any) -> None:
    school = fresh("school")
    file, upload = new_file(catalog, school, "ana")
    later = T0 + timedelta(minutes=3)
    assert serve(catalog, upload, at=later).clean
    served = catalog.get_file(school, file.id)
    assert (served.status, served.version, served.sha256) == (FileStatus.AVAILABLE, 1, "ab" * 32)
    assert (served.object_key, served.updated_at, served.arrived_at) == (f"files/{file.id}/{upload.id}", later, later)
    assert [(v.version, v.object_key) for v in catalog.file_versions(file.id)] == [(1, served.object_key)]
    copies = catalog.clean_copies(school, file.space, "AB" * 32, 5)
    assert [(c.file_id, c.object_key, c.size) for c in copies] == [(file.id, served.object_key, 10)]
    with pytest.raises(StaleWriteError):  # a verdict is written once
        serve(catalog, upload)
    stored = catalog.get_upload(upload.id)
    assert (stored.status, stored.reason) == (FileStatus.AVAILABLE, None)
    stale = grant(file, order="1", base=0)  # the device started from version 0; 1 is served now
    catalog.add_upload(stale)
    assert serve(catalog, stale, sha="ef" * 32) == Verdict(FileStatus.REJECTED, "conflict")
    assert catalog.get_file(school, file.id) == served  # a refused new version keeps the served one
    newer = grant(file, order="3")
    catalog.add_upload(newer)
    assert serve(catalog, newer, sha="ef" * 32, at=later + timedelta(minutes=1)).clean
    assert [v.version for v in catalog.file_versions(file.id)] == [2, 1]
    older = grant(file, order="2")  # granted before the one just served, scanned after it
    catalog.add_upload(older)
    assert serve(catalog, older) == Verdict(FileStatus.REJECTED, "superseded")


def test_verdicts_write_their_notifications_and_the_outbox_hands_each_out_once(catalog: Any) -> None:
    school = fresh("school")
    _, upload = new_file(catalog, school, "ana")
    serve(catalog, upload)
    now = T0 + timedelta(minutes=5)
    notes, more = catalog.notifications(school, ["user:ana"], None, 10, now)
    assert ([n.type.value for n in notes], more) == (["upload.available"], False)
    assert notes[0].position.startswith("2026-03-02T10:00:00.000000Z#")
    assert catalog.notifications(school, ["user:ana"], None, 10, T0 + timedelta(days=91)) == ([], False)
    claimed = [n for n in catalog.claim_unpublished(iso(T0)[:10], now, 100) if n.school == school]
    assert claimed == notes
    assert [n for n in catalog.claim_unpublished(iso(T0)[:10], now, 100) if n.school == school] == []
    catalog.unclaim(claimed)
    assert [n for n in catalog.claim_unpublished(iso(T0)[:10], now, 100) if n.school == school] == notes


def test_a_folder_lists_its_subfolders_then_its_files_a_page_at_a_time(catalog: Any) -> None:
    school = fresh("school")
    space = SpaceRef(SpaceKind.CLASS, fresh("c"))
    names = ["b.pdf", "a.pdf", "Z.pdf", "é.pdf", "c d.pdf"]
    files = {}
    for name in names:
        file, upload = records(school, "mme", space=space, path="/", name=name)
        catalog.create_file(file, upload, [])
        files[name] = file
    for folder in ("td", "cours", "TP"):
        file, upload = records(school, "mme", space=space, path=f"/{folder}/", name="x.pdf")
        catalog.create_file(file, upload, [("/", folder)])
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        page = catalog.list_folder(school, space, "/", 3, cursor)
        seen += [f"D:{f}" for f in page.folders] + [f"F:{f.name}" for f in page.files]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == ["D:TP", "D:cours", "D:td", "F:Z.pdf", "F:a.pdf", "F:b.pdf", "F:c d.pdf", "F:é.pdf"]
    assert catalog.list_folder(school, space, "/td/", 10, None).files[0].name == "x.pdf"
    other = SpaceRef(SpaceKind.CLASS, fresh("c"))
    with pytest.raises(Exception) as refused:  # a cursor of another folder
        catalog.list_folder(school, other, "/", 3, catalog.list_folder(school, space, "/", 3, None).next_cursor)
    assert getattr(refused.value, "status", None) == 400


def test_an_assignment_lists_one_pupils_files_apart(catalog: Any) -> None:
    school = fresh("school")
    space = SpaceRef(SpaceKind.ASSIGNMENT, fresh("as"))
    for owner, name in (("ana", "a.pdf"), ("ana", "b.pdf"), ("ben", "a.pdf"), ("ana_x", "c.pdf")):
        file, upload = records(school, owner, space=space, name=name)
        catalog.create_file(file, upload, [])
    feedback, upload = records(school, "mme", space=space, name="a.pdf", subject="ana")
    catalog.create_file(feedback, upload, [])
    mine = catalog.list_folder(school, space, "/", 10, None, owner="ana")
    assert [(f.owner, f.name) for f in mine.files] == [("ana", "a.pdf"), ("ana", "b.pdf"), ("mme", "a.pdf")]
    assert catalog.find_file_id(school, space, "/", "a.pdf", "ana", feedback=True) == feedback.id
    assert len(catalog.list_folder(school, space, "/", 10, None).files) == 5


def test_trash_restore_and_purge(catalog: Any) -> None:
    school = fresh("school")
    file, upload = new_file(catalog, school, "ana", quota=(fresh("q"), 1000))
    serve(catalog, upload)
    quota = quota_key(school, file.space, "ana")
    catalog.add_upload(grant(file, size=5, quota=(quota, 1000)))
    served = catalog.get_file(school, file.id)
    deleted_at = T0 + timedelta(hours=1)
    catalog.trash_file(file.id, deleted_at, audit(school, "ana", 2, "file.delete"))
    with pytest.raises(StaleWriteError):
        catalog.trash_file(file.id, deleted_at, audit(school, "ana", 3, "file.delete"))
    assert catalog.get_file(school, file.id) is None
    assert catalog.get_trashed_file(school, file.id) == replace(served, trashed_at=deleted_at)
    assert catalog.find_file_id(school, file.space, "/", file.name, "ana") is None
    assert [c.op for c in catalog.changes(school, file.space, 0, 10)] == ["delete"]
    assert catalog.list_folder(school, file.space, "/", 10, None).files == []
    taker, taker_upload = records(school, "ana", name=file.name)
    catalog.create_file(taker, taker_upload, [])  # the name is free again
    with pytest.raises(AlreadyExistsError):
        catalog.restore_file(file.id, audit(school, "ana", 4))
    catalog.trash_file(taker.id, deleted_at + timedelta(seconds=1), audit(school, "ana", 5))
    trash, cursor = catalog.list_trash(school, file.space, 1, None)
    assert [f.id for f in trash] == [taker.id] and cursor is not None
    assert [f.id for f in catalog.list_trash(school, file.space, 1, cursor)[0]] == [file.id]
    catalog.restore_file(file.id, audit(school, "ana", 6))
    assert catalog.get_file(school, file.id) == served
    assert [c.op for c in catalog.changes(school, file.space, 0, 10)] == ["upsert"]
    catalog.trash_file(file.id, deleted_at, audit(school, "ana", 7))
    day = iso(deleted_at + timedelta(days=30))[:10]
    assert catalog.trash_due(day, deleted_at + timedelta(days=29), 10) == []
    assert file.id in catalog.trash_due(day, deleted_at + timedelta(days=30), 10)
    purging = catalog.begin_purge(file.id, deleted_at + timedelta(days=30), 10)
    assert purging is not None and purging.id == file.id
    with pytest.raises(StaleWriteError):  # a purge, once begun, is never undone
        catalog.restore_file(file.id, audit(school, "ana", 8))
    assert catalog.begin_purge(fresh("f"), deleted_at, 10) is None
    shared = Share(fresh("s"), school, file.id, "user", "ben", ShareRole.VIEWER, None, "ana", T0)
    catalog.create_share(shared, audit(school, "ana", 9))
    assert [s.id for s in catalog.shares_given(school, "ana", 5)] == [shared.id]
    before = catalog.quota_used(quota)
    catalog.purge_records(file.id)
    catalog.purge_records(file.id)  # safe to run again
    assert catalog.get_share(school, shared.id) is None and catalog.shares_given(school, "ana", 5) == []
    assert catalog.get_file_anywhere(file.id) is None
    assert catalog.file_versions(file.id) == [] and catalog.clean_copies(school, file.space, "ab" * 32, 5) == []
    assert catalog.quota_used(quota) == before - 10
    assert [c.op for c in catalog.changes(school, file.space, 0, 10)] == ["delete"]  # the feed keeps it


def test_due_grants_and_retention(catalog: Any) -> None:
    school = fresh("school")
    _, upload = new_file(catalog, school, "ana")
    due_at = upload.expires_at + timedelta(minutes=30)
    day = iso(due_at)[:10]
    assert upload.id not in catalog.grants_due(day, due_at - timedelta(seconds=1), 1000)
    assert upload.id in catalog.grants_due(day, due_at, 1000)
    serve(catalog, upload)
    assert upload.id not in catalog.grants_due(day, due_at, 1000)  # judged: not due any more
    when = T0 + timedelta(days=400)
    catalog.put_retention_due(school, "2025", when)
    assert school not in catalog.retention_due(iso(when)[:10], when - timedelta(seconds=1), 100)
    assert school in catalog.retention_due(iso(when)[:10], when, 100)


def test_the_change_feed_one_position_per_file_in_order_a_page_at_a_time(catalog: Any) -> None:
    school, space = fresh("school"), SpaceRef(SpaceKind.CLASS, fresh("c"))
    files = []
    for n in range(5):
        file, upload = records(school, "mme", space=space, name=f"{n}.pdf")
        catalog.create_file(file, upload, [])
        serve(catalog, upload)
        files.append(file)
    catalog.trash_file(files[1].id, T0, audit(school, "mme", 1))
    again = grant(files[0], order="9")
    catalog.add_upload(again)
    serve(catalog, again, sha="ef" * 32)
    changes = catalog.changes(school, space, 0, 100)
    assert [(c.file.name, c.op) for c in changes] == [
        ("2.pdf", "upsert"),
        ("3.pdf", "upsert"),
        ("4.pdf", "upsert"),
        ("1.pdf", "delete"),
        ("0.pdf", "upsert"),
    ]
    assert [c.seq for c in changes] == sorted(c.seq for c in changes)
    assert changes[-1].file.version == 2 and changes[3].file.trashed_at == T0
    page = catalog.changes(school, space, changes[1].seq, 2)
    assert [c.file.name for c in page] == ["4.pdf", "1.pdf"]
    assert catalog.changes(school, space, changes[-1].seq, 10) == []
    assert catalog.changes(school, SpaceRef(SpaceKind.CLASS, fresh("c")), 0, 10) == []


def test_a_rescan_quarantines_a_served_object(catalog: Any) -> None:
    from chalicelib.domain.notifications import Notification, NotificationType

    school = fresh("school")
    file, upload = new_file(catalog, school, "ana")
    serve(catalog, upload)
    served = catalog.get_file(school, file.id)
    later = T0 + timedelta(minutes=1)
    note = Notification(fresh("n"), school, "user:ana", NotificationType.FILE_QUARANTINED, later, file.id, "s", "n")
    key = served.object_key
    assert catalog.quarantine_object(key, "quarantine/x", "Eicar", T0, [note]) == served
    gone = catalog.get_file(school, file.id)
    assert (gone.status, gone.reason, gone.object_key) == (FileStatus.INFECTED, "Eicar", "quarantine/x")
    assert catalog.file_versions(file.id)[0].object_key == "quarantine/x"
    assert catalog.clean_copies(school, file.space, "ab" * 32, 5) == []
    assert [c.op for c in catalog.changes(school, file.space, 0, 10)] == ["delete"]
    assert catalog.notifications(school, ["user:ana"], None, 10, later)[0][0].id == note.id
    assert catalog.quarantine_object(f"files/{fresh('f')}/x", "quarantine/y", "Eicar", T0, []) is None


def test_grants_waiting_for_their_bytes_are_counted_under_a_limit(catalog: Any) -> None:
    from chalicelib.domain.quotas import pending_counters
    from chalicelib.errors import TooManyRequestsError

    school = fresh("school")
    counters = pending_counters(school, SpaceRef(SpaceKind.USER, "ana"), "ana")
    limits = tuple((counter, 2) for counter in counters)

    def waiting(name: str) -> Any:
        file, upload = records(school, "ana", name=name)
        upload = replace(upload, pending_limits=limits)
        catalog.create_file(file, upload, [])
        return file, upload

    _, first = waiting("a.pdf")
    file, second = waiting("b.pdf")
    with pytest.raises(TooManyRequestsError) as refused:
        waiting("c.pdf")
    assert refused.value.retry_after == 60
    assert catalog.find_file_id(school, file.space, "/", "c.pdf", "ana") is None  # nothing of it written
    with pytest.raises(TooManyRequestsError):  # a new version's grant counts too
        catalog.add_upload(replace(grant(file), pending_limits=limits))
    serve(catalog, first)  # its bytes judged: it waits no more
    waiting("c.pdf")
    catalog.record_verdict(second, Verdict(FileStatus.REJECTED, "cancelled"), "", "", T0)  # any verdict
    catalog.add_upload(replace(grant(file), pending_limits=limits))
