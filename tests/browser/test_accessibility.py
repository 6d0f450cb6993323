"""The web client audited by axe-core (WCAG 2.1 A and AA) on every view a pupil, a teacher and the office reach.

axe-core comes inside the `axe-playwright-python` wheel (requirements-dev.txt): nothing is downloaded at test
time. Each view is audited in its states (loading done, an upload under way, refused, a dialog open...), in
English and in French (each test runs once per language: the switch renders the page anew), at the test's
1280×800 viewport and at the 768×1024 tablet. A serious or critical violation of those fails the test; moderate
and minor ones, axe's best practices and what axe could not decide alone ("needs review") are listed in the
output and, with every finding, in tests/artifacts/accessibility/<test>.json.
The identity provider's own login form is not ours, so not audited; our page before sign-in is.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from axe_playwright_python.base import AXE_SCRIPT
from playwright.sync_api import Page, Route, expect

from local.clamav import EICAR
from local.demo import DemoSchool
from tests.browser.conftest import ARTIFACTS, SMALL_TABLET, provider_login

pytestmark = pytest.mark.browser

WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
BLOCKING = {"serious", "critical"}
REPORTS = ARTIFACTS.parent / "accessibility"
LANGUAGES = ["en", "fr"]
NARROW = {"width": 320, "height": 640}  # WCAG 1.4.10's width: a phone, or 1280 px at 400 % zoom


# The focused element: a path to name it, whether a focus ring (outline or box-shadow) shows, whether it is seen.
PATH = """(element) => {
    const path = [];
    for (let node = element; node && node !== document.body; node = node.parentElement) {
        const index = node.parentElement ? [...node.parentElement.children].indexOf(node) : 0;
        path.unshift(`${node.tagName.toLowerCase()}${node.id ? "#" + node.id : ""}:${index}`);
    }
    return path.join(" > ");
}"""
FOCUSED = (
    """() => {
    const element = document.activeElement;
    if (!element || element === document.body) return null;
    const path = ("""
    + PATH
    + """)(element);
    const style = getComputedStyle(element);
    const outline = style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2;
    const shadow = style.boxShadow && style.boxShadow !== "none";
    const box = element.getBoundingClientRect();
    const onScreen = box.width > 0 && box.height > 0 && box.bottom > 0 && box.right > 0
        && box.top < innerHeight && box.left < innerWidth && style.visibility !== "hidden" && Number(style.opacity) > 0;
    return {path, html: element.outerHTML.slice(0, 200), indicator: outline || shadow, onScreen};
}"""
)

# How much wider than the viewport the page is, and the deepest elements that stick out (outside scroll boxes).
OVERFLOWING = """() => {
    const width = document.documentElement.clientWidth;
    const wide = document.documentElement.scrollWidth - width;
    if (wide <= 0) return [wide, []];
    const scrolls = (e) => ["auto", "scroll", "hidden"].includes(getComputedStyle(e).overflowX);
    const sticking = [...document.body.querySelectorAll("*")].filter((e) => {
        if (!e.checkVisibility()) return false;
        const box = e.getBoundingClientRect();
        const spills = !scrolls(e) && e.scrollWidth > e.clientWidth + 1;  // its text, past its own box
        if (box.right <= width + 0.5 && !(spills && box.left + e.scrollWidth > width + 0.5)) return false;
        for (let p = e.parentElement; p && p !== document.body; p = p.parentElement) if (scrolls(p)) return false;
        return true;
    });
    const out = sticking.filter((e) => !sticking.some((other) => other !== e && e.contains(other)));
    const right = (e) => {
        const box = e.getBoundingClientRect();
        return Math.round(Math.max(box.right, box.left + e.scrollWidth));
    };
    return [wide, out.slice(0, 8).map((e) => `${right(e)}px: ${e.outerHTML.slice(0, 150)}`)];
}"""


class Audit:
    """axe-core on the page as it stands, at its viewport and at 768×1024; findings kept for one report."""

    def __init__(self, page: Page, name: str) -> None:
        self.page = page
        self.name = name
        self.findings: list[dict[str, Any]] = []
        self.audited: list[dict[str, Any]] = []  # each view and size: how many axe rules passed, controls walked

    def __call__(self, view: str, *, keyboard: bool = True, settled: bool = True) -> None:
        """`settled`: once every answer has come (no "Loading…" left); otherwise the page as it stands."""
        page = self.page
        if settled:
            expect(page.locator(".loading")).to_have_count(0, timeout=20_000)
        viewport = page.viewport_size
        sizes = [viewport] + [size for size in (SMALL_TABLET, NARROW) if size != viewport]
        try:
            for size in sizes:
                if size and page.viewport_size != size:
                    page.set_viewport_size(size)
                self.run(view, f"{size['width']}x{size['height']}" if size else "default")
            if keyboard:
                self.keyboard(view)
        finally:
            if viewport and page.viewport_size != viewport:
                page.set_viewport_size(viewport)

    def keyboard(self, view: str) -> None:
        """What axe cannot see: Tab from the top through every control of the view; each one, in turn, must
        show where the focus is (WCAG 2.4.7) and be on screen (2.4.3), and the walk must not get stuck."""
        page = self.page
        # From a stand-in put before the first control (inside a modal dialog, which keeps the keyboard).
        count = page.evaluate(
            """() => {
                window.scrollTo(0, 0);
                const scope = document.querySelector('dialog[open]') || document.body;
                const controls = [...scope.querySelectorAll(
                    'a[href], button, input, select, textarea, summary, [tabindex]:not([tabindex="-1"])'
                )].filter((e) => !e.disabled && e.tabIndex >= 0 && e.checkVisibility())
                  .filter((e) => !(e.type === 'radio' && !e.checked));  // a radio group is one stop
                const start = document.createElement('span');
                start.id = 'a11y-walk-start';
                start.tabIndex = 0;
                scope.prepend(start);
                start.focus();
                return controls.length;
            }"""
        )
        seen: list[str] = []
        for step in range(4 * count + 4):  # a date field takes a Tab per part (day, month, year...)
            page.keyboard.press("Tab")
            if not step:
                page.evaluate("document.getElementById('a11y-walk-start').remove()")
            focused = page.evaluate(FOCUSED)
            if seen and focused and focused["path"] == seen[-1]:
                continue
            if not focused or focused["path"] in seen:
                break
            seen.append(focused["path"])
            problems = []
            if not focused["indicator"]:
                problems.append("no visible focus indicator")
            if not focused["onScreen"]:
                problems.append("focused but not on screen")
            if problems:
                self.findings.append(
                    {
                        "kind": "violation",
                        "view": view,
                        "lang": page.evaluate("document.documentElement.lang"),
                        "viewport": "keyboard",
                        "id": "focus-visible",
                        "impact": "serious",
                        "help": "Every control reached with Tab shows the focus, on screen (WCAG 2.4.7, 2.4.3)",
                        "helpUrl": "https://www.w3.org/WAI/WCAG21/Understanding/focus-visible",
                        "nodes": [
                            {"target": [focused["path"]], "html": focused["html"], "summary": ", ".join(problems)}
                        ],
                    }
                )
        missed = page.evaluate(
            f"""(seen) => {{
                const scope = document.querySelector('dialog[open]') || document.body;
                const path = {PATH};
                return [...scope.querySelectorAll(
                    'a[href], button, input, select, textarea, summary, [tabindex]:not([tabindex="-1"])'
                )].filter((e) => !e.disabled && e.tabIndex >= 0 && e.checkVisibility())
                  .filter((e) => !seen.includes(path(e)) && !(e.type === 'radio' && !e.checked))
                  .map((e) => e.outerHTML.slice(0, 120));
            }}""",
            seen,
        )
        self.audited.append({"view": view, "keyboard": True, "controls": count, "walked": len(seen), "missed": missed})
        if missed:
            self.findings.append(
                {
                    "kind": "violation",
                    "view": view,
                    "lang": page.evaluate("document.documentElement.lang"),
                    "viewport": "keyboard",
                    "id": "keyboard-unreachable",
                    "impact": "serious",
                    "help": "Every control is reached with Tab (WCAG 2.1.1)",
                    "helpUrl": "https://www.w3.org/WAI/WCAG21/Understanding/keyboard",
                    "nodes": [{"target": [], "html": html, "summary": "not reached with Tab"} for html in missed],
                }
            )

    def run(self, view: str, size: str) -> None:
        page = self.page
        if not page.evaluate("() => typeof window.axe === 'object'"):
            page.evaluate(AXE_SCRIPT)
        # WCAG 2.1 A/AA decide; axe's best practices and what it could not decide alone are listed too.
        options = {"runOnly": {"type": "tag", "values": [*WCAG_21_AA, "best-practice"]}}
        results = page.evaluate(
            """async (options) => {
                const results = await axe.run(document, options);
                return {violations: results.violations, incomplete: results.incomplete, passed: results.passes.length};
            }""",
            options,
        )
        lang = page.evaluate("document.documentElement.lang")
        wide, overflowing = page.evaluate(OVERFLOWING)
        if wide > 0:  # WCAG 1.4.10: the page fits the width, tables scroll in their own box
            self.findings.append(
                {
                    "kind": "violation",
                    "view": view,
                    "lang": lang,
                    "viewport": size,
                    "id": "reflow",
                    "impact": "serious",
                    "help": "The page scrolls sideways (WCAG 1.4.10)",
                    "helpUrl": "https://www.w3.org/WAI/WCAG21/Understanding/reflow",
                    "nodes": [
                        {"target": [], "html": html, "summary": f"the page is {wide} px wider than the viewport"}
                        for html in overflowing or [""]
                    ],
                }
            )
        self.audited.append({"view": view, "lang": lang, "viewport": size, "rulesPassed": results["passed"]})
        for kind, violation in [("violation", v) for v in results["violations"]] + [
            ("needs review", v) for v in results["incomplete"]
        ]:
            wcag = bool(set(violation["tags"]) & set(WCAG_21_AA))
            self.findings.append(
                {
                    "kind": kind if wcag else f"best practice {kind}",
                    "view": view,
                    "lang": lang,
                    "viewport": size,
                    "id": violation["id"],
                    "impact": violation["impact"],
                    "help": violation["help"],
                    "helpUrl": violation["helpUrl"],
                    "nodes": [
                        {"target": node["target"], "html": node["html"], "summary": node.get("failureSummary", "")}
                        for node in violation["nodes"]
                    ],
                }
            )

    def report(self, findings: list[dict[str, Any]] | None = None) -> str:
        lines = []
        for finding in self.findings if findings is None else findings:
            targets = "; ".join(" ".join(map(str, node["target"])) for node in finding["nodes"][:5])
            lines.append(
                f"[{finding['kind']}, {finding['impact']}] {finding['id']} on {finding['view']} ({finding['lang']}, "
                f"{finding['viewport']}): {finding['help']} — {len(finding['nodes'])} node(s): {targets}"
            )
        return "\n".join(lines)

    def check(self) -> None:
        """Write the findings, print the lesser ones, fail on any serious or critical one."""
        REPORTS.mkdir(parents=True, exist_ok=True)
        path = REPORTS / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', self.name)}.json"
        report = {"audited": self.audited, "findings": self.findings}
        path.write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
        if self.findings:
            print(f"axe-core findings ({path}):\n{self.report()}")
        blocking = [f for f in self.findings if f["kind"] == "violation" and f["impact"] in BLOCKING]
        assert not blocking, "serious or critical accessibility violations:\n" + self.report(blocking)


@pytest.fixture
def audit(browser_page: Page, request: pytest.FixtureRequest) -> Audit:
    return Audit(browser_page, request.node.name)


def choose_language(page: Page, lang: str) -> None:
    """The page's own language switch (kept for the session), before signing in."""
    page.locator("#lang-select").select_option(lang)
    expect(page.locator("html")).to_have_attribute("lang", lang)


