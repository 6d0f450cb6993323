"""The PDF inspector as a table: documents that run code (however they spell or hide it) → refused;
documents that only mention code, or turn to a page when opened → nothing found. Each case is fed whole
and cut at every byte, so a token split between two chunks is still found."""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import replace

import pytest

from chalicelib.domain.content import (
    Expected,
    Observed,
    ScanOutcome,
    ScanResult,
    judge,
    load_content_policy,
)
from chalicelib.domain.findings import Finding
from chalicelib.domain.inspection import Inspection
from chalicelib.domain.models import FileStatus
from chalicelib.domain.pdf import PdfInspector, PdfRules, decode_name

RULES = load_content_policy().pdf
MIB = 1024 * 1024


def document(*objects: bytes, trailer: bytes = b"<< /Root 1 0 R >>") -> bytes:
    """A small PDF of these objects (numbered from 1), with a cross-reference table and a trailer."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % at for at in offsets)
    out += b"trailer\n" + trailer + b"\nstartxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def stream(dictionary: bytes, data: bytes) -> bytes:
    return dictionary[:-2] + b" /Length %d >>\nstream\n" % len(data) + data + b"\nendstream"


def object_stream(*objects: bytes, filters: bytes = b"/Filter /FlateDecode", compress: bool = True) -> bytes:
    """An object stream (PDF 1.5) holding `objects`, numbered from 10: how most writers store objects now."""
    offsets, body = [], b""
    for obj in objects:
        offsets.append(len(body))
        body += obj + b"\n"
    header = b" ".join(b"%d %d" % (10 + i, at) for i, at in enumerate(offsets)) + b"\n"
    data = zlib.compress(header + body) if compress else header + body
    return stream(b"<< /Type /ObjStm /N %d /First %d %s >>" % (len(objects), len(header), filters), data)


CATALOG = b"<< /Type /Catalog /Pages 2 0 R >>"
PAGES = b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>"
PAGE = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>"
TEXT = stream(b"<< >>", b"BT /F1 12 Tf 72 720 Td (Devoir de maths) Tj ET")


def with_catalog(catalog: bytes, *more: bytes) -> bytes:
    return document(catalog, PAGES, PAGE, TEXT, *more)


def fpdf_document() -> bytes:
    """A real one: fpdf2, with a link to a course on JavaScript and an outline."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=14)
    pdf.start_section("JavaScript et le Web")
    pdf.cell(text="Exposé : /JavaScript et /JS, (parenthèses) et % pour cent")
    pdf.link(10, 10, 50, 10, "https://developer.mozilla.org/fr/docs/Web/JavaScript")
    return bytes(pdf.output())


