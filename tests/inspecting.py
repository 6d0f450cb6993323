"""The content inspection fed as the scan feeds it, in pieces of a chosen size: what the OLE, RTF and
linked-object tables check each case through (whole and in odd chunks, the verdict the same)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from chalicelib.domain.content import load_content_policy
from chalicelib.domain.inspection import Inspection

POLICY = load_content_policy()


def pieces(data: bytes, size: int) -> Iterator[bytes]:
    return (data[at : at + size] for at in range(0, len(data), size))


def inspected(data: bytes, limits: Any = None, size: int = 1 << 20, policy: Any = None) -> tuple[str, ...]:
    """The findings of `data` fed in pieces of `size`, under `policy` (the school's content policy by
    default) with the archives' `limits` (the policy's by default)."""
    policy = policy or POLICY
    inspection = Inspection(replace(policy, archives=limits or policy.archives))
    for piece in pieces(data, size):
        inspection.feed(piece)
    return inspection.finish()
