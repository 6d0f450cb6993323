"""The permission decision as a table: every role × space kind × action, read at a glance."""

from __future__ import annotations

import pytest

from chalicelib.domain.models import Action, Membership, Principal, Role, SpaceKind, SpaceRef
from chalicelib.domain.permissions import Resource, decide, load_rules

S = "school-1"
A, L, R, D, U, X, H = (Action.LIST, Action.READ, Action.DOWNLOAD, Action.UPLOAD, Action.DELETE, Action.SHARE, None)

# who: (principal, membership); the class space is class C; the user space belongs to "owner".
WHO = {
    "owner": (Principal("owner", S, Role.STUDENT), Membership(studying=frozenset({"C"}))),
    "student-of-C": (Principal("s1", S, Role.STUDENT), Membership(studying=frozenset({"C"}))),
    "student-of-D": (Principal("s2", S, Role.STUDENT), Membership(studying=frozenset({"D"}))),
    "teacher-of-C": (Principal("t1", S, Role.TEACHER), Membership(teaching=frozenset({"C"}))),
    "teacher-of-D": (Principal("t2", S, Role.TEACHER), Membership(teaching=frozenset({"D"}))),
    "admin": (Principal("a1", S, Role.ADMIN), Membership()),
    "other-school-admin": (Principal("a2", "school-2", Role.ADMIN), Membership(teaching=frozenset({"C"}))),
}

# space → who → the actions allowed (everything else denied). Files in user:owner are owned by owner;
# files in class:C are owned by teacher t1.
EXPECTED = {
    "user:owner": {
        "owner": {A, L, R, D, U, X},
        "student-of-C": set(),
        "student-of-D": set(),
        "teacher-of-C": set(),
        "teacher-of-D": set(),
        "admin": set(),
        "other-school-admin": set(),
    },
    "class:C": {
        "owner": {A, L, R},
        "student-of-C": {A, L, R},
        "student-of-D": set(),
        "teacher-of-C": {A, L, R, D, U, X},
        "teacher-of-D": set(),
        "admin": {A, L, R, D, U},
        "other-school-admin": set(),
    },
}
# A: list, L: read, R: download, D: delete, U: upload, X: share
LETTER = {A: Action.LIST, L: Action.READ, R: Action.DOWNLOAD, D: Action.DELETE, U: Action.UPLOAD, X: Action.SHARE}


def _resource(space: str) -> Resource:
    ref = SpaceRef.from_stored(space)
    if ref.kind is SpaceKind.USER:
        return Resource(S, ref, file_owner="owner")
    return Resource(S, ref, class_id=ref.id, file_owner="t1")


CASES = [(space, who, action) for space in EXPECTED for who in WHO for action in Action]


@pytest.mark.parametrize(("space", "who", "action"), CASES)
def test_matrix(space: str, who: str, action: Action) -> None:
    principal, membership = WHO[who]
    decision = decide(load_rules(), principal, membership, action, _resource(space))
    assert decision.allowed == (action in EXPECTED[space][who]), decision.reason


def test_other_school_is_checked_first() -> None:
    principal, membership = WHO["other-school-admin"]
    decision = decide(load_rules(), principal, membership, Action.READ, _resource("class:C"))
    assert decision == decision.__class__(False, "other_school")


def test_unknown_relation_in_rules_is_refused() -> None:
    from chalicelib.domain.permissions import parse_rules

    with pytest.raises(ValueError, match="unknown relations"):
        parse_rules({"spaces": {"user": {"read": ["everyone"]}}})
