"""The Chalice app as a WSGI application: what API Gateway (REST API, Lambda proxy integration) does, small.

gunicorn serves `hosting.wsgi:application` (hosting/gunicorn.conf.py). For each request:

- the stage's base path (`CARTABLE_BASE_PATH`, e.g. `/api`; empty by default) is taken off the path;
- the route is matched as API Gateway matches resources: same number of segments, a literal segment
  beating a `{parameter}` at the same place, a parameter never empty, a trailing slash dropped, on the path
  as the client sent it; path parameters are passed still percent-encoded, as API Gateway passes them;
- a path no route serves, or a method its route does not declare, gets the gateway's own 404
  (`policies/gateway/responses.json`, the answers `make package` deploys and local/api.py sends); so
  does a path outside the base path; a body over 10 MB gets its 413, judged on Content-Length before
  the body is read;
- the event is the proxy integration's: `resource`, `path`, `httpMethod`, `headers` and
  `multiValueHeaders`, `queryStringParameters` and `multiValueQueryStringParameters` (decoded, `+` as a
  space, blank values kept), `pathParameters`, `requestContext` (stage, request id, the caller's address,
  the path with the stage), the body as text, or base64 with `isBase64Encoded` when its Content-Type is
  one of the API's binary media types;
- the app is called with the event and a Lambda-like context; its answer (single and multi-value
  headers, a base64 body decoded) is written back. An exception escaping the app is the gateway's 5XX.

Why not `chalice.local.LocalGateway`: chalice documents it for local development only; it needs the CLI's
project configuration, passes bodies as bytes, keeps `multiValueQueryStringParameters` only, answers
unknown routes with its own 403 bodies, and matches routes by their sorted order. This module is the
part of it a production host needs, and nothing of the CLI.

Chalice keeps the request being served on the app object; with threaded workers each thread gets its
own (as local/api.py does for `chalice local`).
"""

from __future__ import annotations

import base64
import fnmatch
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

from hosting import LambdaContext
from infra.gateway import GatewayAnswer, load

MAX_BODY = 10 * 1024 * 1024  # API Gateway's hard limit on a request body (REST APIs)
NO_ROUTE, TOO_LARGE, FAILED = "MISSING_AUTHENTICATION_TOKEN", "REQUEST_TOO_LARGE", "DEFAULT_5XX"
log = logging.getLogger("cartable.hosting.wsgi")

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


@dataclass(frozen=True)
class Match:
    resource: str
    params: dict[str, str]


class RouteTable:
    """The app's resources, matched as API Gateway does."""

    def __init__(self, routes: Mapping[str, Mapping[str, Any]]) -> None:
        self._methods = {resource: frozenset(methods) for resource, methods in routes.items()}
        self._by_length: dict[int, list[tuple[str, list[str]]]] = {}
        for resource in routes:
            parts = resource.strip("/").split("/") if resource != "/" else []
            self._by_length.setdefault(len(parts), []).append((resource, parts))

    def match(self, path: str) -> Match | None:
        """The most specific resource serving `path` (literal segments first, left to right), or None."""
        if path != "/" and path.endswith("/"):
            path = path[:-1]
        parts = path.strip("/").split("/") if path != "/" else []
        best: tuple[tuple[int, ...], Match] | None = None
        for resource, pattern in self._by_length.get(len(parts), []):
            params: dict[str, str] = {}
            rank: list[int] = []
            for segment, expected in zip(parts, pattern, strict=True):
                if expected.startswith("{") and expected.endswith("}"):
                    if not segment:
                        break
                    params[expected[1:-1]] = segment
                    rank.append(1)
                elif segment == expected:
                    rank.append(0)
                else:
                    break
            else:
                key = tuple(rank)
                if best is None or key < best[0]:
                    best = (key, Match(resource, params))
        return None if best is None else best[1]

    def allows(self, resource: str, method: str) -> bool:
        return method in self._methods.get(resource, frozenset())


class _PerThreadRequest:
    """Mixed into the app's class: the request (and context) being served belong to the serving thread."""

    _local = threading.local()

    @property
    def current_request(self) -> Any:
        return getattr(self._local, "current_request", None)

    @current_request.setter
    def current_request(self, value: Any) -> None:
        self._local.current_request = value

    @property
    def lambda_context(self) -> Any:
        return getattr(self._local, "lambda_context", None)

    @lambda_context.setter
    def lambda_context(self, value: Any) -> None:
        self._local.lambda_context = value


def per_thread(app: Any) -> Any:
    """`app`, its current request kept per thread (its class becomes a subclass with that property)."""
    if not isinstance(app, _PerThreadRequest):
        cls = type(app)
        app.__class__ = type(f"PerThread{cls.__name__}", (_PerThreadRequest, cls), {})
    return app


