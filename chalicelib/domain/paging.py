"""Paging parameters as the contract defines them."""

from __future__ import annotations

import base64
import binascii
import re

from chalicelib.errors import BadRequestError

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


def parse_limit(raw: str | None) -> int:
    """`?limit=` as the contract says: 1..1000, default 100."""
    if raw is None or raw == "":
        return DEFAULT_LIMIT
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise BadRequestError(f"limit must be an integer from 1 to {MAX_LIMIT}.")
    return int(raw)


def encode_position(position: str) -> str:
    """The cursor of a position in a list merged from several partitions (opaque to clients)."""
    return base64.urlsafe_b64encode(position.encode()).decode().rstrip("=")


def decode_position(cursor: str, pattern: re.Pattern[str]) -> str:
    """The position a cursor holds, of the expected form; 400 for anything else. It carries no
    partition: every query stays within the caller's own, so a cursor cannot reach anyone else's."""
    try:
        position = base64.urlsafe_b64decode((cursor + "=" * (-len(cursor) % 4)).encode()).decode()
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise BadRequestError("cursor is not valid.") from exc
    if not pattern.fullmatch(position):
        raise BadRequestError("cursor is not valid.")
    return position
