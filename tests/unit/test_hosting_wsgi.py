"""hosting/wsgi.py: requests turned into API Gateway's proxy events for the Chalice app, and its answers
written back; what the gateway answers itself is `policies/gateway/responses.json`'s, as deployed."""

from __future__ import annotations

import base64
import io
import json
import threading
from typing import Any
from urllib.parse import unquote
from wsgiref.util import setup_testing_defaults

import pytest
from chalice.app import Chalice, Response

from hosting.wsgi import MAX_BODY, NO_ROUTE, TOO_LARGE, Gateway, RouteTable, is_binary, raw_path
from infra.gateway import load

ANSWERS = load()


def _app() -> Chalice:
    app = Chalice(app_name="hosted-under-test")

    def echo(**params: Any) -> dict[str, Any]:
        request = app.current_request
        assert request is not None
        return {
            "event": request.to_original_event(),
            "params": params,
            "raw": base64.b64encode(request.raw_body).decode(),
        }

    app.route("/v1/files/{file_id}", methods=["GET", "DELETE"])(echo)
    app.route("/v1/files/{file_id}/content", methods=["GET"])(echo)
    app.route("/v1/spaces/{space}/files", methods=["GET"])(echo)
    app.route("/v1/spaces/me/files", methods=["GET"])(echo)
    app.route("/v1/uploads", methods=["POST"], content_types=["application/json", "application/octet-stream"])(echo)

    @app.route("/v1/picture", methods=["GET"])
    def picture() -> Response:
        return Response(b"\x89PNG\x00\xff", headers={"Content-Type": "image/png"}, status_code=200)

    @app.route("/v1/multi", methods=["GET"])
    def multi() -> Response:
        return Response("", headers={"Set-Cookie": ["a=1", "b=2"], "X-One": "1"}, status_code=204)

    @app.route("/v1/boom", methods=["GET"])
    def boom() -> None:
        raise RuntimeError("a bug")

    return app


