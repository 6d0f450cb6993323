"""The views' side of v1.1: a JSON body is read whatever its Content-Type, up to a size per route, and
Chalice's own answers (its 405, its 415, an error outside a view) are the contract's error body."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from chalice.app import Chalice, Response
from chalice.test import Client

from chalicelib.domain.models import Principal, Role
from chalicelib.domain.roster import MAX_IMPORT_BYTES
from chalicelib.errors import UnauthorizedError
from chalicelib.http import CSV_BODY_LIMIT, JSON_BODY_LIMIT, Views, current_request, json_body

MIB = 1024 * 1024


def _authenticate(header: str | None) -> Principal:
    if header != "Bearer ok":
        raise UnauthorizedError("A valid bearer token is required.")
    return Principal("alice", "school", Role.STUDENT)


def _app() -> Chalice:
    app = Chalice(app_name="views-under-test")
    views = Views(app, authenticate=_authenticate)

    @views.route("/echo", methods=["POST"], status=201)
    def echo(principal: Principal) -> dict[str, Any]:
        return json_body(current_request(app).raw_body)

    @views.route("/csv", methods=["POST"], max_body=CSV_BODY_LIMIT)
    def csv(principal: Principal) -> dict[str, Any]:
        return {"bytes": len(current_request(app).raw_body)}

    @views.route("/typed", methods=["POST"], public=True, content_types=["application/json"])
    def typed() -> dict[str, Any]:
        return {}

    @app.route("/raw", methods=["GET"])  # outside Views: what Chalice does with a view that raises
    def raw() -> Response:
        raise RuntimeError("boom")

    return app


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    with Client(_app()) as client:
        yield client


def _post(client: Client, path: str, body: bytes, content_type: str | None) -> Any:
    headers = {"Authorization": "Bearer ok"}
    if content_type is not None:
        headers["Content-Type"] = content_type
    return client.http.request("POST", path, headers=headers, body=body)


def _error(answer: Any) -> tuple[int, str]:
    body = json.loads(answer.body)
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    assert answer.headers["Content-Type"] == "application/json"
    return answer.status_code, body["error"]["code"]


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "application/json; charset=utf-8",
        "text/plain",
        "text/plain;charset=UTF-8",
        "application/x-www-form-urlencoded",
        "application/octet-stream",
        None,
    ],
)
def test_a_json_body_is_read_whatever_its_content_type(client: Client, content_type: str | None) -> None:
    answer = _post(client, "/echo", b'{"name": "devoir.txt"}', content_type)
    assert answer.status_code == 201, answer.body
    assert json.loads(answer.body) == {"name": "devoir.txt"}


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_a_body_that_is_not_json_is_400(client: Client, content_type: str | None) -> None:
    assert _error(_post(client, "/echo", b"name=devoir.txt", content_type)) == (400, "bad_request")


@pytest.mark.parametrize("content_type", ["image/png", "audio/mpeg", "video/mp4", "multipart/form-data; boundary=x"])
def test_a_type_no_route_reads_is_415(client: Client, content_type: str) -> None:
    assert _error(_post(client, "/echo", b'{"a": 1}', content_type)) == (415, "unsupported_media_type")


def test_a_json_body_over_a_mebibyte_is_413_before_authentication(client: Client) -> None:
    body = b'{"a": "' + b"x" * JSON_BODY_LIMIT + b'"}'
    answer = client.http.request("POST", "/echo", headers={"Content-Type": "application/json"}, body=body)
    assert _error(answer) == (413, "payload_too_large")
    assert _post(client, "/echo", b'{"a": "' + b"x" * (JSON_BODY_LIMIT - 20) + b'"}', None).status_code == 201


def test_the_roster_route_takes_the_roster_s_own_limit(client: Client) -> None:
    assert CSV_BODY_LIMIT == MAX_IMPORT_BYTES, "the view refuses what the service would refuse, no more"
    assert _post(client, "/csv", b"x" * (2 * MIB), "text/csv").status_code == 200
    assert _error(_post(client, "/csv", b"x" * (CSV_BODY_LIMIT + 1), "text/csv")) == (413, "payload_too_large")


def test_a_method_the_path_does_not_declare_is_404_as_on_api_gateway(client: Client) -> None:
    answer = client.http.request("DELETE", "/echo", headers={"Authorization": "Bearer ok"})
    assert _error(answer) == (404, "not_found")


def test_chalice_s_own_415_and_500_are_the_contract_s_body(client: Client) -> None:
    """A route that names its content types gets Chalice's check, in our body; so does an error outside Views."""
    assert _error(_post(client, "/typed", b"{}", "text/plain")) == (415, "unsupported_media_type")
    assert _post(client, "/typed", b"{}", "application/json").status_code == 200
    assert _error(client.http.get("/raw")) == (500, "internal_error")


def test_a_lone_surrogate_anywhere_in_a_body_answers_400_and_a_pair_is_an_emoji() -> None:
    from chalicelib.errors import BadRequestError
    from chalicelib.http import json_body

    assert json_body(b'{"title": "Devoir \\ud83d\\udcda"}') == {"title": "Devoir 📚"}
    for body in (b'{"title": "x\\ud800y"}', b'{"list": ["\\uDFFF"]}', b'{"\\udc00": 1}'):
        with pytest.raises(BadRequestError):
            json_body(body)


def test_a_route_that_counts_itself_gets_the_charge_and_a_refusal_before_its_write_is_counted() -> None:
    from chalicelib.domain.ratelimit import RateCharge, RateLimit
    from chalicelib.errors import BadRequestError

    counted: list[str] = []

    class Counter:
        def take(self, scope: str, window: str, limit: int, expires: Any) -> bool:
            counted.append(scope)
            return len(counted) <= limit

    app = Chalice(app_name="counted-under-test")
    views = Views(app, authenticate=_authenticate, rate_limit=lambda: RateLimit(Counter(), per_minute=2))
    given: list[RateCharge | None] = []

    @views.route("/grant", methods=["POST"], status=201, counts_itself=True)
    def grant(principal: Principal, rate: RateCharge | None = None) -> dict[str, Any]:
        given.append(rate)
        if json_body(current_request(app).raw_body).get("refuse"):
            raise BadRequestError("refused before the write")
        assert rate is not None
        rate.settled = True  # as the grant's transaction does
        return {}

    with Client(app) as client:
        assert _post(client, "/grant", b"{}", None).status_code == 201
        assert counted == [] and given[-1] is not None  # counted by the view's own write only
        assert _error(_post(client, "/grant", b'{"refuse": true}', None)) == (400, "bad_request")
        assert counted == ["school#alice"]  # a refusal still counts, once
        assert _error(_post(client, "/grant", b'{"refuse": true}', None)) == (400, "bad_request")
        refused = _post(client, "/grant", b'{"refuse": true}', None)  # the window is full: 429 instead
        assert _error(refused) == (429, "too_many_requests") and 1 <= int(refused.headers["Retry-After"]) <= 60
