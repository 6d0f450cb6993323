"""Stage local's identity provider: `oidc-provider` (Node, server.mjs here) with the demo school's people.

The stack starts it before the API and gives the API its issuer and JWKS, as a deployment gives the
school's: the API verifies the provider's RS256 access tokens through /jwks, and the web client signs
in with the authorization code flow and PKCE. `make oidc-deps` installs its locked packages
(`npm ci` into local/oidc/node_modules); `make dev` and `make test` run it.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SERVER = HERE / "server.mjs"
MODULES = HERE / "node_modules" / "oidc-provider"
CLIENT_ID = "cartable-web"
# What the web client asks for: who (openid profile), the school's claims, and the API as a resource.
SCOPE = "openid profile school files"
RESOURCE = "urn:cartable:api"
# Test-only: every demo account's password on the local provider (it is shown on its login page).
DEMO_PASSWORD = "cartable"
log = logging.getLogger("cartable.oidc")


class ProviderUnavailableError(RuntimeError):
    """Node or the provider's packages are missing, or it did not start."""


@dataclass
class OidcProvider:
    """One `node server.mjs`, configured through a JSON file under `build_dir`."""

    port: int
    build_dir: Path
    web_origins: list[str]  # where the web client is served: its redirect and post-logout URIs
    audience: str = "cartable"
    access_token_ttl: int = 600
    password: str = DEMO_PASSWORD
    _process: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def jwks_url(self) -> str:
        return f"{self.issuer}/jwks"

    def api_env(self) -> dict[str, str]:
        """What the API and the page's configuration need to know of the provider."""
        return {
            "CARTABLE_JWT_ISSUER": self.issuer,
            "CARTABLE_JWKS_URL": self.jwks_url,
            "CARTABLE_OIDC_CLIENT_ID": CLIENT_ID,
            "CARTABLE_OIDC_SCOPE": SCOPE,
        }

    def configuration(self) -> dict[str, Any]:
        from local.demo import accounts

        uris = [f"{origin}/" for origin in self.web_origins]
        return {
            "issuer": self.issuer,
            "port": self.port,
            "audience": self.audience,
            "resource": RESOURCE,
            "access_token_ttl": self.access_token_ttl,
            "password_hint": self.password,
            "clients": [
                {
                    "client_id": CLIENT_ID,
                    "client_name": "Cartable",
                    "redirect_uris": uris,
                    "post_logout_redirect_uris": uris,
                }
            ],
            "accounts": accounts(self.password),
        }

    def start(self, timeout: float = 30) -> None:
        node = shutil.which("node")
        if node is None:
            raise ProviderUnavailableError("Node.js (>= 20.19) is needed for the local OpenID provider: install nodejs")
        if not MODULES.is_dir():
            raise ProviderUnavailableError(
                "the local OpenID provider's packages are missing: run `make oidc-deps` (npm ci in local/oidc)"
            )
        self.build_dir.mkdir(parents=True, exist_ok=True)
        path = self.build_dir / "oidc.json"
        path.write_text(json.dumps(self.configuration(), indent=1), encoding="utf-8")
        env = {**os.environ, "CARTABLE_OIDC_CONFIG": str(path), "NODE_ENV": "development"}
        self._process = subprocess.Popen([node, str(SERVER)], cwd=HERE, env=env, start_new_session=True)
        self.wait_ready(timeout)

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        url = f"{self.issuer}/.well-known/openid-configuration"
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise ProviderUnavailableError("the local OpenID provider (local/oidc/server.mjs) exited; see above")
            try:
                with urllib.request.urlopen(url, timeout=2) as answer:
                    if answer.status == 200 and json.load(answer).get("issuer") == self.issuer:
                        return
            except OSError:
                time.sleep(0.2)
        raise ProviderUnavailableError(f"the local OpenID provider did not answer {url} within {timeout:.0f}s")

    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
