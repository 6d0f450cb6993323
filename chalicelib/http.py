"""One decorator around every view: authentication, JSON bodies, and the contract's error map.

Every route takes a body whatever its Content-Type (`*/*`: Chalice then never answers its own 415, and
`json_body` reads JSON sent as text/plain, as a form, as octet-stream or with no type), up to a size
per route: 413 above it, 415 for a type no route could read (an image, a multipart form). Chalice's
own answers that still happen (a method a path does not declare) become the contract's body too.
"""

from __future__ import annotations

import functools
import json
import logging
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from chalice.app import Chalice, Request, Response

from chalicelib.domain.models import Principal
from chalicelib.errors import (
    BadRequestError,
    CartableError,
    ConfigurationError,
    PayloadTooLargeError,
    ScannerUnavailableError,
    ServiceUnavailableError,
    TooManyRequestsError,
    UnauthorizedError,
    UnsupportedMediaTypeError,
)

if TYPE_CHECKING:  # a POST with an Idempotency-Key loads it; the cold start of other requests does not
    from chalicelib.domain.idempotency import Idempotency, StoredAnswer
    from chalicelib.domain.ratelimit import RateLimit

log = logging.getLogger("cartable.http")

Headers = dict[str, str | list[str]]
JSON_HEADERS: Headers = {"Content-Type": "application/json", "Cache-Control": "no-store"}
RETRY_AFTER_SECONDS = "5"
JSON_BODY_LIMIT = 1024 * 1024  # the largest JSON body a route reads (a batch of 100 grants is ~30 kB)
CSV_BODY_LIMIT = 5 * 1024 * 1024  # the roster import's, as chalicelib/domain/roster.py's MAX_IMPORT_BYTES
ANY_CONTENT_TYPE = ["*/*"]
# Top-level media types of bodies no route reads: refused with 415 instead of 400 "not JSON".
UNREADABLE_BODIES = frozenset({"image", "audio", "video", "font", "model", "multipart"})


