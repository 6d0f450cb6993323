"""The sync cursors' MAC: every cursor the server did not sign, for this school and space, in this
secret, within its life, is refused with the contract's answer (400, or 410 `cursor_expired`)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest

from chalicelib.domain.models import SpaceKind, SpaceRef
from chalicelib.domain.sync import CURSOR_LIFETIME, Cursors
from chalicelib.errors import BadRequestError, CursorExpiredError

SECRET = "cursor-secret-of-at-least-32-bytes!!"
CLASS = SpaceRef(SpaceKind.CLASS, "5B")
ANA = SpaceRef(SpaceKind.USER, "ana")  # what `me` is for ana
BEN = SpaceRef(SpaceKind.USER, "ben")  # what `me` is for ben
NOW = 1_800_000_000.0


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def mac(secret: str, payload: bytes) -> str:
    """The MAC as the server computes it (what only a holder of the secret can)."""
    key = hashlib.sha256(f"cartable-cursor:{secret}".encode()).digest()
    return b64(hmac.new(key, payload, hashlib.sha256).digest()[:18])


def resign_as(cursors: Cursors, cursor: str, **changes: object) -> str:
    """The cursor's payload changed as a forger would, its MAC kept."""
    body, _, mac = cursor.partition(".")
    payload = {**json.loads(unb64(body)), **changes}
    return f"{b64(json.dumps(payload, separators=(',', ':')).encode())}.{mac}"


@pytest.fixture
def cursors() -> Cursors:
    return Cursors(SECRET)


def test_a_cursor_it_signed_reads_back_its_position(cursors: Cursors) -> None:
    cursor = cursors.sign("s1", CLASS, 42, NOW)
    assert cursor.split(".")[1] == mac(SECRET, unb64(cursor.split(".")[0]))
    assert cursors.read(cursor, "s1", CLASS, NOW) == 42
    assert cursors.read(cursor, "s1", CLASS, NOW + CURSOR_LIFETIME) == 42  # valid for the whole life


def flip(text: str, at: int) -> str:
    return text[:at] + ("A" if text[at] != "A" else "B") + text[at + 1 :]


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(lambda c, cs: resign_as(cs, c, q=10_000), id="position raised, MAC kept"),
        pytest.param(lambda c, cs: resign_as(cs, c, t=int(NOW)), id="age renewed, MAC kept"),
        pytest.param(lambda c, cs: resign_as(cs, c, p=str(BEN)), id="space changed, MAC kept"),
        pytest.param(lambda c, cs: flip(c, len(c) - 2), id="MAC altered"),
        pytest.param(lambda c, cs: flip(c, 3), id="payload altered"),
        pytest.param(lambda c, cs: c[:-3], id="MAC truncated"),
        pytest.param(lambda c, cs: c.split(".")[0], id="no MAC"),
        pytest.param(lambda c, cs: c.split(".")[0] + ".", id="empty MAC"),
        pytest.param(lambda c, cs: c[: len(c) // 3], id="truncated in the payload"),
        pytest.param(lambda c, cs: "." + c.split(".")[1], id="no payload"),
        pytest.param(lambda c, cs: "garbage", id="garbage"),
        pytest.param(lambda c, cs: "%%%.%%%", id="not base64"),
        pytest.param(lambda c, cs: "", id="empty"),
        pytest.param(
            lambda c, cs: Cursors("another-secret-of-at-least-32-bytes").sign("s1", ANA, 3, NOW), id="other key"
        ),
    ],
)
def test_a_forged_or_truncated_cursor_answers_400(cursors: Cursors, forge: object) -> None:
    cursor = cursors.sign("s1", ANA, 3, NOW - 60)
    bad = forge(cursor, cursors)  # type: ignore[operator]
    with pytest.raises(BadRequestError):
        cursors.read(bad, "s1", ANA, NOW)


def test_a_signed_payload_that_is_not_a_cursor_answers_400(cursors: Cursors) -> None:
    for payload in (b'{"s":"s1","p":"user:ana","q":"3","t":1}', b'{"s":"s1","p":"user:ana"}'):
        forged = f"{b64(payload)}.{mac(SECRET, payload)}"  # the server's own key: only the content is wrong
        with pytest.raises(BadRequestError):
            cursors.read(forged, "s1", ANA, NOW)


def test_another_spaces_cursor_answers_400(cursors: Cursors) -> None:
    cursor = cursors.sign("s1", CLASS, 7, NOW)
    for space in (SpaceRef(SpaceKind.CLASS, "4A"), SpaceRef(SpaceKind.ASSIGNMENT, "5B"), ANA):
        with pytest.raises(BadRequestError, match="for this space"):
            cursors.read(cursor, "s1", space, NOW)


def test_another_users_cursor_answers_400(cursors: Cursors) -> None:
    """Ana's `me` is not Ben's: her drive's cursor tells him nothing, and reads as no position of his."""
    cursor = cursors.sign("s1", ANA, 7, NOW)
    with pytest.raises(BadRequestError, match="for this space"):
        cursors.read(cursor, "s1", BEN, NOW)


def test_another_schools_cursor_answers_400(cursors: Cursors) -> None:
    cursor = cursors.sign("s2", CLASS, 7, NOW)  # class 5B of another school: the same space id
    with pytest.raises(BadRequestError, match="for this space"):
        cursors.read(cursor, "s1", CLASS, NOW)


def test_an_old_cursor_answers_410(cursors: Cursors) -> None:
    cursor = cursors.sign("s1", CLASS, 7, NOW - CURSOR_LIFETIME - 1)
    with pytest.raises(CursorExpiredError) as raised:
        cursors.read(cursor, "s1", CLASS, NOW)
    assert raised.value.code == "cursor_expired"


def test_a_cursor_of_a_rotated_secret_answers_410_once_the_old_secret_is_listed() -> None:
    """Signed with the secret before a rotation: genuine but no longer honoured. With the old secret in
    CARTABLE_CURSOR_PREVIOUS_SECRETS it answers 410 (the device starts again, as the contract says);
    without it, it cannot be told from a forgery and answers 400 like one."""
    before = "the-secret-before-the-rotation-32b!!"
    old = Cursors(before).sign("s1", CLASS, 7, NOW - 60)
    with pytest.raises(CursorExpiredError) as raised:
        Cursors(SECRET, previous=(before,)).read(old, "s1", CLASS, NOW)
    assert raised.value.code == "cursor_expired"
    with pytest.raises(BadRequestError):
        Cursors(SECRET).read(old, "s1", CLASS, NOW)
    forged = old.rpartition(".")[0] + ".AAAAAAAAAAAAAAAAAAAAAAAA"
    with pytest.raises(BadRequestError):
        Cursors(SECRET, previous=(before,)).read(forged, "s1", CLASS, NOW)
