"""A runaway tablet or a pupil's script: past its own budget of POSTs a minute it answers 429 with
Retry-After, and a classmate is not slowed at all (the session stack allows 300 a minute)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

pytestmark = pytest.mark.integration


def test_one_user_past_the_limit_gets_429_and_others_do_not(as_user: Any) -> None:
    script, classmate = as_user(f"script-{uuid.uuid4().hex[:6]}"), as_user(f"calme-{uuid.uuid4().hex[:6]}")
    refused = None
    for _ in range(700):  # two windows' worth: whatever the minute, one of them passes 300
        answer = script.post("/v1/shares", {})
        if answer.status_code == 429:
            refused = answer
            break
        assert answer.status_code == 400  # counted, then refused for its body
    assert refused is not None, "the limit was never reached"
    assert refused.json()["error"]["code"] == "too_many_requests"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert classmate.post("/v1/shares", {}).status_code == 400  # not 429: their own budget
