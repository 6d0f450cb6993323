"""The audit trail: grants, download URLs, shares and every denied request, per school."""

from __future__ import annotations

import logging
from typing import Any, Protocol

from chalicelib.domain.access import AccessControl
from chalicelib.domain.models import Action, AuditEntry, Principal, new_id, require_id, utcnow
from chalicelib.domain.paging import parse_limit
from chalicelib.domain.schema import AUDIT

log = logging.getLogger("cartable.audit")


class AuditStore(Protocol):
    """The audit trail: entries in, a school's (or one actor's) newest first out, a page at a time."""

    def record_audit(self, entry: AuditEntry) -> None: ...

    def list_audit(
        self, school: str, actor: str | None, limit: int, cursor: str | None
    ) -> tuple[list[AuditEntry], str | None]: ...


def entry(principal: Principal, action: str, target: str, decision: str = "allow", reason: str = "") -> AuditEntry:
    """An audit entry for something the caller did (or was refused), now."""
    return AuditEntry(
        id=new_id(),
        school=principal.school,
        actor=principal.user_id,
        role=principal.role.value,
        action=action,
        target=target,
        decision=decision,
        reason=reason,
        at=utcnow(),
    )


def entry_json(item: AuditEntry) -> dict[str, Any]:
    return AUDIT.to_json(item)


class AuditService:
    """Records entries and lets a school's admins read their own school's trail, never another's."""

    def __init__(self, catalog: AuditStore, access: AccessControl) -> None:
        self._catalog = catalog
        self._access = access

    def denied(self, principal: Principal, route: str, status: int, reason: str | None) -> None:
        """Record a refused request; a failure to record is logged, the refusal stands anyway."""
        try:
            self._catalog.record_audit(entry(principal, "access.denied", route, "deny", reason or f"http {status}"))
        except Exception:  # the client already gets its 403/404; losing the line must not turn it into a 500
            log.exception("could not record a denied request")

    def list(self, principal: Principal, user: str | None, limit: str | None, cursor: str | None) -> dict[str, Any]:
        """The school's trail (or one user's), newest first; admins of the school only."""
        self._access.school(principal).require(Action.AUDIT)
        actor = require_id(user, "user") if user is not None else None
        items, next_cursor = self._catalog.list_audit(principal.school, actor, parse_limit(limit), cursor or None)
        return {"items": [entry_json(i) for i in items], "nextCursor": next_cursor}
