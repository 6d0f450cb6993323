"""JWT cases over real HTTP: every bad token is a 401 with the contract's body and header, never a 500."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest
import requests

from tests.integration.conftest import make_token

pytestmark = pytest.mark.integration


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def alg_none_token() -> str:
    now = int(time.time())
    claims = {
        "sub": "eve",
        "school": "lycee-hugo",
        "role": "admin",
        "exp": now + 600,
        "iss": "cartable-local",
        "aud": "cartable",
    }
    return f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."


BAD_TOKENS = {
    "expired": lambda: make_token("eve", exp=int(time.time()) - 3600),
    "wrong-audience": lambda: make_token("eve", aud="another-service"),
    "wrong-issuer": lambda: make_token("eve", iss="https://evil.example"),
    "alg-none": alg_none_token,
    "wrong-secret": lambda: make_token("eve", secret="not-the-secret-but-just-as-long-000"),
    "missing-role": lambda: make_token("eve", role=None),
    "unknown-role": lambda: make_token("eve", role="principal"),
    "missing-school": lambda: make_token("eve", school=None),
    "missing-exp": lambda: make_token("eve", exp=None),
    "not-yet-valid": lambda: make_token("eve", nbf=int(time.time()) + 3600),
    "garbage": lambda: "not.a.jwt",
    "bad-sub": lambda: make_token("eve/../admin"),
}


@pytest.mark.parametrize("case", sorted(BAD_TOKENS))
def test_bad_tokens_answer_401(api_url: str, case: str) -> None:
    token = BAD_TOKENS[case]()
    answer = requests.get(f"{api_url}/v1/spaces/me/files", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert answer.status_code == 401, answer.text
    assert answer.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    assert answer.json()["error"]["code"] == "unauthorized"


@pytest.mark.parametrize("header", [None, "", "Bearer", "Basic dXNlcjpwYXNz", "Bearer  "])
def test_missing_or_malformed_header_answers_401(api_url: str, header: str | None) -> None:
    headers = {} if header is None else {"Authorization": header}
    answer = requests.post(f"{api_url}/v1/uploads", json={}, headers=headers, timeout=10)
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "unauthorized"


def test_a_good_token_is_accepted(api_url: str) -> None:
    answer = requests.get(
        f"{api_url}/v1/spaces/me/files", headers={"Authorization": f"Bearer {make_token('alice')}"}, timeout=10
    )
    assert answer.status_code == 200
