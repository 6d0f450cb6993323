"""The bucket's key layout: where uploads arrive, where clean bytes are served, where verdicts keep the rest."""

from __future__ import annotations

INCOMING = "incoming/"
SERVED = "files/"
QUARANTINE = "quarantine/"


def incoming_key(file_id: str, upload_id: str) -> str:
    return f"{INCOMING}{file_id}/{upload_id}"
