"""Paging parameters as the contract defines them."""

from __future__ import annotations

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
