"""Each user's POSTs a minute: counted per user and window, 429 with the seconds to wait past the limit."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chalicelib.domain.models import Principal, Role
from chalicelib.domain.ratelimit import RateLimit
from chalicelib.errors import TooManyRequestsError

ALICE = Principal(user_id="alice", school="lycee-hugo", role=Role.STUDENT)
BOB = Principal(user_id="bob", school="lycee-hugo", role=Role.STUDENT)


class Counter:
    def __init__(self) -> None:
        self.counts: dict[tuple[str, str], int] = {}

    def take(self, scope: str, window: str, limit: int, expires: datetime) -> bool:
        count = self.counts.get((scope, window), 0)
        if count >= limit:
            return False
        self.counts[(scope, window)] = count + 1
        return True


def test_past_the_limit_a_user_waits_until_the_next_minute_and_others_do_not() -> None:
    limit = RateLimit(Counter(), per_minute=3)
    now = datetime(2026, 12, 2, 23, 59, 15, tzinfo=UTC)
    for _ in range(3):
        limit.admit(ALICE, now)
    with pytest.raises(TooManyRequestsError) as raised:
        limit.admit(ALICE, now)
    assert (raised.value.status, raised.value.code, raised.value.retry_after) == (429, "too_many_requests", 45)
    limit.admit(BOB, now)  # a classmate is not slowed by Alice
    limit.admit(ALICE, datetime(2026, 12, 3, 0, 0, 1, tzinfo=UTC))  # the next minute


def test_a_charge_written_by_its_request_is_not_counted_again_and_one_it_did_not_write_is() -> None:
    counter = Counter()
    limit = RateLimit(counter, per_minute=2)
    now = datetime(2026, 12, 2, 23, 59, 15, tzinfo=UTC)
    written = limit.charge(ALICE, now)
    assert (written.scope, written.window, written.limit, written.retry_after) == (
        "lycee-hugo#alice",
        "202612022359",
        2,
        45,
    )
    assert written.expires == datetime(2026, 12, 3, 0, 1, tzinfo=UTC)
    written.settled = True  # the grant's transaction counted it
    limit.settle(written)
    assert counter.counts == {}
    refused_early = limit.charge(ALICE, now)  # a grant refused before its write: counted alone
    limit.settle(refused_early)
    limit.settle(refused_early)  # once
    assert counter.counts == {("lycee-hugo#alice", "202612022359"): 1}
    limit.admit(ALICE, now)
    late = limit.charge(ALICE, now)
    with pytest.raises(TooManyRequestsError) as raised:
        limit.settle(late)
    assert raised.value.retry_after == 45 and late.settled
