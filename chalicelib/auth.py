"""Bearer JWT verification exactly as the contract says: pinned algorithms, exp/iss/aud required.

The identity provider's tokens (RS256/ES256) are verified through its JWKS in every stage that names
one, stage local included (`make dev` starts a real OpenID provider). Stage local also takes HS256
tokens signed with its shared secret and issued by `cartable-local`, for tests and scripts: chosen by
the token's `alg`, each kind checked against its own key, algorithms and issuer only.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import jwt

from chalicelib.domain.models import Principal, Role, is_valid_id
from chalicelib.errors import ServiceUnavailableError, UnauthorizedError
from chalicelib.settings import LOCAL_ISSUER, Settings

log = logging.getLogger("cartable.auth")

LOCAL_ALGORITHMS = ["HS256"]
IDP_ALGORITHMS = ["RS256", "ES256"]
REQUIRED_CLAIMS = ["exp", "iss", "aud", "sub"]
LEEWAY_SECONDS = 30  # tablets' clocks drift; half a minute of tolerance on exp/nbf/iat
# A token verified once is taken again as it is, by its exact text, until it expires (with the same
# leeway) or for this long at most: then verified in full again (a provider's rotated keys are read).
REVERIFY_SECONDS = 300
VERIFIED_TOKENS = 1024  # the most kept by one warm function; all forgotten when full


class InvalidTokenError(UnauthorizedError):
    """Any problem with the token: the client gets one answer, the log gets the detail."""

    def __init__(self) -> None:
        super().__init__("The access token is missing, expired or invalid.")


class TokenVerifier:
    """Turns an Authorization header into a Principal, or refuses with 401."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._jwks: jwt.PyJWKClient | None = None
        self._verified: dict[str, tuple[Principal, float, float]] = {}  # token: caller, exp, verify again at

    def _key_algorithms_issuer(self, token: str) -> tuple[Any, list[str], str]:
        settings = self._settings
        local_token = jwt.get_unverified_header(token).get("alg") in LOCAL_ALGORITHMS
        if settings.is_local and (local_token or settings.jwks_url is None):
            return settings.jwt_secret, LOCAL_ALGORITHMS, LOCAL_ISSUER
        if settings.jwks_url is None:
            raise jwt.InvalidTokenError("no identity provider")
        if self._jwks is None:
            self._jwks = jwt.PyJWKClient(settings.jwks_url, cache_keys=True, lifespan=600, timeout=5)
        try:
            return self._jwks.get_signing_key_from_jwt(token).key, IDP_ALGORITHMS, settings.jwt_issuer
        except jwt.PyJWKClientConnectionError as exc:
            raise ServiceUnavailableError("The identity provider cannot be reached; try again shortly.") from exc

    def verify(self, authorization: str | None) -> Principal:
        """The verified caller of a request."""
        scheme, _, token = (authorization or "").strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise InvalidTokenError()
        now = time.time()
        known = self._verified.get(token)
        if known is not None:
            principal, expires, again = known
            if now < again and now < expires + LEEWAY_SECONDS:  # as PyJWT's exp check, with its leeway
                return principal
            self._verified.pop(token, None)
        try:
            key, algorithms, issuer = self._key_algorithms_issuer(token)
            claims = jwt.decode(
                token,
                key,
                algorithms=algorithms,
                audience=self._settings.jwt_audience,
                issuer=issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": REQUIRED_CLAIMS, "verify_signature": True},
            )
        except (jwt.PyJWTError, ValueError, TypeError) as exc:
            log.info("token refused: %s", type(exc).__name__)
            raise InvalidTokenError() from exc
        principal = principal_from_claims(claims)
        if len(self._verified) >= VERIFIED_TOKENS:
            self._verified.clear()
        self._verified[token] = (principal, float(claims["exp"]), now + REVERIFY_SECONDS)
        return principal


def principal_from_claims(claims: dict[str, Any]) -> Principal:
    """Check the claims Cartable needs; ids must be of the contract's form."""
    user, school, role = claims.get("sub"), claims.get("school"), claims.get("role")
    if not is_valid_id(user) or not is_valid_id(school) or role not in Role.__members__.values():
        log.info("token refused: missing or malformed sub/school/role")
        raise InvalidTokenError()
    return Principal(user_id=str(user), school=str(school), role=Role(str(role)))
