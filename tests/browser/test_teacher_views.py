"""A teacher's views of issue 19 left after the first pass: editing an assignment (its due date moved, and the
submissions' late marks following it), and revoking a share of class material given to a pupil.

Each test arranges its own assignment or file (a name of its own), so the demo school's other tests see theirs
unchanged whatever the order."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

from local.demo import MINIMAL_PDF, DemoSchool, stamp
from tests.browser.conftest import Shots, sign_in

pytestmark = pytest.mark.browser

PARIS = ZoneInfo("Europe/Paris")


def local_input(moment: datetime) -> str:
    """A datetime-local input's value for `moment` in Paris (the browser's zone in these tests)."""
    return moment.astimezone(PARIS).strftime("%Y-%m-%dT%H:%M")


def row(page: Page, name: str) -> Any:
    return page.locator("table.files tbody tr", has=page.get_by_role("rowheader", name=name, exact=True))


@pytest.mark.browser_options(timezone_id="Europe/Paris")
def test_a_teacher_moves_a_due_date_and_the_late_marks_follow(
    browser_page: Page, shots: Shots, base_url: str, demo: DemoSchool, as_demo: Any, expected_console: list[str]
) -> None:
    expected_console.append(r"status of 400")  # the type refused, below
    leroy, david = as_demo("prof-leroy"), as_demo("eleve-david")
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    due = now + timedelta(days=3)
    title = f"Exposé : les volcans {uuid.uuid4().hex[:6]}"
    assignment = leroy.call("POST", "/v1/classes/4A/assignments", {"title": title, "dueAt": stamp(due)}, 201)
    grant = david.upload(assignment["space"], "volcans-david.pdf", MINIMAL_PDF, "application/pdf")
    assert david.wait_scanned(grant["uploadId"], timeout=90) == "available"

    page = browser_page
    sign_in(page, base_url, "prof-leroy")
    page.goto(f"{base_url}/#/assignment/4A/{assignment['id']}")
    expect(page.get_by_role("heading", level=1, name=title)).to_be_visible()
    turned_in = page.locator("table.submissions tbody tr[data-student='eleve-david']")
    expect(turned_in.locator(".badge")).to_have_text("On time")
    due_text = page.locator(".facts .due-at")
    before = due_text.inner_text()

    # The form opens on the assignment as it is, its dates in the browser's time zone; the focus starts in it.
    edit = page.get_by_role("button", name="Edit assignment")
    edit.click()
    dialog = page.get_by_role("dialog", name=f"Edit “{title}”")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_label("Title")).to_be_focused()
    expect(dialog.get_by_label("Due")).to_have_value(local_input(due))
    expect(dialog.get_by_label("Submissions close")).to_have_value("")
    shots("edit-assignment")

    # A refusal of the API's in a sentence, on the field it names (nothing changed).
    types = dialog.get_by_label("Accepted types")
    types.fill("pdf")
    dialog.get_by_role("button", name="Save").click()
    expect(dialog.get_by_role("alert")).to_have_text(
        "A type is not accepted: write types such as application/pdf or image/*, 50 at most."
    )
    expect(types).to_have_attribute("aria-invalid", "true")
    expect(types).to_be_focused()
    # Closing before the due date is refused before anything is sent.
    types.fill("application/pdf, image/*")
    dialog.get_by_label("Submissions close").fill(local_input(due - timedelta(days=1)))
    dialog.get_by_role("button", name="Save").click()
    expect(dialog.get_by_role("alert")).to_have_text("Submissions cannot close before the due date.")
    expect(dialog.get_by_label("Submissions close")).to_be_focused()
    shots("edit-assignment-refused")
    assert leroy.call("GET", f"/v1/assignments/{assignment['id']}")["allowedTypes"] is None

    # The due date moved to yesterday, before David turned in: his submission is late now.
    earlier = now - timedelta(days=1)
    dialog.get_by_label("Submissions close").fill("")
    dialog.get_by_label("Due").fill(local_input(earlier))
    dialog.get_by_label("Title").fill(f"{title} (v2)")
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_be_hidden()
    expect(edit).to_be_focused()
    expect(page.locator("#live")).to_have_text(f"Assignment “{title} (v2)” saved.")
    expect(page.get_by_role("heading", level=1, name=f"{title} (v2)")).to_be_visible()
    expect(due_text).not_to_have_text(before)
    expect(turned_in.locator(".badge")).to_have_text("Late")
    expect(page.get_by_text("1 student turned in, 1 late; 1 turned in nothing.")).to_be_visible()
    shots("due-date-moved-earlier")
    saved = leroy.call("GET", f"/v1/assignments/{assignment['id']}")
    assert saved["dueAt"] == stamp(earlier)  # sent as RFC 3339 UTC from Paris time
    assert saved["allowedTypes"] == ["application/pdf", "image/*"] and saved["closesAt"] is None
    assert [s["late"] for s in david.call("GET", f"/v1/assignments/{assignment['id']}/submissions")["items"]] == [True]

    # And back to three days ahead: on time again.
    edit.click()
    dialog = page.get_by_role("dialog", name=f"Edit “{title} (v2)”")
    expect(dialog.get_by_label("Due")).to_have_value(local_input(earlier))
    dialog.get_by_label("Due").fill(local_input(due))
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_be_hidden()
    expect(due_text).to_have_text(before)
    expect(turned_in.locator(".badge")).to_have_text("On time")
    expect(page.get_by_text("1 student turned in, 0 late; 1 turned in nothing.")).to_be_visible()
    shots("due-date-moved-back")
    page.reload()  # the API's, not the page's memory
    expect(page.get_by_role("heading", level=1, name=f"{title} (v2)")).to_be_visible()
    expect(turned_in.locator(".badge")).to_have_text("On time")


def test_a_pupil_sees_no_way_to_edit_an_assignment(browser_page: Page, base_url: str, demo: DemoSchool) -> None:
    page = browser_page
    sign_in(page, base_url, "eleve-chloe")
    page.goto(f"{base_url}/#/assignment/4A/{demo.assignments['tp']['id']}")
    expect(page.get_by_role("heading", level=2, name="My submission")).to_be_visible()
    expect(page.locator(".facts")).to_be_visible()
    expect(page.get_by_role("button", name="Edit assignment")).to_have_count(0)
    expect(page.get_by_role("button", name="Delete assignment")).to_have_count(0)


def test_a_teacher_deletes_an_assignment_after_confirming(
    browser_page: Page, shots: Shots, base_url: str, demo: DemoSchool, as_demo: Any
) -> None:
    durand = as_demo("prof-durand")
    title = f"Dictée {uuid.uuid4().hex[:6]}"
    due = stamp(datetime.now(UTC) + timedelta(days=2))
    assignment = durand.call("POST", "/v1/classes/5B/assignments", {"title": title, "dueAt": due}, 201)

    page = browser_page
    sign_in(page, base_url, "prof-durand")
    page.goto(f"{base_url}/#/assignment/5B/{assignment['id']}")
    remove = page.get_by_role("button", name="Delete assignment")
    remove.click()
    confirm = page.get_by_role("alertdialog", name="Delete this assignment?")
    expect(confirm).to_contain_text(f"“{title}” and all its submissions will go to the trash")
    expect(confirm.get_by_role("button", name="Cancel")).to_be_focused()
    shots("delete-assignment-confirmation")
    confirm.get_by_role("button", name="Cancel").click()
    expect(remove).to_be_focused()
    remove.click()
    confirm.get_by_role("button", name="Delete assignment").click()
    expect(page.locator("#live")).to_have_text(f"Assignment “{title}” deleted.")
    expect(page.get_by_role("heading", level=2, name="Assignments")).to_be_visible()
    expect(page.locator(".assignment-list a").first).to_be_visible()
    expect(page.get_by_role("link", name=title)).to_have_count(0)
    durand.call("GET", f"/v1/assignments/{assignment['id']}", expect=404)


def test_a_teacher_shares_class_material_with_a_pupil_and_revokes_it(
    browser_page: Page, shots: Shots, base_url: str, demo: DemoSchool, as_demo: Any
) -> None:
    durand, david = as_demo("prof-durand"), as_demo("eleve-david")  # David is not in 5B: only the share lets him read
    name = f"vocabulaire-{uuid.uuid4().hex[:6]}.txt"
    grant = durand.upload("class:5B", name, b"Le quartier, la rue, la place.\n", "text/plain")
    assert durand.wait_scanned(grant["uploadId"], timeout=90) == "available"
    file_id = grant["fileId"]

    page = browser_page
    sign_in(page, base_url, "prof-durand")
    page.goto(f"{base_url}/#/class/5B")
    material = row(page, name)
    expect(material).to_have_attribute("data-status", "available")
    page.get_by_role("button", name=f"Share {name}").click()
    dialog = page.locator("#share-dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_label("a person").check()
    dialog.get_by_label("The person’s user id").fill("eleve-david")
    shots("share-with-a-pupil")
    dialog.get_by_role("button", name="Share", exact=True).click()
    expect(dialog).to_be_hidden()
    expect(page.locator("#live")).to_have_text(f"{name} shared with David Nguyen.")
    received = [item["file"]["id"] for item in david.call("GET", "/v1/shares/received")["items"]]
    assert file_id in received
    david.call("GET", f"/v1/files/{file_id}")

    page.get_by_role("navigation", name="Main navigation").get_by_role("link", name="Shares I gave").click()
    expect(page.get_by_role("heading", level=1, name="Shares I gave")).to_be_visible()
    share = page.locator("table.given tbody tr", has_text=name)
    expect(share).to_have_count(1)
    expect(share).to_contain_text("David Nguyen")
    expect(share).to_contain_text("view only")
    shots("shares-given-by-a-teacher")
    share.get_by_role("button", name=f"Revoke the share of {name} with David Nguyen").click()
    page.get_by_role("alertdialog", name="Revoke this share?").get_by_role("button", name="Revoke").click()
    expect(page.locator("#live")).to_have_text(f"{name} is no longer shared with David Nguyen.")
    expect(share).to_have_count(0)
    shots("share-revoked")
    received = [item["file"]["id"] for item in david.call("GET", "/v1/shares/received")["items"]]
    assert file_id not in received
    david.call("GET", f"/v1/files/{file_id}", expect=404)
