"""The web client in a real browser: a student turns in homework, a teacher collects it, EICAR is caught."""

from __future__ import annotations

import io
import json
import re
import struct
import zipfile
import zlib
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import jwt
import pytest
from playwright.sync_api import Page, expect

from local.clamav import EICAR
from local.demo import MINIMAL_PDF, DemoSchool
from tests.browser.conftest import MIB, TABLET_PORTRAIT, Shots, provider_login, sign_in

pytestmark = pytest.mark.browser


def homework_pdf(size: int) -> bytes:
    """A real PDF header padded with a comment to `size` bytes, so the upload takes a few progress events."""
    head = b"%PDF-1.4\n%"
    tail = b"\n" + MINIMAL_PDF.removeprefix(b"%PDF-1.4\n")
    return head + b"x" * (size - len(head) - len(tail)) + tail


def open_assignment(page: Page, class_name: str, title: str, shots: Shots | None = None) -> None:
    page.get_by_role("navigation", name="Main navigation").get_by_role("link", name="Classes").click()
    klass = page.get_by_role("link", name=re.compile(re.escape(class_name)))
    if shots:
        expect(klass).to_be_visible()
        shots("classes")
    klass.click()
    if shots:
        expect(page.get_by_role("link", name=title)).to_be_visible()
        expect(page.locator("table.files, .browser .empty").first).to_be_visible()
        shots("class")
    page.get_by_role("link", name=title).click()
    expect(page.get_by_role("heading", level=1, name=title)).to_be_visible()


def watch_progress(page: Page) -> None:
    """Record every value the page's progress bars take, to check they only grow and end at 100."""
    page.evaluate(
        """() => {
            window.progressSeen = [];
            new MutationObserver((changes) => {
                for (const change of changes) window.progressSeen.push(Number(change.target.getAttribute("value")));
            }).observe(document.body, {subtree: true, attributes: true, attributeFilter: ["value"]});
        }"""
    )


def row(page: Page, name: str) -> Any:
    return page.locator("table.files tbody tr", has=page.get_by_role("rowheader", name=name, exact=True))


