"""One decorator around every view: authentication, JSON bodies, and the contract's error map."""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from typing import Any

from chalice.app import Chalice, Request, Response

from chalicelib.domain.models import Principal
from chalicelib.errors import (
    CartableError,
    ConfigurationError,
    ScannerUnavailableError,
    ServiceUnavailableError,
    UnauthorizedError,
)

log = logging.getLogger("cartable.http")

Headers = dict[str, str | list[str]]
JSON_HEADERS: Headers = {"Content-Type": "application/json", "Cache-Control": "no-store"}
RETRY_AFTER_SECONDS = "5"


def error_response(error: CartableError) -> Response:
    """The contract's error body for a domain error."""
    headers: Headers = dict(JSON_HEADERS)
    if isinstance(error, UnauthorizedError):
        headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
    if isinstance(error, ServiceUnavailableError | ScannerUnavailableError):
        headers["Retry-After"] = RETRY_AFTER_SECONDS
    body = {"error": {"code": error.code, "message": error.message}}
    return Response(body=body, status_code=error.status, headers=headers)


def internal_error() -> Response:
    body = {"error": {"code": "internal_error", "message": "Something went wrong on our side."}}
    return Response(body=body, status_code=500, headers=JSON_HEADERS)


class Views:
    """Registers routes on a Chalice app with the error map wrapped around each view."""

    def __init__(
        self,
        app: Chalice,
        authenticate: Callable[[str | None], Principal],
        on_denied: Callable[[Principal, str, int, str | None], None] | None = None,
    ) -> None:
        self._app = app
        self._authenticate = authenticate
        self._on_denied = on_denied

    def route(
        self, path: str, methods: list[str], status: int = 200, public: bool = False, **kwargs: Any
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """`@views.route(...)`: the view receives the principal first (unless public) and returns a body."""

        def register(view: Callable[..., Any]) -> Callable[..., Any]:
            @functools.wraps(view)
            def wrapped(**params: Any) -> Response:
                principal: Principal | None = None
                try:
                    if public:
                        result = view(**params)
                    else:
                        headers = current_request(self._app).headers
                        principal = self._authenticate(headers.get("authorization"))
                        result = view(principal, **params)
                except ConfigurationError:
                    log.exception("configuration error")
                    return internal_error()
                except CartableError as error:
                    if error.status >= 500:
                        log.warning("%s: %s", type(error).__name__, error.message)
                    if error.status in (403, 404) and principal is not None and self._on_denied is not None:
                        target = f"{methods[0]} {path.format(**params)}"
                        self._on_denied(principal, target, error.status, error.audit_reason)
                    return error_response(error)
                except Exception:  # the one place a surprise becomes a 500 without a stack
                    log.exception("unhandled error")
                    return internal_error()
                if isinstance(result, Response):
                    return result
                return Response(body=result, status_code=status, headers=JSON_HEADERS)

            self._app.route(path, methods=methods, **kwargs)(wrapped)
            return wrapped

        return register


def current_request(app: Chalice) -> Request:
    """The request being served (always set inside a view)."""
    request = app.current_request
    assert request is not None
    return request


def json_body(raw: bytes | str | None) -> dict[str, Any]:
    """The request's JSON object, or 400 with the contract's body (never Chalice's own)."""
    from chalicelib.errors import BadRequestError

    try:
        value = json.loads(raw or b"")
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequestError("The body must be a JSON object.") from exc
    if not isinstance(value, dict):
        raise BadRequestError("The body must be a JSON object.")
    return value


def redirect(location: str) -> Response:
    return Response(body="", status_code=302, headers={"Location": location, "Cache-Control": "no-store"})


def no_content() -> Response:
    return Response(body="", status_code=204, headers={"Cache-Control": "no-store"})