# id, the document, what is found (None: nothing)
CASES: list[tuple[str, Callable[[], bytes], Finding | None]] = [
    # -- harmless
    ("fpdf2", fpdf_document, None),
    ("plain", lambda: with_catalog(CATALOG), None),
    ("open-at-a-page", lambda: with_catalog(b"<< /Type /Catalog /Pages 2 0 R /OpenAction [3 0 R /Fit] >>"), None),
    ("open-a-link-action", lambda: with_catalog(b"<< /Type /Catalog /Pages 2 0 R /OpenAction 5 0 R >>",
                                               b"<< /S /URI /URI (https://ent.example/JavaScript/cours) >>"), None),
    ("names-in-strings", lambda: with_catalog(CATALOG, b"<< /Title (Le /JS et /JavaScript \\(NSI\\) /Launch) >>"),
     None),
    ("names-in-a-comment", lambda: with_catalog(CATALOG) + b"% /JavaScript /JS (\n", None),
    ("look-alike-names", lambda: with_catalog(CATALOG, b"<< /JSON 1 /JSX 2 /Launcher 3 /MyJavaScript 4 >>"),
     None),
    ("js-in-page-content", lambda: document(CATALOG, PAGES, PAGE, stream(b"<< >>", b"/JS (x) /JavaScript Do")), None),
    ("compressed-objects", lambda: with_catalog(CATALOG, object_stream(b"<< /Title (JavaScript) >>", b"[1 2]")),
     None),
    ("pdf-attachment", lambda: with_catalog(CATALOG, b"<< /Type /Filespec /F (annexe.pdf) /EF << /F 6 0 R >> >>"),
     None),
    # -- code that runs
    ("open-action-javascript", lambda: with_catalog(
        b"<< /Type /Catalog /Pages 2 0 R /OpenAction << /S /JavaScript /JS (app.alert\\(1\\)) >> >>"),
     Finding.ACTIVE_CONTENT),
    ("open-action-to-a-script-object", lambda: with_catalog(
        b"<< /Type /Catalog /Pages 2 0 R /OpenAction 5 0 R >>", b"<< /S /JavaScript /JS 6 0 R >>",
        stream(b"<< >>", b"app.launchURL('https://evil.example')")), Finding.ACTIVE_CONTENT),
    ("additional-action", lambda: document(
        CATALOG, PAGES, b"<< /Type /Page /Parent 2 0 R /AA << /O << /S /JavaScript /JS (x) >> >> >>"),
     Finding.ACTIVE_CONTENT),
    ("launch", lambda: with_catalog(b"<< /Type /Catalog /OpenAction << /S /Launch /F (cmd.exe) >> >>"),
     Finding.ACTIVE_CONTENT),
    ("javascript-name-tree", lambda: with_catalog(
        b"<< /Type /Catalog /Names << /JavaScript 5 0 R >> >>"), Finding.ACTIVE_CONTENT),
    ("hex-escaped", lambda: with_catalog(
        b"<< /Type /Catalog /OpenAction << /S /J#61vaScript /J#53 (x) >> >>"), Finding.ACTIVE_CONTENT),
    ("all-escaped", lambda: with_catalog(
        b"<< /OpenAction << /S /#4A#61#76#61#53#63#72#69#70#74 >> >>"), Finding.ACTIVE_CONTENT),
    ("js-alone-escaped", lambda: with_catalog(b"<</AA<</O<</#4A#53(x)>>>>>>"), Finding.ACTIVE_CONTENT),
    ("no-spaces", lambda: with_catalog(b"<</Type/Catalog/OpenAction<</S/JavaScript/JS(x)>>>>"),
     Finding.ACTIVE_CONTENT),
    ("in-an-object-stream", lambda: with_catalog(
        b"<< /Type /Catalog /OpenAction 11 0 R >>",
        object_stream(b"<< /Title (t) >>", b"<< /S /JavaScript /JS (app.alert\\(1\\)) >>")), Finding.ACTIVE_CONTENT),
    ("escaped-in-an-object-stream", lambda: with_catalog(
        CATALOG, object_stream(b"<</S/J#61vaScript/JS(x)>>")), Finding.ACTIVE_CONTENT),
    ("uncompressed-object-stream", lambda: with_catalog(
        CATALOG, object_stream(b"<< /JS (x) >>", filters=b"", compress=False)), Finding.ACTIVE_CONTENT),
    ("rich-media", lambda: with_catalog(CATALOG, b"<< /Type /Annot /Subtype /RichMedia >>"), Finding.ACTIVE_CONTENT),
    ("xfa-form", lambda: with_catalog(
        b"<< /Type /Catalog /AcroForm << /XFA 5 0 R >> >>"), Finding.ACTIVE_CONTENT),
    ("stream-never-ended", lambda: (
        b"%PDF-1.7\n4 0 obj << /Length 3 >>\nstream\nabc\n5 0 obj << /S /JavaScript /JS (x) >> endobj\n"),
     Finding.ACTIVE_CONTENT),
    ("stream-ended-by-endobj", lambda: (
        b"%PDF-1.7\n4 0 obj << /Length 3 >>\nstream\nabc\nendobj\n<< /JS (x) >>\n"), Finding.ACTIVE_CONTENT),
    # -- object streams that cannot be read: they may hide anything
    ("object-stream-other-filter", lambda: with_catalog(
        CATALOG, object_stream(b"<< /JS (x) >>", filters=b"/Filter /LZWDecode", compress=False)),
     Finding.ACTIVE_CONTENT),
    ("object-stream-predictor", lambda: with_catalog(
        CATALOG, object_stream(b"<< >>", filters=b"/Filter /FlateDecode /DecodeParms << /Predictor 12 >>")),
     Finding.ACTIVE_CONTENT),
    ("object-stream-corrupt", lambda: with_catalog(
        CATALOG, object_stream(b"<< >>", filters=b"/Filter /FlateDecode", compress=False)), Finding.ACTIVE_CONTENT),
    ("object-stream-encrypted", lambda: document(
        CATALOG, PAGES, PAGE, TEXT, object_stream(b"<< >>", compress=False),
        trailer=b"<< /Root 1 0 R /Encrypt 6 0 R >>"), Finding.ENCRYPTED),
    # -- programs attached
    ("attached-program", lambda: with_catalog(
        CATALOG, b"<< /Type /Filespec /F (devoir.exe) /EF << /F 6 0 R >> >>"), Finding.EXECUTABLE),
    ("attached-program-unicode", lambda: with_catalog(
        CATALOG, b"<< /Type /Filespec /UF (\xfe\xff\x00a\x00.\x00v\x00b\x00s) >>"), Finding.EXECUTABLE),
]  # fmt: skip


