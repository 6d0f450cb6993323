"""One user cannot exhaust what others share: each user's POSTs (grants, shares, assignments...) are
counted per minute, and past the school's limit answer 429 `too_many_requests` with `Retry-After`.

A fixed window per user and minute, counted under a condition in the catalog's table, so concurrent
requests cannot overshoot. A class turning in at 23:59 is thirty users, each far under the limit; a
runaway tablet or a curious pupil's script is one user, and only that user waits.

Most POSTs are counted on their own write before the view runs (`admit`). A single grant carries its
count (`charge`) into the grant's own transaction, so a grant is one write; a grant refused before it
writes is counted alone afterwards (`settle`), so every POST still counts, refusals included.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

from chalicelib.errors import TooManyRequestsError

if TYPE_CHECKING:
    from chalicelib.domain.models import Principal

WINDOW_SECONDS = 60


class RateCounter(Protocol):
    def take(self, scope: str, window: str, limit: int, expires: datetime) -> bool:
        """Count one request in `window` for `scope`; False when `limit` were already counted."""
        ...


@dataclass(eq=False)
class RateCharge:
    """One request to count in the caller's window: by the counter alone, or as one more condition of the
    request's own write (the grant's transaction), which marks it `settled` once it counted or refused."""

    scope: str
    window: str
    limit: int
    expires: datetime
    retry_after: int  # seconds until the next window
    settled: bool = False

    def refusal(self) -> TooManyRequestsError:
        """The 429 of a window already full (and the charge settled: it is not counted again)."""
        self.settled = True
        return TooManyRequestsError(
            f"Too many requests from you this minute (at most {self.limit}); try again in {self.retry_after} s.",
            retry_after=self.retry_after,
        )


class RateLimit:
    def __init__(self, counter: RateCounter, per_minute: int) -> None:
        self._counter = counter
        self._per_minute = per_minute

    def charge(self, principal: Principal, now: datetime | None = None) -> RateCharge:
        """The caller's request as a count in this minute's window, not yet written."""
        now = now or datetime.now(UTC)
        start = int(now.timestamp()) // WINDOW_SECONDS * WINDOW_SECONDS
        return RateCharge(
            scope=f"{principal.school}#{principal.user_id}",
            window=now.strftime("%Y%m%d%H%M"),
            limit=self._per_minute,
            expires=datetime.fromtimestamp(start + 2 * WINDOW_SECONDS, now.tzinfo),
            retry_after=WINDOW_SECONDS - now.second,
        )

    def settle(self, charge: RateCharge) -> None:
        """Count a charge its request did not write (or raise its 429); nothing for one already settled."""
        if charge.settled:
            return
        if not self._counter.take(charge.scope, charge.window, charge.limit, charge.expires):
            raise charge.refusal()
        charge.settled = True

    def admit(self, principal: Principal, now: datetime | None = None) -> None:
        """Count the caller's request, or raise 429 with the seconds until the next window."""
        self.settle(self.charge(principal, now))
