"""local/api.py: chalice's local server answering what API Gateway answers itself, byte for byte as the
Gateway Responses `make package` deploys (infra/gateway.py), on a real socket with a small app."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from chalice.app import Chalice
from chalice.config import Config
from chalice.local import LocalDevServer

from chalicelib.domain.models import Principal
from chalicelib.errors import UnauthorizedError
from chalicelib.http import Views, current_request, json_body
from infra.gateway import load
from local.api import MAX_BODY, NO_ROUTE, BusyServer, GatewayRequestHandler
from local.stack import free_port

ANSWERS = load()


def _nobody(header: str | None) -> Principal:
    raise UnauthorizedError("A valid bearer token is required.")


def _app() -> Chalice:
    app = Chalice(app_name="gateway-under-test")
    views = Views(app, authenticate=_nobody)

    @views.route("/v1/things/{thing_id}", methods=["GET"], public=True)
    def thing(thing_id: str) -> dict[str, Any]:
        return {"id": thing_id}

    @views.route("/v1/things", methods=["POST"], public=True, status=201)
    def create() -> dict[str, Any]:
        return json_body(current_request(app).raw_body)

    return app


@pytest.fixture(scope="module")
def base() -> Iterator[str]:
    port = free_port()
    server = LocalDevServer(_app(), Config.create(), "127.0.0.1", port, handler_cls=GatewayRequestHandler)
    thread = threading.Thread(target=server.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        server.server.server_close()


def _is(answer: requests.Response, kind: str) -> None:
    expected = ANSWERS[kind]
    assert (answer.status_code, answer.content) == (expected.status, expected.body())
    for name, value in expected.headers().items():
        assert answer.headers[name] == value, name


def test_the_app_answers_what_it_serves(base: str) -> None:
    assert requests.get(f"{base}/v1/things/a1", timeout=5).json() == {"id": "a1"}
    answer = requests.post(f"{base}/v1/things", data='{"a": 1}', headers={"Content-Type": "text/plain"}, timeout=5)
    assert (answer.status_code, answer.json()) == (201, {"a": 1})


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer eyJ.x.y"}], ids=["no-token", "bearer-token"])
def test_no_route_is_the_gateway_s_404(base: str, headers: dict[str, str]) -> None:
    """chalice local answers 403 `Missing Authentication Token` (or a SigV4 complaint given a token): ours is 404."""
    _is(requests.get(f"{base}/v1/nothing", headers=headers, timeout=5), NO_ROUTE)
    _is(requests.post(f"{base}/v1/things/a1/nope", data=b"{}", headers=headers, timeout=5), NO_ROUTE)


@pytest.mark.parametrize("method", ["DELETE", "PUT", "PATCH", "OPTIONS"])
def test_a_method_the_path_does_not_declare_is_no_route(base: str, method: str) -> None:
    """API Gateway never calls the function for it (it says MISSING_AUTHENTICATION_TOKEN), so neither do we."""
    _is(requests.request(method, f"{base}/v1/things", data=b'{"a": 1}', timeout=5), NO_ROUTE)
    assert requests.get(f"{base}/v1/things/a1", timeout=5).status_code == 200, "the connection's next request is fine"


def test_a_body_over_ten_megabytes_is_refused_by_its_length(base: str) -> None:
    answer = requests.post(f"{base}/v1/things", data=b"x" * (MAX_BODY + 1), timeout=30)
    _is(answer, "REQUEST_TOO_LARGE")
    assert answer.headers["Connection"] == "close"
    assert json.loads(answer.content)["error"]["code"] == "payload_too_large"


def test_a_client_waiting_for_100_continue_never_sends_the_body(base: str) -> None:
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(
            b"POST /v1/things HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {MAX_BODY * 10}\r\nExpect: 100-continue\r\n\r\n".encode()
        )
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413 ") and b"100 Continue" not in head
    assert body == ANSWERS["REQUEST_TOO_LARGE"].body()


def test_a_content_length_that_is_not_a_number_is_400(base: str) -> None:
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(b"POST /v1/things HTTP/1.1\r\nHost: x\r\nContent-Length: ten\r\n\r\n")
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 400 ") and reply.endswith(ANSWERS["DEFAULT_4XX"].body())


def test_a_class_connecting_at_once_is_queued_not_refused() -> None:
    """100 connections while the server is busy elsewhere (a class at 23:59): the kernel queues every one
    for the server to take in turn (the standard library's backlog of 5 drops the sixth's handshake)."""
    port = free_port()
    server = BusyServer(("127.0.0.1", port), GatewayRequestHandler)  # listening, not yet accepting
    try:
        sockets = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(100)]
        for sock in sockets:
            sock.close()
    finally:
        server.server_close()
