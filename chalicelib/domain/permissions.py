"""One pure permission decision over rules kept as data in `policies/sharing/rules.json`.

No I/O here: the caller gathers what the decision needs (memberships, the shares that reach the
caller) and the decision says yes or no, with the reason. Default deny; the tenant comes first.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from chalicelib.domain.models import Action, Membership, Principal, Role, ShareRole, SpaceKind, SpaceRef

RULES_PATH = Path(__file__).resolve().parents[2] / "policies" / "sharing" / "rules.json"

# The actions that only reveal; when none of them is allowed, the resource is invisible (404).
READ_ACTIONS = (Action.LIST, Action.READ)
RELATIONS = frozenset(
    {
        "space_owner",
        "file_owner",
        "shared_viewer",
        "shared_editor",
        "class_teacher",
        "class_student",
        "school_admin",
        "submitter",
        "share_creator",
        "school_member",
        "feedback_recipient",
    }
)
TARGET_RELATIONS = frozenset({"classmate", "class_teacher", "own_class", "school_user", "school_class"})


@dataclass(frozen=True)
class Policy:
    """The rules: space kind → action → relations, whom each role may share with, school settings."""

    spaces: Mapping[str, Mapping[str, frozenset[str]]]
    share_targets: Mapping[str, Mapping[str, frozenset[str]]]
    schools: Mapping[str, Mapping[str, Any]]
    archived_denies: frozenset[str] = frozenset()  # actions nobody may take in a closed year's spaces

    def school_setting(self, school: str, name: str) -> Any:
        return self.schools.get(school, {}).get(name, self.schools.get("default", {}).get(name))


@dataclass(frozen=True)
class Resource:
    """What a request touches: a space of a school, and possibly one file in it."""

    school: str
    space: SpaceRef
    class_id: str | None = None  # the class a class or assignment space belongs to
    file_owner: str | None = None
    file_subject: str | None = None  # in an assignment: the student the file belongs to
    share_roles: frozenset[ShareRole] = field(default_factory=frozenset)  # live shares reaching the caller
    share_creator: str | None = None  # for revoking a share: who created it
    archived: bool = False  # a class or assignment space of a closed school year


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str


@dataclass(frozen=True)
class ShareTarget:
    """Whom a share is for, as far as the decision needs to know them."""

    kind: str  # "user" or "class"
    id: str
    exists: bool  # the class exists in the school / the user is in a class of the school
    membership: Membership = field(default_factory=Membership)  # the target user's classes


def parse_policy(document: Mapping[str, Any]) -> Policy:
    """Check and freeze a rules document; unknown kinds, actions or relations are errors."""
    spaces = document.get("spaces")
    if not isinstance(spaces, dict):
        raise ValueError("rules: 'spaces' must be an object")
    parsed: dict[str, dict[str, frozenset[str]]] = {}
    for kind, actions in spaces.items():
        SpaceKind(kind)
        parsed[kind] = {}
        for action, relations in actions.items():
            Action(action)
            _check(set(relations), RELATIONS, f"{kind}.{action}")
            parsed[kind][action] = frozenset(relations)
    targets: dict[str, dict[str, frozenset[str]]] = {}
    for role, kinds in document.get("shareTargets", {}).items():
        if role == "about":
            continue
        Role(role)
        targets[role] = {}
        for kind, relations in kinds.items():
            if kind not in ("user", "class"):
                raise ValueError(f"rules: share target kind {kind!r} is not user or class")
            _check(set(relations), TARGET_RELATIONS, f"shareTargets.{role}.{kind}")
            targets[role][kind] = frozenset(relations)
    schools = {k: v for k, v in document.get("schools", {}).items() if k != "about"}
    denies = frozenset(document.get("archived", {}).get("deny", []))
    for action in denies:
        Action(action)
    return Policy(spaces=parsed, share_targets=targets, schools=schools, archived_denies=denies)


def _check(given: set[str], known: frozenset[str], where: str) -> None:
    unknown = given - known
    if unknown:
        raise ValueError(f"rules: unknown relations {sorted(unknown)} in {where}")


@lru_cache(maxsize=1)
def load_rules(path: Path = RULES_PATH) -> Policy:
    """The rules of this deployment, read once per cold start."""
    return parse_policy(json.loads(path.read_text(encoding="utf-8")))


def relations(principal: Principal, membership: Membership, resource: Resource) -> frozenset[str]:
    """Every relation the caller holds to the resource (same school assumed)."""
    held = {"school_member"} | _space_relations(principal, membership, resource)
    if resource.file_owner is not None and resource.file_owner == principal.user_id:
        held.add("file_owner")
    if resource.space.kind is SpaceKind.ASSIGNMENT and resource.file_owner is not None:
        subject = resource.file_subject or resource.file_owner
        if subject == principal.user_id:
            held.add("submitter" if subject == resource.file_owner else "feedback_recipient")
    if resource.share_creator is not None and resource.share_creator == principal.user_id:
        held.add("share_creator")
    held |= {f"shared_{role}" for role in resource.share_roles}
    return frozenset(held)


def _space_relations(principal: Principal, membership: Membership, resource: Resource) -> set[str]:
    held: set[str] = set()
    if resource.space.kind is SpaceKind.USER and resource.space.id == principal.user_id:
        held.add("space_owner")
    if resource.class_id is not None:
        if resource.class_id in membership.teaching:
            held.add("class_teacher")
        if resource.class_id in membership.studying:
            held.add("class_student")
    if principal.role is Role.ADMIN:
        held.add("school_admin")
    return held


def decide(rules: Policy, principal: Principal, membership: Membership, action: Action, resource: Resource) -> Decision:
    """Allow or deny one action, with the reason; default deny, the tenant checked first."""
    if resource.school != principal.school:
        return Decision(False, "other_school")
    if resource.archived and action in rules.archived_denies:
        return Decision(False, f"{action} denied: the school year of this space is closed")
    allowed_by = rules.spaces.get(resource.space.kind, {}).get(action, frozenset())
    granted = sorted(allowed_by & relations(principal, membership, resource))
    if granted:
        return Decision(True, f"{action} allowed as {granted[0]}")
    return Decision(False, f"no relation allows {action} in a {resource.space.kind} space")


def can_see(rules: Policy, principal: Principal, membership: Membership, resource: Resource) -> bool:
    """Whether the caller may know the resource exists (else it answers 404)."""
    return any(decide(rules, principal, membership, a, resource).allowed for a in READ_ACTIONS)


def target_relations(membership: Membership, target: ShareTarget) -> frozenset[str]:
    """How a share's target relates to the sharer's classes."""
    mine = membership.teaching | membership.studying
    held: set[str] = set()
    if target.kind == "class":
        held.add("school_class")
        if target.id in mine:
            held.add("own_class")
        return frozenset(held)
    held.add("school_user")
    if target.membership.studying & mine:
        held.add("classmate")
    if target.membership.teaching & mine:
        held.add("class_teacher")
    return frozenset(held)


def decide_share_target(rules: Policy, principal: Principal, membership: Membership, target: ShareTarget) -> Decision:
    """Whether the caller may share with this target (the file-level SHARE right is decided apart)."""
    if not target.exists:
        return Decision(False, "no_such_target")
    allowed_by = set(rules.share_targets.get(principal.role, {}).get(target.kind, frozenset()))
    if principal.role is Role.STUDENT and not rules.school_setting(principal.school, "studentToStudentSharing"):
        allowed_by -= {"classmate", "own_class"}
    granted = sorted(allowed_by & target_relations(membership, target))
    if granted:
        return Decision(True, f"share with {target.kind} allowed as {granted[0]}")
    return Decision(False, f"a {principal.role} may not share with this {target.kind}")
