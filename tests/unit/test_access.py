"""The 404-for-invisible rule (chalicelib/domain/access.py): a space or file the caller cannot see
answers NotFoundError whatever the action, so a 403 never tells that an id exists; one it sees but may
not change answers ForbiddenError. On the in-memory catalog, without the integration suite."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from chalicelib.adapters.memory import MemoryCatalog
from chalicelib.domain.access import AccessControl
from chalicelib.domain.models import (
    Action,
    Assignment,
    ClassRecord,
    FileRecord,
    FileStatus,
    Principal,
    Role,
    SpaceKind,
    SpaceRef,
)
from chalicelib.domain.permissions import load_rules
from chalicelib.errors import ForbiddenError, NotFoundError
from tests.records import sample_file

ANA = Principal("ana", "s1", Role.STUDENT)  # in 5B
BEN = Principal("ben", "s1", Role.STUDENT)  # in 5B
CHLOE = Principal("chloe", "s1", Role.STUDENT)  # in 4A only
MME = Principal("mme", "s1", Role.TEACHER)  # teaches 5B
ANA_ELSEWHERE = Principal("ana", "s2", Role.STUDENT)  # the same user id in another school
EVERY_ACTION = list(Action)
CHANGES = [Action.UPLOAD, Action.DELETE, Action.SHARE, Action.REVOKE, Action.ASSIGN, Action.FEEDBACK, Action.MANAGE]


file = sample_file


ANA_DRIVE = SpaceRef(SpaceKind.USER, "ana")
CLASS_5B = SpaceRef(SpaceKind.CLASS, "5B")
HOMEWORK = file("homework", ANA_DRIVE, "ana")
COURSE = file("course", CLASS_5B, "mme")
UNSCANNED = file("unscanned", CLASS_5B, "mme", FileStatus.PENDING)
INFECTED = file("infected", CLASS_5B, "mme", FileStatus.INFECTED)
TP = Assignment(
    "tp", "s1", "5B", "TP", datetime(2030, 1, 1, tzinfo=UTC), None, None, None, "mme", datetime(2026, 1, 1, tzinfo=UTC)
)
SUBMISSION = replace(file("submission", SpaceRef(SpaceKind.ASSIGNMENT, "tp"), "ana"), subject="ana")


@pytest.fixture
def access() -> AccessControl:
    catalog = MemoryCatalog()
    catalog.add_class(ClassRecord("5B", "s1", "5B", ("mme",), ("ana", "ben")))
    catalog.add_class(ClassRecord("4A", "s1", "4A", ("mr",), ("chloe",)))
    catalog.add_assignment(TP)
    for record in (HOMEWORK, COURSE, UNSCANNED, INFECTED, SUBMISSION):
        catalog.add_file(record)
    return AccessControl(catalog, load_rules())


@pytest.mark.parametrize("action", EVERY_ACTION)
@pytest.mark.parametrize(
    ("caller", "space"),
    [
        pytest.param(BEN, ANA_DRIVE, id="a classmate's drive"),
        pytest.param(MME, ANA_DRIVE, id="a pupil's drive, for her teacher"),
        pytest.param(CHLOE, CLASS_5B, id="a class one is not in"),
        pytest.param(ANA_ELSEWHERE, CLASS_5B, id="another school's class"),
    ],
)
def test_a_space_the_caller_cannot_see_is_not_found_whatever_the_action(
    access: AccessControl, caller: Principal, space: SpaceRef, action: Action
) -> None:
    with pytest.raises(NotFoundError):
        access.space(caller, space, school="s1").require(action)


@pytest.mark.parametrize("action", [Action.UPLOAD, Action.DELETE, Action.ASSIGN, Action.MANAGE, Action.AUDIT])
def test_a_space_the_caller_sees_but_may_not_change_is_forbidden(access: AccessControl, action: Action) -> None:
    space = access.space(ANA, CLASS_5B)
    space.require(Action.LIST)  # she sees her class's folder
    with pytest.raises(ForbiddenError):
        space.require(action)


@pytest.mark.parametrize("action", EVERY_ACTION)
@pytest.mark.parametrize(
    ("caller", "record"),
    [
        pytest.param(BEN, HOMEWORK, id="a classmate's drive file"),
        pytest.param(MME, HOMEWORK, id="a pupil's drive file, for her teacher"),
        pytest.param(CHLOE, COURSE, id="a file of a class one is not in"),
        pytest.param(ANA_ELSEWHERE, COURSE, id="another school's file"),
        pytest.param(ANA, UNSCANNED, id="a pending file of someone else"),
        pytest.param(BEN, INFECTED, id="an infected file of someone else"),
        pytest.param(BEN, SUBMISSION, id="a classmate's submission (he lists the assignment, not her files)"),
    ],
)
def test_a_file_the_caller_cannot_see_is_not_found_whatever_the_action(
    access: AccessControl, caller: Principal, record: FileRecord, action: Action
) -> None:
    with pytest.raises(NotFoundError):
        access.require_file(caller, record, action)


@pytest.mark.parametrize("action", [Action.DELETE, Action.SHARE, Action.UPLOAD])
def test_a_file_the_caller_sees_but_may_not_change_is_forbidden(access: AccessControl, action: Action) -> None:
    access.require_file(ANA, COURSE, Action.READ)  # her teacher's course, in her class: she reads it
    access.require_file(ANA, COURSE, Action.DOWNLOAD)
    with pytest.raises(ForbiddenError):
        access.require_file(ANA, COURSE, action)


def test_what_the_caller_may_do_is_allowed(access: AccessControl) -> None:
    for action in (Action.READ, Action.DOWNLOAD, Action.DELETE, Action.SHARE):
        access.require_file(ANA, HOMEWORK, action)
        access.require_file(MME, COURSE, action)
    access.require_file(MME, UNSCANNED, Action.READ)  # its uploader sees it pending
    access.space(MME, CLASS_5B).require(Action.UPLOAD)


def test_changing_an_assignment_is_its_class_s_teachers_until_the_year_closes_and_once_deleted_it_is_gone() -> None:
    from dataclasses import replace
    from datetime import UTC, datetime

    from chalicelib.domain.models import Assignment

    moment = datetime(2026, 11, 1, tzinfo=UTC)
    catalog = MemoryCatalog()
    catalog.add_class(ClassRecord("5B", "s1", "5B", ("mme",), ("ana", "ben")))
    catalog.add_class(ClassRecord("4A", "s1", "4A", ("mr",), ("chloe",)))
    live = catalog.add_assignment(Assignment("hw", "s1", "5B", "Essay", moment, None, None, None, "mme", moment))
    access = AccessControl(catalog, load_rules())
    space = live.space
    access.space(MME, space).for_class().require(Action.ASSIGN)
    with pytest.raises(ForbiddenError):  # she sees it, may not change it
        access.space(ANA, space).for_class().require(Action.ASSIGN)
    with pytest.raises(NotFoundError):
        access.space(CHLOE, space).require(Action.LIST)
    catalog.add_assignment(replace(live, archived_at=moment))
    with pytest.raises(ForbiddenError):  # a closed year's assignment: read-only for its teachers too
        access.space(MME, space).for_class().require(Action.ASSIGN)
    catalog.add_assignment(replace(live, deleted_at=moment))
    for caller in (MME, ANA):
        with pytest.raises(NotFoundError):
            access.space(caller, space)
    access.space(MME, space, deleted=True).require(Action.LIST)  # its trash
