"""What a space is to the caller: its title, what the caller may do there (the one permission decision,
so clients never keep a copy of the rules) and the quota the caller's uploads there count against."""

from __future__ import annotations

from typing import Any, Protocol

from chalicelib.domain.access import AccessControl, SpaceAccess
from chalicelib.domain.models import Action, ClassRecord, Principal, SpaceKind, SpaceRef, utcnow
from chalicelib.domain.quotas import QuotaPolicy

# What `can` answers, each from the decision on the action of the same name.
ABILITIES = {"read": Action.READ, "upload": Action.UPLOAD, "delete": Action.DELETE, "share": Action.SHARE}


class SpaceReads(Protocol):
    """What describing a space reads beyond the access decision: its class, its quota's use."""

    def get_class(self, school: str, class_id: str) -> ClassRecord | None: ...

    def quota_used(self, quota_key: str) -> int: ...


def abilities(access: SpaceAccess) -> dict[str, bool]:
    """What the caller may do in the space. Where the caller may add files (their drive, a class folder
    they teach, their own submission) it is about their own files there; elsewhere about the space's
    files (a pupil in a class folder reads, a teacher in an assignment reads every submission). An
    assignment past `closesAt` takes no more uploads."""
    about = access.for_file(access.principal.user_id) if access.allows(Action.UPLOAD) else access
    can = {name: about.allows(action) for name, action in ABILITIES.items()}
    closes_at = access.assignment.closes_at if access.assignment is not None else None
    if closes_at is not None and utcnow() >= closes_at:
        can["upload"] = False
    return can


class SpaceService:
    """`GET /v1/spaces/{space}`: a space as the caller sees it; 404 where the caller cannot list it."""

    def __init__(self, catalog: SpaceReads, access: AccessControl, quotas: QuotaPolicy) -> None:
        self._catalog = catalog
        self._access = access
        self._quotas = quotas

    def describe(self, principal: Principal, space_text: str) -> dict[str, Any]:
        """`{"space", "title", "can", "usage"}`; `title` is null for a personal drive (clients name it in
        their own language)."""
        space = SpaceRef.parse(space_text, principal)
        access = self._access.space(principal, space)
        access.require(Action.LIST)
        key, limit = self._quotas.charge(principal.school, space, principal.user_id)
        return {
            "space": str(space),
            "title": self._title(principal, space, access),
            "can": abilities(access),
            "usage": {"bytes": self._catalog.quota_used(key), "quota": limit},
        }

    def _title(self, principal: Principal, space: SpaceRef, access: SpaceAccess) -> str | None:
        if space.kind is SpaceKind.ASSIGNMENT and access.assignment is not None:
            return access.assignment.title
        if space.kind is SpaceKind.CLASS:
            record = self._catalog.get_class(principal.school, space.id)
            return None if record is None else record.name
        return None
