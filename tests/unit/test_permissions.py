"""The permission decision as a table: every role × space kind × action, read at a glance.

Rows are written as data so the whole policy shows at once; `Y` allowed, `.` denied. The
contract's table: user:X (read: X and users it is shared with; write: X and editors), class:C
(read: its teachers and students, admins; write: its teachers, admins), assignment:A of class C
(teachers of C read every submission; a student of C reads and writes only their own).
"""

from __future__ import annotations

import pytest

from chalicelib.domain.models import Action, Membership, Principal, Role, ShareRole, SpaceRef
from chalicelib.domain.permissions import (
    Decision,
    Resource,
    ShareTarget,
    decide,
    decide_share_target,
    load_rules,
    parse_policy,
)

S = "school-1"
ACTIONS = (Action.LIST, Action.READ, Action.DOWNLOAD, Action.UPLOAD, Action.DELETE, Action.SHARE)

WHO = {
    "owner": (Principal("owner", S, Role.STUDENT), Membership(studying=frozenset({"C"}))),
    "student-of-C": (Principal("s1", S, Role.STUDENT), Membership(studying=frozenset({"C"}))),
    "student-of-D": (Principal("s2", S, Role.STUDENT), Membership(studying=frozenset({"D"}))),
    "teacher-of-C": (Principal("t1", S, Role.TEACHER), Membership(teaching=frozenset({"C"}))),
    "teacher-of-D": (Principal("t2", S, Role.TEACHER), Membership(teaching=frozenset({"D"}))),
    "admin": (Principal("a1", S, Role.ADMIN), Membership()),
    "other-school": (Principal("t1", "school-2", Role.ADMIN), Membership(teaching=frozenset({"C"}))),
}

# resource: the space and whose file it is (the share the caller holds, for shared rows)
RESOURCES = {
    "user:owner": Resource(S, SpaceRef.from_stored("user:owner"), file_owner="owner"),
    "user:owner viewer": Resource(
        S, SpaceRef.from_stored("user:owner"), file_owner="owner", share_roles=frozenset({ShareRole.VIEWER})
    ),
    "user:owner editor": Resource(
        S, SpaceRef.from_stored("user:owner"), file_owner="owner", share_roles=frozenset({ShareRole.EDITOR})
    ),
    "class:C": Resource(S, SpaceRef.from_stored("class:C"), class_id="C", file_owner="t1"),
    "assignment:A own": Resource(S, SpaceRef.from_stored("assignment:A"), class_id="C", file_owner="s1"),
    "assignment:A other's": Resource(S, SpaceRef.from_stored("assignment:A"), class_id="C", file_owner="owner"),
}

MATRIX = """
resource              who            list read download upload delete share
user:owner            owner          Y    Y    Y        Y      Y      Y
user:owner            student-of-C   .    .    .        .      .      .
user:owner            student-of-D   .    .    .        .      .      .
user:owner            teacher-of-C   .    .    .        .      .      .
user:owner            teacher-of-D   .    .    .        .      .      .
user:owner            admin          .    .    .        .      .      .
user:owner            other-school   .    .    .        .      .      .
user:owner viewer     student-of-D   .    Y    Y        .      .      .
user:owner editor     student-of-D   .    Y    Y        Y      Y      .
user:owner editor     other-school   .    .    .        .      .      .
class:C               student-of-C   Y    Y    Y        .      .      .
class:C               student-of-D   .    .    .        .      .      .
class:C               teacher-of-C   Y    Y    Y        Y      Y      Y
class:C               teacher-of-D   .    .    .        .      .      .
class:C               admin          Y    Y    Y        Y      Y      .
class:C               other-school   .    .    .        .      .      .
assignment:A own      student-of-C   Y    Y    Y        Y      Y      .
assignment:A other's  student-of-C   Y    .    .        Y      .      .
assignment:A own      student-of-D   .    .    .        .      .      .
assignment:A own      teacher-of-C   Y    Y    Y        .      .      .
assignment:A own      teacher-of-D   .    .    .        .      .      .
assignment:A own      admin          .    .    .        .      .      .
assignment:A own      other-school   .    .    .        .      .      .
"""


def _rows() -> list[tuple[str, str, Action, bool]]:
    cases = []
    for line in MATRIX.strip().splitlines()[1:]:
        cells = line.split()
        head, who, marks = " ".join(cells[:-7]), cells[-7], cells[-6:]
        for action, mark in zip(ACTIONS, marks, strict=True):
            cases.append((head, who, action, mark == "Y"))
    return cases


