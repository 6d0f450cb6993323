"""Debian's Chromium driven by Playwright over the real local stack, with the demo school seeded.

The stack runs the demo school's OpenID provider (local/oidc) as `make dev` does: every test signs in
through its login form (`sign_in`), and the API verifies the provider's RS256 tokens through its JWKS.
The HS256 tokens of `as_demo` only arrange what a test needs besides what it does in the browser.

No browser is ever downloaded: `make test` installs Debian's `chromium`, and Playwright launches
it from /usr/bin/chromium with a fresh profile per test. Each step's screenshot is written under
tests/artifacts/browser/<test>/.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import ConsoleMessage, Page, Playwright, expect, sync_playwright

from local.demo import DemoApi, DemoSchool, seed
from local.oidc import DEMO_PASSWORD
from local.stack import LocalStack, free_port
from tests.stacks import running_stack

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "browser"
TABLET_LANDSCAPE = {"width": 1280, "height": 800}  # a 10-inch tablet
TABLET_PORTRAIT = {"width": 800, "height": 1280}
SMALL_TABLET = {"width": 768, "height": 1024}  # every step is also shot at this size (an iPad's portrait)
MIB = 1024 * 1024


@pytest.fixture(scope="package")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """The whole local stack for this package only (torn down before the integration tests start theirs)."""
    yield from running_stack(tmp_path_factory, "browser-stack", oidc=True, oidc_port=free_port())


@pytest.fixture(scope="package")
def demo(stack: LocalStack) -> DemoSchool:
    return seed(stack.api_url)


@pytest.fixture(scope="package")
def base_url(stack: LocalStack) -> str:
    return stack.api_url


@pytest.fixture
def as_demo(base_url: str) -> Any:
    """The HTTP API as one demo user, to arrange what a test needs besides what it does in the browser."""
    return lambda user: DemoApi(base_url, user)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The year close archives every class of the demo school: it runs after every other browser test
    (still inside this package, so its stack is not started twice)."""
    here = Path(__file__).resolve().parent
    ours = [i for i, item in enumerate(items) if here in Path(str(item.path)).parents]
    closing = [items[i] for i in ours if "closes_the_year" in items[i].name]
    if not closing:
        return
    last = max(i for i in ours if items[i] not in closing)
    rest = [item for item in items[: last + 1] if item not in closing]
    items[:] = rest + closing + [item for item in items[last + 1 :] if item not in closing]


def sign_in(page: Page, base_url: str, user: str, password: str = DEMO_PASSWORD) -> None:
    """From the page to the provider's login form and back, signed in as the demo school's `user`."""
    page.goto(f"{base_url}/")
    page.get_by_role("button", name=re.compile("Sign in with the school account|Se connecter avec")).click()
    provider_login(page, user, password)
    expect(page.locator("#who")).to_be_visible()


def provider_login(page: Page, user: str, password: str = DEMO_PASSWORD) -> None:
    """Fill in the identity provider's login form (English or French) and send it."""
    page.get_by_label(re.compile("^(User name|Identifiant)$")).fill(user)
    page.get_by_label(re.compile("^(Password|Mot de passe)$")).fill(password)
    page.get_by_role("button", name=re.compile("^(Sign in|Se connecter)$")).click()


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is missing: `make test` installs it (apt-get install chromium)")
    with sync_playwright() as driver:
        yield driver


class Shots:
    """Numbered screenshots of one test's steps."""

    def __init__(self, page: Page, directory: Path) -> None:
        self.page = page
        self.directory = directory
        self.count = 0
        self.paths: list[Path] = []

    def __call__(self, step: str) -> Path:
        """The step at the test's viewport, and again at 768×1024 (`-768x1024.png`) unless it is that already."""
        self.count += 1
        path = self.directory / f"{self.count:02d}-{step}.png"
        self.page.screenshot(path=str(path), full_page=True)
        self.paths.append(path)
        viewport = self.page.viewport_size
        if viewport and viewport != SMALL_TABLET:
            small = self.directory / f"{self.count:02d}-{step}-768x1024.png"
            self.page.set_viewport_size(SMALL_TABLET)
            try:
                self.page.screenshot(path=str(small), full_page=True)
            finally:
                self.page.set_viewport_size(viewport)
            self.paths.append(small)
        return path


def unexpected(message: ConsoleMessage) -> bool:
    """A console error, except the 404 the page itself expects from the local-only routes outside stage local."""
    return message.type == "error" and "/v1/local/" not in message.location.get("url", "")


@pytest.fixture
def expected_console() -> list[str]:
    """Console errors a test provokes on purpose (regular expressions), e.g. the 401 of a broken token."""
    return []


@pytest.fixture
def browser_page(
    playwright: Playwright, tmp_path: Path, request: pytest.FixtureRequest, expected_console: list[str]
) -> Iterator[Page]:
    """A fresh Chromium profile, English and tablet-sized unless the test's `browser_options` mark says otherwise."""
    marker = request.node.get_closest_marker("browser_options")
    options: dict[str, Any] = {"locale": "en-US", "viewport": TABLET_LANDSCAPE}
    options.update(marker.kwargs if marker else {})
    context = playwright.chromium.launch_persistent_context(
        str(tmp_path / "profile"),
        executable_path=str(CHROMIUM),
        headless=True,
        args=CHROMIUM_ARGS,
        accept_downloads=True,
        **options,
    )
    context.set_default_timeout(30_000)  # a wait's bound, not a speed test: a loaded machine is slow
    page = context.pages[0] if context.pages else context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("console", lambda message: problems.append(message.text) if unexpected(message) else None)
    try:
        yield page
    finally:
        context.close()
    problems = [p for p in problems if not any(re.search(pattern, p) for pattern in expected_console)]
    assert not problems, f"the page reported errors: {problems}"


@pytest.fixture
def shots(browser_page: Page, request: pytest.FixtureRequest) -> Shots:
    directory = ARTIFACTS / re.sub(r"[^A-Za-z0-9_.-]", "_", request.node.name)
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    return Shots(browser_page, directory)