def test_a_student_turns_in_homework_and_sees_it_become_available(
    browser_page: Page, shots: Shots, base_url: str, demo: DemoSchool
) -> None:
    page = browser_page
    page.goto(f"{base_url}/")
    expect(page.get_by_role("heading", level=1, name="Sign in")).to_be_visible()
    shots("sign-in")

    # The school's identity provider: its own login form, a wrong password first.
    page.get_by_role("button", name="Sign in with the school account").click()
    expect(page.get_by_role("heading", level=1, name="Sign in to the demo school")).to_be_visible()
    shots("provider-login")
    provider_login(page, "eleve-alice", "not-the-password")
    expect(page.get_by_role("alert")).to_have_text("Wrong user name or password.")
    provider_login(page, "eleve-alice")
    expect(page.get_by_role("heading", level=1, name="My files")).to_be_visible()
    expect(page.locator("#who")).to_have_text("Alice Moreau · student")
    expect(page.get_by_role("link", name="School office")).to_be_hidden()  # the office's link is the office's
    assert "code=" not in page.url and "state=" not in page.url
    expect(row(page, "brouillon.txt")).to_contain_text("Available")
    shots("my-files")

    assignment = demo.assignments["redaction"]
    open_assignment(page, "5e B", assignment["title"], shots)
    shots("assignment")

    watch_progress(page)
    data = homework_pdf(3 * 1024 * 1024 // 2)
    page.get_by_label("File to upload").set_input_files(
        {"name": "homework-alice.pdf", "mimeType": "application/pdf", "buffer": data}
    )
    page.get_by_role("button", name="Upload", exact=True).click()
    progress = page.get_by_label("Sending homework-alice.pdf")
    expect(progress).to_have_attribute("value", "100")
    seen = page.evaluate("window.progressSeen")
    assert seen and seen[-1] == 100 and seen == sorted(seen), seen
    expect(page.locator(".uploader .percent")).to_have_text(re.compile(r"^100\s?%$"))
    shots("progress-100")

    submitted = row(page, "homework-alice.pdf")
    expect(submitted).to_have_attribute("data-status", "available", timeout=20_000)
    expect(submitted.locator(".status")).to_have_text("Available")
    expect(page.locator("#live")).to_have_text("homework-alice.pdf is available.")
    expect(page.locator(".late-note")).to_contain_text("On time")
    expect(submitted.get_by_role("button", name="Download homework-alice.pdf")).to_be_enabled()
    shots("available")


@pytest.mark.browser_options(viewport=TABLET_PORTRAIT)
def test_a_teacher_sees_the_submission_and_downloads_it(
    browser_page: Page, shots: Shots, base_url: str, demo: DemoSchool, as_demo: Any, tmp_path: Path
) -> None:
    assignment = demo.assignments["redaction"]
    chloe = as_demo("eleve-chloe")
    content = homework_pdf(40_000)
    grant = chloe.upload(assignment["space"], "expose-chloe.pdf", content, "application/pdf")
    assert chloe.wait_scanned(grant["uploadId"]) == "available"

    page = browser_page
    sign_in(page, base_url, "prof-durand")
    open_assignment(page, "5e B", assignment["title"])
    submission = page.locator("table.submissions tbody tr[data-student='eleve-chloe']")
    expect(submission).to_contain_text("Chloé Petit")
    expect(submission).to_contain_text("expose-chloe.pdf")
    expect(submission.locator(".badge")).to_have_text("On time")
    expect(page.locator("table.submissions tbody tr[data-student='eleve-bilal']")).to_contain_text(
        "redaction-bilal.txt"
    )
    shots("submissions")

    with page.expect_download() as download:
        submission.get_by_role("button", name="Download expose-chloe.pdf").click()
    assert download.value.suggested_filename == "expose-chloe.pdf"
    saved = tmp_path / "expose-chloe.pdf"
    download.value.save_as(saved)
    assert saved.read_bytes() == content
    expect(page.locator("#live")).to_have_text("expose-chloe.pdf downloaded.")
    shots("downloaded")

    # The ZIP is a job: prepared off the request, then a download link.
    page.get_by_role("button", name="Download all (ZIP)").click()
    ready = page.get_by_role("button", name="Download the archive")
    expect(ready).to_be_focused(timeout=30_000)
    expect(page.locator(".zip-status")).to_contain_text("available until")
    shots("archive-ready")
    with page.expect_download() as archive:
        ready.click()
    zipped = tmp_path / "all.zip"
    archive.value.save_as(zipped)
    with zipfile.ZipFile(io.BytesIO(zipped.read_bytes())) as bundle:
        names = bundle.namelist()
        assert any(name.endswith("eleve-chloe - expose-chloe.pdf") for name in names), names
        assert any(name.endswith("eleve-bilal - redaction-bilal.txt") for name in names), names
    shots("archive-downloaded")

    # What's new: the teacher sees the submission without opening every assignment.
    page.get_by_role("navigation", name="Main navigation").get_by_role("link", name="What’s new").click()
    expect(page.get_by_role("heading", level=1, name="What’s new")).to_be_visible()
    expect(page.locator(".news-item", has_text="Chloé Petit turned in expose-chloe.pdf.")).to_be_visible()
    shots("whats-new")


def test_late_submissions_are_flagged_for_the_teacher(
    browser_page: Page, shots: Shots, base_url: str, demo: DemoSchool
) -> None:
    page = browser_page
    sign_in(page, base_url, "prof-leroy")
    open_assignment(page, "4e A", demo.assignments["tp"]["title"])
    late = page.locator("table.submissions tbody tr[data-student='eleve-david']")
    expect(late).to_contain_text("tp-david.pdf")
    expect(late.locator(".badge")).to_have_text("Late")
    expect(page.get_by_text("1 student turned in, 1 late; 1 turned in nothing.")).to_be_visible()
    missing = page.locator("table.submissions tbody tr[data-student='eleve-chloe']")
    expect(missing.locator(".badge")).to_have_text("Nothing turned in")
    shots("late-flag")
    # Counts in words, by each language's plural rules (no "(s)").
    page.get_by_label("Language").select_option("fr")
    expect(page.get_by_text("1 élève a rendu, dont 1 en retard ; 1 n’a rien rendu.")).to_be_visible()


def test_a_large_file_goes_in_parts_with_progress_and_becomes_available(
    browser_page: Page, shots: Shots, base_url: str, demo: DemoSchool
) -> None:
    page = browser_page
    sign_in(page, base_url, "eleve-david")
    line = b"Le cycle de l eau : evaporation puis condensation puis precipitations.\n"
    data = (line * (11 * MIB // len(line) + 1))[: 11 * MIB]  # three parts on this stack
    watch_progress(page)
    page.get_by_label("File to upload").set_input_files(
        {"name": "expose-video.txt", "mimeType": "text/plain", "buffer": data}
    )
    page.get_by_role("button", name="Upload", exact=True).click()
    expect(page.get_by_label("Sending expose-video.txt")).to_have_attribute("value", "100", timeout=30_000)
    seen = page.evaluate("window.progressSeen")
    assert seen and seen[-1] == 100 and seen == sorted(seen), seen
    uploaded = row(page, "expose-video.txt")
    expect(uploaded).to_have_attribute("data-status", "available", timeout=30_000)
    shots("multipart-available")


def test_an_eicar_upload_shows_as_infected(browser_page: Page, shots: Shots, base_url: str, demo: DemoSchool) -> None:
    page = browser_page
    sign_in(page, base_url, "eleve-david")
    shots("signed-in")
    page.get_by_label("File to upload").set_input_files(
        {"name": "virus-test.txt", "mimeType": "text/plain", "buffer": EICAR}
    )
    page.get_by_role("button", name="Upload", exact=True).click()
    infected = row(page, "virus-test.txt")
    expect(infected).to_have_attribute("data-status", "infected", timeout=20_000)
    expect(infected.locator(".status")).to_have_text("Infected")
    expect(infected.locator(".reason")).to_contain_text("Cartable.Test.EICAR")
    expect(infected.get_by_role("button", name="Download virus-test.txt")).to_be_disabled()
    expect(page.locator("#live")).to_have_text("virus-test.txt is infected and was quarantined.")
    shots("infected")


@pytest.mark.browser_options(locale="fr-FR")
def test_french_by_default_english_on_demand_and_keyboard_only(
    browser_page: Page, shots: Shots, base_url: str, demo: DemoSchool
) -> None:
    page = browser_page
    page.goto(f"{base_url}/")
    expect(page.get_by_role("heading", level=1, name="Connexion")).to_be_visible()
    assert page.evaluate("document.documentElement.lang") == "fr"
    shots("french")

    # Keyboard only: the skip link comes first, then every control is reachable and shows its focus.
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Aller au contenu")).to_be_focused()
    page.get_by_label("Langue").select_option("en")
    expect(page.get_by_role("heading", level=1, name="Sign in")).to_be_visible()
    assert page.evaluate("document.documentElement.lang") == "en"
    button = page.get_by_role("button", name="Sign in with the school account")
    button.focus()
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid", outline
    shots("focus-visible")
    page.keyboard.press("Enter")
    # The provider speaks the page's language (ui_locales); its form is keyboard-only too.
    expect(page.get_by_role("heading", level=1, name="Sign in to the demo school")).to_be_visible()
    expect(page.get_by_label("User name")).to_be_focused()
    page.keyboard.type("eleve-bilal")
    page.keyboard.press("Tab")
    page.keyboard.type("cartable")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1, name="My files")).to_be_visible()
    expect(page.locator("#main")).to_be_focused()
    page.get_by_role("link", name="Shared with me").click()
    # Other tests of this package share with Bilal too: the demo's share is found among them.
    shared = page.locator(".shared-item", has_text="brouillon.txt")
    expect(shared).to_contain_text("shared by Alice Moreau")
    shots("shared-with-me")


def test_a_student_shares_a_file_with_a_classmate(
    browser_page: Page, shots: Shots, base_url: str, demo: DemoSchool, as_demo: Any
) -> None:
    page = browser_page
    sign_in(page, base_url, "eleve-chloe")
    page.get_by_label("File to upload").set_input_files(
        {"name": "fiche-lecture.txt", "mimeType": "text/plain", "buffer": b"Le Petit Prince, chapitre 1.\n"}
    )
    page.get_by_role("button", name="Upload", exact=True).click()
    expect(row(page, "fiche-lecture.txt")).to_have_attribute("data-status", "available", timeout=20_000)
    page.get_by_role("button", name="Share fiche-lecture.txt").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_label("a person").check()
    dialog.get_by_label("The person’s user id").fill("eleve-david")
    shots("share-dialog")
    dialog.get_by_role("button", name="Share", exact=True).click()
    expect(dialog).to_be_hidden()
    expect(page.locator("#live")).to_have_text("fiche-lecture.txt shared with David Nguyen.")
    expect(page.get_by_role("button", name="Share fiche-lecture.txt")).to_be_focused()
    shots("shared")

    received = as_demo("eleve-david").call("GET", "/v1/shares/received")["items"]
    assert "fiche-lecture.txt" in [item["file"]["name"] for item in received]


def test_sign_in_is_the_code_flow_with_pkce_refreshed_and_ended_at_the_provider(
    browser_page: Page, shots: Shots, base_url: str, demo: DemoSchool, as_demo: Any, expected_console: list[str]
) -> None:
    page = browser_page
    expected_console.append(r"status of 401")  # the broken access token below, before its renewal
    # No implicit flow: a token in the fragment is never taken, and there is no token to paste.
    page.goto(f"{base_url}/#access_token={as_demo('prof-leroy').token}")
    expect(page.get_by_role("button", name="Sign in with the school account")).to_be_visible()
    expect(page.get_by_label("Access token (JWT)")).to_have_count(0)
    expect(page.locator("#who")).to_be_hidden()

    # The authorization request: code, PKCE S256, state and nonce.
    with page.expect_request(re.compile(r"/auth\?")) as authorization:
        page.get_by_role("button", name="Sign in with the school account").click()
    query = dict(parse_qsl(urlsplit(authorization.value.url).query))
    assert query["response_type"] == "code" and query["code_challenge_method"] == "S256", query
    assert len(query["code_challenge"]) == 43 and query["state"] and query["nonce"], query
    provider_login(page, "prof-leroy")
    expect(page.locator("#who")).to_have_text("Marc Leroy · teacher")
    session = json.loads(page.evaluate("sessionStorage.getItem('cartable.session')"))
    header = jwt.get_unverified_header(session["accessToken"])
    claims = jwt.decode(session["accessToken"], options={"verify_signature": False})
    assert header["alg"] == "RS256" and claims["iss"].startswith("http://127.0.0.1:"), (header, claims)
    assert claims["sub"] == "prof-leroy" and claims["role"] == "teacher" and claims["school"] == "demo"
    assert session["refreshToken"]
    shots("signed-in-through-the-provider")

    # An access token the API refuses: the page renews it with the (rotated) refresh token, once.
    page.evaluate(
        """() => {
            const session = JSON.parse(sessionStorage.getItem('cartable.session'));
            session.accessToken = 'e30.e30.broken';
            sessionStorage.setItem('cartable.session', JSON.stringify(session));
            history.replaceState(null, '', '/#/classes');
        }"""
    )
    page.reload()
    expect(page.get_by_role("link", name=re.compile("4e A"))).to_be_visible()
    renewed = json.loads(page.evaluate("sessionStorage.getItem('cartable.session')"))
    assert renewed["accessToken"] != "e30.e30.broken"
    assert renewed["refreshToken"] != session["refreshToken"]
    shots("renewed")

    # Signing out ends the provider's session too, then comes back to the page.
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", level=1, name="Sign out of the demo school?")).to_be_visible()
    shots("provider-logout")
    page.get_by_role("button", name="Yes, sign me out").click()
    expect(page.get_by_role("heading", level=1, name="Sign in")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('cartable.session')") is None
    page.get_by_role("button", name="Sign in with the school account").click()
    expect(page.get_by_label("User name")).to_be_visible()  # no session left at the provider
    shots("signed-out")

    # A callback the page did not ask for is refused.
    page.goto(f"{base_url}/?code=forged&state=forged")
    expect(page.locator(".notice")).to_have_text(
        "This sign-in answer matches no request of this page: please try again."
    )
    assert "code=" not in page.url


def test_a_refused_file_says_why_in_words_leaves_no_progress_bar_and_can_be_tried_again(
    browser_page: Page, shots: Shots, base_url: str, demo: DemoSchool, expected_console: list[str]
) -> None:
    page = browser_page
    expected_console.append(r"status of 413")  # the grant refused for the assignment's size, below
    sign_in(page, base_url, "eleve-alice")
    # While "My submission" loads it says so, never "no files" before the answer.
    held: list[Any] = []
    page.route("**/v1/assignments/*/submissions*", lambda route: held.append(route))
    open_assignment(page, "5e B", demo.assignments["redaction"]["title"])
    mine = page.locator("section", has=page.get_by_role("heading", name="My submission"))
    expect(mine.locator(".loading")).to_have_text("Loading…")
    expect(mine.get_by_text("No files here yet.")).to_be_hidden()
    shots("submission-loading")
    for route in held:
        route.continue_()
    page.unroute("**/v1/assignments/*/submissions*")
    expect(mine.locator(".loading")).to_have_count(0)
    expect(mine.locator("table.files:visible, p.empty:visible")).to_have_count(1)  # the answer, whichever it is

    uploader = page.locator(".uploader")
    picker = page.get_by_label("File to upload")
    # An empty file: said in words before anything is sent.
    picker.set_input_files({"name": "vide.txt", "mimeType": "text/plain", "buffer": b""})
    page.get_by_role("button", name="Upload", exact=True).click()
    expect(uploader.locator(".error")).to_have_text("vide.txt is empty (0 bytes): choose it again, or another file.")
    expect(uploader.locator(".progress")).to_be_hidden()

    # Too large for the assignment (5 MB): the refusal names both sizes, and no 0 % bar stays above it.
    picker.set_input_files({"name": "scan.pdf", "mimeType": "application/pdf", "buffer": homework_pdf(5_200_000)})
    page.get_by_role("button", name="Upload", exact=True).click()
    expect(uploader.locator(".error")).to_have_text("scan.pdf is 5.2 MB; this assignment takes files of 5 MB at most.")
    expect(uploader.locator(".progress")).to_be_hidden()
    shots("too-large")

    # A web page named .pdf: refused after the scan, with the reason as a sentence, never a code.
    page_as_pdf = b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>\n"
    picker.set_input_files({"name": "devoir.pdf", "mimeType": "application/pdf", "buffer": page_as_pdf})
    page.get_by_role("button", name="Upload", exact=True).click()
    refused = row(page, "devoir.pdf")
    expect(refused).to_have_attribute("data-status", "rejected", timeout=20_000)
    reason = refused.locator(".reason")
    expect(reason).to_have_text(re.compile(r"^(its content is not what its type says|it holds a script)"))
    expect(uploader.locator(".verdict .reason")).to_have_text(re.compile(r"^it"))
    assert "_" not in reason.inner_text()
    shots("rejected-in-words")

    # And a way to try again: the picker, emptied and focused.
    expect(uploader.locator(".retry")).to_have_text("Choose another file")
    uploader.get_by_role("button", name="Choose another file").click()
    expect(picker).to_be_focused()
    expect(uploader.locator(".verdict")).to_be_empty()
    assert picker.evaluate("input => input.files.length") == 0


def test_a_pupil_deletes_a_wrong_file_finds_it_in_the_trash_and_restores_it(
    browser_page: Page, shots: Shots, base_url: str, demo: DemoSchool
) -> None:
    page = browser_page
    sign_in(page, base_url, "eleve-bilal")
    page.get_by_label("File to upload").set_input_files(
        {"name": "mauvais-fichier.txt", "mimeType": "text/plain", "buffer": b"Pas le bon devoir.\n"}
    )
    page.get_by_role("button", name="Upload", exact=True).click()
    expect(row(page, "mauvais-fichier.txt")).to_have_attribute("data-status", "available", timeout=20_000)

    page.get_by_role("button", name="Delete mauvais-fichier.txt").click()
    expect(row(page, "mauvais-fichier.txt")).to_have_count(0)
    expect(page.locator("#live")).to_have_text("mauvais-fichier.txt was moved to the trash.")
    shots("deleted")

    page.get_by_role("link", name="Open the trash").click()
    expect(page.get_by_role("heading", level=1, name="Trash")).to_be_visible()
    trashed = page.locator(".trash-item", has_text="mauvais-fichier.txt")
    expect(trashed).to_contain_text("gone for good")
    shots("trash")
    trashed.get_by_role("button", name="Restore mauvais-fichier.txt").click()
    expect(page.locator("#live")).to_have_text("mauvais-fichier.txt is back.")
    expect(page.locator(".trash-item", has_text="mauvais-fichier.txt")).to_have_count(0)

    page.get_by_role("link", name="Back to my files").click()
    expect(row(page, "mauvais-fichier.txt")).to_have_attribute("data-status", "available")
    shots("restored")


def test_a_pupil_makes_a_folder_puts_a_file_in_it_and_finds_it_again(
    browser_page: Page, shots: Shots, base_url: str, demo: DemoSchool
) -> None:
    page = browser_page
    sign_in(page, base_url, "eleve-chloe")
    page.get_by_text("New folder").click()
    page.get_by_label("Folder name").fill("a/b")
    page.get_by_role("button", name="Create", exact=True).click()
    expect(page.get_by_text("A folder name cannot be empty or hold “/”.")).to_be_visible()
    page.get_by_label("Folder name").fill("Maths")
    page.get_by_role("button", name="Create", exact=True).click()
    crumbs = page.get_by_role("navigation", name="Folders")
    expect(crumbs.get_by_role("button", name="Maths")).to_have_attribute("aria-current", "location")
    page.get_by_label("File to upload").set_input_files(
        {"name": "exercices.txt", "mimeType": "text/plain", "buffer": b"Exercice 1 : 3 x 4 = 12\n"}
    )
    page.get_by_role("button", name="Upload", exact=True).click()
    expect(row(page, "exercices.txt")).to_have_attribute("data-status", "available", timeout=20_000)
    shots("in-the-folder")

    crumbs.get_by_role("button", name="Root").click()
    expect(row(page, "exercices.txt")).to_have_count(0)
    page.get_by_role("button", name="📁 Maths").click()
    expect(row(page, "exercices.txt")).to_be_visible()
    expect(crumbs).to_contain_text("Root / Maths")
    shots("found-again")


def photo_png(width: int = 64, height: int = 48) -> bytes:
    """A real PNG (a grey page), as a tablet's camera would hand over a photo of paper homework."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + bytes([200, 200, 200]) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def test_a_pupil_turns_in_a_photo_from_the_camera_and_drops_a_file(
    browser_page: Page, shots: Shots, base_url: str, demo: DemoSchool
) -> None:
    page = browser_page
    sign_in(page, base_url, "eleve-chloe")
    open_assignment(page, "5e B", demo.assignments["redaction"]["title"])
    camera = page.get_by_label("Take a photo (the tablet’s camera)")
    expect(camera).to_have_attribute("accept", "image/*")
    expect(camera).to_have_attribute("capture", "environment")
    # Taking the photo sends it: no second step on a tablet.
    camera.set_input_files({"name": "photo-devoir.png", "mimeType": "image/png", "buffer": photo_png()})
    photo = row(page, "photo-devoir.png")
    expect(photo).to_have_attribute("data-status", "available", timeout=20_000)
    shots("photo-turned-in")

    # A file dragged from the desktop and dropped on the card goes up the same way.
    page.locator(".uploader").evaluate(
        """(card) => {
            const data = new DataTransfer();
            data.items.add(new File(["Brouillon depose.\\n"], "depose.txt", {type: "text/plain"}));
            card.dispatchEvent(new DragEvent("dragover", {dataTransfer: data, bubbles: true, cancelable: true}));
            card.dispatchEvent(new DragEvent("drop", {dataTransfer: data, bubbles: true, cancelable: true}));
        }"""
    )
    expect(row(page, "depose.txt")).to_have_attribute("data-status", "available", timeout=20_000)
    shots("dropped")


def test_a_new_version_keeps_the_earlier_one_downloadable(
    browser_page: Page, shots: Shots, base_url: str, demo: DemoSchool, tmp_path: Path
) -> None:
    page = browser_page
    sign_in(page, base_url, "eleve-david")
    picker = page.get_by_label("File to upload")
    first, second = b"Plan : introduction, partie 1.\n", b"Plan : introduction, parties 1 et 2, conclusion.\n"
    picker.set_input_files({"name": "plan.txt", "mimeType": "text/plain", "buffer": first})
    page.get_by_role("button", name="Upload", exact=True).click()
    expect(row(page, "plan.txt")).to_have_attribute("data-status", "available", timeout=20_000)
    expect(row(page, "plan.txt").locator(".versions-of")).to_have_count(0)

    picker.set_input_files({"name": "plan.txt", "mimeType": "text/plain", "buffer": second})
    page.get_by_role("button", name="Upload", exact=True).click()
    versions = row(page, "plan.txt").locator(".versions-of")
    expect(versions).to_contain_text("Versions (2)", timeout=20_000)
    expect(row(page, "plan.txt")).to_have_attribute("data-status", "available")
    versions.get_by_label("Versions of plan.txt").click()
    expect(versions.locator("li")).to_have_count(2)
    expect(versions.locator("li").first).to_contain_text("Version 2 (current)")
    shots("versions")

    with page.expect_download() as download:
        versions.get_by_role("button", name="Download version 1 of plan.txt").click()
    saved = tmp_path / "plan-v1.txt"
    download.value.save_as(saved)
    assert saved.read_bytes() == first


def test_a_teacher_returns_feedback_that_only_its_pupil_receives(
    browser_page: Page, shots: Shots, base_url: str, demo: DemoSchool, tmp_path: Path
) -> None:
    page = browser_page
    assignment = demo.assignments["redaction"]
    sign_in(page, base_url, "prof-durand")
    open_assignment(page, "5e B", assignment["title"])
    bilal = page.locator("table.submissions tbody tr[data-student='eleve-bilal']")
    correction = b"Bien construit ; attention aux accords.\n"
    bilal.get_by_label("Feedback file for Bilal Haddad").set_input_files(
        {"name": "corrige-bilal.txt", "mimeType": "text/plain", "buffer": correction}
    )
    bilal.get_by_role("button", name="Return feedback to Bilal Haddad").click()
    expect(page.locator("#live")).to_have_text("corrige-bilal.txt returned to Bilal Haddad.", timeout=20_000)
    expect(bilal.locator(".feedback-files")).to_contain_text("corrige-bilal.txt")
    shots("feedback-returned")

    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("button", name="Yes, sign me out").click()
    sign_in(page, base_url, "eleve-bilal")
    open_assignment(page, "5e B", assignment["title"])
    received = page.locator(".feedback")
    expect(received.get_by_role("heading", name="Feedback from your teacher")).to_be_visible()
    with page.expect_download() as download:
        received.get_by_role("button", name="Download corrige-bilal.txt").click()
    saved = tmp_path / "corrige.txt"
    download.value.save_as(saved)
    assert saved.read_bytes() == correction
    shots("feedback-received")


def test_the_school_office_imports_the_roster_and_sees_each_refused_line(
    browser_page: Page, shots: Shots, base_url: str, demo: DemoSchool, tmp_path: Path
) -> None:
    page = browser_page
    sign_in(page, base_url, "dir-martin")
    nav = page.get_by_role("navigation", name="Main navigation")
    nav.get_by_role("link", name="School office").click()
    expect(page.get_by_role("heading", level=1, name="School office")).to_be_visible()
    roster = (
        "class_id,class_name,user_id,role\n"
        "6C,Sixième C,prof-leroy,teacher\n"
        "6C,Sixième C,eleve-david,student\n"
        "6C,Sixième C,eleve-emma,principal\n"
    )
    page.get_by_label("Classes CSV file").set_input_files(
        {"name": "classes.csv", "mimeType": "text/csv", "buffer": roster.encode()}
    )
    expect(page.locator(".roster-preview")).to_contain_text("3 lines to import.")
    expect(page.locator(".roster-preview tbody tr")).to_have_count(3)
    shots("roster-preview")
    page.get_by_role("button", name="Import", exact=True).click()
    result = page.locator(".roster-result")
    expect(result).to_contain_text("Import done: 1 class and 2 members.")
    refused = result.locator("tr[data-line]")
    expect(refused).to_have_count(1)
    expect(refused).to_have_attribute("data-line", "4")
    expect(result.get_by_role("table")).to_contain_text("1 line refused")
    shots("roster-imported")

    # The audit log, filtered by person.
    audit = page.get_by_role("region", name="Audit log")
    expect(audit.locator("tbody tr").first).to_be_visible()
    audit.get_by_label("Person (user id, optional)").fill("eleve-alice")
    audit.get_by_role("button", name="Show", exact=True).click()
    expect(audit.locator("tbody tr").first).to_be_visible()
    whos = audit.locator("tbody tr td:nth-child(2)").all_inner_texts()
    assert whos and set(whos) == {"Alice Moreau"}, whos
    shots("audit")

    # One person's files, exported as a job (the right of access).
    export = page.get_by_role("region", name="Export a person’s files")
    export.get_by_label("The person’s user id").fill("eleve-alice")
    export.get_by_role("button", name="Prepare the export").click()
    ready = export.get_by_role("button", name="Download Alice Moreau’s export")
    expect(ready).to_be_focused(timeout=30_000)
    with page.expect_download() as download:
        ready.click()
    saved = tmp_path / "alice.zip"
    download.value.save_as(saved)
    with zipfile.ZipFile(saved) as bundle:
        assert any(name.endswith("brouillon.txt") for name in bundle.namelist()), bundle.namelist()

    # The retention's dry run says what it would remove, or that there is no retention.
    retention = page.get_by_role("region", name="Retention (dry run)")
    retention.get_by_role("button", name="Run").click()
    expect(retention).to_contain_text(re.compile(r"no retention period|would be removed"))
    expect(retention).not_to_contain_text("null")
    shots("export-and-retention")


def test_keyboard_only_a_pupil_turns_in_and_downloads(
    browser_page: Page, shots: Shots, base_url: str, demo: DemoSchool, tmp_path: Path
) -> None:
    page = browser_page
    sign_in(page, base_url, "eleve-david")
    assignment = demo.assignments["tp"]
    page.goto(f"{base_url}/#/assignment/4A/{assignment['id']}")
    expect(page.get_by_role("heading", level=1, name=assignment["title"])).to_be_visible()
    content = homework_pdf(20_000)
    # Tab to the picker, open it with the keyboard, then Tab to "Upload" and press Enter.
    picker = page.get_by_label("File to upload")
    for _ in range(40):
        if picker.evaluate("input => input === document.activeElement"):
            break
        page.keyboard.press("Tab")
    expect(picker).to_be_focused()
    with page.expect_file_chooser(timeout=60_000) as chooser:  # a loaded machine is slow to open it
        page.keyboard.press("Space")
    chooser.value.set_files({"name": "tp-clavier.pdf", "mimeType": "application/pdf", "buffer": content})
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Upload", exact=True)).to_be_focused()
    page.keyboard.press("Enter")
    turned_in = row(page, "tp-clavier.pdf")
    expect(turned_in).to_have_attribute("data-status", "available", timeout=20_000)
    shots("turned-in-by-keyboard")

    download = turned_in.get_by_role("button", name="Download tp-clavier.pdf")
    download.focus()
    with page.expect_download() as saved:
        page.keyboard.press("Enter")
    path = tmp_path / "tp.pdf"
    saved.value.save_as(path)
    assert path.read_bytes() == content


def test_the_school_office_closes_the_year_and_sees_its_counts(
    browser_page: Page, shots: Shots, base_url: str, demo: DemoSchool
) -> None:
    """Run last (conftest.py): once the year is closed every class of the demo school is read-only."""
    page = browser_page
    sign_in(page, base_url, "dir-martin")
    page.get_by_role("link", name="School office").click()
    page.get_by_role("button", name="Close the year").click()
    expect(page.locator(".year-form .error")).to_have_text("Give the year and tick the confirmation.")
    page.get_by_label("Year (for example 2025-2026)").fill("2025-2026")
    page.get_by_label("I understand: this year’s classes can no longer be changed.").check()
    shots("year-close")
    page.get_by_role("button", name="Close the year").click()
    expect(page.locator(".year-result")).to_contain_text(
        re.compile(r"Year 2025-2026 closed: \d+ class(es)?, \d+ assignments?, \d+ shares? ended\."), timeout=30_000
    )
    shots("year-closed")
