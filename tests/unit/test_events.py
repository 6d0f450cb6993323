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


class _Scanner:
    """Stands in for the scan service to test the handler's batch reporting only."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def handle_message(self, record: object) -> None:
        from chalicelib.domain.scanning import message_keys

        for key in message_keys(record):
            self.seen.append(key)
            if key == "incoming/bad/bad":
                raise RuntimeError("poison")


def test_the_handler_reports_only_the_failed_messages(monkeypatch: pytest.MonkeyPatch) -> None:
    import app
    from chalicelib import wiring

    scanner = _Scanner()
    monkeypatch.setattr(wiring, "scan_service", lambda: scanner)

    def record(message_id: str, key: str) -> dict[str, object]:
        body = {"Records": [{"eventName": "ObjectCreated:Post", "s3": {"object": {"key": key}}}]}
        return {"messageId": message_id, "receiptHandle": message_id, "body": json.dumps(body)}

    event = {"Records": [record("m1", "incoming/a/1"), record("m2", "incoming/bad/bad"), record("m3", "incoming/a/3")]}
    answer = app.scan_uploads(event, None)
    assert answer == {"batchItemFailures": [{"itemIdentifier": "m2"}]}
    assert scanner.seen == ["incoming/a/1", "incoming/bad/bad", "incoming/a/3"]
