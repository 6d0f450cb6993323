"""Turn-in receipts: a signed statement that a student's file reached an assignment, and when.

A receipt settles "I did turn it in" without trusting the tablet: its time is when the bytes reached
storage (the store's clock, recorded with the clean verdict), and the service signs it.

Signature: HMAC-SHA256 over the canonical JSON of every field but `signature` (keys sorted, no
whitespace, UTF-8), base64url without padding. The key is per school, derived from the secret
setting `CARTABLE_RECEIPT_SECRET` as HMAC-SHA256(secret, "receipt:" + school), so a receipt of one
school never verifies with another's key. `kid` names the secret (a fingerprint, not the secret):
after a rotation, receipts signed with a secret listed in `CARTABLE_RECEIPT_PREVIOUS_SECRETS` still
verify. Signing and verifying here are pure; `ReceiptService` adds the catalog and the permissions.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from chalicelib.domain.access import AccessControl
from chalicelib.domain.assignments import is_late, submitted_at_of
from chalicelib.domain.audit import entry
from chalicelib.domain.models import (
    Action,
    Assignment,
    FileRecord,
    FileStatus,
    Principal,
    SpaceKind,
    SpaceRef,
    iso,
    require_id,
    utcnow,
)
from chalicelib.errors import BadRequestError, NotFoundError

if TYPE_CHECKING:
    from chalicelib.domain.models import AuditEntry
    from chalicelib.domain.ports import Page

log = logging.getLogger("cartable.receipts")

# Every field of a receipt and its JSON type; `signature` covers all of them.
FIELDS: dict[str, type] = {
    "assignmentId": str,
    "classId": str,
    "school": str,
    "student": str,
    "fileId": str,
    "fileName": str,
    "size": int,
    "sha256": str,
    "version": int,
    "receivedAt": str,
    "dueAt": str,
    "late": bool,
    "issuedAt": str,
    "kid": str,
}
SIGNATURE = "signature"
PAGE = 1000


@dataclass(frozen=True)
class Verification:
    """Whether a receipt is genuine, and if not, why (a short code)."""

    valid: bool
    reason: str | None = None

    def json(self) -> dict[str, Any]:
        """The answer of `POST /v1/receipts/verify`."""
        return {"valid": self.valid, "reason": self.reason}


def canonical(fields: Mapping[str, Any]) -> bytes:
    """The bytes that are signed: JSON with sorted keys, no whitespace, UTF-8 (not ASCII-escaped)."""
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def school_key(secret: str, school: str) -> bytes:
    """The signing key of one school, derived from the service's secret."""
    return hmac.new(secret.encode("utf-8"), f"receipt:{school}".encode(), hashlib.sha256).digest()


def key_id(secret: str) -> str:
    """A public name of a secret, so that a receipt says which one signed it (it reveals nothing of it)."""
    return "r-" + hmac.new(secret.encode("utf-8"), b"receipt-key-id", hashlib.sha256).hexdigest()[:16]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def parse_receipt(body: object) -> dict[str, Any]:
    """A receipt as a client sent it back: every field with its type, or 400. Unknown fields are kept
    (they make the receipt invalid, not malformed)."""
    if not isinstance(body, dict):
        raise BadRequestError("The body must be a receipt (a JSON object).")
    for name, kind in {**FIELDS, SIGNATURE: str}.items():
        value = body.get(name)
        # bool is an int in Python: a size of `true` is not a size
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise BadRequestError(f"A receipt has {name} as a {kind.__name__}.")
    return dict(body)


