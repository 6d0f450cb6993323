"""Applies the permission decision to a request: 404 for the invisible, 403 for the read-only."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from chalicelib.domain.models import Action, Membership, Principal, Role, SpaceKind, SpaceRef
from chalicelib.domain.permissions import Resource, Rules, can_see, decide
from chalicelib.domain.ports import Catalog
from chalicelib.errors import ForbiddenError, NotFoundError

log = logging.getLogger("cartable.access")


@dataclass(frozen=True)
class SpaceAccess:
    """Everything the decision needs about one caller and one space, gathered once per request."""

    rules: Rules
    principal: Principal
    membership: Membership
    resource: Resource

    def allows(self, action: Action, file_owner: str | None = None) -> bool:
        resource = replace(self.resource, file_owner=file_owner)
        return decide(self.rules, self.principal, self.membership, action, resource).allowed

    def require(self, action: Action, file_owner: str | None = None) -> None:
        """Allow the action, or raise NotFoundError (cannot see) or ForbiddenError (sees, may not)."""
        resource = replace(self.resource, file_owner=file_owner)
        decision = decide(self.rules, self.principal, self.membership, action, resource)
        log.info(
            "%s user=%s action=%s space=%s reason=%s",
            "allow" if decision.allowed else "deny",
            self.principal.user_id,
            action,
            resource.space,
            decision.reason,
        )
        if decision.allowed:
            return
        if action in (Action.LIST, Action.READ, Action.DOWNLOAD) or not can_see(
            self.rules, self.principal, self.membership, resource
        ):
            raise NotFoundError()
        raise ForbiddenError(f"You may not {action} in this space.")


class AccessControl:
    """Builds a SpaceAccess: the caller's membership and the space's class, from the catalog."""

    def __init__(self, catalog: Catalog, rules: Rules) -> None:
        self._catalog = catalog
        self._rules = rules

    def space(self, principal: Principal, space: SpaceRef, school: str | None = None) -> SpaceAccess:
        """The caller's access to a space (of `school`, the caller's by default); 404 when it does not exist."""
        if space.kind is SpaceKind.ASSIGNMENT:
            # Assignments arrive with their own issue; until then no such space exists.
            log.info("deny user=%s space=%s reason=no such space", principal.user_id, space)
            raise NotFoundError()
        membership = Membership()
        class_id = None
        if space.kind is SpaceKind.CLASS:
            class_id = space.id
            if principal.role is Role.ADMIN:
                if self._catalog.get_class(principal.school, space.id) is None:
                    raise NotFoundError()
            else:
                membership = self._catalog.membership(principal.school, principal.user_id)
        resource = Resource(school or principal.school, space, class_id=class_id)
        return SpaceAccess(self._rules, principal, membership, resource)
