"""Turn-in receipts: canonical bytes, per-school keys, rotation, and every way a receipt can be wrong."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib.domain.assignments import is_late, submitted_at_of
from chalicelib.domain.models import Assignment, FileRecord, FileStatus, SpaceKind, SpaceRef
from chalicelib.domain.receipts import (
    FIELDS,
    ReceiptSigner,
    canonical,
    key_id,
    parse_receipt,
    receipt_fields,
    school_key,
)
from chalicelib.errors import BadRequestError

SECRET = "receipt-secret-of-at-least-32-bytes!"
DUE = datetime(2026, 12, 1, 17, 0, tzinfo=UTC)


def fields(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "assignmentId": "a1",
        "classId": "5B",
        "school": "lycee-hugo",
        "student": "alice",
        "fileId": "f1",
        "fileName": "Exposé – la Révolution.pdf",
        "size": 1234,
        "sha256": "ab" * 32,
        "version": 2,
        "receivedAt": "2026-12-01T16:59:58Z",
        "dueAt": "2026-12-01T17:00:00Z",
        "late": False,
        "issuedAt": "2026-12-02T08:00:00Z",
    }
    return {**base, **changes}


def test_canonical_json_is_sorted_compact_utf8() -> None:
    assert canonical({"b": 1, "a": "é", "c": True}) == '{"a":"é","b":1,"c":true}'.encode()


def test_the_signature_is_hmac_sha256_of_the_canonical_json_with_the_schools_key() -> None:
    receipt = ReceiptSigner(SECRET).sign(fields())
    assert receipt["kid"] == key_id(SECRET) and SECRET not in receipt["kid"]
    unsigned = {k: v for k, v in receipt.items() if k != "signature"}
    key = hmac.new(SECRET.encode(), b"receipt:lycee-hugo", hashlib.sha256).digest()
    assert key == school_key(SECRET, "lycee-hugo")
    expected = base64.urlsafe_b64encode(hmac.new(key, canonical(unsigned), hashlib.sha256).digest()).rstrip(b"=")
    assert receipt["signature"] == expected.decode()


def test_a_receipt_verifies_after_a_json_round_trip() -> None:
    signer = ReceiptSigner(SECRET)
    receipt = json.loads(json.dumps(signer.sign(fields())))
    assert signer.verify(parse_receipt(receipt), "lycee-hugo").valid


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("assignmentId", "a2"),
        ("classId", "4A"),
        ("student", "bob"),
        ("fileId", "f2"),
        ("fileName", "Expose - la Revolution.pdf"),
        ("size", 1235),
        ("sha256", "cd" * 32),
        ("version", 1),
        ("receivedAt", "2026-12-01T16:59:57Z"),
        ("dueAt", "2026-12-02T17:00:00Z"),
        ("late", True),
        ("issuedAt", "2026-12-02T08:00:01Z"),
        ("kid", "r-0000000000000000"),
        ("signature", "A" * 43),
    ],
)
def test_any_field_changed_fails(name: str, value: Any) -> None:
    signer = ReceiptSigner(SECRET)
    receipt = signer.sign(fields())
    assert receipt[name] != value
    result = signer.verify(parse_receipt({**receipt, name: value}), "lycee-hugo")
    assert not result.valid and result.reason in ("bad_signature", "unknown_key")


def test_a_receipt_of_one_school_fails_for_another() -> None:
    signer = ReceiptSigner(SECRET)
    receipt = signer.sign(fields())
    assert signer.verify(receipt, "college-zola").reason == "other_school"
    # and the school changed in the receipt fails too: each school has its own key
    assert signer.verify({**receipt, "school": "college-zola"}, "college-zola").reason == "bad_signature"
    forged = ReceiptSigner(SECRET).sign(fields(school="college-zola"))
    assert forged["signature"] != receipt["signature"]


def test_another_secret_fails_and_a_previous_one_still_verifies() -> None:
    old = ReceiptSigner("old-secret").sign(fields())
    assert ReceiptSigner(SECRET).verify(old, "lycee-hugo").reason == "unknown_key"
    rotated = ReceiptSigner(SECRET, previous=["old-secret"])
    assert rotated.verify(old, "lycee-hugo").valid
    assert rotated.sign(fields())["kid"] == key_id(SECRET)
    # a forged receipt claiming the old key's id still needs the old key
    assert not rotated.verify({**old, "kid": key_id(SECRET)}, "lycee-hugo").valid


def test_unexpected_fields_make_a_receipt_invalid() -> None:
    signer = ReceiptSigner(SECRET)
    receipt = signer.sign(fields())
    assert signer.verify(parse_receipt({**receipt, "grade": "A"}), "lycee-hugo").reason == "unexpected_fields"


@pytest.mark.parametrize(
    "body",
    [
        [],
        "receipt",
        None,
        {},
        {"size": "1234"},
        {"late": "false"},
        {"size": True},
        {"version": 2.0},
        {"signature": None},
        {"fileName": 7},
    ],
)
def test_malformed_receipts_are_bad_requests(body: Any) -> None:
    receipt = ReceiptSigner(SECRET).sign(fields())
    candidate = {**receipt, **body} if isinstance(body, dict) and body else body
    with pytest.raises(BadRequestError):
        parse_receipt(candidate)
    if isinstance(body, dict) and body:
        with pytest.raises(BadRequestError):
            parse_receipt({k: v for k, v in receipt.items() if k != next(iter(body))})


def test_signing_needs_exactly_the_receipt_fields() -> None:
    with pytest.raises(ValueError, match="exactly the fields"):
        ReceiptSigner(SECRET).sign({**fields(), "extra": 1})
    assert set(ReceiptSigner(SECRET).sign(fields())) == {*FIELDS, "signature"}


def _file(arrived: datetime | None, updated: datetime) -> FileRecord:
    return FileRecord(
        id="f1",
        school="lycee-hugo",
        space=SpaceRef(SpaceKind.ASSIGNMENT, "a1"),
        path="/",
        name="devoir.pdf",
        size=10,
        content_type="application/pdf",
        sha256="ab" * 32,
        status=FileStatus.AVAILABLE,
        reason=None,
        version=1,
        owner="alice",
        created_at=updated,
        updated_at=updated,
        arrived_at=arrived,
    )


def test_arrival_not_the_scan_decides_late() -> None:
    assignment = Assignment(
        id="a1",
        school="lycee-hugo",
        class_id="5B",
        title="Devoir",
        due_at=DUE,
        closes_at=None,
        max_size=None,
        allowed_types=None,
        created_by="prof",
        created_at=DUE,
    )
    # bytes in at 16:59:59, scanned at 17:00:30 (a slow queue): on time
    on_time = _file(datetime(2026, 12, 1, 16, 59, 59, tzinfo=UTC), datetime(2026, 12, 1, 17, 0, 30, tzinfo=UTC))
    assert submitted_at_of(on_time) < DUE and not is_late(on_time, assignment)
    stated = receipt_fields(assignment, on_time, DUE)
    assert stated["receivedAt"] == "2026-12-01T16:59:59Z" and stated["late"] is False
    late = _file(datetime(2026, 12, 1, 17, 0, 1, tzinfo=UTC), datetime(2026, 12, 1, 17, 0, 2, tzinfo=UTC))
    assert receipt_fields(assignment, late, DUE)["late"] is True
    # a record from before arrival times were kept falls back to its last change
    assert submitted_at_of(_file(None, DUE)) == DUE
