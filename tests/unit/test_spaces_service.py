"""SpaceService (GET /v1/spaces/{space}) on the in-memory catalog: `can` from the one permission decision,
for each kind of caller and space; `usage` from the quota the caller's uploads there are charged to."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import pytest

from chalicelib.adapters.memory import MemoryCatalog
from chalicelib.domain.access import AccessControl
from chalicelib.domain.models import Assignment, ClassRecord, Principal, Role, utcnow
from chalicelib.domain.permissions import load_rules
from chalicelib.domain.quotas import Limits, QuotaPolicy
from chalicelib.domain.spaces import SpaceService
from chalicelib.errors import NotFoundError

ANA = Principal("ana", "s1", Role.STUDENT)  # in 5B
CHLOE = Principal("chloe", "s1", Role.STUDENT)  # in 4A only
MME = Principal("mme", "s1", Role.TEACHER)  # teaches 5B
ADMIN = Principal("office", "s1", Role.ADMIN)
ELSEWHERE = Principal("mme", "s2", Role.TEACHER)
QUOTAS = QuotaPolicy(default=Limits(user=1000, klass=5000, submission=300), schools={})
NOTHING = {"read": False, "upload": False, "delete": False, "share": False}
EVERYTHING = {"read": True, "upload": True, "delete": True, "share": True}


@dataclass
class Catalog(MemoryCatalog):
    used: dict[str, int] = field(default_factory=dict)

    def quota_used(self, quota_key: str) -> int:
        return self.used.get(quota_key, 0)


def assignment(assignment_id: str, closes_in: timedelta | None = None) -> Assignment:
    now = utcnow()
    closes = None if closes_in is None else now + closes_in
    return Assignment(assignment_id, "s1", "5B", "Carte", now, closes, None, None, "mme", now)


@pytest.fixture
def catalog() -> Catalog:
    store = Catalog()
    store.add_class(ClassRecord("5B", "s1", "5e B", ("mme",), ("ana", "ben")))
    store.add_class(ClassRecord("4A", "s1", "4e A", ("mr",), ("chloe",)))
    store.add_class(ClassRecord("3C", "s1", "3e C", ("mme",), ("ana",), archived_at=utcnow()))
    store.add_assignment(assignment("hw"))
    store.add_assignment(assignment("late", closes_in=timedelta(hours=-1)))
    store.used = {"s1#class:5B": 1200, "s1#assignment:hw#ana": 120, "s1#user:ana": 7}
    return store


@pytest.fixture
def spaces(catalog: Catalog) -> SpaceService:
    return SpaceService(catalog, AccessControl(catalog, load_rules()), QUOTAS)


@pytest.mark.parametrize(
    ("caller", "space", "can"),
    [
        pytest.param(ANA, "me", EVERYTHING, id="my drive"),
        pytest.param(ANA, "class:5B", {**NOTHING, "read": True}, id="a pupil in a class folder"),
        pytest.param(MME, "class:5B", EVERYTHING, id="its teacher"),
        pytest.param(ADMIN, "class:5B", EVERYTHING, id="an admin"),
        pytest.param(MME, "class:3C", {**NOTHING, "read": True}, id="a closed year's class"),
        pytest.param(ANA, "assignment:hw", {**EVERYTHING, "share": False}, id="a pupil's own submission"),
        pytest.param(MME, "assignment:hw", {**NOTHING, "read": True}, id="its teacher in an assignment"),
        pytest.param(ANA, "assignment:late", {**EVERYTHING, "share": False, "upload": False}, id="closed"),
    ],
)
def test_can_is_the_permission_decision(
    spaces: SpaceService, caller: Principal, space: str, can: dict[str, bool]
) -> None:
    assert spaces.describe(caller, space)["can"] == can


def test_title_and_usage(spaces: SpaceService) -> None:
    assert spaces.describe(ANA, "me") == {
        "space": "user:ana",
        "title": None,
        "can": EVERYTHING,
        "usage": {"bytes": 7, "quota": 1000},
    }
    assert spaces.describe(MME, "class:5B")["title"] == "5e B"
    assert spaces.describe(ANA, "class:5B")["usage"] == {"bytes": 1200, "quota": 5000}
    hw = spaces.describe(ANA, "assignment:hw")
    assert (hw["title"], hw["usage"]) == ("Carte", {"bytes": 120, "quota": 300})
    assert spaces.describe(Principal("ben", "s1", Role.STUDENT), "assignment:hw")["usage"] == {"bytes": 0, "quota": 300}


@pytest.mark.parametrize(
    ("caller", "space"),
    [
        (CHLOE, "class:5B"),
        (CHLOE, "assignment:hw"),
        (ELSEWHERE, "class:5B"),
        (MME, "user:ana"),
        (ADMIN, "user:ana"),
        (ADMIN, "class:nope"),
        (ANA, "assignment:nope"),
        (ANA, "nonsense"),
    ],
)
def test_a_space_the_caller_cannot_list_is_not_found(spaces: SpaceService, caller: Principal, space: str) -> None:
    with pytest.raises(NotFoundError):
        spaces.describe(caller, space)
