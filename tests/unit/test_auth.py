"""Token verification: HS256 in stage local only; RS256/ES256 from a JWKS served over real HTTP elsewhere."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from chalicelib.auth import TokenVerifier
from chalicelib.domain.models import Principal, Role
from chalicelib.errors import UnauthorizedError
from chalicelib.settings import Settings

BASE = {"AWS_DEFAULT_REGION": "eu-west-3", "CARTABLE_BUCKET": "b", "CARTABLE_TABLE": "t"}
ISSUER = "https://idp.test/realms/schools"
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())


def claims(**extra: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {
        "sub": "u1",
        "school": "s1",
        "role": "teacher",
        "iat": now,
        "exp": now + 300,
        "iss": ISSUER,
        "aud": "cartable",
    }
    base.update(extra)
    return {k: v for k, v in base.items() if v is not None}


@pytest.fixture(scope="module")
def jwks_url() -> Iterator[str]:
    keys = []
    for kid, key, alg in (("rsa-1", RSA_KEY, "RS256"), ("ec-1", EC_KEY, "ES256")):
        algorithm = jwt.algorithms.RSAAlgorithm if alg == "RS256" else jwt.algorithms.ECAlgorithm
        jwk = json.loads(algorithm.to_jwk(key.public_key()))
        jwk.update({"kid": kid, "alg": alg, "use": "sig"})
        keys.append(jwk)
    body = json.dumps({"keys": keys}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/jwks"
    server.shutdown()


@pytest.fixture
def idp_verifier(jwks_url: str) -> TokenVerifier:
    env = {
        **BASE,
        "CARTABLE_STAGE": "prod",
        "CARTABLE_JWKS_URL": jwks_url,
        "CARTABLE_JWT_ISSUER": ISSUER,
        "CARTABLE_CURSOR_SECRET": "c" * 32,
        "CARTABLE_RECEIPT_SECRET": "r" * 32,
    }
    return TokenVerifier(Settings.from_env(env))


def bearer(token: str) -> str:
    return f"Bearer {token}"


def test_rs256_and_es256_from_jwks(idp_verifier: TokenVerifier) -> None:
    rs = jwt.encode(claims(), RSA_KEY, algorithm="RS256", headers={"kid": "rsa-1"})
    es = jwt.encode(claims(role="admin"), EC_KEY, algorithm="ES256", headers={"kid": "ec-1"})
    assert idp_verifier.verify(bearer(rs)) == Principal("u1", "s1", Role.TEACHER)
    assert idp_verifier.verify(bearer(es)).role is Role.ADMIN


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(lambda: jwt.encode(claims(), "local-dev-secret", algorithm="HS256"), id="hs256-outside-local"),
        pytest.param(
            lambda: jwt.encode(claims(), RSA_KEY, algorithm="RS256", headers={"kid": "unknown"}), id="unknown-kid"
        ),
        pytest.param(
            lambda: jwt.encode(claims(aud="x"), RSA_KEY, algorithm="RS256", headers={"kid": "rsa-1"}), id="aud"
        ),
        pytest.param(
            lambda: jwt.encode(claims(iss="x"), RSA_KEY, algorithm="RS256", headers={"kid": "rsa-1"}), id="iss"
        ),
        pytest.param(
            lambda: jwt.encode(claims(exp=1), RSA_KEY, algorithm="RS256", headers={"kid": "rsa-1"}), id="expired"
        ),
        pytest.param(
            lambda: jwt.encode(claims(), EC_KEY, algorithm="ES256", headers={"kid": "rsa-1"}), id="key-mismatch"
        ),
        pytest.param(
            lambda: jwt.encode(claims(), RSA_KEY, algorithm="PS256", headers={"kid": "rsa-1"}), id="unpinned-alg"
        ),
    ],
)
def test_refused_outside_local(idp_verifier: TokenVerifier, token: Any) -> None:
    with pytest.raises(UnauthorizedError):
        idp_verifier.verify(bearer(token()))


def test_local_stage_uses_the_shared_secret() -> None:
    verifier = TokenVerifier(Settings.from_env({**BASE, "CARTABLE_STAGE": "local"}))
    good = jwt.encode(claims(iss="cartable-local"), "local-dev-secret", algorithm="HS256")
    assert verifier.verify(bearer(good)).user_id == "u1"
    rs = jwt.encode(claims(iss="cartable-local"), RSA_KEY, algorithm="RS256")
    with pytest.raises(UnauthorizedError):
        verifier.verify(bearer(rs))


@pytest.fixture
def local_idp_verifier(jwks_url: str) -> TokenVerifier:
    """Stage local with its OpenID provider (make dev): the provider's tokens, and the scripts' HS256 ones."""
    env = {**BASE, "CARTABLE_STAGE": "local", "CARTABLE_JWKS_URL": jwks_url, "CARTABLE_JWT_ISSUER": ISSUER}
    return TokenVerifier(Settings.from_env(env))


def test_local_stage_verifies_the_providers_tokens_through_its_jwks(local_idp_verifier: TokenVerifier) -> None:
    rs = jwt.encode(claims(), RSA_KEY, algorithm="RS256", headers={"kid": "rsa-1"})
    assert local_idp_verifier.verify(bearer(rs)) == Principal("u1", "s1", Role.TEACHER)
    scripts = jwt.encode(claims(iss="cartable-local"), "local-dev-secret", algorithm="HS256")
    assert local_idp_verifier.verify(bearer(scripts)).user_id == "u1"


@pytest.mark.parametrize(
    "token",
    [
        # Each kind of token is held to its own issuer: no HS256 token passes for the provider's...
        pytest.param(lambda: jwt.encode(claims(), "local-dev-secret", algorithm="HS256"), id="hs256-provider-iss"),
        # ...and no provider-signed token for a script's.
        pytest.param(
            lambda: jwt.encode(claims(iss="cartable-local"), RSA_KEY, algorithm="RS256", headers={"kid": "rsa-1"}),
            id="rs256-local-iss",
        ),
        pytest.param(
            lambda: jwt.encode(claims(iss="cartable-local"), "another-secret", algorithm="HS256"), id="hs256-wrong-key"
        ),
        pytest.param(lambda: jwt.encode(claims(iss="cartable-local"), None, algorithm="none"), id="alg-none"),
        pytest.param(
            lambda: jwt.encode(claims(aud="x"), RSA_KEY, algorithm="RS256", headers={"kid": "rsa-1"}), id="aud"
        ),
        pytest.param(lambda: "not.a.token", id="garbage"),
    ],
)
def test_local_stage_with_a_provider_refuses(local_idp_verifier: TokenVerifier, token: Any) -> None:
    with pytest.raises(UnauthorizedError):
        local_idp_verifier.verify(bearer(token()))


def test_a_verified_token_is_taken_again_until_it_expires_then_verified_in_full(
    idp_verifier: TokenVerifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    decoded: list[str] = []
    real_decode = jwt.decode

    def decode(token: str, *args: Any, **kwargs: Any) -> Any:
        decoded.append(token)
        return real_decode(token, *args, **kwargs)

    monkeypatch.setattr("chalicelib.auth.jwt.decode", decode)
    now = time.time()
    token = jwt.encode(claims(exp=int(now) + 60), RSA_KEY, algorithm="RS256", headers={"kid": "rsa-1"})
    assert idp_verifier.verify(bearer(token)).user_id == "u1"
    assert idp_verifier.verify(bearer(token)).user_id == "u1"
    assert len(decoded) == 1  # the second time, the same text: taken as verified
    tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    with pytest.raises(UnauthorizedError):  # any other text is verified in full
        idp_verifier.verify(bearer(tampered))
    assert len(decoded) == 2
    monkeypatch.setattr("chalicelib.auth.time", SimpleNamespace(time=lambda: int(now) + 60 + 29))  # within exp's leeway
    idp_verifier.verify(bearer(token))
    assert len(decoded) == 2
    monkeypatch.setattr(
        "chalicelib.auth.time", SimpleNamespace(time=lambda: int(now) + 60 + 31)
    )  # past it: verified again
    idp_verifier.verify(bearer(token))  # (by PyJWT's own clock, still valid)
    assert len(decoded) == 3
    later = jwt.encode(claims(exp=int(now) + 3600), RSA_KEY, algorithm="RS256", headers={"kid": "rsa-1"})
    monkeypatch.setattr("chalicelib.auth.time", SimpleNamespace(time=lambda: now))
    idp_verifier.verify(bearer(later))
    monkeypatch.setattr(
        "chalicelib.auth.time", SimpleNamespace(time=lambda: now + 301)
    )  # a long-lived token: every 5 minutes
    idp_verifier.verify(bearer(later))
    assert len(decoded) == 5