def call(
    gateway: Gateway,
    method: str,
    path: str,
    query: str = "",
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    **environ: Any,
) -> tuple[int, dict[str, list[str]], bytes]:
    env: dict[str, Any] = {
        "REQUEST_METHOD": method,
        # As gunicorn: the path as sent in RAW_URI, decoded in PATH_INFO (its UTF-8 bytes as latin-1 text).
        "RAW_URI": path + (f"?{query}" if query else ""),
        "PATH_INFO": unquote(path).encode().decode("latin-1"),
        "QUERY_STRING": query,
        "CONTENT_LENGTH": str(len(body)) if body else "",
        "wsgi.input": io.BytesIO(body),
        "REMOTE_ADDR": "10.1.2.3",
    }
    for name, value in (headers or {}).items():
        key = name.upper().replace("-", "_")
        env[key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{key}"] = value
    env.update(environ)
    setup_testing_defaults(env)
    seen: dict[str, Any] = {}

    def start_response(status: str, response_headers: list[tuple[str, str]]) -> None:
        seen["status"] = int(status.split()[0])
        seen["headers"] = {}
        for name, value in response_headers:
            seen["headers"].setdefault(name, []).append(value)

    data = b"".join(gateway(env, start_response))
    return seen["status"], seen["headers"], data


@pytest.fixture(scope="module")
def gateway() -> Gateway:
    return Gateway(_app(), base_path="/api", stage="api", forwarded_hops=1)


def _event(answer: tuple[int, dict[str, list[str]], bytes]) -> dict[str, Any]:
    status, _, data = answer
    assert status == 200, data
    result: dict[str, Any] = json.loads(data)
    return result


def test_a_route_with_a_path_parameter_and_a_multi_value_query(gateway: Gateway) -> None:
    answer = call(
        gateway,
        "GET",
        "/api/v1/files/f%3A1/content",
        query="version=v1&tag=a&tag=b+c&empty=",
        headers={"Authorization": "Bearer t", "Accept-Language": "fr, en", "X-Forwarded-For": "192.0.2.7, 10.0.0.9"},
    )
    result = _event(answer)
    event = result["event"]
    assert result["params"] == {"file_id": "f%3A1"}, "path parameters are passed as they came"
    assert event["resource"] == "/v1/files/{file_id}/content" and event["path"] == "/v1/files/f%3A1/content"
    assert event["httpMethod"] == "GET" and event["pathParameters"] == {"file_id": "f%3A1"}
    assert event["multiValueQueryStringParameters"] == {"version": ["v1"], "tag": ["a", "b c"], "empty": [""]}
    assert event["queryStringParameters"] == {"version": "v1", "tag": "b c", "empty": ""}
    assert event["headers"]["Authorization"] == "Bearer t"
    assert event["multiValueHeaders"]["Accept-Language"] == ["fr", "en"]
    context = event["requestContext"]
    assert context["resourcePath"] == "/v1/files/{file_id}/content" and context["path"] == "/api/v1/files/f%3A1/content"
    assert context["stage"] == "api" and context["requestId"] and context["requestTimeEpoch"] > 0
    assert context["identity"]["sourceIp"] == "10.0.0.9", "the address the one trusted proxy saw"
    assert event["body"] is None and event["isBase64Encoded"] is False


def test_the_path_is_matched_as_sent_an_encoded_slash_stays_in_its_segment(gateway: Gateway) -> None:
    assert _event(call(gateway, "GET", "/api/v1/files/a%2Fb/content", query="version=2"))["params"] == {
        "file_id": "a%2Fb"
    }
    assert _event(call(gateway, "GET", "/api/v1/files/%C3%A9%20t"))["params"] == {"file_id": "%C3%A9%20t"}


def test_without_the_raw_path_the_decoded_one_is_quoted_again() -> None:
    assert raw_path({"PATH_INFO": "/v1/files/é t:1".encode().decode("latin-1")}) == "/v1/files/%C3%A9%20t:1"
    assert raw_path({"REQUEST_URI": "http://api.example/v1/x%2Fy?z=1"}) == "/v1/x%2Fy"


def test_no_query_no_parameters_are_none_as_api_gateway_sends_them(gateway: Gateway) -> None:
    event = _event(call(gateway, "GET", "/api/v1/spaces/me/files"))["event"]
    assert event["multiValueQueryStringParameters"] is None and event["queryStringParameters"] is None
    assert event["pathParameters"] is None, "the literal resource wins over /v1/spaces/{space}/files"
    assert _event(call(gateway, "GET", "/api/v1/spaces/class-1/files/"))["params"] == {"space": "class-1"}


def test_a_binary_body_is_base64_a_text_body_is_text(gateway: Gateway) -> None:
    data = bytes(range(256))
    result = _event(
        call(gateway, "POST", "/api/v1/uploads", body=data, headers={"Content-Type": "application/octet-stream"})
    )
    assert result["event"]["isBase64Encoded"] is True and base64.b64decode(result["event"]["body"]) == data
    assert base64.b64decode(result["raw"]) == data
    text = '{"name": "rédaction.odt"}'.encode()
    result = _event(call(gateway, "POST", "/api/v1/uploads", body=text, headers={"Content-Type": "application/json"}))
    assert result["event"]["isBase64Encoded"] is False and result["event"]["body"] == text.decode()
    assert result["event"]["headers"]["Content-Length"] == str(len(text))


def test_a_binary_answer_is_sent_as_bytes_and_multi_value_headers_each(gateway: Gateway) -> None:
    status, headers, data = call(gateway, "GET", "/api/v1/picture", headers={"Accept": "image/png"})
    assert (status, data, headers["Content-Type"]) == (200, b"\x89PNG\x00\xff", ["image/png"])
    status, headers, data = call(gateway, "GET", "/api/v1/multi")
    assert status == 204 and headers["Set-Cookie"] == ["a=1", "b=2"] and headers["X-One"] == ["1"]


def _is(answer: tuple[int, dict[str, list[str]], bytes], kind: str) -> None:
    status, headers, data = answer
    expected = ANSWERS[kind]
    assert (status, data) == (expected.status, expected.body())
    for name, value in expected.headers().items():
        assert headers[name] == [value], name


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/nothing"),
        ("GET", "/api/v1/files/a/content/more"),
        ("GET", "/api/v1/files//content"),  # a parameter is never empty
        ("PUT", "/api/v1/files/a"),  # a method the route does not declare is no route either
        ("OPTIONS", "/api/v1/files/a"),
        ("GET", "/v1/files/a"),  # outside the stage's base path
        ("GET", "/apiv1/files/a"),
    ],
)
def test_no_route_is_the_gateway_s_404(gateway: Gateway, method: str, path: str) -> None:
    _is(call(gateway, method, path, headers={"Authorization": "Bearer x"}), NO_ROUTE)


