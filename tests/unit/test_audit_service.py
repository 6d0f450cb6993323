"""AuditService on the in-memory catalog: who may read the trail, paging, and denials recorded safely."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from chalicelib.adapters.memory import MemoryCatalog
from chalicelib.domain.access import AccessControl
from chalicelib.domain.audit import AuditService, entry
from chalicelib.domain.models import AuditEntry, Principal, Role
from chalicelib.domain.permissions import load_rules
from chalicelib.errors import CartableError

ADMIN = Principal("boss", "s1", Role.ADMIN)
TEACHER = Principal("mme", "s1", Role.TEACHER)
OTHER_ADMIN = Principal("boss2", "s2", Role.ADMIN)


def service(catalog: MemoryCatalog) -> AuditService:
    return AuditService(catalog, AccessControl(catalog, load_rules()))


def test_a_denied_request_is_recorded() -> None:
    catalog = MemoryCatalog()
    service(catalog).denied(TEACHER, "/v1/audit", 403, None)
    service(catalog).denied(TEACHER, "/v1/files/x", 404, "invisible")
    assert [(e.actor, e.decision, e.target, e.reason) for e in catalog.trail] == [
        ("mme", "deny", "/v1/audit", "http 403"),
        ("mme", "deny", "/v1/files/x", "invisible"),
    ]


def test_a_trail_that_cannot_be_written_never_turns_a_refusal_into_an_error() -> None:
    class Broken(MemoryCatalog):
        def record_audit(self, entry: AuditEntry) -> None:
            raise RuntimeError("the table is gone")

    service(Broken()).denied(TEACHER, "/v1/audit", 403, None)  # logged, not raised


def test_admins_read_their_own_schools_trail_a_page_at_a_time() -> None:
    catalog = MemoryCatalog()
    for n in range(5):
        made = entry(TEACHER if n % 2 else ADMIN, "file.grant", f"file:f{n}")
        catalog.record_audit(replace(made, at=made.at + timedelta(seconds=n)))
    catalog.record_audit(entry(OTHER_ADMIN, "file.grant", "file:elsewhere"))
    audit = service(catalog)
    first = audit.list(ADMIN, None, "3", None)
    assert [i["target"] for i in first["items"]] == ["file:f4", "file:f3", "file:f2"]
    second = audit.list(ADMIN, None, "3", first["nextCursor"])
    assert ([i["target"] for i in second["items"]], second["nextCursor"]) == (["file:f1", "file:f0"], None)
    assert [i["target"] for i in audit.list(ADMIN, "mme", None, None)["items"]] == ["file:f3", "file:f1"]


def test_nobody_else_reads_the_trail() -> None:
    catalog = MemoryCatalog()
    catalog.record_audit(entry(ADMIN, "file.grant", "file:f0"))
    with pytest.raises(CartableError):
        service(catalog).list(TEACHER, None, None, None)
    assert service(catalog).list(OTHER_ADMIN, None, None, None)["items"] == []
