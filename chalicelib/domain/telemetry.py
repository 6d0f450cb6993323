"""What the services tell the operators besides their log lines: log context and metrics, as a port.

The services say what happened (a verdict, a clamd failure, a quota refusal, how long a message
waited); the adapter (`chalicelib/adapters/telemetry.py`, Powertools) names the metrics, and the log
lines written meanwhile carry the keys given here. Keys are ids only: never a token, a file's name or
its contents.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import timedelta
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # annotations only: the API's requests never load the content rules
    from chalicelib.domain.content import Verdict


class Telemetry(Protocol):
    def scope(self, **keys: str) -> AbstractContextManager[None]:
        """Log lines written inside carry these keys; the keys before it are back when it ends."""
        ...

    def tag(self, **keys: str) -> None:
        """Log lines carry these keys until the enclosing scope (or the invocation) ends."""
        ...

    def fold(self, **facts: str) -> bool:
        """Put these facts (a decision, the ids a request made) on the request's one log line: True, or
        False when there is no such line or it already holds one of them (the caller writes its own)."""
        ...

    def verdict(self, verdict: Verdict, waited: timedelta | None) -> None:
        """A scan's verdict was recorded, `waited` after the bytes arrived."""
        ...

    def clamd_error(self, count: int = 1) -> None:
        """clamd gave no verdict (unreachable, an error reply, a timeout, a hang-up): the scan is retried."""
        ...

    def quota_refused(self) -> None:
        """A grant was refused because the space's quota would be exceeded."""
        ...

    def queue_age(self, waited: timedelta) -> None:
        """How long a message waited in the uploads queue before its scan began."""
        ...


class NullTelemetry:
    """Tells nobody: the default of every service, and enough for tests that do not look."""

    @contextmanager
    def scope(self, **keys: str) -> Iterator[None]:
        yield

    def tag(self, **keys: str) -> None:
        return None

    def fold(self, **facts: str) -> bool:
        return False

    def verdict(self, verdict: Verdict, waited: timedelta | None) -> None:
        return None

    def clamd_error(self, count: int = 1) -> None:
        return None

    def quota_refused(self) -> None:
        return None

    def queue_age(self, waited: timedelta) -> None:
        return None
