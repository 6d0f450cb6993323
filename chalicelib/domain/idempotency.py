"""`Idempotency-Key` on every POST (contract v1.1): the same key from the same user within 24 h answers
the first answer again and does nothing twice; the same key with another request answers 409.

A tablet that lost the answer to its grant sends the same POST again with the same key: it gets the
first grant back (same upload, same URL), and the quota is reserved once. The first request claims
the key under a condition before it runs, so two copies sent at once run once: the second is told
to try again shortly (409), then gets the stored answer. An answer of 5xx is not kept (the key is
released: trying again is what the client should do); a 4xx is the first answer and is kept.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from chalicelib.domain.models import Principal, utcnow
from chalicelib.errors import BadRequestError, ConflictError

LIFETIME = timedelta(hours=24)
# A claim older than this is a request that died (the API's functions time out after 30 s): taken over.
STALE_CLAIM = timedelta(seconds=60)
KEY = re.compile(r"[\x21-\x7e]{1,64}")  # visible ASCII, as an HTTP header carries it safely


class IdempotencyKeyReusedError(ConflictError):
    code = "idempotency_key_reused"


@dataclass(frozen=True)
class StoredAnswer:
    """An HTTP answer as it is kept: status, headers, and the body's text (`json`: it is a JSON value)."""

    status: int
    headers: dict[str, str]
    body: str
    json: bool


@dataclass(frozen=True)
class Prior:
    """What a key already holds: the request it was claimed for and its answer (None: still running)."""

    fingerprint: str
    answer: StoredAnswer | None


class IdempotencyStore(Protocol):
    def claim(self, scope: str, key: str, fingerprint: str, now: datetime, stale_before: datetime) -> Prior | None:
        """Take the key for this request (None), or say what it already holds."""
        ...

    def complete(self, scope: str, key: str, answer: StoredAnswer, expires: datetime) -> None: ...

    def release(self, scope: str, key: str) -> None: ...


def check_key(value: str) -> str:
    if not KEY.fullmatch(value):
        raise BadRequestError("Idempotency-Key must be 1 to 64 visible ASCII characters.")
    return value


def fingerprint(method: str, path: str, body: bytes) -> str:
    """What makes two requests the same request: method, path and body."""
    digest = hashlib.sha256(f"{method} {path}\n".encode())
    digest.update(body)
    return digest.hexdigest()


class Idempotency:
    """Runs a POST at most once per (user, key) within the key's lifetime."""

    def __init__(self, store: IdempotencyStore) -> None:
        self._store = store

    def once(self, principal: Principal, key: str, request: str, run: Callable[[], StoredAnswer]) -> StoredAnswer:
        """`run`'s answer, or the first answer given to this key; `request` is the request's fingerprint."""
        scope = f"{principal.school}#{principal.user_id}"
        now = utcnow()
        prior = self._store.claim(scope, check_key(key), request, now, now - STALE_CLAIM)
        if prior is not None:
            if prior.fingerprint != request:
                raise IdempotencyKeyReusedError("This Idempotency-Key was used for another request.")
            if prior.answer is None:
                raise ConflictError("The first request with this Idempotency-Key is still running; try again shortly.")
            return prior.answer
        try:
            answer = run()
        except BaseException:
            self._store.release(scope, key)
            raise
        if answer.status >= 500:
            self._store.release(scope, key)  # a part was down: the client should try again, and may
        else:
            self._store.complete(scope, key, answer, now + LIFETIME)
        return answer