class ReceiptSigner:
    """Signs receipts with the current secret and verifies them with the current or a previous one."""

    def __init__(self, secret: str, previous: Sequence[str] = ()) -> None:
        if not secret:
            raise ValueError("a receipt secret is required")
        self._kid = key_id(secret)
        self._secrets = {key_id(s): s for s in (*previous, secret)}

    @property
    def kid(self) -> str:
        """The id of the key new receipts are signed with."""
        return self._kid

    def _signature(self, secret: str, fields: Mapping[str, Any]) -> str:
        return _b64(hmac.new(school_key(secret, str(fields["school"])), canonical(fields), hashlib.sha256).digest())

    def sign(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        """The receipt: the fields, this signer's `kid` and the signature over both."""
        unsigned = {**fields, "kid": self._kid}
        if set(unsigned) != set(FIELDS):
            raise ValueError(f"a receipt has exactly the fields {sorted(FIELDS)}")
        return {**unsigned, SIGNATURE: self._signature(self._secrets[self._kid], unsigned)}

    def verify(self, receipt: Mapping[str, Any], school: str) -> Verification:
        """Whether `receipt` (already parsed) is genuine for a caller of `school`."""
        if receipt.get("school") != school:
            return Verification(False, "other_school")  # never checked against another school's key
        if set(receipt) != {*FIELDS, SIGNATURE}:
            return Verification(False, "unexpected_fields")
        secret = self._secrets.get(str(receipt.get("kid")))
        if secret is None:
            return Verification(False, "unknown_key")
        unsigned = {k: v for k, v in receipt.items() if k != SIGNATURE}
        if not hmac.compare_digest(str(receipt[SIGNATURE]), self._signature(secret, unsigned)):
            return Verification(False, "bad_signature")
        return Verification(True)


def receipt_fields(assignment: Assignment, file: FileRecord, issued_at: datetime) -> dict[str, Any]:
    """What a receipt states about one available submission (before `kid` and the signature)."""
    return {
        "assignmentId": assignment.id,
        "classId": assignment.class_id,
        "school": assignment.school,
        "student": file.owner,
        "fileId": file.id,
        "fileName": file.name,
        "size": file.size,
        "sha256": file.sha256 or "",
        "version": file.version,
        "receivedAt": iso(submitted_at_of(file)),
        "dueAt": iso(assignment.due_at),
        "late": is_late(file, assignment),
        "issuedAt": iso(issued_at),
    }


class ReceiptStore(Protocol):
    """What a receipt needs: a pupil's submissions, the audit trail."""

    def list_folder(
        self, school: str, space: SpaceRef, path: str, limit: int, cursor: str | None, owner: str | None = None
    ) -> Page: ...

    def record_audit(self, entry: AuditEntry) -> None: ...


class ReceiptService:
    """Issues receipts of available submissions and verifies receipts for callers of their school."""

    def __init__(self, catalog: ReceiptStore, access: AccessControl, signer: ReceiptSigner) -> None:
        self._catalog = catalog
        self._access = access
        self._signer = signer

    def receipt(self, principal: Principal, assignment_id: str, student: str | None) -> dict[str, Any]:
        """The signed receipt of a student's latest available submission (the caller's own, or for a
        teacher of the class, `student`'s); 404 when there is none or it is not the caller's to see."""
        space = SpaceRef(SpaceKind.ASSIGNMENT, require_id(assignment_id, "id"))
        access = self._access.space(principal, space)
        access.require(Action.LIST)
        assert access.assignment is not None
        student = principal.user_id if student in (None, "") else require_id(student, "student")
        if student != principal.user_id and not access.sees_every_file():
            raise NotFoundError().because("another student's submission")
        latest = self._latest_submission(principal.school, access.assignment, student)
        if latest is None:
            raise NotFoundError().because("no available submission")
        receipt = self._signer.sign(receipt_fields(access.assignment, latest, utcnow()))
        reason = f"file:{latest.id} v{latest.version} student:{student}"
        self._catalog.record_audit(entry(principal, "receipt.issue", str(space), reason=reason))
        return receipt

    def _latest_submission(self, school: str, assignment: Assignment, student: str) -> FileRecord | None:
        """The student's own available file that arrived last (feedback files are the teacher's)."""
        latest: FileRecord | None = None
        cursor = None
        while True:
            page = self._catalog.list_folder(school, assignment.space, "/", PAGE, cursor, student)
            for file in page.files:
                if file.status is not FileStatus.AVAILABLE or file.is_feedback or file.owner != student:
                    continue
                if latest is None or (submitted_at_of(file), file.version) > (submitted_at_of(latest), latest.version):
                    latest = file
            cursor = page.next_cursor
            if cursor is None:
                return latest

    def verify(self, principal: Principal, body: object) -> dict[str, Any]:
        """`{"valid", "reason"}` for a receipt sent back; 400 when the body is not a receipt at all."""
        result = self._signer.verify(parse_receipt(body), principal.school)
        log.info("receipt verified by user=%s valid=%s reason=%s", principal.user_id, result.valid, result.reason)
        return result.json()