@pytest.mark.parametrize(("resource", "who", "action", "allowed"), _rows())
def test_matrix(resource: str, who: str, action: Action, allowed: bool) -> None:
    principal, membership = WHO[who]
    decision = decide(load_rules(), principal, membership, action, RESOURCES[resource])
    assert decision.allowed == allowed, decision.reason


def test_matrix_covers_every_role_and_space_kind() -> None:
    rows = _rows()
    assert {who for _, who, _, _ in rows} == set(WHO)
    assert {r.split(":")[0] for r, _, _, _ in rows} == {"user", "class", "assignment"}


def test_other_school_is_checked_first() -> None:
    principal, membership = WHO["other-school"]
    assert decide(load_rules(), principal, membership, Action.READ, RESOURCES["class:C"]) == Decision(
        False, "other_school"
    )


def test_revoke_belongs_to_the_creator_and_the_owner() -> None:
    from dataclasses import replace

    rules = load_rules()
    resource = replace(RESOURCES["class:C"], share_creator="t1")
    teacher, teaching = WHO["teacher-of-C"]
    student, studying = WHO["student-of-C"]
    assert decide(rules, teacher, teaching, Action.REVOKE, resource).allowed
    assert not decide(rules, student, studying, Action.REVOKE, resource).allowed
    by_student = replace(resource, share_creator="s1")
    assert decide(rules, student, studying, Action.REVOKE, by_student).allowed


@pytest.mark.parametrize(
    ("sharer", "target", "allowed"),
    [
        ("student-of-C", ShareTarget("user", "s3", True, Membership(studying=frozenset({"C"}))), True),
        ("student-of-C", ShareTarget("user", "t1", True, Membership(teaching=frozenset({"C"}))), True),
        ("student-of-C", ShareTarget("user", "s9", True, Membership(studying=frozenset({"D"}))), False),
        ("student-of-C", ShareTarget("class", "C", True), True),
        ("student-of-C", ShareTarget("class", "D", True), False),
        ("teacher-of-C", ShareTarget("user", "s9", True, Membership(studying=frozenset({"D"}))), True),
        ("teacher-of-C", ShareTarget("class", "D", True), True),
        ("teacher-of-C", ShareTarget("class", "Z", False), False),
    ],
)
def test_share_targets(sharer: str, target: ShareTarget, allowed: bool) -> None:
    principal, membership = WHO[sharer]
    assert decide_share_target(load_rules(), principal, membership, target).allowed == allowed


def test_student_to_student_sharing_can_be_switched_off_per_school() -> None:
    document = {
        "spaces": {},
        "shareTargets": {"student": {"user": ["classmate", "class_teacher"], "class": ["own_class"]}},
        "schools": {"default": {"studentToStudentSharing": True}, S: {"studentToStudentSharing": False}},
    }
    rules = parse_policy(document)
    principal, membership = WHO["student-of-C"]
    classmate = ShareTarget("user", "s3", True, Membership(studying=frozenset({"C"})))
    teacher = ShareTarget("user", "t1", True, Membership(teaching=frozenset({"C"})))
    assert not decide_share_target(rules, principal, membership, classmate).allowed
    assert decide_share_target(rules, principal, membership, teacher).allowed
    elsewhere = Principal("s1", "school-3", Role.STUDENT)
    assert decide_share_target(rules, elsewhere, membership, classmate).allowed


def test_unknown_relation_in_rules_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown relations"):
        parse_policy({"spaces": {"user": {"read": ["everyone"]}}})


@pytest.mark.parametrize("resource", ["class:C", "assignment:A own"])
@pytest.mark.parametrize("who", ["teacher-of-C", "student-of-C", "admin"])
def test_a_closed_years_spaces_are_read_only_for_everyone(resource: str, who: str) -> None:
    from dataclasses import replace

    principal, membership = WHO[who]
    open_space = RESOURCES[resource]
    archived = replace(open_space, archived=True)
    rules = load_rules()
    for action in (Action.LIST, Action.READ, Action.DOWNLOAD):
        before = decide(rules, principal, membership, action, open_space).allowed
        assert decide(rules, principal, membership, action, archived).allowed == before, action
    for action in (Action.UPLOAD, Action.DELETE, Action.SHARE, Action.FEEDBACK):
        decision = decide(rules, principal, membership, action, archived)
        assert not decision.allowed and "closed" in decision.reason, action
