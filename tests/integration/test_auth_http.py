"""JWT cases over real HTTP: every bad token is a 401 with the contract's body and header, never a 500."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import jwt
import pytest
import requests

from chalicelib.auth import TokenVerifier
from chalicelib.domain.models import Principal, Role
from chalicelib.settings import Settings
from local.oidc import CLIENT_ID, DEMO_PASSWORD, SCOPE, OidcProvider
from local.stack import free_port
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


# -- stage local's OpenID provider (local/oidc), on its own: the code flow a browser runs, by hand --------------
REDIRECT = "http://127.0.0.1:8000/"


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OidcProvider]:
    oidc = OidcProvider(
        port=free_port(), build_dir=tmp_path_factory.mktemp("oidc"), web_origins=["http://127.0.0.1:8000"]
    )
    oidc.start()
    try:
        yield oidc
    finally:
        oidc.stop()


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def authorize(provider: OidcProvider, session: requests.Session, **overrides: str) -> requests.Response:
    params = {
        "client_id": CLIENT_ID,
        "response_type": "code",
        "redirect_uri": REDIRECT,
        "scope": SCOPE,
        "state": "st4te",
        "nonce": "n0nce",
        "code_challenge_method": "S256",
        **overrides,
    }
    return session.get(f"{provider.issuer}/auth", params=params, timeout=10, allow_redirects=False)


def log_in(provider: OidcProvider, user: str, password: str = DEMO_PASSWORD) -> tuple[str, str]:
    """Through the login form as a browser would: the code the provider sends back, and the PKCE verifier."""
    session = requests.Session()
    verifier, challenge = pkce()
    first = authorize(provider, session, code_challenge=challenge)
    form = session.get(f"{provider.issuer}{first.headers['Location']}", timeout=10)
    action = re.search(r'action="([^"]+)"', form.text)
    assert action, form.text
    answer = session.post(
        f"{provider.issuer}{action.group(1)}",
        data={"username": user, "password": password},
        timeout=10,
        allow_redirects=False,
    )
    # Login, then consent (granted by itself: the school's own client), then back to the page with a code.
    for _ in range(5):
        location = answer.headers.get("Location", "")
        if not location or location.startswith(REDIRECT):
            break
        answer = session.get(urljoin(provider.issuer, location), timeout=10, allow_redirects=False)
    assert location.startswith(REDIRECT), answer.text[:300]
    query = parse_qs(urlsplit(location).query)
    assert query["state"] == ["st4te"] and query["iss"] == [provider.issuer]
    return query["code"][0], verifier


def token(provider: OidcProvider, **fields: str) -> requests.Response:
    return requests.post(f"{provider.issuer}/token", data={"client_id": CLIENT_ID, **fields}, timeout=10)


def test_the_providers_tokens_verify_through_its_jwks_as_in_production(provider: OidcProvider) -> None:
    code, verifier = log_in(provider, "prof-durand")
    answer = token(provider, grant_type="authorization_code", code=code, redirect_uri=REDIRECT, code_verifier=verifier)
    assert answer.status_code == 200, answer.text
    tokens = answer.json()
    assert jwt.get_unverified_header(tokens["access_token"])["alg"] == "RS256"
    identity = jwt.decode(tokens["id_token"], options={"verify_signature": False})
    assert identity["nonce"] == "n0nce" and identity["name"] == "Hélène Durand"
    env = {"AWS_DEFAULT_REGION": "eu-west-3", "CARTABLE_BUCKET": "b", "CARTABLE_TABLE": "t", "CARTABLE_STAGE": "local"}
    verifier_ = TokenVerifier(Settings.from_env({**env, **provider.api_env()}))
    assert verifier_.verify(f"Bearer {tokens['access_token']}") == Principal("prof-durand", "demo", Role.TEACHER)

    # The refresh token is rotated: the new one works, the used one no longer does.
    renewed = token(provider, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert renewed.status_code == 200, renewed.text
    assert verifier_.verify(f"Bearer {renewed.json()['access_token']}").user_id == "prof-durand"
    replayed = token(provider, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert replayed.status_code == 400 and replayed.json()["error"] == "invalid_grant"


def test_the_provider_wants_pkce_and_the_right_verifier_and_has_no_implicit_flow(provider: OidcProvider) -> None:
    session = requests.Session()
    no_pkce = authorize(provider, session, code_challenge_method="")
    assert "error=invalid_request" in no_pkce.headers["Location"], no_pkce.headers["Location"]
    implicit = authorize(provider, session, response_type="token", code_challenge=pkce()[1])
    assert "error=unsupported_response_type" in implicit.headers["Location"], implicit.headers["Location"]
    code, _ = log_in(provider, "eleve-alice")
    wrong = token(provider, grant_type="authorization_code", code=code, redirect_uri=REDIRECT, code_verifier="x" * 43)
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"


def test_a_wrong_password_shows_the_form_again(provider: OidcProvider) -> None:
    with pytest.raises(AssertionError):
        log_in(provider, "eleve-alice", "not-the-password")
