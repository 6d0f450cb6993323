"""The web client in stage `local`: its static files, its configuration, and tokens for scripts.

People sign in with OpenID Connect (authorization code + PKCE) at the identity provider that
`config.json` names: in stage local the demo school's (local/oidc, started by `make dev`). The
HS256 tokens of `POST /v1/local/token` are for tests and scripts only.

Outside stage `local` every route here answers 404: the deployment serves `web/` from its own
origin (S3 behind CloudFront), `config.json` included, and people sign in with the school's provider.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jwt
from chalice.app import Response

from chalicelib.domain.models import Role, iso
from chalicelib.errors import BadRequestError, NotFoundError
from chalicelib.settings import LOCAL_ISSUER, Settings, settings

WEB_DIR = Path(__file__).resolve().parents[1] / "web"
INDEX = "index.html"

JS = "text/javascript; charset=utf-8"
# The only files served, with their types: a name not listed here is a 404, never a path lookup.
STATIC_FILES: dict[str, str] = {
    "app.js": JS,
    "api.js": JS,
    "assignment-dialog.js": JS,
    "auth.js": JS,
    "context.js": JS,
    "filedialog.js": JS,
    "files.js": JS,
    "i18n.js": JS,
    "sharing.js": JS,
    "space.js": JS,
    "ui.js": JS,
    "uploader.js": JS,
    "view-admin.js": JS,
    "view-classes.js": JS,
    "view-given.js": JS,
    "view-me.js": JS,
    "view-news.js": JS,
    "view-shared.js": JS,
    "view-submissions.js": JS,
    "view-signin.js": JS,
    "style.css": "text/css; charset=utf-8",
    "icon.svg": "image/svg+xml",
}
HTML = "text/html; charset=utf-8"
# Written from the settings, not read from `web/`: where the page signs people in.
CONFIG = "config.json"
JSON_TYPE = "application/json"

DEMO_SCHOOL = "demo"
DEMO_TOKEN_TTL = 8 * 3600  # a working day on the local stack


@dataclass(frozen=True)
class DemoUser:
    """One person of the demo school that `make dev` seeds."""

    id: str
    role: Role
    name: str

    def as_json(self) -> dict[str, str]:
        return {"id": self.id, "role": self.role.value, "name": self.name}


DEMO_USERS: tuple[DemoUser, ...] = (
    DemoUser("eleve-alice", Role.STUDENT, "Alice Moreau"),
    DemoUser("eleve-bilal", Role.STUDENT, "Bilal Haddad"),
    DemoUser("eleve-chloe", Role.STUDENT, "Chloé Petit"),
    DemoUser("eleve-david", Role.STUDENT, "David Nguyen"),
    DemoUser("prof-durand", Role.TEACHER, "Hélène Durand"),
    DemoUser("prof-leroy", Role.TEACHER, "Marc Leroy"),
    DemoUser("dir-martin", Role.ADMIN, "Claire Martin"),
)


class WebClient:
    """Serves the page and its files, and signs demo tokens; stage `local` only."""

    def __init__(self, settings: Settings, directory: Path = WEB_DIR) -> None:
        self._settings = settings
        self._directory = directory

    def _require_local(self) -> None:
        if not self._settings.is_local:
            raise NotFoundError()

    def page(self) -> Response:
        """The single page of the client."""
        return self._serve(INDEX, HTML)

    def static(self, name: str) -> Response:
        """One whitelisted file of `web/`, or the page's configuration."""
        if name == CONFIG:
            self._require_local()
            body = json.dumps(self.configuration())
            return Response(body=body, status_code=200, headers=self._headers(JSON_TYPE))
        content_type = STATIC_FILES.get(name)
        if content_type is None:
            raise NotFoundError()
        return self._serve(name, content_type)

    def _serve(self, name: str, content_type: str) -> Response:
        self._require_local()
        try:
            body = (self._directory / name).read_text(encoding="utf-8")
        except OSError as exc:
            raise NotFoundError() from exc
        return Response(body=body, status_code=200, headers=self._headers(content_type))

    def configuration(self) -> dict[str, Any]:
        """The identity provider the page signs people in with (none: the page says so)."""
        provider = self._settings.jwt_issuer if self._settings.jwks_url else None
        return {"issuer": provider, "clientId": self._settings.oidc_client_id, "scope": self._settings.oidc_scope}

    def _headers(self, content_type: str) -> dict[str, str | list[str]]:
        # The page talks to the API (same origin), to the identity provider (discovery, tokens) and
        # sends bytes to the object store's presigned URLs and reads them on the download front. Served in
        # stage `local` only, where the object store's endpoint is always set.
        issuer = self.configuration()["issuer"]
        provider = f"{urlsplit(issuer).scheme}://{urlsplit(issuer).netloc}" if issuer else None
        sources = " ".join(filter(None, [self._settings.s3_endpoint, self._settings.download_origin, provider]))
        policy = (
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
            f"connect-src 'self' {sources}; object-src 'none'; base-uri 'none'; form-action 'none'; "
            "frame-ancestors 'none'"
        )
        return {
            "Content-Type": content_type,
            "Cache-Control": "no-cache",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "Content-Security-Policy": policy,
        }

    def demo_users(self) -> dict[str, Any]:
        """The people a developer may sign in as on the local stack."""
        self._require_local()
        return {"school": DEMO_SCHOOL, "items": [user.as_json() for user in DEMO_USERS]}

    def demo_token(self, body: dict[str, Any]) -> dict[str, Any]:
        """An HS256 token for one demo user, signed with the local secret; nobody else, never outside local."""
        self._require_local()
        wanted = body.get("user")
        if not isinstance(wanted, str):
            raise BadRequestError("user is required.")
        user = next((u for u in DEMO_USERS if u.id == wanted), None)
        if user is None:
            raise NotFoundError()
        assert self._settings.jwt_secret is not None  # always set in stage local
        now = int(time.time())
        claims = {
            "sub": user.id,
            "school": DEMO_SCHOOL,
            "role": user.role.value,
            "iat": now,
            "exp": now + DEMO_TOKEN_TTL,
            "iss": LOCAL_ISSUER,
            "aud": self._settings.jwt_audience,
        }
        token = jwt.encode(claims, self._settings.jwt_secret, algorithm="HS256")
        expires = iso(datetime.fromtimestamp(now + DEMO_TOKEN_TTL, UTC))
        return {"token": token, "expiresAt": expires, "user": user.as_json(), "school": DEMO_SCHOOL}


@lru_cache(maxsize=1)
def web_client() -> WebClient:
    """The web client of this process, built on first use."""
    return WebClient(settings())