def test_a_body_over_ten_megabytes_is_refused_before_it_is_read(gateway: Gateway) -> None:
    class Unread(io.BytesIO):
        def read(self, *args: Any) -> bytes:
            raise AssertionError("the body was read")

    _is(
        call(gateway, "POST", "/api/v1/uploads", CONTENT_LENGTH=str(MAX_BODY + 1), **{"wsgi.input": Unread()}),
        TOO_LARGE,
    )


def test_a_chunked_body_over_ten_megabytes_is_refused(gateway: Gateway) -> None:
    big = io.BytesIO(b"x" * (MAX_BODY + 10))
    _is(call(gateway, "POST", "/api/v1/uploads", HTTP_TRANSFER_ENCODING="chunked", **{"wsgi.input": big}), TOO_LARGE)


def test_a_failure_escaping_the_app_is_the_gateway_s_5xx(gateway: Gateway) -> None:
    status, _, _ = call(gateway, "GET", "/api/v1/boom")
    assert status == 500, "chalice's own handler answers a view's exception"  # as in Lambda
    _is(call(Gateway(_Exploding(), answers=ANSWERS), "GET", "/x"), "DEFAULT_5XX")


class _Exploding:
    routes = {"/x": {"GET": None}}

    def __call__(self, event: Any, context: Any) -> Any:
        raise RuntimeError("the runtime itself failed")


def test_threads_each_see_their_own_request() -> None:
    app = Chalice(app_name="threads")
    started = threading.Barrier(4)

    @app.route("/v1/who/{name}", methods=["GET"])
    def who(name: str) -> dict[str, Any]:
        started.wait(timeout=5)  # every thread inside the app at once
        request = app.current_request
        assert request is not None
        return {"name": name, "seen": request.uri_params["name"]}

    gateway = Gateway(app)
    results: list[dict[str, Any]] = []
    threads = [
        threading.Thread(target=lambda n=n: results.append(_event(call(gateway, "GET", f"/v1/who/n{n}"))))
        for n in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert sorted(r["name"] for r in results) == ["n0", "n1", "n2", "n3"]
    assert all(r["name"] == r["seen"] for r in results)


def test_routes_are_matched_most_specific_first_as_api_gateway_does() -> None:
    table = RouteTable({"/a/{x}/c": {"GET": 0}, "/a/b/{y}": {"GET": 0}, "/{z}/b/c": {"GET": 0}, "/": {"GET": 0}})
    match = table.match("/a/b/c")
    assert match is not None and match.resource == "/a/b/{y}"
    match = table.match("/a/q/c")
    assert match is not None and (match.resource, match.params) == ("/a/{x}/c", {"x": "q"})
    root = table.match("/")
    assert root is not None and root.resource == "/"
    assert table.match("/a/b") is None


def test_the_project_s_app_is_served(monkeypatch: pytest.MonkeyPatch) -> None:
    from app import app

    gateway = Gateway(app)
    status, _, data = call(gateway, "GET", "/v1/health")
    assert (status, json.loads(data)) == (200, {"status": "ok"})
    table = RouteTable(app.routes)
    poll = table.match("/v1/spaces/user%3Aabc/changes/poll")
    assert poll is not None and (poll.resource, poll.params) == (
        "/v1/spaces/{space}/changes/poll",
        {"space": "user%3Aabc"},
    )
    _is(call(gateway, "GET", "/v1/files"), NO_ROUTE)


def test_binary_media_types_match_as_api_gateway_s() -> None:
    assert is_binary("image/png; charset=binary", ["image/png"])
    assert is_binary("IMAGE/JPEG", ["image/*"])
    assert is_binary("text/csv", ["*/*"])
    assert not is_binary("application/json", ["application/octet-stream"])
    assert not is_binary(None, ["*/*"])
