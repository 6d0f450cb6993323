"""One user cannot exhaust what others share: each user's POSTs (grants, shares, assignments...) are
counted per minute, and past the school's limit answer 429 `too_many_requests` with `Retry-After`.

A fixed window per user and minute, counted under a condition in the catalog's table, so concurrent
requests cannot overshoot. A class turning in at 23:59 is thirty users, each far under the limit; a
runaway tablet or a curious pupil's script is one user, and only that user waits.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from chalicelib.domain.models import Principal, utcnow
from chalicelib.errors import TooManyRequestsError

WINDOW_SECONDS = 60


class RateCounter(Protocol):
    def take(self, scope: str, window: str, limit: int, expires: datetime) -> bool:
        """Count one request in `window` for `scope`; False when `limit` were already counted."""
        ...


class RateLimit:
    def __init__(self, counter: RateCounter, per_minute: int) -> None:
        self._counter = counter
        self._per_minute = per_minute

    def admit(self, principal: Principal, now: datetime | None = None) -> None:
        """Count the caller's request, or raise 429 with the seconds until the next window."""
        now = now or utcnow()
        window = now.strftime("%Y%m%d%H%M")
        expires = now.replace(second=0, microsecond=0).timestamp() + 2 * WINDOW_SECONDS
        scope = f"{principal.school}#{principal.user_id}"
        if not self._counter.take(scope, window, self._per_minute, datetime.fromtimestamp(expires, now.tzinfo)):
            wait = WINDOW_SECONDS - now.second
            raise TooManyRequestsError(
                f"Too many requests from you this minute (at most {self._per_minute}); try again in {wait} s.",
                retry_after=wait,
            )
