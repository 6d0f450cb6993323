"""The catalog's contract for a file's rename or move (`move_file`): the same tests on the DynamoDB
catalog (in-process moto) and the PostgreSQL catalog (a real server), as test_catalog_files.py."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest

from chalicelib.domain.models import FileStatus, SpaceKind, SpaceRef
from chalicelib.domain.names import parent_chain
from chalicelib.errors import AlreadyExistsError, StaleWriteError
from tests.catalogs import T0, audit, fresh, grant, new_file, records, serve

pytestmark = pytest.mark.integration
pytest_plugins = ["tests.postgres", "tests.catalog_fixtures"]

LATER = T0 + timedelta(hours=1)


def served(catalog: Any, school: str, owner: str, **kwargs: Any) -> Any:
    file, upload = new_file(catalog, school, owner, **kwargs)
    serve(catalog, upload)
    return catalog.get_file(school, file.id)


def test_a_move_changes_the_name_the_folder_and_the_feed_at_once(catalog: Any) -> None:
    school = fresh("school")
    file = served(catalog, school, "ana", name="brouillon.pdf")
    moved = catalog.move_file(
        file.id,
        "/cours/maths/",
        "devoir.pdf",
        parent_chain("/cours/maths/"),
        LATER,
        audit(school, "ana", 1, "file.move"),
    )
    assert (moved.path, moved.name, moved.updated_at) == ("/cours/maths/", "devoir.pdf", LATER)
    assert (moved.version, moved.status, moved.object_key) == (file.version, FileStatus.AVAILABLE, file.object_key)
    assert catalog.get_file(school, file.id) == moved
    assert catalog.find_file_id(school, file.space, "/cours/maths/", "devoir.pdf", "ana") == file.id
    assert catalog.find_file(school, file.space, "/cours/maths/", "devoir.pdf", "ana") == moved
    assert catalog.find_file_id(school, file.space, "/", "brouillon.pdf", "ana") is None
    root = catalog.list_folder(school, file.space, "/", 10, None)
    assert (root.folders, root.files) == (["cours"], [])
    assert catalog.list_folder(school, file.space, "/cours/", 10, None).folders == ["maths"]
    assert catalog.list_folder(school, file.space, "/cours/maths/", 10, None).files == [moved]
    changes = catalog.changes(school, file.space, 0, 10)
    assert [(c.op, c.file.path, c.file.name) for c in changes] == [("upsert", "/cours/maths/", "devoir.pdf")]
    assert "file.move" in [a.action for a in catalog.list_audit(school, None, 10, None)[0]]
    # the old name is free: a new file; the new name's upload is a version of this one
    other, upload = records(school, "ana", name="brouillon.pdf")
    catalog.create_file(other, upload, [])
    again = grant(moved, order="9")
    catalog.add_upload(again)
    serve(catalog, again, sha="ef" * 32)
    assert catalog.get_file(school, file.id).version == file.version + 1
    assert catalog.get_file(school, file.id).name == "devoir.pdf"


def test_a_grant_that_read_the_old_name_asks_again(catalog: Any) -> None:
    """A grant found the file under its old name just before the move (DynamoDB's folder index may lag):
    its write refuses as a lost race, and the grant's second, consistent look makes a new file."""
    school = fresh("school")
    file = served(catalog, school, "ana", name="old.pdf")
    stale = grant(file, order="9")  # granted for /old.pdf
    catalog.move_file(file.id, "/", "new.pdf", [], LATER, audit(school, "ana", 1))
    with pytest.raises(StaleWriteError) as lost:
        catalog.add_upload(stale, served=True)
    assert lost.value.failed
    assert catalog.find_file_id(school, file.space, "/", "old.pdf", "ana") is None


def test_a_version_pending_during_the_move_lands_on_the_moved_file(catalog: Any) -> None:
    school = fresh("school")
    file = served(catalog, school, "ana", name="old.pdf")
    pending = grant(file, order="9")
    catalog.add_upload(pending, served=True)
    catalog.move_file(file.id, "/rendu/", "new.pdf", parent_chain("/rendu/"), LATER, audit(school, "ana", 1))
    serve(catalog, pending, sha="ef" * 32, at=LATER)
    current = catalog.get_file(school, file.id)
    assert (current.path, current.name, current.version) == ("/rendu/", "new.pdf", file.version + 1)
    changes = catalog.changes(school, file.space, 0, 10)
    assert [(c.op, c.file.name, c.file.version) for c in changes] == [("upsert", "new.pdf", file.version + 1)]


def test_the_same_place_changes_nothing(catalog: Any) -> None:
    school = fresh("school")
    file = served(catalog, school, "ana")
    seq = [c.seq for c in catalog.changes(school, file.space, 0, 10)]
    assert catalog.move_file(file.id, file.path, file.name, [], LATER, audit(school, "ana", 1)) == file
    assert catalog.get_file(school, file.id) == file
    assert [c.seq for c in catalog.changes(school, file.space, 0, 10)] == seq


def test_a_name_taken_refuses_and_changes_nothing(catalog: Any) -> None:
    school = fresh("school")
    space = SpaceRef(SpaceKind.CLASS, fresh("c"))
    file = served(catalog, school, "mme", space=space, name="a.pdf")
    taken = served(catalog, school, "mme", space=space, path="/td/", name="b.pdf")
    before = catalog.changes(school, space, 0, 10)
    with pytest.raises(AlreadyExistsError):
        catalog.move_file(file.id, "/td/", "b.pdf", parent_chain("/td/"), LATER, audit(school, "mme", 1))
    pending, _ = new_file(catalog, school, "mme", space=space, name="c.pdf")  # a name claimed by a pending file
    with pytest.raises(AlreadyExistsError):
        catalog.move_file(file.id, "/", "c.pdf", [], LATER, audit(school, "mme", 2))
    assert catalog.get_file(school, file.id) == file
    assert catalog.get_file(school, taken.id) == taken
    assert catalog.find_file_id(school, space, "/", "a.pdf", "mme") == file.id
    assert catalog.changes(school, space, 0, 10) == before
    with pytest.raises(StaleWriteError):  # only a served, available file moves
        catalog.move_file(pending.id, "/", "d.pdf", [], LATER, audit(school, "mme", 3))
    catalog.trash_file(file.id, LATER, audit(school, "mme", 4))
    with pytest.raises(StaleWriteError):
        catalog.move_file(file.id, "/", "e.pdf", [], LATER, audit(school, "mme", 5))
    with pytest.raises(StaleWriteError):
        catalog.move_file(fresh("f"), "/", "e.pdf", [], LATER, audit(school, "mme", 6))


def test_a_moved_file_goes_to_the_trash_and_back_under_its_new_name(catalog: Any) -> None:
    school = fresh("school")
    file = served(catalog, school, "ana", name="old.pdf")
    catalog.move_file(file.id, "/", "new.pdf", [], LATER, audit(school, "ana", 1))
    catalog.trash_file(file.id, LATER, audit(school, "ana", 2))
    assert catalog.find_file_id(school, file.space, "/", "new.pdf", "ana") is None
    catalog.restore_file(file.id, audit(school, "ana", 3))
    assert catalog.find_file_id(school, file.space, "/", "new.pdf", "ana") == file.id
    assert catalog.find_file_id(school, file.space, "/", "old.pdf", "ana") is None


def test_in_an_assignment_a_pupils_names_are_their_own(catalog: Any) -> None:
    school = fresh("school")
    space = SpaceRef(SpaceKind.ASSIGNMENT, fresh("as"))
    mine = served(catalog, school, "ana", space=space, name="a.pdf")
    served(catalog, school, "ben", space=space, name="b.pdf")
    moved = catalog.move_file(mine.id, "/", "b.pdf", [], LATER, audit(school, "ana", 1))  # ben's b.pdf is his
    assert catalog.find_file_id(school, space, "/", "b.pdf", "ana") == moved.id
    assert [f.name for f in catalog.list_folder(school, space, "/", 10, None, owner="ana").files] == ["b.pdf"]


def test_renames_at_once_in_one_folder_never_refuse_one_another(subject: Any) -> None:
    if subject.kind == "dynamodb":
        pytest.skip("in-process moto is not thread-safe; the DynamoDB races run on the real stack (test_rename_move)")
    catalog, school = subject.catalog, fresh("school")
    space = SpaceRef(SpaceKind.CLASS, fresh("c"))
    files = [served(catalog, school, "mme", space=space, name=f"{n}.pdf") for n in range(8)]
    errors: list[Exception] = []

    def rename(n: int) -> None:
        try:
            catalog.move_file(files[n].id, "/", f"{n}-v2.pdf", [], LATER, audit(school, "mme", n))
        except Exception as exc:  # collected and shown below
            errors.append(exc)

    threads = [threading.Thread(target=rename, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    listed = catalog.list_folder(school, space, "/", 20, None).files
    assert sorted(f.name for f in listed) == sorted(f"{n}-v2.pdf" for n in range(8))
    changes = catalog.changes(school, space, 0, 100)
    assert sorted(c.file.name for c in changes) == sorted(f"{n}-v2.pdf" for n in range(8))
    assert [c.seq for c in changes] == sorted(c.seq for c in changes)
