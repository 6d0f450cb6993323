"""The web client shows what the API allows (GET /v1/spaces/{space}), each space's use of its quota, the shares one
gave with a way to revoke them, and renames and moves files (PATCH /v1/files/{id})."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import Page, Route, expect

from local.demo import DemoSchool
from tests.browser.conftest import Shots, sign_in

pytestmark = pytest.mark.browser

SPACE_ME = re.compile(r"/v1/spaces/me$")  # the space itself, not its files (`/v1/spaces/me/files?...`)


def row(page: Page, name: str) -> Any:
    return page.locator("table.files tbody tr", has=page.get_by_role("rowheader", name=name, exact=True))


def uploaded(user: Any, space: str, name: str, data: bytes) -> str:
    """A file put in place through the API (not what the test is about); its id once available."""
    grant = user.upload(space, name, data, "text/plain")
    assert user.wait_scanned(grant["uploadId"]) == "available"
    return str(grant["fileId"])


def answer_with(route: Route, change: Any) -> None:
    """The API's own answer, changed by `change(body)` (what a school with other rules would answer)."""
    response = route.fetch()
    body = response.json()
    change(body)
    route.fulfill(response=response, body=json.dumps(body))


def test_actions_and_usage_come_from_the_space_not_from_the_role(
    browser_page: Page, shots: Shots, base_url: str, demo: DemoSchool, as_demo: Any
) -> None:
    page = browser_page
    alice = as_demo("eleve-alice")
    usage = alice.call("GET", "/v1/spaces/me")["usage"]

    # While the space has not answered, no action shows (neither the uploader nor a file's buttons).
    held: list[Route] = []
    page.route(SPACE_ME, lambda route: held.append(route))
    sign_in(page, base_url, "eleve-alice")
    expect(page.locator(".browser .loading")).to_be_visible()
    expect(page.locator(".uploader")).to_have_count(0)
    expect(page.get_by_role("button", name=re.compile("^(Delete|Share|Rename|Move) "))).to_have_count(0)
    shots("space-loading")
    for route in held:
        route.continue_()
    page.unroute(SPACE_ME)

    # Then the pupil's drive: the uploader, each own file's actions, and the room used of the quota.
    expect(page.get_by_label("File to upload")).to_be_visible()
    draft = row(page, "brouillon.txt")
    for action in ("Share", "Rename", "Move", "Delete"):
        expect(draft.get_by_role("button", name=f"{action} brouillon.txt")).to_be_visible()
    meter = page.get_by_label("Space used")
    expect(meter).to_have_attribute("max", str(usage["quota"]))
    assert int(meter.get_attribute("value") or "0") >= usage["bytes"] > 0
    expect(page.locator(".usage")).to_contain_text(re.compile(r"^Space used.* of 2\.1\sGB used$"))
    shots("my-drive-with-its-usage")
    page.get_by_label("Language").select_option("fr")
    expect(page.locator(".usage")).to_contain_text(re.compile(r"utilisés sur 2,1\sGo$"))
    page.get_by_label("Langue").select_option("en")

    # A pupil in the class folder reads and downloads, nothing more: no uploader, no usage, no share or delete.
    page.goto(f"{base_url}/#/class/5B")
    material = row(page, "consignes-redaction.txt")
    expect(material.get_by_role("button", name="Download consignes-redaction.txt")).to_be_visible()
    expect(material.get_by_role("button")).to_have_count(1)
    expect(page.locator(".uploader, .usage, .new-folder")).to_have_count(0)
    shots("class-folder-read-only")

    # In an assignment the pupil's own submission counts against its own quota.
    assignment = demo.assignments["redaction"]
    page.goto(f"{base_url}/#/assignment/5B/{assignment['id']}")
    expect(page.get_by_role("heading", level=1, name=assignment["title"])).to_be_visible()
    expect(page.locator(".uploader .usage")).to_contain_text(re.compile(r" of 1\.1\sGB used$"))

    # The page follows the API, whatever the role: a drive the API says takes no uploads shows no uploader
    # and no file actions but downloads; a space without a quota shows only the bytes used.
    def read_only(body: dict[str, Any]) -> None:
        body["can"] = {"read": True, "upload": False, "delete": False, "share": False}

    page.route(SPACE_ME, lambda route: answer_with(route, read_only))
    page.goto(f"{base_url}/#/me")
    page.reload()
    expect(row(page, "brouillon.txt").get_by_role("button")).to_have_count(1)
    expect(page.locator(".uploader, .usage, .new-folder")).to_have_count(0)
    page.unroute(SPACE_ME)

    def no_quota(body: dict[str, Any]) -> None:
        body["usage"]["quota"] = None

    page.route(SPACE_ME, lambda route: answer_with(route, no_quota))
    page.reload()
    expect(page.locator(".uploader .usage")).to_have_text(re.compile(r"^[\d.]+\s(bytes|kB|MB) used$"))
    expect(page.locator(".usage meter")).to_have_count(0)
    page.unroute(SPACE_ME)
    shots("no-quota")


