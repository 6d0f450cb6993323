"""What the gateway and the framework answer themselves is the contract's error body too (v1.1), and a JSON
body is read as JSON whatever its Content-Type: over the real local stack (local/api.py in front of the app)."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from infra.gateway import load

pytestmark = pytest.mark.integration

MIB = 1024 * 1024
GRANT = {"space": "me", "path": "/", "name": "devoir.txt", "size": 12, "contentType": "text/plain"}


def _contract_error(answer: requests.Response, status: int, code: str) -> str:
    assert answer.status_code == status, answer.text
    assert answer.headers["Content-Type"] == "application/json"
    body = answer.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    assert body["error"]["code"] == code and body["error"]["message"].strip()
    return str(body["error"]["message"])


@pytest.mark.parametrize("token", [False, True], ids=["anonymous", "with-a-bearer-token"])
def test_an_unknown_route_is_404_as_the_deployed_gateway_says_it(api_url: str, as_user: Any, token: bool) -> None:
    headers = {"Authorization": f"Bearer {as_user('gw-1').token}"} if token else {}
    for method, path in (("GET", "/v1/nothing"), ("POST", "/v1/uploads/x/y/z"), ("GET", "/v2/health")):
        answer = requests.request(method, f"{api_url}{path}", headers=headers, timeout=10)
        _contract_error(answer, 404, "not_found")
        assert answer.content == load()["MISSING_AUTHENTICATION_TOKEN"].body(), "the Gateway Response's very bytes"


@pytest.mark.parametrize(("method", "path"), [("DELETE", "/v1/uploads"), ("PUT", "/v1/health"), ("PUT", "/v1/files/f")])
def test_a_method_the_route_does_not_serve_is_404(as_user: Any, method: str, path: str) -> None:
    """API Gateway answers a method a path does not declare as it answers no route (MISSING_AUTHENTICATION_TOKEN)."""
    _contract_error(as_user("gw-1").request(method, path, data=b"{}"), 404, "not_found")


def test_a_12_mb_json_body_is_refused_by_the_gateway_with_413(as_user: Any) -> None:
    body = json.dumps({**GRANT, "name": "x" * (12 * MIB)}).encode()
    answer = as_user("gw-1").request("POST", "/v1/uploads", data=body, headers={"Content-Type": "application/json"})
    message = _contract_error(answer, 413, "payload_too_large")
    assert "10 MB" in message


def test_a_json_body_over_a_mebibyte_is_refused_by_the_app_with_413(as_user: Any) -> None:
    body = json.dumps({**GRANT, "name": "x" * (2 * MIB)}).encode()
    answer = as_user("gw-1").request("POST", "/v1/uploads", data=body, headers={"Content-Type": "text/plain"})
    _contract_error(answer, 413, "payload_too_large")


@pytest.mark.parametrize(
    "content_type", ["text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded", None]
)
def test_json_sent_without_saying_so_is_read_as_json(as_user: Any, content_type: str | None) -> None:
    """fetch() with a string body says text/plain, `curl -d` says a form, some clients say nothing."""
    headers = {} if content_type is None else {"Content-Type": content_type}
    answer = as_user("gw-2").request("POST", "/v1/uploads", data=json.dumps(GRANT).encode(), headers=headers)
    assert answer.status_code == 201, answer.text
    assert answer.json()["upload"]["method"] == "POST"


@pytest.mark.parametrize("content_type", ["text/plain", None])
def test_a_body_that_is_not_json_is_400_whatever_its_type(as_user: Any, content_type: str | None) -> None:
    headers = {} if content_type is None else {"Content-Type": content_type}
    _contract_error(
        as_user("gw-1").request("POST", "/v1/uploads", data=b"devoir.txt", headers=headers), 400, "bad_request"
    )


def test_a_type_no_route_could_read_is_415(as_user: Any) -> None:
    answer = as_user("gw-1").request("POST", "/v1/uploads", data=b"\x89PNG\r\n", headers={"Content-Type": "image/png"})
    _contract_error(answer, 415, "unsupported_media_type")