def is_binary(content_type: str | None, binary_types: Iterable[str]) -> bool:
    """API Gateway's binary media types: the Content-Type's media type against each, `*` as a wildcard."""
    if not content_type:
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    return any(fnmatch.fnmatchcase(media, pattern.lower()) for pattern in binary_types)


def raw_path(environ: Mapping[str, Any]) -> str:
    """The request's path as the client sent it, still percent-encoded: API Gateway matches and passes path
    parameters that way (`%2F` stays inside its segment). WSGI's PATH_INFO is decoded, so gunicorn's
    RAW_URI (or REQUEST_URI) is read first; PATH_INFO, quoted again, is the fallback."""
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw:
        path = urlsplit(str(raw)).path if "://" in str(raw) else str(raw).split("?", 1)[0]
        return path or "/"
    # PEP 3333 hands the decoded path as latin-1 text; its bytes are the client's UTF-8.
    decoded = str(environ.get("PATH_INFO") or "/").encode("latin-1").decode("utf-8", errors="replace")
    return quote(decoded, safe="/:@!$&'()*+,;=-._~")


def _header_name(key: str) -> str:
    return "-".join(part.capitalize() for part in key.split("_"))


def request_headers(environ: Mapping[str, Any]) -> dict[str, list[str]]:
    """The request's headers, names as most clients write them (WSGI has lost their case)."""
    headers: dict[str, list[str]] = {}
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            name = _header_name(key[5:])
        elif key in ("CONTENT_TYPE", "CONTENT_LENGTH") and value:
            name = _header_name(key)
        else:
            continue
        headers[name] = [v.strip() for v in str(value).split(",")] if name in _LISTS else [str(value)]
    return headers


# Headers API Gateway splits into several values in multiValueHeaders (others, e.g. Authorization, stay whole).
_LISTS = frozenset({"Accept", "Accept-Encoding", "Accept-Language", "X-Forwarded-For", "Cache-Control"})