def test_a_teacher_sees_the_class_folders_usage_and_no_uploader_in_an_assignment(
    browser_page: Page, shots: Shots, base_url: str, demo: DemoSchool
) -> None:
    page = browser_page
    sign_in(page, base_url, "prof-durand")
    page.goto(f"{base_url}/#/class/5B")
    expect(page.get_by_label("File to upload")).to_be_visible()
    expect(page.locator(".uploader .usage")).to_contain_text(re.compile(r" of 21\.5\sGB used$"))
    expect(page.get_by_role("button", name="Share consignes-redaction.txt")).to_be_visible()
    shots("class-folder-for-its-teacher")
    # The assignment: every submission, and no uploader (a teacher turns nothing in).
    assignment = demo.assignments["redaction"]
    page.goto(f"{base_url}/#/assignment/5B/{assignment['id']}")
    expect(page.locator("table.submissions tbody tr").first).to_be_visible()
    expect(page.locator(".uploader")).to_have_count(0)


def test_a_pupil_sees_the_shares_they_gave_and_revokes_one(
    browser_page: Page, shots: Shots, base_url: str, demo: DemoSchool, as_demo: Any
) -> None:
    chloe, david = as_demo("eleve-chloe"), as_demo("eleve-david")
    file_id = uploaded(chloe, "me", "carte-mentale.txt", b"Le cycle de l'eau, en carte mentale.\n")
    until = (datetime.now(UTC) + timedelta(days=10)).replace(microsecond=0)
    chloe.call(
        "POST",
        "/v1/shares",
        {
            "fileId": file_id,
            "with": {"type": "user", "id": "eleve-david"},
            "role": "editor",
            "expiresAt": until.strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
        expect=201,
    )
    chloe.call("POST", "/v1/shares", {"fileId": file_id, "with": {"type": "class", "id": "5B"}, "role": "viewer"}, 201)

    page = browser_page
    sign_in(page, base_url, "eleve-chloe")
    page.get_by_role("navigation", name="Main navigation").get_by_role("link", name="Shares I gave").click()
    expect(page.get_by_role("heading", level=1, name="Shares I gave")).to_be_visible()
    shares = page.locator("table.given tbody tr", has_text="carte-mentale.txt")
    expect(shares).to_have_count(2)
    to_david = shares.filter(has_text="David Nguyen")
    expect(to_david).to_contain_text("can edit")
    expect(to_david).to_contain_text(str(until.year))
    to_class = shares.filter(has_text="class 5e B — Français")
    expect(to_class).to_contain_text("view only")
    expect(to_class).to_contain_text("no end date")
    expect(page.get_by_text(re.compile(r"^\d+ shares? in force\.$"))).to_be_visible()
    shots("shares-given")

    # Revoking asks first; cancelling changes nothing and gives the focus back.
    revoke = to_david.get_by_role("button", name="Revoke the share of carte-mentale.txt with David Nguyen")
    revoke.click()
    dialog = page.get_by_role("alertdialog", name="Revoke this share?")
    expect(dialog).to_contain_text("David Nguyen will no longer be able to open carte-mentale.txt.")
    expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()
    shots("revoke-confirmation")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    expect(revoke).to_be_focused()
    expect(shares).to_have_count(2)

    revoke.click()
    dialog.get_by_role("button", name="Revoke").click()
    expect(page.locator("#live")).to_have_text("carte-mentale.txt is no longer shared with David Nguyen.")
    expect(shares).to_have_count(1)
    expect(shares).to_contain_text("class 5e B — Français")
    shots("revoked")
    received = [item["file"]["id"] for item in david.call("GET", "/v1/shares/received")["items"]]
    assert file_id not in received
    page.reload()  # the list is the API's, not the page's memory
    expect(page.locator("table.given tbody tr", has_text="carte-mentale.txt")).to_have_count(1)


def test_a_pupil_renames_a_file_and_moves_it_into_a_folder(
    browser_page: Page, shots: Shots, base_url: str, demo: DemoSchool, as_demo: Any, expected_console: list[str]
) -> None:
    expected_console.append(r"status of 409")  # the name taken, below
    bilal = as_demo("eleve-bilal")
    file_id = uploaded(bilal, "me", "notes-histoire.txt", b"La Revolution francaise, 1789.\n")
    uploaded(bilal, "me", "resume-histoire.txt", b"Resume du chapitre.\n")

    page = browser_page
    sign_in(page, base_url, "eleve-bilal")
    notes = row(page, "notes-histoire.txt")
    notes.get_by_role("button", name="Rename notes-histoire.txt").click()
    dialog = page.get_by_role("dialog", name="Rename “notes-histoire.txt”")
    name = dialog.get_by_label("New name")
    expect(name).to_be_focused()
    expect(name).to_have_value("notes-histoire.txt")
    selected = page.evaluate("[document.activeElement.selectionStart, document.activeElement.selectionEnd]")
    assert selected == [0, 14], selected  # the name selected, its extension left as it is

    # A name already taken in the folder, then no name: each said in a sentence, the focus kept on the field.
    name.fill("resume-histoire.txt")
    dialog.get_by_role("button", name="Rename", exact=True).click()
    error = dialog.get_by_role("alert")
    expect(error).to_have_text(
        "A file named resume-histoire.txt is already in the root: choose another name or another folder."
    )
    expect(name).to_be_focused()
    shots("name-taken")
    name.fill("  ")
    dialog.get_by_role("button", name="Rename", exact=True).click()
    expect(error).to_have_text("A name cannot be empty, hold “/”, or be “.” or “..”.")

    name.fill("notes-revolution.txt")
    dialog.get_by_role("button", name="Rename", exact=True).click()
    expect(dialog).to_be_hidden()
    expect(page.locator("#live")).to_have_text("notes-histoire.txt is now called notes-revolution.txt.")
    renamed = row(page, "notes-revolution.txt")
    expect(renamed.get_by_role("button", name="Rename notes-revolution.txt")).to_be_focused()
    expect(row(page, "notes-histoire.txt")).to_have_count(0)
    shots("renamed")

    # Moved into a folder that did not exist: it leaves this one, the folder appears, and holds it.
    renamed.get_by_role("button", name="Move notes-revolution.txt").click()
    dialog = page.get_by_role("dialog", name="Move “notes-revolution.txt”")
    folder = dialog.get_by_label("Destination folder")
    expect(folder).to_be_focused()
    expect(folder).to_have_value("/")
    folder.fill("Histoire")
    shots("move-dialog")
    dialog.get_by_role("button", name="Move", exact=True).click()
    expect(dialog).to_be_hidden()
    expect(page.locator("#live")).to_have_text("notes-revolution.txt was moved to /Histoire.")
    expect(row(page, "notes-revolution.txt")).to_have_count(0)
    page.get_by_role("button", name="📁 Histoire").click()
    expect(row(page, "notes-revolution.txt")).to_have_attribute("data-status", "available")
    shots("moved")
    moved = bilal.call("GET", f"/v1/files/{file_id}")
    assert (moved["name"], moved["path"]) == ("notes-revolution.txt", "/Histoire/"), moved
    # A submission is renamed in place (it stays at the assignment's root: no Move there).
    assignment = demo.assignments["redaction"]
    uploaded(bilal, assignment["space"], "plan-bilal.txt", b"Plan : le matin, le soir.\n")
    page.goto(f"{base_url}/#/assignment/5B/{assignment['id']}")
    plan = row(page, "plan-bilal.txt")
    expect(plan.get_by_role("button", name="Rename plan-bilal.txt")).to_be_visible()
    expect(plan.get_by_role("button", name="Move plan-bilal.txt")).to_have_count(0)
    plan.get_by_role("button", name="Rename plan-bilal.txt").click()
    dialog = page.get_by_role("dialog", name="Rename “plan-bilal.txt”")
    dialog.get_by_label("New name").fill("plan-redaction-bilal.txt")
    dialog.get_by_role("button", name="Rename", exact=True).click()
    expect(row(page, "plan-redaction-bilal.txt")).to_have_attribute("data-status", "available")
    expect(row(page, "plan-bilal.txt")).to_have_count(0)
    shots("submission-renamed")
