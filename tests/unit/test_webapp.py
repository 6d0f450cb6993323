"""The web client's routes: a whitelist of files with their types, demo tokens in stage local only, 404 elsewhere."""

from __future__ import annotations

import json
from pathlib import Path

import jwt
import pytest

from chalicelib.auth import TokenVerifier
from chalicelib.domain.models import Role
from chalicelib.errors import BadRequestError, NotFoundError
from chalicelib.settings import Settings
from chalicelib.webapp import DEMO_SCHOOL, DEMO_USERS, STATIC_FILES, WEB_DIR, WebClient

BASE = {"AWS_DEFAULT_REGION": "eu-west-3", "CARTABLE_BUCKET": "b", "CARTABLE_TABLE": "t"}
LOCAL = Settings.from_env({**BASE, "CARTABLE_STAGE": "local", "CARTABLE_S3_ENDPOINT": "http://127.0.0.1:5001"})
LOCAL_IDP = Settings.from_env(
    {
        **BASE,
        "CARTABLE_STAGE": "local",
        "CARTABLE_S3_ENDPOINT": "http://127.0.0.1:5001",
        "CARTABLE_JWKS_URL": "http://127.0.0.1:8001/jwks",
        "CARTABLE_JWT_ISSUER": "http://127.0.0.1:8001",
        "CARTABLE_OIDC_SCOPE": "openid profile school files",
    }
)
PROD = Settings.from_env(
    {
        **BASE,
        "CARTABLE_STAGE": "prod",
        "CARTABLE_JWKS_URL": "https://idp.example/jwks",
        "CARTABLE_JWT_ISSUER": "https://idp.example",
        "CARTABLE_CURSOR_SECRET": "c",
        "CARTABLE_RECEIPT_SECRET": "r",
    }
)


def test_every_whitelisted_file_exists_and_nothing_else_is_served() -> None:
    on_disk = {path.name for path in WEB_DIR.iterdir() if path.is_file()}
    assert set(STATIC_FILES) | {"index.html"} == on_disk


@pytest.mark.parametrize("name", sorted(STATIC_FILES))
def test_static_files_have_their_type_and_a_strict_policy(name: str) -> None:
    response = WebClient(LOCAL).static(name)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == STATIC_FILES[name]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.body == (WEB_DIR / name).read_text(encoding="utf-8")


def test_the_page_may_reach_only_the_api_and_the_object_store() -> None:
    response = WebClient(LOCAL).page()
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    policy = str(response.headers["Content-Security-Policy"])
    assert "script-src 'self';" in policy and "connect-src 'self' http://127.0.0.1:5001;" in policy
    assert "frame-ancestors 'none'" in policy
    assert '<script type="module" src="/static/app.js">' in str(response.body)


@pytest.mark.parametrize("name", ["index.html", "../app.py", "..", "", "APP.JS", "app.js.map", "%2e%2e%2fapp.py"])
def test_anything_off_the_whitelist_is_not_found(name: str) -> None:
    with pytest.raises(NotFoundError):
        WebClient(LOCAL).static(name)


def test_a_missing_file_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError):
        WebClient(LOCAL, directory=tmp_path).static("app.js")


def test_the_configuration_names_the_identity_provider_the_page_signs_in_with() -> None:
    response = WebClient(LOCAL_IDP).static("config.json")
    assert response.headers["Content-Type"] == "application/json"
    assert json.loads(str(response.body)) == {
        "issuer": "http://127.0.0.1:8001",
        "clientId": "cartable-web",
        "scope": "openid profile school files",
    }
    # The page reaches the provider (discovery, tokens) besides the API and the object store.
    policy = str(WebClient(LOCAL_IDP).page().headers["Content-Security-Policy"])
    assert "connect-src 'self' http://127.0.0.1:5001 http://127.0.0.1:8001;" in policy
    # Without a provider the page says so rather than pretending.
    assert json.loads(str(WebClient(LOCAL).static("config.json").body))["issuer"] is None


def test_scripts_tokens_still_verify_beside_the_providers() -> None:
    answer = WebClient(LOCAL_IDP).demo_token({"user": "prof-leroy"})
    assert TokenVerifier(LOCAL_IDP).verify(f"Bearer {answer['token']}").user_id == "prof-leroy"


def test_outside_local_every_route_is_not_found() -> None:
    client = WebClient(PROD)
    for call in (client.page, lambda: client.static("app.js"), lambda: client.static("config.json"), client.demo_users):
        with pytest.raises(NotFoundError):
            call()
    with pytest.raises(NotFoundError):
        client.demo_token({"user": DEMO_USERS[0].id})


def test_demo_tokens_are_valid_local_tokens_for_demo_users_only() -> None:
    client = WebClient(LOCAL)
    users = client.demo_users()
    assert users["school"] == DEMO_SCHOOL
    assert {u["role"] for u in users["items"]} == {"student", "teacher", "admin"}
    for user in DEMO_USERS:
        answer = client.demo_token({"user": user.id})
        principal = TokenVerifier(LOCAL).verify(f"Bearer {answer['token']}")
        assert (principal.user_id, principal.school, principal.role) == (user.id, DEMO_SCHOOL, user.role)
        assert answer["user"] == user.as_json() and answer["expiresAt"].endswith("Z")
    claims = jwt.decode(
        client.demo_token({"user": "eleve-alice"})["token"], options={"verify_signature": False}, algorithms=["HS256"]
    )
    assert claims["exp"] - claims["iat"] <= 8 * 3600 and claims["role"] == Role.STUDENT


@pytest.mark.parametrize("body", [{"user": "someone-else"}, {"user": "admin-1"}])
def test_no_token_for_anyone_outside_the_demo_school(body: dict[str, str]) -> None:
    with pytest.raises(NotFoundError):
        WebClient(LOCAL).demo_token(body)


@pytest.mark.parametrize("body", [{}, {"user": 3}, {"user": None}])
def test_a_malformed_token_request_is_a_bad_request(body: dict[str, object]) -> None:
    with pytest.raises(BadRequestError):
        WebClient(LOCAL).demo_token(body)
