"""The gateway's own answers, as data (`policies/gateway/responses.json`), in the contract's error body.

One list, two readers: `make package` turns it into the REST API's Gateway Responses (SAM's
`GatewayResponses`, which SAM writes into the API definition, so a change redeploys the API), and the
local gateway (`local/api.py`) answers from it. Both render the same bytes: `GatewayAnswer.body()`.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

RESPONSES = Path(__file__).resolve().parents[1] / "policies" / "gateway" / "responses.json"
CONTENT_TYPE = "application/json"
_COMMON_HEADERS = {"Content-Type": CONTENT_TYPE, "Cache-Control": "no-store"}
_CODE = re.compile(r"^[a-z][a-z_]*[a-z]$")


@dataclass(frozen=True)
class GatewayAnswer:
    """One response type: the status, the contract's code and message, and the headers it adds."""

    status: int
    code: str
    message: str
    retry_after: int | None = None
    extra_headers: Mapping[str, str] = field(default_factory=dict)

    def body(self) -> bytes:
        """The contract's error body, exactly as the gateway sends it."""
        return json.dumps({"error": {"code": self.code, "message": self.message}}).encode()

    def headers(self) -> dict[str, str]:
        headers = {**_COMMON_HEADERS, **self.extra_headers}
        if self.retry_after is not None:
            headers["Retry-After"] = str(self.retry_after)
        return headers


def _answer(kind: str, entry: Mapping[str, Any]) -> GatewayAnswer:
    answer = GatewayAnswer(
        status=int(entry["status"]),
        code=str(entry["code"]),
        message=str(entry["message"]),
        retry_after=None if entry.get("retryAfter") is None else int(entry["retryAfter"]),
        extra_headers=dict(entry.get("headers", {})),
    )
    # API Gateway substitutes `$context...` in templates and reads header values as '...' literals.
    headers = "".join(answer.extra_headers.values())
    literal = "$" not in answer.message + headers and "'" not in headers
    if not _CODE.match(answer.code) or not 400 <= answer.status <= 599 or not literal:
        raise ValueError(f"{kind}: not a gateway answer this project can render: {entry}")
    if (answer.status in (429, 503)) != (answer.retry_after is not None):
        raise ValueError(f"{kind}: a 429 or 503 says Retry-After, and only they do")
    return answer


@functools.cache
def load(path: Path = RESPONSES) -> dict[str, GatewayAnswer]:
    """Every response type of the list, checked (a broken list fails `make package` and the local stack)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    answers = {kind: _answer(kind, entry) for kind, entry in data["responses"].items()}
    missing = {"DEFAULT_4XX", "DEFAULT_5XX"} - set(answers)
    if missing:
        raise ValueError(f"{path}: no fallback for {', '.join(sorted(missing))}")
    return answers


def sam_gateway_responses(answers: Mapping[str, GatewayAnswer] | None = None) -> dict[str, Any]:
    """SAM's `GatewayResponses` property of an `AWS::Serverless::Api`: header values are quoted literals."""
    return {
        kind: {
            "StatusCode": str(answer.status),
            "ResponseParameters": {"Headers": {name: f"'{value}'" for name, value in answer.headers().items()}},
            "ResponseTemplates": {CONTENT_TYPE: answer.body().decode()},
        }
        for kind, answer in (answers if answers is not None else load()).items()
    }


def with_gateway_responses(template: dict[str, Any], api: str = "RestAPI") -> dict[str, Any]:
    """`template` (a merge template) with the list as the Gateway Responses of chalice's REST API `api`."""
    resource = template.setdefault("Resources", {}).setdefault(api, {})
    resource.setdefault("Properties", {})["GatewayResponses"] = sam_gateway_responses()
    return template
