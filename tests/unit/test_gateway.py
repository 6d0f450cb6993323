"""policies/gateway/responses.json: the gateway's own answers, checked when read, rendered one way for both readers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from infra.gateway import load, sam_gateway_responses, with_gateway_responses


def _write(tmp_path: Path, responses: dict[str, Any]) -> Path:
    fallbacks = {
        "DEFAULT_4XX": {"status": 400, "code": "bad_request", "message": "Refused."},
        "DEFAULT_5XX": {"status": 503, "code": "service_unavailable", "message": "Down.", "retryAfter": 5},
    }
    path = tmp_path / "responses.json"
    path.write_text(json.dumps({"responses": {**fallbacks, **responses}}), encoding="utf-8")
    return path


def test_every_answer_is_the_contract_s_body_with_its_headers() -> None:
    for kind, answer in load().items():
        assert json.loads(answer.body()) == {"error": {"code": answer.code, "message": answer.message}}, kind
        headers = answer.headers()
        assert headers["Content-Type"] == "application/json" and headers["Cache-Control"] == "no-store", kind
        assert ("Retry-After" in headers) == (answer.status in (429, 503)), kind
    assert load()["UNAUTHORIZED"].headers()["WWW-Authenticate"] == 'Bearer error="invalid_token"'


def test_sam_gets_the_same_bytes_with_quoted_header_literals() -> None:
    answer = load()["THROTTLED"]
    response = sam_gateway_responses()["THROTTLED"]
    assert response["StatusCode"] == "429"
    assert response["ResponseTemplates"] == {"application/json": answer.body().decode()}
    assert response["ResponseParameters"]["Headers"]["Retry-After"] == f"'{answer.retry_after}'"
    merged = with_gateway_responses({"Resources": {"RestAPI": {"Properties": {"MethodSettings": []}}}})
    assert merged["Resources"]["RestAPI"]["Properties"] == {
        "MethodSettings": [],
        "GatewayResponses": sam_gateway_responses(),
    }


@pytest.mark.parametrize(
    "entry",
    [
        {"status": 404, "code": "not_found", "message": "No route for $context.path."},  # API Gateway would fill it in
        {"status": 401, "code": "unauthorized", "message": "No.", "headers": {"WWW-Authenticate": "Bearer 'x'"}},
        {"status": 429, "code": "too_many_requests", "message": "Slow down."},  # no Retry-After
        {"status": 404, "code": "not_found", "message": "No.", "retryAfter": 1},  # Retry-After on a 404
        {"status": 200, "code": "ok", "message": "Fine."},
        {"status": 404, "code": "Not Found", "message": "No."},
    ],
)
def test_an_entry_the_gateway_would_not_render_as_written_is_refused(tmp_path: Path, entry: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        load.__wrapped__(_write(tmp_path, {"RESOURCE_NOT_FOUND": entry}))


def test_both_fallbacks_are_required(tmp_path: Path) -> None:
    path = tmp_path / "responses.json"
    path.write_text(json.dumps({"responses": {}}), encoding="utf-8")
    with pytest.raises(ValueError, match="DEFAULT_4XX, DEFAULT_5XX"):
        load.__wrapped__(path)
    assert set(load.__wrapped__(_write(tmp_path, {}))) == {"DEFAULT_4XX", "DEFAULT_5XX"}
