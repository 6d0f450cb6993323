"""S3 notifications as they reach the scan handler through SQS (fixtures in tests/events/)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chalicelib.adapters.s3 import content_disposition
from chalicelib.domain.scanning import object_keys

EVENTS = Path(__file__).resolve().parents[1] / "events"


def test_test_event_names_no_object() -> None:
    assert object_keys((EVENTS / "s3-test-event.json").read_text()) == []


def test_moto_quotes_slashes_and_s3_form_encodes() -> None:
    body = (EVENTS / "s3-object-created.json").read_text()
    assert object_keys(body) == ["incoming/abcDEF_123-x/up_1", "incoming/a b/c"]


@pytest.mark.parametrize("body", ["", "nope", "[]", '{"Records": "x"}', '{"Records": [1, {"s3": {}}]}'])
def test_malformed_bodies_name_nothing(body: str) -> None:
    assert object_keys(body) == []


def test_removal_events_are_ignored() -> None:
    event = {"Records": [{"eventName": "ObjectRemoved:Delete", "s3": {"object": {"key": "incoming/a/b"}}}]}
    assert object_keys(json.dumps(event)) == []


def test_content_disposition_is_rfc6266() -> None:
    header = content_disposition('Résumé "final"%.pdf')
    assert (
        header == "attachment; filename=\"R_sum_ _final__.pdf\"; filename*=UTF-8''R%C3%A9sum%C3%A9%20%22final%22%25.pdf"
    )