def inspect(data: bytes, size: int, rules: PdfRules = RULES) -> Finding | None:
    inspector = PdfInspector(rules)
    for at in range(0, len(data), size):
        inspector.feed(data[at : at + size])
    return inspector.finish()


@pytest.mark.parametrize(("case", "make", "finding"), CASES, ids=[c[0] for c in CASES])
def test_what_the_inspector_finds(case: str, make: Callable[[], bytes], finding: Finding | None) -> None:
    data = make()
    for size in (len(data), 1, 2, 3, 7, 64):
        assert inspect(data, size) == finding, f"chunks of {size}"


def test_a_token_cut_at_every_place_is_still_found() -> None:
    data = with_catalog(b"<< /Type /Catalog /OpenAction << /S /J#61vaScript /JS (app.alert\\(1\\)) >> >>")
    start = data.index(b"/S /J#61")
    for cut in range(start - 5, start + 40):
        inspector = PdfInspector(RULES)
        inspector.feed(data[:cut])
        inspector.feed(data[cut:])
        assert inspector.finish() is Finding.ACTIVE_CONTENT, cut


def test_a_script_after_a_gib_of_streams_is_found_with_bounded_memory() -> None:
    """The whole document is read, not its first kilobyte, and never held."""
    import tracemalloc

    picture = stream(b"<< /Subtype /Image /Filter /DCTDecode >>", b"\xff\xd8" + bytes(MIB - 2))
    inspector = PdfInspector(RULES)
    tracemalloc.start()
    try:
        inspector.feed(b"%PDF-1.7\n")
        for number in range(1, 1025):  # 1 GiB of picture data, in 1 MiB objects
            inspector.feed(b"%d 0 obj\n%s\nendobj\n" % (number, picture))
        inspector.feed(b"9999 0 obj << /OpenAction << /S /JavaScript /JS (x) >> >> endobj\n")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert inspector.finish() is Finding.ACTIVE_CONTENT
    assert peak < 32 * MIB, f"{peak / MIB:.1f} MiB"  # of 1 GiB read (other threads may allocate too)


def test_object_streams_inflate_within_a_bound() -> None:
    data = with_catalog(CATALOG, object_stream(b"<< /Title (" + b"a" * 100_000 + b") >>"))
    assert inspect(data, len(data)) is None
    assert inspect(data, len(data), replace(RULES, max_inflated=10_000)) is Finding.TOO_LARGE


def test_names_are_decoded() -> None:
    assert decode_name(b"J#61vaScript") == "JavaScript"
    assert decode_name(b"#4A#53") == "JS"
    assert decode_name(b"A#2Fb#zz") == "A/b#zz"


# -- the policy: a school may allow active content ---------------------------------------------------


def verdict(data: bytes, allow: bool = False) -> tuple[FileStatus, str | None]:
    policy = load_content_policy()
    if allow:
        policy = replace(policy, pdf=replace(policy.pdf, reject_active=False))
    inspection = Inspection(policy)
    inspection.feed(data)
    observed = Observed(len(data), "", "application/pdf", data[:1024], ScanResult(ScanOutcome.CLEAN))
    observed = replace(observed, findings=inspection.finish())
    result = judge(policy, Expected(len(data), "application/pdf", None), observed)
    return result.status, result.reason


def test_active_content_is_refused_unless_the_policy_allows_it() -> None:
    script = with_catalog(b"<< /Type /Catalog /OpenAction << /S /JavaScript /JS (x) >> >>")
    assert verdict(script) == (FileStatus.REJECTED, "active_content")
    assert verdict(script, allow=True) == (FileStatus.AVAILABLE, None)
    assert verdict(with_catalog(CATALOG)) == (FileStatus.AVAILABLE, None)
    assert RULES.reject_active and {"JavaScript", "JS", "Launch"} <= RULES.active_names


def test_the_antivirus_comes_first_then_the_inspectors_then_the_types() -> None:
    policy = load_content_policy()
    data = with_catalog(CATALOG)
    found = ScanResult(ScanOutcome.FOUND, "Cartable.Test.EICAR")
    infected = Observed(len(data), "", "application/pdf", data, found, findings=("active_content",))
    assert judge(policy, Expected(len(data), "application/pdf", None), infected).reason == "Cartable.Test.EICAR"
    mismatch = Observed(len(data), "", "text/html", data, ScanResult(ScanOutcome.CLEAN), findings=("active_content",))
    assert judge(policy, Expected(len(data), "application/pdf", None), mismatch).reason == "active_content"