def error_response(error: CartableError) -> Response:
    """The contract's error body for a domain error."""
    headers: Headers = dict(JSON_HEADERS)
    if isinstance(error, UnauthorizedError):
        headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
    if isinstance(error, ServiceUnavailableError | ScannerUnavailableError | TooManyRequestsError):
        retry_after = getattr(error, "retry_after", None)
        headers["Retry-After"] = str(retry_after) if retry_after else RETRY_AFTER_SECONDS
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
        idempotency: Callable[[], Idempotency] | None = None,
        rate_limit: Callable[[], RateLimit] | None = None,
    ) -> None:
        self._app = app
        self._authenticate = authenticate
        self._on_denied = on_denied
        self._idempotency = idempotency
        self._rate_limit = rate_limit
        app.register_middleware(framework_answers, "http")

    def route(
        self,
        path: str,
        methods: list[str],
        status: int = 200,
        public: bool = False,
        max_body: int = JSON_BODY_LIMIT,
        counts_itself: bool = False,
        **kwargs: Any,
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """`@views.route(...)`: the view receives the principal first (unless public) and returns a body.

        A POST is counted in its caller's budget before the view runs; with `counts_itself` the view gets
        the count as `rate=` and writes it with its own write (a grant's transaction), and what it did
        not write (a refusal before it) is counted once it returns. With an Idempotency-Key, whose first
        answer may be replayed without the view, it is counted before, as any POST (`rate=None`)."""
        kwargs.setdefault("content_types", ANY_CONTENT_TYPE)

        def register(view: Callable[..., Any]) -> Callable[..., Any]:
            @functools.wraps(view)
            def wrapped(**params: Any) -> Response:
                target = f"{methods[0]} {path.format(**params)}"
                caller: list[Principal] = []

                def answer() -> Any:
                    request = current_request(self._app)
                    refuse_body(request, max_body)
                    if public:
                        return view(**params)
                    principal = self._authenticate(request.headers.get("authorization"))
                    caller.append(principal)
                    call = functools.partial(view, principal, **params)
                    key = request.headers.get("idempotency-key")
                    if request.method == "POST" and self._rate_limit is not None:
                        # 429 past the user's own budget; a replayed answer counts too, so counted first then
                        if counts_itself and (key is None or self._idempotency is None):
                            call = functools.partial(counted, self._rate_limit(), principal, call)
                        else:
                            self._rate_limit().admit(principal)
                    if key is None or request.method != "POST" or self._idempotency is None:
                        return call()
                    from chalicelib.domain.idempotency import fingerprint

                    # The first answer is kept as given, a refusal included: the view runs inside.
                    run = functools.partial(self._guard, call, status, caller, target)
                    once = fingerprint(request.method, path.format(**params), raw_bytes(request))
                    return replay(self._idempotency().once(principal, key, once, lambda: stored(run())))

                return self._guard(answer, status, caller, target)

            self._app.route(path, methods=methods, **kwargs)(wrapped)
            return wrapped

        return register

    def _guard(self, call: Callable[[], Any], status: int, caller: list[Principal], target: str) -> Response:
        """`call`'s result as a Response, its domain errors as the contract's bodies, a surprise as a 500."""
        try:
            result = call()
        except ConfigurationError:
            log.exception("configuration error")
            return internal_error()
        except CartableError as error:
            if error.status >= 500:
                log.warning("%s: %s", type(error).__name__, error.message)
            if error.status in (403, 404) and caller and self._on_denied is not None:
                self._on_denied(caller[0], target, error.status, error.audit_reason)
            return error_response(error)
        except Exception:  # the one place a surprise becomes a 500 without a stack
            log.exception("unhandled error")
            return internal_error()
        if isinstance(result, Response):
            return result
        return Response(body=result, status_code=status, headers=JSON_HEADERS)


def counted(limit: RateLimit, principal: Principal, view: Callable[..., Any]) -> Any:
    """The view with the caller's count to write with its own; counted alone after it if it did not."""
    charge = limit.charge(principal)
    try:
        return view(rate=charge)
    finally:
        limit.settle(charge)  # a 429 here (the window full) is the answer, as it is before other POSTs


def raw_bytes(request: Request) -> bytes:
    body = request.raw_body or b""
    return body.encode() if isinstance(body, str) else bytes(body)


def stored(response: Response) -> StoredAnswer:
    """A Response as the idempotency store keeps it."""
    from chalicelib.domain.idempotency import StoredAnswer

    headers = {name: value if isinstance(value, str) else ", ".join(value) for name, value in response.headers.items()}
    if isinstance(response.body, str | bytes):
        text = response.body.decode() if isinstance(response.body, bytes) else response.body
        return StoredAnswer(response.status_code, headers, text, json=False)
    return StoredAnswer(response.status_code, headers, json.dumps(response.body, separators=(",", ":")), json=True)


def replay(answer: StoredAnswer) -> Response:
    body: Any = json.loads(answer.body) if answer.json else answer.body
    return Response(body=body, status_code=answer.status, headers=dict(answer.headers))


def refuse_body(request: Request, limit: int) -> None:
    """413 for a body over `limit` bytes, 415 for one no route reads; any other reaches the view."""
    body = request.raw_body
    if not body:
        return
    if len(body) > limit:
        raise PayloadTooLargeError(f"The request body is over the {limit} bytes this route takes.")
    media_type = str(request.headers.get("content-type", "")).split(";")[0].strip().lower()
    if media_type.split("/")[0] in UNREADABLE_BODIES:
        raise UnsupportedMediaTypeError("This route does not take a body of this type.")


def framework_answers(event: Any, get_response: Callable[[Any], Response]) -> Response:
    """A Chalice middleware: the answers Chalice makes itself (`{"Code", "Message"}`) in the contract's body.

    A method a path does not declare answers 404, as API Gateway does (it never forwards one).
    """
    try:
        response = get_response(event)
    except Exception:  # a middleware registered after this one failed
        log.exception("unhandled error")
        return internal_error()
    body = response.body
    if not (isinstance(body, dict) and set(body) == {"Code", "Message"}):
        return response
    if response.status_code == 405:
        answer = {"error": {"code": "not_found", "message": "No route answers this method and path."}}
        return Response(body=answer, status_code=404, headers=JSON_HEADERS)
    if response.status_code == 415:
        return error_response(UnsupportedMediaTypeError("This route does not take a body of this type."))
    if response.status_code == 400:
        return error_response(BadRequestError("The request is malformed."))
    return internal_error()


def current_request(app: Chalice) -> Request:
    """The request being served (always set inside a view)."""
    request = app.current_request
    assert request is not None
    return request


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]", re.ASCII)


def json_body(raw: bytes | str | None) -> dict[str, Any]:
    """The request's JSON object, or 400 with the contract's body (never Chalice's own)."""
    try:
        value = json.loads(raw or b"")
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequestError("The body must be a JSON object.") from exc
    if not isinstance(value, dict):
        raise BadRequestError("The body must be a JSON object.")
    if _SURROGATE_ESCAPE.search(raw if isinstance(raw, str) else (raw or b"").decode("utf-8", "replace")):
        try:  # a `\ud83d\ude00` pair is an emoji; a lone half cannot be stored anywhere: 400, never 503
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError as exc:
            raise BadRequestError("The body must be valid Unicode: it holds a lone surrogate.") from exc
    return value


def redirect(location: str) -> Response:
    return Response(body="", status_code=302, headers={"Location": location, "Cache-Control": "no-store"})


def no_content() -> Response:
    return Response(body="", status_code=204, headers={"Cache-Control": "no-store"})
