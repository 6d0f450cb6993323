"""The catalog's contract, a grant's count of its caller's POSTs: written by the grant's own transaction
(a grant is one write), refused with the window full (429 with the seconds to wait, nothing granted),
and not counted by a grant that failed for another reason (the HTTP layer then counts it alone). The
same tests on the DynamoDB catalog (in-process moto) and the PostgreSQL catalog (a real server)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib.domain.models import Principal, Role
from chalicelib.domain.ratelimit import RateLimit
from chalicelib.errors import AlreadyExistsError, QuotaExceededError, TooManyRequestsError
from tests.catalogs import audit, fresh, grant, records

pytestmark = pytest.mark.integration
pytest_plugins = ["tests.postgres", "tests.catalog_fixtures"]
NOW = datetime(2026, 12, 2, 23, 59, 15, tzinfo=UTC)


def limit_of(subject: Any, per_minute: int) -> tuple[RateLimit, Principal]:
    return RateLimit(subject.rate, per_minute), Principal(fresh("u"), fresh("school"), Role.STUDENT)


def test_a_grant_counts_its_request_in_its_own_transaction(subject: Any) -> None:
    limit, pupil = limit_of(subject, 2)
    file, upload = records(pupil.school, pupil.user_id)
    charge = limit.charge(pupil, NOW)
    subject.catalog.create_file(file, replace(upload, rate=charge), [], audit(pupil.school, pupil.user_id, 1))
    assert charge.settled
    again = limit.charge(pupil, NOW)
    subject.catalog.add_upload(replace(grant(file), rate=again))
    assert again.settled
    with pytest.raises(TooManyRequestsError):  # two counted by the grants: the window is full
        limit.admit(pupil, NOW)


def test_a_grant_past_the_window_is_429_and_grants_nothing(subject: Any) -> None:
    limit, pupil = limit_of(subject, 1)
    limit.admit(pupil, NOW)  # another POST of the caller's this minute
    file, upload = records(pupil.school, pupil.user_id, quota=(fresh("q"), 100))
    charge = limit.charge(pupil, NOW)
    with pytest.raises(TooManyRequestsError) as refused:
        subject.catalog.create_file(file, replace(upload, rate=charge), [])
    assert (refused.value.status, refused.value.retry_after) == (429, 45)
    assert charge.settled  # refused: the HTTP layer does not count it again
    assert subject.catalog.get_file(pupil.school, file.id) is None
    assert subject.catalog.get_upload(upload.id) is None
    assert subject.catalog.quota_used(upload.quota_key) == 0
    with pytest.raises(TooManyRequestsError):  # first, whatever else fails (here: no such file)
        subject.catalog.add_upload(replace(grant(file), rate=limit.charge(pupil, NOW)), served=False)


def test_a_grant_refused_for_another_reason_leaves_its_count_to_the_caller(subject: Any) -> None:
    limit, pupil = limit_of(subject, 2)
    file, upload = records(pupil.school, pupil.user_id)
    subject.catalog.create_file(file, upload, [])
    twin, twin_upload = records(pupil.school, pupil.user_id, name=file.name)
    taken = limit.charge(pupil, NOW)
    with pytest.raises(AlreadyExistsError):
        subject.catalog.create_file(twin, replace(twin_upload, rate=taken), [])
    quota = (fresh("q"), 100)
    subject.catalog.create_file(*records(pupil.school, pupil.user_id, size=60, quota=quota), [])
    full = limit.charge(pupil, NOW)
    big, big_upload = records(pupil.school, pupil.user_id, size=50, quota=quota)
    with pytest.raises(QuotaExceededError):
        subject.catalog.create_file(big, replace(big_upload, rate=full), [])
    assert not taken.settled and not full.settled  # rolled back with their grants
    limit.settle(taken)
    limit.settle(full)  # both counted now, and nothing else
    with pytest.raises(TooManyRequestsError):
        limit.admit(pupil, NOW)


def test_the_count_is_not_stored_with_the_upload(subject: Any) -> None:
    limit, pupil = limit_of(subject, 5)
    file, upload = records(pupil.school, pupil.user_id)
    subject.catalog.create_file(file, replace(upload, rate=limit.charge(pupil, NOW)), [])
    stored: Any = subject.catalog.get_upload(upload.id)
    assert stored.rate is None and stored == replace(upload, quota_limit=None)
