"""The catalogs' opaque cursors, read the same way by both stores: URL-safe base64 of a JSON object of
strings, pinned to the partition it was given for (anything else answers 400)."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping

from chalicelib.errors import BadRequestError


def read_cursor(cursor: str, expected: Mapping[str, str]) -> dict[str, str]:
    """A cursor's fields, checked: a JSON object of strings whose `expected` fields match."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, binascii.Error) as exc:
        raise BadRequestError("cursor is not valid.") from exc
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise BadRequestError("cursor is not valid.")
    for name, value in expected.items():
        if data.get(name) != value:
            raise BadRequestError("cursor is not valid.")
    return data
