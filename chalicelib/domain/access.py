"""Applies the permission decision to a request: 404 for the invisible, 403 for the read-only."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from typing import Protocol

from chalicelib.domain.models import (
    Action,
    Assignment,
    ClassRecord,
    FileRecord,
    FileStatus,
    Membership,
    Principal,
    Role,
    Share,
    ShareRole,
    SpaceKind,
    SpaceRef,
    utcnow,
)
from chalicelib.domain.permissions import Policy, Resource, can_see, decide
from chalicelib.domain.telemetry import NullTelemetry, Telemetry
from chalicelib.errors import ForbiddenError, NotFoundError

log = logging.getLogger("cartable.access")


class AccessStore(Protocol):
    """What an access decision reads: the caller's classes, a class, an assignment, a file's shares."""

    def membership(self, school: str, user_id: str) -> Membership: ...

    def get_class(self, school: str, class_id: str) -> ClassRecord | None: ...

    def get_assignment(self, school: str, assignment_id: str) -> Assignment | None: ...

    def file_shares(self, file_id: str) -> list[Share]: ...


@dataclass(frozen=True)
class SpaceAccess:
    """Everything the decision needs about one caller and one space, gathered once per request."""

    rules: Policy
    principal: Principal
    membership: Membership
    resource: Resource
    assignment: Assignment | None = None
    telemetry: Telemetry = field(default_factory=NullTelemetry, compare=False, repr=False)  # where `require` tells

    def sees_every_file(self) -> bool:
        """Whether the caller may read files of others in this space (a teacher in an assignment, say)."""
        return self.for_file(file_owner="").allows(Action.READ)

    def sees_unserved(self, file: FileRecord) -> bool:
        """Pending, infected and rejected files show to their uploader, the space's writers and, in an
        assignment, its teachers; to anyone else they do not exist."""
        if file.status is FileStatus.AVAILABLE or file.owner == self.principal.user_id or self.allows(Action.UPLOAD):
            return True
        return file.space.kind is SpaceKind.ASSIGNMENT and self.sees_every_file()

    def for_file(
        self, file_owner: str, share_roles: frozenset[ShareRole] = frozenset(), subject: str | None = None
    ) -> SpaceAccess:
        """The same access narrowed to one file of the space (its owner, the shares reaching the caller)."""
        resource = replace(self.resource, file_owner=file_owner, share_roles=share_roles, file_subject=subject)
        return replace(self, resource=resource)

    def for_class(self) -> SpaceAccess:
        """The same access, about the class of this assignment space (changing its assignments); archived
        with the assignment."""
        assert self.assignment is not None
        space = SpaceRef(SpaceKind.CLASS, self.assignment.class_id)
        return replace(self, resource=replace(self.resource, space=space))

    def for_share(self, created_by: str) -> SpaceAccess:
        """The same access, about revoking a share made by `created_by`."""
        return replace(self, resource=replace(self.resource, share_creator=created_by))

    def allows(self, action: Action) -> bool:
        return decide(self.rules, self.principal, self.membership, action, self.resource).allowed

    def require(self, action: Action) -> None:
        """Allow the action, or raise NotFoundError (cannot see) or ForbiddenError (sees, may not)."""
        resource = self.resource
        decision = decide(self.rules, self.principal, self.membership, action, resource)
        verdict = "allow" if decision.allowed else "deny"
        # On the request's one line when there is one (the caller's user is on it already).
        if not self.telemetry.fold(
            decision=verdict, action=action.value, space=str(resource.space), rule=decision.reason
        ):
            log.info(
                "%s user=%s action=%s space=%s reason=%s",
                verdict,
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
            raise NotFoundError().because(decision.reason)
        raise ForbiddenError(f"You may not {action} here.").because(decision.reason)


class AccessControl:
    """Builds a SpaceAccess: the caller's membership and the space's class, from the catalog."""

    def __init__(self, catalog: AccessStore, rules: Policy, telemetry: Telemetry | None = None) -> None:
        self._catalog = catalog
        self._rules = rules
        self._telemetry: Telemetry = telemetry or NullTelemetry()

    @property
    def rules(self) -> Policy:
        return self._rules

    def school(self, principal: Principal) -> SpaceAccess:
        """The caller's access to their school's administration (roster, audit trail)."""
        space = SpaceRef(SpaceKind.SCHOOL, principal.school)
        resource = Resource(principal.school, space)
        return SpaceAccess(self._rules, principal, Membership(), resource, telemetry=self._telemetry)

    def space(
        self, principal: Principal, space: SpaceRef, school: str | None = None, deleted: bool = False
    ) -> SpaceAccess:
        """The caller's access to a space (of `school`, the caller's by default); 404 when it does not exist.
        A deleted assignment does not exist, but for its trash (`deleted`: its submissions wait there)."""
        membership = Membership()
        class_id = None
        assignment = None
        archived_class = False
        if space.kind is SpaceKind.ASSIGNMENT:
            assignment = self._catalog.get_assignment(school or principal.school, space.id)
            if assignment is None or (assignment.deleted_at is not None and not deleted):
                raise NotFoundError().because("no such assignment")
            class_id = assignment.class_id
            membership = self._catalog.membership(principal.school, principal.user_id)
        elif space.kind is SpaceKind.CLASS:
            class_id = space.id
            if principal.role is Role.ADMIN:
                record = self._catalog.get_class(principal.school, space.id)
                if record is None:
                    raise NotFoundError().because("no such class")
                archived_class = record.archived_at is not None
            else:
                membership = self._catalog.membership(principal.school, principal.user_id)
                archived_class = space.id in membership.archived
        archived = (assignment is not None and assignment.archived_at is not None) or archived_class
        resource = Resource(school or principal.school, space, class_id=class_id, archived=archived)
        return SpaceAccess(self._rules, principal, membership, resource, assignment, telemetry=self._telemetry)

    def require_file(self, principal: Principal, file: FileRecord, action: Action) -> SpaceAccess:
        """Allow `action` on one file, or raise: whether the caller may see the file comes first,
        whatever the action, so a file it cannot see answers 404 to a DELETE as to a GET (a 403
        would tell that the id exists)."""
        access = self.file(principal, file, action)
        if not access.sees_unserved(file):
            raise NotFoundError().because("an unserved file of someone else")
        if action is not Action.READ and not access.allows(Action.READ):
            # listing the space is not seeing the file: a pupil lists an assignment, not a classmate's work
            raise NotFoundError().because("a file the caller may not read")
        access.require(action)
        return access

    def file(self, principal: Principal, file: FileRecord, action: Action) -> SpaceAccess:
        """The caller's access to one file; shares are read only when the space alone does not allow."""
        access = self.space(principal, file.space, school=file.school).for_file(file.owner, subject=file.subject)
        if access.allows(action) or file.school != principal.school:
            return access
        membership = access.membership
        if file.space.kind is SpaceKind.USER:
            membership = self._catalog.membership(principal.school, principal.user_id)
        now = utcnow()
        roles = frozenset(
            share.role
            for share in self._catalog.file_shares(file.id)
            if share.live(now) and share.reaches(principal.user_id, membership)
        )
        return replace(access, membership=membership).for_file(file.owner, roles, file.subject)
