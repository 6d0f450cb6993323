"""Idempotency as a table of cases over an in-memory store: first answers kept (refusals too), 5xx and
crashes release the key, another request under the same key is refused, a running one is waited for."""

from __future__ import annotations

from datetime import datetime

import pytest

from chalicelib.domain.idempotency import Idempotency, IdempotencyKeyReusedError, Prior, StoredAnswer, fingerprint
from chalicelib.domain.models import Principal, Role
from chalicelib.errors import BadRequestError, ConflictError

PUPIL = Principal(user_id="alice", school="lycee-hugo", role=Role.STUDENT)


class MemoryStore:
    def __init__(self) -> None:
        self.items: dict[tuple[str, str], Prior] = {}

    def claim(self, scope: str, key: str, fingerprint: str, now: datetime, stale_before: datetime) -> Prior | None:
        held = self.items.get((scope, key))
        if held is not None:
            return held
        self.items[(scope, key)] = Prior(fingerprint, None)
        return None

    def complete(self, scope: str, key: str, answer: StoredAnswer, expires: datetime) -> None:
        self.items[(scope, key)] = Prior(self.items[(scope, key)].fingerprint, answer)

    def release(self, scope: str, key: str) -> None:
        self.items.pop((scope, key), None)


def answer(status: int, body: str = "{}") -> StoredAnswer:
    return StoredAnswer(status, {"Content-Type": "application/json"}, body, json=True)


@pytest.fixture
def once() -> Idempotency:
    return Idempotency(MemoryStore())


def test_the_first_answer_is_given_again_and_the_work_done_once(once: Idempotency) -> None:
    runs: list[int] = []

    def grant() -> StoredAnswer:
        runs.append(1)
        return answer(201, f'{{"uploadId": "u{len(runs)}"}}')

    request = fingerprint("POST", "/v1/uploads", b'{"name": "a"}')
    assert once.once(PUPIL, "k1", request, grant) == once.once(PUPIL, "k1", request, grant)
    assert runs == [1]


def test_a_refusal_is_kept_but_a_5xx_or_a_crash_lets_the_client_try_again(once: Idempotency) -> None:
    request = fingerprint("POST", "/v1/uploads", b"{}")
    assert once.once(PUPIL, "refused", request, lambda: answer(403)).status == 403
    assert once.once(PUPIL, "refused", request, lambda: answer(201)).status == 403
    assert once.once(PUPIL, "down", request, lambda: answer(503)).status == 503
    assert once.once(PUPIL, "down", request, lambda: answer(201)).status == 201

    def crash() -> StoredAnswer:
        raise RuntimeError("the function died")

    with pytest.raises(RuntimeError):
        once.once(PUPIL, "crash", request, crash)
    assert once.once(PUPIL, "crash", request, lambda: answer(201)).status == 201


def test_another_request_under_the_same_key_is_refused_and_a_running_one_waited_for() -> None:
    store = MemoryStore()
    once = Idempotency(store)
    first, other = fingerprint("POST", "/v1/uploads", b"a"), fingerprint("POST", "/v1/uploads", b"b")
    once.once(PUPIL, "k", first, lambda: answer(201))
    with pytest.raises(IdempotencyKeyReusedError):
        once.once(PUPIL, "k", other, lambda: answer(201))
    store.items[("lycee-hugo#alice", "running")] = Prior(first, None)
    with pytest.raises(ConflictError) as raised:
        once.once(PUPIL, "running", first, lambda: answer(201))
    assert raised.value.code == "conflict"


@pytest.mark.parametrize("bad", ["", "x" * 65, "a b", "clé", "tab\there"])
def test_malformed_keys_answer_400(once: Idempotency, bad: str) -> None:
    with pytest.raises(BadRequestError):
        once.once(PUPIL, bad, "f", lambda: answer(201))


def test_the_fingerprint_is_method_path_and_body() -> None:
    base = fingerprint("POST", "/v1/uploads", b"{}")
    assert base == fingerprint("POST", "/v1/uploads", b"{}")
    assert len({base, fingerprint("POST", "/v1/shares", b"{}"), fingerprint("POST", "/v1/uploads", b"{ }")}) == 3
