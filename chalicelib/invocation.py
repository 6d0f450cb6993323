"""Around every invocation, as a Chalice middleware: the keys its log lines carry, one line per HTTP
request (with the facts the services fold into it: the access decision, a grant's ids), and its metrics
written when it ends, whatever happened (chalicelib/adapters/telemetry.py).

Keys are ids: the request's, the route's template, the function's, then the caller's school and user
once authenticated; never a body, a token, a query string or a file's name.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from chalice.app import Request

from chalicelib.domain.models import Principal

log = logging.getLogger("cartable.invocation")
_state = {"cold": True}


def observe(event: Any, get_response: Callable[[Any], Any]) -> Any:
    """The middleware of every kind of event: `app.register_middleware(observe, "all")`."""
    from chalicelib import wiring

    telemetry = wiring.telemetry()
    with telemetry.invocation(**invocation_keys(event)):
        if not isinstance(event, Request):
            return get_response(event)
        started = time.perf_counter()
        with telemetry.request_line() as facts:  # the access decision, a grant's ids...
            response = get_response(event)
        elapsed = round((time.perf_counter() - started) * 1000, 1)
        telemetry.served(log, response.status_code, elapsed, facts)  # "request served", one line
        return response


def invocation_keys(event: Any) -> dict[str, object]:
    """What every line of this invocation carries (None values are left out)."""
    cold, _state["cold"] = _state["cold"], False
    if isinstance(event, Request):
        lambda_context = event.lambda_context
        request = event.context or {}
        keys: dict[str, object] = {
            # API Gateway's id (what its access log and the client see); `chalice local` has none.
            "request_id": request.get("requestId") or getattr(lambda_context, "aws_request_id", None),
            "route": f"{request.get('httpMethod')} {request.get('resourcePath')}",
        }
    else:
        lambda_context = getattr(event, "context", None)
        keys = {"request_id": getattr(lambda_context, "aws_request_id", None)}
    return {
        **keys,
        "function_name": getattr(lambda_context, "function_name", None),
        "function_request_id": getattr(lambda_context, "aws_request_id", None),
        "cold_start": cold,
    }


def identify(principal: Principal) -> Principal:
    """From authentication on, the request's lines name its school and user (and role)."""
    from chalicelib import wiring

    wiring.telemetry().tag(school=principal.school, user=principal.user_id, role=principal.role.value)
    return principal
