"""The quotas as data (policies/quotas.json): bytes per space and grants waiting per user and submission."""

from __future__ import annotations

import pytest

from chalicelib.domain.models import SpaceRef
from chalicelib.domain.quotas import (
    DEFAULT_PENDING_SUBMISSION,
    DEFAULT_PENDING_USER,
    load_quotas,
    parse_quotas,
    pending_counters,
)

BYTES = {"user": 100, "class": 1000}


def test_the_deployed_quotas_parse_and_bound_waiting_grants() -> None:
    policy = load_quotas()
    assignment = SpaceRef.from_stored("assignment:a1")
    assert policy.pending("s1", assignment, "ana") == (("USER#s1#ana", 300), ("SUBMISSION#s1#assignment:a1#ana", 50))
    assert policy.pending("s1", SpaceRef.from_stored("class:c1"), "ana") == (("USER#s1#ana", 300),)


def test_a_school_without_pending_counts_takes_the_defaults_and_may_set_its_own() -> None:
    policy = parse_quotas({"default": BYTES, "schools": {"busy": {**BYTES, "pending": {"user": 7, "submission": 2}}}})
    assert policy.default.pending_user == DEFAULT_PENDING_USER
    assert policy.default.pending_submission == DEFAULT_PENDING_SUBMISSION
    space = SpaceRef.from_stored("assignment:a1")
    assert [limit for _, limit in policy.pending("busy", space, "ana")] == [7, 2]


@pytest.mark.parametrize("pending", [{"user": 0}, {"submission": -1}, {"user": "many"}, []])
def test_counts_that_would_block_everyone_or_mean_nothing_are_refused(pending: object) -> None:
    with pytest.raises(ValueError, match="pending"):
        parse_quotas({"default": {**BYTES, "pending": pending}, "schools": {}})


def test_a_verdict_leaves_the_counts_its_grant_joined() -> None:
    space = SpaceRef.from_stored("assignment:a1")
    assert pending_counters("s1", space, "ana") == ["USER#s1#ana", "SUBMISSION#s1#assignment:a1#ana"]