def sign_in_as(page: Page, base_url: str, user: str, lang: str) -> None:
    page.goto(f"{base_url}/")
    choose_language(page, lang)
    page.locator(".sign-in-button").click()
    provider_login(page, user)
    expect(page.locator("#who")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", lang)


def go(page: Page, base_url: str, route: str) -> None:
    page.goto(f"{base_url}/#/{route}")
    expect(page.locator("#main h1")).to_be_visible()


def row(page: Page, name: str) -> Any:
    return page.locator(
        "table.files tbody tr", has=page.locator("th.name", has_text=re.compile(f"^{re.escape(name)}$"))
    )


def upload(page: Page, name: str, data: bytes, mime: str = "text/plain", scope: Any = None) -> None:
    card = (scope or page).locator(".uploader").first
    card.locator("input[type=file][name=file]").set_input_files({"name": name, "mimeType": mime, "buffer": data})
    card.locator(".upload-form button[type=submit]").click()


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_page_before_sign_in_is_accessible(browser_page: Page, audit: Audit, base_url: str, lang: str) -> None:
    page = browser_page
    page.goto(f"{base_url}/")
    choose_language(page, lang)
    expect(page.locator(".sign-in-button")).to_be_visible()
    audit("sign-in")
    # A sign-in answer the page did not ask for: the notice says so.
    page.goto(f"{base_url}/?code=forged&state=forged")
    expect(page.locator(".notice")).to_be_visible()
    audit("sign-in-refused-answer")
    audit.check()


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_pupils_views_are_accessible(
    browser_page: Page, audit: Audit, base_url: str, demo: DemoSchool, lang: str
) -> None:
    page = browser_page
    sign_in_as(page, base_url, "eleve-alice", lang)
    expect(row(page, "brouillon.txt")).to_be_visible()
    audit("my-files")

    # An upload under way: sent, its scan not answered yet (the status poll held).
    held: list[Route] = []

    def hold(route: Route) -> None:
        if route.request.method == "GET":
            held.append(route)
        else:
            route.continue_()

    page.route(re.compile(r"/v1/uploads/[^/?]+$"), hold)
    name = f"a11y-{lang}-notes.txt"
    upload(page, name, b"Notes de cours.\n")
    expect(row(page, name)).to_have_attribute("data-status", "pending")
    expect(page.locator(".uploader progress").first).to_have_attribute("value", "100")
    audit("upload-under-way")
    for route in held:
        route.continue_()
    page.unroute(re.compile(r"/v1/uploads/[^/?]+$"))
    expect(row(page, name)).to_have_attribute("data-status", "available", timeout=20_000)
    audit("upload-available")

    # Refused: an empty file before sending, a web page named .pdf after the scan, EICAR quarantined.
    upload(page, "vide.txt", b"")
    expect(page.locator(".uploader .error")).not_to_be_empty()
    audit("upload-refused-empty")
    fake = f"a11y-{lang}-devoir.pdf"
    upload(page, fake, b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>\n", "application/pdf")
    expect(row(page, fake)).to_have_attribute("data-status", "rejected", timeout=20_000)
    expect(page.locator(".uploader .retry")).to_be_visible()
    audit("upload-rejected-by-the-scan")
    virus = f"a11y-{lang}-virus.txt"
    upload(page, virus, EICAR)
    expect(row(page, virus)).to_have_attribute("data-status", "infected", timeout=20_000)
    audit("upload-infected")

    # A second version, its list open; a new folder's form open; the share dialog.
    upload(page, name, b"Notes de cours, relues.\n")
    versions = row(page, name).locator(".versions-of")
    expect(versions).to_be_visible(timeout=20_000)
    expect(row(page, name)).to_have_attribute("data-status", "available", timeout=20_000)
    versions.locator("summary").click()
    expect(versions.locator("li")).to_have_count(2)
    page.locator(".new-folder summary").click()
    expect(page.locator("#new-folder")).to_be_visible()
    page.locator(".folder-form button[type=submit]").click()  # an empty name: its error shows
    expect(page.locator(".folder-form .error")).not_to_be_empty()
    audit("versions-and-new-folder")
    row(page, name).locator(".row-actions button").nth(1).click()  # Share
    dialog = page.locator("#share-dialog")
    expect(dialog).to_be_visible()
    audit("share-dialog")
    dialog.locator("input[value=user]").check()
    dialog.locator("#share-submit").click()  # no person given: its error shows
    expect(dialog.locator("#share-error")).not_to_be_empty()
    audit("share-dialog-error")
    dialog.locator("#share-cancel").click()
    expect(dialog).to_be_hidden()

    # Renaming and moving: their dialog, with a refusal in words (nothing is changed).
    row(page, name).locator("button[data-action=rename]").click()
    change = page.locator("#file-dialog")
    expect(change).to_be_visible()
    change.locator("input").fill("")
    change.locator("#file-dialog-submit").click()
    expect(change.locator(".error")).not_to_be_empty()
    audit("rename-dialog-refused")
    change.locator("#file-dialog-cancel").click()
    expect(change).to_be_hidden()
    row(page, name).locator("button[data-action=move]").click()
    expect(change.locator("input")).to_be_focused()
    audit("move-dialog")
    change.locator("#file-dialog-cancel").click()
    expect(change).to_be_hidden()

    # A new folder, opened: its breadcrumbs (it lasts until a file goes in, so nothing stays behind).
    page.locator("#new-folder").fill(f"a11y-{lang}")  # its form still open from above
    page.locator(".folder-form button[type=submit]").click()
    expect(page.locator(".crumbs [aria-current=location]")).to_have_text(f"a11y-{lang}")
    audit("in-a-new-folder")
    page.locator(".crumbs button").first.click()  # back to the root
    expect(row(page, virus)).to_be_visible()

    # The trash, with what was deleted.
    row(page, virus).locator(".row-actions button").last.click()  # Delete
    expect(row(page, virus)).to_have_count(0)
    go(page, base_url, "trash/me")
    expect(page.locator(".trash-item").first).to_be_visible()
    audit("trash")

    go(page, base_url, "shared")
    audit("shared-with-me")
    # The shares she gave (the demo's draft shared with Bilal), and the question before revoking one (not revoked).
    go(page, base_url, "given")
    expect(page.locator("table.given tbody tr").first).to_be_visible()
    audit("shares-given")
    page.locator("table.given tbody tr button").first.click()
    confirm = page.locator("#confirm-dialog")
    expect(confirm).to_be_visible()
    audit("revoke-confirmation")
    confirm.locator("#confirm-no").click()
    expect(confirm).to_be_hidden()
    go(page, base_url, "news")
    audit("whats-new")
    go(page, base_url, "classes")
    expect(page.locator(".class-card").first).to_be_visible()
    audit("classes")
    go(page, base_url, "class/5B")
    expect(page.locator(".assignment-list a").first).to_be_visible()
    audit("class")
    # An assignment while "My submission" loads (its answer held), then answered.
    held.clear()
    page.route("**/v1/assignments/*/submissions*", lambda route: held.append(route))
    assignment = demo.assignments["redaction"]
    go(page, base_url, f"assignment/5B/{assignment['id']}")
    expect(page.locator(".loading")).to_be_visible()
    audit("assignment-loading", settled=False, keyboard=False)
    for route in held:
        route.continue_()
    page.unroute("**/v1/assignments/*/submissions*")
    expect(page.locator(".late-note")).to_be_attached()
    audit("assignment")
    # A file dragged over the card (the drop target's look).
    page.locator(".uploader").evaluate(
        """(card) => {
            const data = new DataTransfer();
            data.items.add(new File(["x"], "x.txt", {type: "text/plain"}));
            card.dispatchEvent(new DragEvent("dragover", {dataTransfer: data, bubbles: true, cancelable: true}));
        }"""
    )
    expect(page.locator(".uploader.dragging")).to_be_visible()
    audit("assignment-file-dragged-over", keyboard=False)
    page.locator(".uploader").evaluate(
        "(card) => card.dispatchEvent(new DragEvent('dragleave', {bubbles: true, relatedTarget: null}))"
    )
    expect(page.locator(".uploader.dragging")).to_have_count(0)
    upload(page, "vide.txt", b"")
    expect(page.locator(".uploader .error")).not_to_be_empty()
    audit("assignment-upload-refused")
    audit.check()


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_teachers_views_are_accessible(
    browser_page: Page, audit: Audit, base_url: str, demo: DemoSchool, lang: str
) -> None:
    page = browser_page
    sign_in_as(page, base_url, "prof-durand", lang)
    audit("my-files")
    go(page, base_url, "classes")
    expect(page.locator(".class-card").first).to_be_visible()
    audit("classes")
    go(page, base_url, "class/5B")
    expect(page.locator(".assignment-list a").first).to_be_visible()
    page.locator(".new-assignment summary").click()
    expect(page.locator("#new-title")).to_be_visible()
    audit("class-with-the-new-assignment-form")
    # The class folder's material, shared from the dialog (a class to choose).
    material = row(page, "consignes-redaction.txt")
    expect(material).to_have_attribute("data-status", "available")
    material.locator(".row-actions button").nth(1).click()  # Share
    dialog = page.locator("#share-dialog")
    expect(dialog.locator("#share-class")).to_be_visible()
    audit("share-dialog-for-a-class")
    dialog.locator("#share-cancel").click()
    expect(dialog).to_be_hidden()

    assignment = demo.assignments["redaction"]
    go(page, base_url, f"assignment/5B/{assignment['id']}")
    expect(page.locator("table.submissions tbody tr").first).to_be_visible()
    audit("submissions")
    # Editing the assignment: its dialog, then a refusal in words (no title; nothing is sent).
    edit = page.locator(".assignment-actions button").first
    edit.click()
    editing = page.locator("#assignment-edit")
    expect(editing.locator("#edit-title")).to_be_focused()
    audit("assignment-edit-dialog")
    editing.locator("#edit-title").fill("")
    editing.locator("#assignment-edit-submit").click()
    expect(editing.locator("#assignment-edit-error")).not_to_be_empty()
    audit("assignment-edit-refused")
    editing.locator("#assignment-edit-cancel").click()
    expect(editing).to_be_hidden()
    expect(edit).to_be_focused()
    page.locator(".card-head button").click()  # the class's ZIP, as a job
    expect(page.locator(".zip-status button")).to_be_focused(timeout=30_000)
    audit("submissions-zip-ready")
    go(page, base_url, "trash/me")
    audit("trash")
    go(page, base_url, "given")
    audit("shares-given")
    go(page, base_url, "news")
    audit("whats-new")
    audit.check()


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_school_offices_views_are_accessible(
    browser_page: Page, audit: Audit, base_url: str, demo: DemoSchool, lang: str
) -> None:
    page = browser_page
    sign_in_as(page, base_url, "dir-martin", lang)
    audit("my-files")
    go(page, base_url, "admin")
    expect(page.locator("#audit-heading")).to_be_visible()
    audit("office")

    # The roster's preview (not imported: the other tests import it), the year form's refusal (never sent).
    roster = "class_id,class_name,user_id,role\n6C,Sixième C,prof-leroy,teacher\n6C,Sixième C,eleve-emma,principal\n"
    page.locator("#roster-file").set_input_files(
        {"name": "classes.csv", "mimeType": "text/csv", "buffer": roster.encode()}
    )
    expect(page.locator(".roster-preview tbody tr")).to_have_count(2)
    page.locator(".year-form button[type=submit]").click()
    expect(page.locator(".year-form .error")).not_to_be_empty()
    audit("office-roster-preview-and-year-refusal")

    # The audit log filtered, an export ready, the retention's dry run.
    page.locator("#audit-user").fill("eleve-alice")
    page.locator("#audit-user").press("Enter")
    expect(page.locator("#audit-user").locator("xpath=ancestor::section").locator("tbody tr").first).to_be_visible()
    page.locator("#export-user").fill("eleve-bilal")
    page.locator("#export-user").press("Enter")
    export = page.locator("#export-user").locator("xpath=ancestor::section")
    expect(export.locator("button").last).to_be_focused(timeout=30_000)
    retention = page.locator("#retention-date").locator("xpath=ancestor::section")
    retention.locator("button[type=submit]").click()
    expect(retention.locator("form + div p").first).to_be_visible()
    audit("office-audit-export-retention")
    go(page, base_url, "classes")
    expect(page.locator(".class-card").first).to_be_visible()
    audit("classes")
    audit.check()
