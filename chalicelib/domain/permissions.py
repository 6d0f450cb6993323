"""One pure permission decision over rules kept as data in `policies/sharing/`."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from chalicelib.domain.models import Action, Membership, Principal, Role, SpaceKind, SpaceRef

RULES_PATH = Path(__file__).resolve().parents[2] / "policies" / "sharing" / "rules.json"

# The actions that only reveal; when none of them is allowed, the resource is invisible (404).
READ_ACTIONS = (Action.LIST, Action.READ)

Rules = Mapping[str, Mapping[str, frozenset[str]]]


@dataclass(frozen=True)
class Resource:
    """What a request touches: a space of a school, and possibly one file in it."""

    school: str
    space: SpaceRef
    class_id: str | None = None  # the class a class or assignment space belongs to
    file_owner: str | None = None


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str


def parse_rules(document: Mapping[str, object]) -> Rules:
    """Check and freeze a rules document; unknown space kinds, actions or relations are errors."""
    spaces = document.get("spaces")
    if not isinstance(spaces, dict):
        raise ValueError("rules: 'spaces' must be an object")
    known = {"space_owner", "file_owner", "class_teacher", "class_student", "school_admin", "submitter"}
    rules: dict[str, dict[str, frozenset[str]]] = {}
    for kind, actions in spaces.items():
        SpaceKind(kind)
        rules[kind] = {}
        for action, relations in actions.items():
            Action(action)
            unknown = set(relations) - known
            if unknown:
                raise ValueError(f"rules: unknown relations {sorted(unknown)} in {kind}.{action}")
            rules[kind][action] = frozenset(relations)
    return rules


@lru_cache(maxsize=1)
def load_rules(path: Path = RULES_PATH) -> Rules:
    """The rules of this deployment, read once per cold start."""
    return parse_rules(json.loads(path.read_text(encoding="utf-8")))


def relations(principal: Principal, membership: Membership, resource: Resource) -> frozenset[str]:
    """Every relation the caller holds to the resource (same school assumed)."""
    held: set[str] = set()
    space = resource.space
    if space.kind is SpaceKind.USER and space.id == principal.user_id:
        held.add("space_owner")
    if resource.file_owner is not None and resource.file_owner == principal.user_id:
        held.add("file_owner")
        if space.kind is SpaceKind.ASSIGNMENT:
            held.add("submitter")
    if resource.class_id is not None:
        if resource.class_id in membership.teaching:
            held.add("class_teacher")
        if resource.class_id in membership.studying:
            held.add("class_student")
    if principal.role is Role.ADMIN:
        held.add("school_admin")
    return frozenset(held)


def decide(rules: Rules, principal: Principal, membership: Membership, action: Action, resource: Resource) -> Decision:
    """Allow or deny one action, with the reason; default deny, the tenant checked first."""
    if resource.school != principal.school:
        return Decision(False, "other_school")
    allowed_by = rules.get(resource.space.kind, {}).get(action, frozenset())
    granted = sorted(allowed_by & relations(principal, membership, resource))
    if granted:
        return Decision(True, f"{action} allowed as {granted[0]}")
    return Decision(False, f"no relation allows {action} in a {resource.space.kind} space")


def can_see(rules: Rules, principal: Principal, membership: Membership, resource: Resource) -> bool:
    """Whether the caller may know the resource exists (else it answers 404)."""
    return any(decide(rules, principal, membership, a, resource).allowed for a in READ_ACTIONS)