class Gateway:
    """The WSGI application: one API Gateway stage in front of `app`."""

    def __init__(
        self,
        app: Any,
        base_path: str = "",
        stage: str = "api",
        function_name: str = "cartable-api_handler",
        timeout_seconds: float = 30.0,
        memory_mb: int = 512,
        forwarded_hops: int = 0,
        max_body: int = MAX_BODY,
        answers: Mapping[str, GatewayAnswer] | None = None,
    ) -> None:
        self.app = per_thread(app)
        self.routes = RouteTable(app.routes)
        self.base_path = "/" + base_path.strip("/") if base_path.strip("/") else ""
        self.stage = stage
        self.function_name = function_name
        self.timeout_seconds = timeout_seconds
        self.memory_mb = memory_mb
        self.forwarded_hops = forwarded_hops
        self.max_body = max_body
        self.answers = answers if answers is not None else load()

    # -- WSGI -----------------------------------------------------------------------------------
    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        length_text = str(environ.get("CONTENT_LENGTH") or "0")
        if not length_text.isdigit():
            return self._answer("DEFAULT_4XX", start_response)
        if int(length_text) > self.max_body:
            return self._answer(TOO_LARGE, start_response)
        path = self._path(environ)
        match = None if path is None else self.routes.match(path)
        method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        if match is None or not self.routes.allows(match.resource, method):
            return self._answer(NO_ROUTE, start_response)
        body = self._body(environ, int(length_text))
        if body is None:
            return self._answer(TOO_LARGE, start_response)
        assert path is not None
        event = self.event(environ, method, path, match, body)
        context = LambdaContext(
            function_name=self.function_name, timeout_seconds=self.timeout_seconds, memory_limit_in_mb=self.memory_mb
        )
        try:
            response = self.app(event, context)
        except Exception:
            log.exception("the app failed outside its own error handling")
            return self._answer(FAILED, start_response)
        finally:
            self.app.current_request = None
        return self._write(response, start_response, head=method == "HEAD")

    def _path(self, environ: Mapping[str, Any]) -> str | None:
        """The path the app sees (without the base path), or None outside the base path."""
        path = raw_path(environ)
        if not self.base_path:
            return path
        if path == self.base_path:
            return "/"
        if path.startswith(self.base_path + "/"):
            return path[len(self.base_path) :]
        return None

    def _body(self, environ: Mapping[str, Any], length: int) -> bytes | None:
        """The body (b"" when none), or None when a chunked one runs over the limit."""
        stream = environ.get("wsgi.input")
        if stream is None:
            return b""
        if length:
            return bytes(stream.read(length))
        if "chunked" not in str(environ.get("HTTP_TRANSFER_ENCODING", "")).lower():
            return b""
        body = bytes(stream.read(self.max_body + 1))
        return None if len(body) > self.max_body else body

    # -- the event --------------------------------------------------------------------------------
    def event(self, environ: Mapping[str, Any], method: str, path: str, match: Match, body: bytes) -> dict[str, Any]:
        """The event API Gateway's proxy integration sends for this request."""
        headers = request_headers(environ)
        query = parse_qsl(str(environ.get("QUERY_STRING", "")), keep_blank_values=True)
        multi_query: dict[str, list[str]] = {}
        for name, value in query:
            multi_query.setdefault(name, []).append(value)
        single_headers = {name: ",".join(values) for name, values in headers.items()}
        content_type = single_headers.get("Content-Type")
        binary = bool(body) and is_binary(content_type, self.app.api.binary_types)
        text: str | None
        if not body:
            text = None
        elif binary:
            text = base64.b64encode(body).decode("ascii")
        else:
            text = body.decode("utf-8", errors="replace")
        now = time.time()
        return {
            "resource": match.resource,
            "path": path,
            "httpMethod": method,
            "headers": single_headers or None,
            "multiValueHeaders": headers or None,
            "queryStringParameters": {name: values[-1] for name, values in multi_query.items()} or None,
            "multiValueQueryStringParameters": multi_query or None,
            "pathParameters": match.params or None,
            "stageVariables": None,
            "requestContext": {
                "resourcePath": match.resource,
                "httpMethod": method,
                "path": (self.base_path + path).rstrip("/") or "/",
                "stage": self.stage,
                "requestId": str(uuid.uuid4()),
                "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
                "requestTimeEpoch": int(now * 1000),
                "protocol": str(environ.get("SERVER_PROTOCOL", "HTTP/1.1")),
                "domainName": single_headers.get("Host", ""),
                "apiId": "kubernetes",
                "identity": {"sourceIp": self.source_ip(environ), "userAgent": single_headers.get("User-Agent")},
            },
            "body": text,
            "isBase64Encoded": binary,
        }

    def source_ip(self, environ: Mapping[str, Any]) -> str:
        """The caller's address: the peer's, or the one `forwarded_hops` trusted proxies saw (X-Forwarded-For)."""
        peer = str(environ.get("REMOTE_ADDR", ""))
        if self.forwarded_hops <= 0:
            return peer
        hops = [hop.strip() for hop in str(environ.get("HTTP_X_FORWARDED_FOR", "")).split(",") if hop.strip()]
        return hops[-self.forwarded_hops] if len(hops) >= self.forwarded_hops else (hops[0] if hops else peer)

    # -- the answer --------------------------------------------------------------------------------
    def _write(self, response: Mapping[str, Any], start_response: StartResponse, head: bool = False) -> list[bytes]:
        body = response.get("body")
        data = b"" if body is None else body.encode("utf-8") if isinstance(body, str) else bytes(body)
        if response.get("isBase64Encoded") and data:
            data = base64.b64decode(data)
        headers: list[tuple[str, str]] = []
        for name, value in (response.get("headers") or {}).items():
            headers.append((str(name), str(value)))
        for name, values in (response.get("multiValueHeaders") or {}).items():
            headers += [(str(name), str(value)) for value in values]
        headers = [(n, v) for n, v in headers if n.lower() not in ("content-length", "connection", "transfer-encoding")]
        headers.append(("Content-Length", str(len(data))))
        status = int(response.get("statusCode", 200))
        start_response(_status_line(status), headers)
        return [] if head else [data]

    def _answer(self, kind: str, start_response: StartResponse) -> list[bytes]:
        answer = self.answers[kind]
        body = answer.body()
        headers = [*answer.headers().items(), ("Content-Length", str(len(body)))]
        start_response(_status_line(answer.status), headers)
        return [body]


def _status_line(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"{status} Unknown"


def from_env(environ: Mapping[str, str] | None = None) -> Gateway:
    """The gateway in front of app.py's app, configured by the environment (see k8s/)."""
    env = os.environ if environ is None else environ
    from app import app

    return Gateway(
        app,
        base_path=env.get("CARTABLE_BASE_PATH", ""),
        stage=env.get("CARTABLE_API_STAGE", "api"),
        function_name=env.get("CARTABLE_FUNCTION_NAME", "cartable-api_handler"),
        timeout_seconds=float(env.get("CARTABLE_REQUEST_TIMEOUT", "30")),
        memory_mb=int(env.get("CARTABLE_MEMORY_MB", "512")),
        forwarded_hops=int(env.get("CARTABLE_FORWARDED_HOPS", "0")),
    )


_application: Gateway | None = None
_lock = threading.Lock()


def application(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
    """gunicorn's entry point (`hosting.wsgi:application`): the app is imported once per worker, on first use."""
    global _application
    if _application is None:
        with _lock:
            if _application is None:
                _application = from_env()
    return _application(environ, start_response)
