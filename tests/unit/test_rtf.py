"""RTF files as a table: objects embedded as Word and WordPad write them (`{\\object\\objemb ... {\\*\\objdata
<hex>}}`, an OLE 1.0 object: a Package, Acrobat's compound file, a Word document), and as attackers write
them (no `\\*`, nested groups, upper case hex, whitespace everywhere, an odd digit, long control words, empty
groups and `\\bin` runs in the hex, bytes after the object) → what the inspection finds. Each file is fed
whole and in odd chunks: the verdict is the same. Files are written by tests/ole.py.
"""

from __future__ import annotations

import os
import random
import re
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from chalicelib.domain.content import load_content_policy
from chalicelib.domain.findings import Finding
from chalicelib.domain.inspection import Inspection, RtfInspector, inspect_zip
from chalicelib.domain.rtf import ole1_header
from tests import ole
from tests.inspecting import inspected, pieces
from tests.unit.test_ole import HARMLESS, HOSTILE, LARGE_HOSTILE, WORD, docx_carrying, nested
from tests.zips import zipped

POLICY = load_content_policy()
LIMITS = POLICY.archives
ACROBAT = ole.ACROBAT_PROG_ID


def acrobat(pdf: bytes) -> bytes:
    """A PDF embedded as Word embeds one when Acrobat is installed: Acrobat's compound file, in OLE 1.0."""
    return ole.ole1(ACROBAT, ole.embedded_pdf(pdf))


def document(*objects: bytes, **kwargs: Any) -> bytes:
    return ole.rtf_document(*(ole.rtf_object(blob, **kwargs) for blob in objects))


def with_objdata(hex_text: bytes, star: bool = True) -> bytes:
    """An RTF whose one object's destination holds `hex_text` as it is (an attacker's writing)."""
    star_word = b"\\*" if star else b""
    return ole.rtf_document(b"{\\object\\objemb\\objupdate{" + star_word + b"\\objdata " + hex_text + b"}}")


def spaced(blob: bytes) -> bytes:
    """Hex with whitespace between every digit, upper case, lines of any length."""
    digits = re.findall(rb".", blob.hex().upper().encode())
    return b"".join(d + b" \t\r\n"[i % 4 : i % 4 + 1] for i, d in enumerate(digits))


def interleaved(blob: bytes, junk: bytes, every: int = 50) -> bytes:
    """Hex with `junk` (control words, empty groups) between every `every` digits, as attackers write it."""
    digits = blob.hex().encode()
    return junk.join(digits[at : at + every] for at in range(0, len(digits), every))


def with_bin(blob: bytes) -> bytes:
    """The object's first bytes as hex, its next ones as a `\\bin` run of raw bytes (leading zeros in the
    length), the rest as hex again."""
    raw = blob[40:200]
    return blob[:40].hex().encode() + b"\\bin%010d " % len(raw) + raw + blob[200:].hex().encode()


def in_fields(blob: bytes) -> bytes:
    """An object deep in other groups: a field's result, a shape's, with no `\\*` before `\\objdata`."""
    inner = ole.rtf_object(blob).replace(b"{\\*\\objdata", b"{\\objdata")
    return ole.rtf_document(b"{\\field{\\*\\fldinst EMBED Package}{\\fldrslt{\\shp{\\shprslt{" + inner + b"}}}}}")


def many(count: int) -> bytes:
    return document(*(ole.ole1_package(f"{i}.txt", b"x") for i in range(count)))


HEADER = ole.ole1_package("devoir.exe", b"hello")[:60]
EVIL_PDF = ole.ole1_package("devoir.pdf", HOSTILE)

# id, the file, what the inspection finds (None: nothing), the limits if not the policy's
CASES: list[tuple[str, Callable[[], bytes], Finding | None, Any]] = [
    # -- what schools send: nothing found
    ("text", lambda: ole.rtf_document(), None, None),
    ("picture", lambda: ole.rtf_document(ole.rtf_picture(os.urandom(60_000))), None, None),
    ("picture-bin", lambda: ole.rtf_document(b"{\\pict\\pngblip\\bin6 {}}\\{" + b"}"), None, None),
    ("acrobat-harmless", lambda: document(acrobat(HARMLESS), class_name=ACROBAT), None, None),
    ("package-harmless-pdf", lambda: document(ole.ole1_package("devoir.pdf", HARMLESS)), None, None),
    ("package-text", lambda: document(ole.ole1_package("notes.txt", b"Bonjour, je m'appelle Alice.")), None, None),
    ("word-object", lambda: document(ole.ole1("Word.Document.8", ole.compound({"WordDocument": WORD}))), None, None),
    ("bare-pdf-native", lambda: document(ole.ole1("AcroExch.Document", HARMLESS)), None, None),
    ("object-without-data", lambda: ole.rtf_document(b"{\\object\\objemb{\\*\\objclass Package}}"), None, None),
    ("two-harmless", lambda: document(acrobat(HARMLESS), ole.ole1_package("a.pdf", HARMLESS)), None, None),
    ("no-presentation", lambda: document(ole.ole1("Package", ole.native("a.txt", b"x")[4:], presentation=False)),
     None, None),
    # -- PDFs that run script and programs, as Word writes them
    ("acrobat-javascript", lambda: document(acrobat(HOSTILE)), Finding.ACTIVE_CONTENT, None),
    ("acrobat-javascript-large", lambda: document(acrobat(LARGE_HOSTILE)), Finding.ACTIVE_CONTENT, None),
    ("package-javascript-pdf", lambda: document(EVIL_PDF), Finding.ACTIVE_CONTENT, None),
    ("package-exe", lambda: document(ole.ole1_package("devoir.exe", b"hello")), Finding.EXECUTABLE, None),
    ("package-pe-named-pdf", lambda: document(ole.ole1_package("devoir.pdf", ole.PROGRAM)), Finding.EXECUTABLE, None),
    ("package-unicode-exe", lambda: document(ole.ole1_package("a.pdf", HARMLESS, unicode="a.pdf.exe")),
     Finding.EXECUTABLE, None),
    ("package-class-lower-case", lambda: document(ole.ole1("package", ole.native("a.js", b"x")[4:])),
     Finding.EXECUTABLE, None),
    ("bare-pdf-javascript", lambda: document(ole.ole1("AcroExch.Document", HOSTILE)), Finding.ACTIVE_CONTENT, None),
    ("zip-native", lambda: document(ole.ole1("WinZip", zipped({"devoir.pdf": HOSTILE}))), Finding.ACTIVE_CONTENT,
     None),
    ("word-object-embedding", lambda: document(ole.ole1("Word.Document.8", ole.word_97(HOSTILE))),
     Finding.ACTIVE_CONTENT, None),
    ("docx-object", lambda: document(ole.ole1("Word.Document.12", docx_carrying(ole.embedded_pdf(HOSTILE)))),
     Finding.ACTIVE_CONTENT, None),
    ("second-object", lambda: document(acrobat(HARMLESS), EVIL_PDF), Finding.ACTIVE_CONTENT, None),
    ("objupdate", lambda: document(EVIL_PDF, update=True), Finding.ACTIVE_CONTENT, None),
    ("rtf-magic-only", lambda: document(EVIL_PDF).replace(b"{\\rtf1", b"{\\rtx", 1), Finding.ACTIVE_CONTENT, None),
    # -- as attackers write them: still found
    ("no-star", lambda: with_objdata(EVIL_PDF.hex().encode(), star=False), Finding.ACTIVE_CONTENT, None),
    ("nested-in-groups", lambda: in_fields(EVIL_PDF), Finding.ACTIVE_CONTENT, None),
    ("upper-case-spaced", lambda: with_objdata(spaced(EVIL_PDF)), Finding.ACTIVE_CONTENT, None),
    ("odd-length", lambda: with_objdata(EVIL_PDF.hex().encode() + b"f"), Finding.ACTIVE_CONTENT, None),
    ("extra-hex-after", lambda: with_objdata(EVIL_PDF.hex().encode() + os.urandom(5000).hex().encode()),
     Finding.ACTIVE_CONTENT, None),
    ("long-words-in-hex", lambda: with_objdata(interleaved(EVIL_PDF, b"\\" + b"x" * 200 + b"123 ")),
     Finding.ACTIVE_CONTENT, None),
    ("words-in-hex", lambda: with_objdata(interleaved(EVIL_PDF, b"\\par\\ltrch\\fcs0 \\*\\-\r\n", 7)),
     Finding.ACTIVE_CONTENT, None),
    ("empty-groups-in-hex", lambda: with_objdata(interleaved(EVIL_PDF, b"{\\*\\xyz}{}{\\aaa {\\bbb }}", 9)),
     Finding.ACTIVE_CONTENT, None),
    ("bin-in-hex", lambda: with_objdata(with_bin(EVIL_PDF)), Finding.ACTIVE_CONTENT, None),
    ("objdata-parameter", lambda: with_objdata(EVIL_PDF.hex().encode()).replace(b"\\objdata ", b"\\objdata7 "),
     Finding.ACTIVE_CONTENT, None),
    ("exe-no-star", lambda: with_objdata(ole.ole1_package("a.scr", b"x").hex().encode(), star=False),
     Finding.EXECUTABLE, None),
    # -- what Word could read otherwise than we do: refused
    ("not-hex", lambda: with_objdata(b"0105000002000000zz"), Finding.MALFORMED, None),
    ("header-cut", lambda: with_objdata(HEADER[:10].hex().encode()), Finding.MALFORMED, None),
    ("native-cut", lambda: with_objdata(HEADER.hex().encode()), Finding.MALFORMED, None),
    ("empty-objdata", lambda: with_objdata(b""), Finding.MALFORMED, None),
    ("linked", lambda: document(ole.ole1("Package", b"", format_id=1)), Finding.LINKED, None),
    ("no-class", lambda: document(ole.ole1("", HARMLESS)), Finding.MALFORMED, None),
    ("ole2link", lambda: document(ole.ole1("OLE2Link", ole.compound({"\x01Ole": ole.OLE_STREAM})), update=True),
     Finding.LINKED, None),
    ("objdata-long-parameter", lambda: with_objdata(EVIL_PDF.hex().encode()).replace(
        b"\\objdata ", b"\\objdata" + b"7" * 300 + b" "), Finding.MALFORMED, None),
    ("name-too-long", lambda: with_objdata(ole.ole1("x" * 5000, b"").hex().encode()), Finding.MALFORMED, None),
    ("escape-in-hex", lambda: with_objdata(interleaved(EVIL_PDF, b"\\'41", 100)), Finding.MALFORMED, None),
    ("unicode-in-hex", lambda: with_objdata(interleaved(EVIL_PDF, b"\\u65 A", 100)), Finding.MALFORMED, None),
    ("text-in-nested-group", lambda: with_objdata(interleaved(EVIL_PDF, b"{\\*\\xyz 00}", 100)), Finding.MALFORMED,
     None),
    ("destination-in-hex", lambda: with_objdata(interleaved(EVIL_PDF, b"{\\pict }", 100)), Finding.MALFORMED, None),
    ("objdata-in-objdata", lambda: with_objdata(b"0105{\\*\\objdata " + EVIL_PDF.hex().encode() + b"}"),
     Finding.MALFORMED, None),
    ("word-too-long-in-hex", lambda: with_objdata(interleaved(EVIL_PDF, b"\\" + b"x" * 300 + b" ", 100)),
     Finding.MALFORMED, None),
    ("bin-past-the-end", lambda: ole.rtf_document(b"{\\pict\\bin99999 abc"), Finding.MALFORMED, None),
    ("bin-too-long", lambda: ole.rtf_document(b"{\\pict\\bin99999999999 }", ole.rtf_object(EVIL_PDF)),
     Finding.MALFORMED, None),
    ("bin-over-long-digits", lambda: ole.rtf_document(b"{\\pict\\bin" + b"0" * 260 + b"1 x}", ole.rtf_object(EVIL_PDF)),
     Finding.MALFORMED, None),
    ("bin-in-nested-group", lambda: with_objdata(b"0105{\\bin2 xx}"), Finding.MALFORMED, None),
    ("bin-after-odd-digit", lambda: with_objdata(b"010\\bin2 xx"), Finding.MALFORMED, None),
    # -- limits
    ("over-the-compound-limit", lambda: document(acrobat(LARGE_HOSTILE)), Finding.ARCHIVE_TOO_LARGE,
     replace(LIMITS, max_compound_size=100_000)),
    ("too-many-objects", lambda: many(30), Finding.BOMB, replace(LIMITS, max_members=20)),
    ("deep-enough", lambda: document(ole.ole1("x", nested(3))), Finding.ACTIVE_CONTENT, None),
    ("too-deep", lambda: document(ole.ole1("x", nested(4))), Finding.TOO_DEEP, None),
    ("package-too-deep", lambda: document(EVIL_PDF), Finding.TOO_DEEP, replace(LIMITS, max_depth=0)),
]  # fmt: skip


@pytest.fixture(scope="module")
def built() -> dict[str, bytes]:
    return {}


@pytest.mark.parametrize(("case", "make", "finding", "limits"), CASES, ids=[c[0] for c in CASES])
def test_an_rtf_file_is_read_for_the_objects_it_embeds(
    built: dict[str, bytes], case: str, make: Callable[[], bytes], finding: Finding | None, limits: Any
) -> None:
    data = built.setdefault(case, make())
    expected = () if finding is None else (finding.value,)
    assert inspected(data, limits) == expected
    assert inspected(data, limits, size=4093) == expected
    assert inspected(data, limits, size=257) == expected
    if len(data) < 40_000:
        assert inspected(data, limits, size=1) == expected
        assert inspected(data, limits, size=7) == expected


@pytest.mark.parametrize(("case", "make", "finding", "limits"), CASES, ids=[c[0] for c in CASES])
def test_an_rtf_file_in_a_zip_is_read_alike(
    built: dict[str, bytes], case: str, make: Callable[[], bytes], finding: Finding | None, limits: Any
) -> None:
    data = built.setdefault(case, make())
    archive = zipped({"lisez-moi.txt": b"Bonjour", "expose.rtf": data})
    rules = (limits or LIMITS, None, POLICY.pdf, POLICY.pdf.program_extensions)
    assert inspect_zip([archive], *rules) == finding
    assert inspect_zip(pieces(archive, 4093), *rules) == finding


def test_the_depth_counts_the_object_as_a_level() -> None:
    # The RTF is no level of its own, as a PDF is not; the object's compound file is one, as in a docx:
    # bare or in a zip, three compound files are read below it, a fourth is too deep.
    for depth, finding in ((3, Finding.ACTIVE_CONTENT), (4, Finding.TOO_DEEP)):
        rtf = document(ole.ole1("x", nested(depth)))
        assert inspected(rtf) == (finding.value,)
        assert inspect_zip([zipped({"a.rtf": rtf})], LIMITS, pdf=POLICY.pdf) is finding
        assert inspect_zip([docx_carrying(nested(depth))], LIMITS, pdf=POLICY.pdf) is finding


def test_an_rtf_that_is_a_pdf_too_is_read_as_both() -> None:
    # A PDF reader finds a PDF header anywhere in the first kilobyte: an RTF carrying one is a PDF too.
    polyglot = ole.rtf_document(b"{\\*\\comment " + HOSTILE.replace(b"\\", b"") + b"}")
    assert b"%PDF" in polyglot[:1024]
    assert inspected(polyglot) == ("active_content",)
    assert inspect_zip([zipped({"a.rtf": polyglot})], LIMITS, pdf=POLICY.pdf) is Finding.ACTIVE_CONTENT


def test_an_rtf_packaged_in_an_rtf_is_read_too() -> None:
    inner = document(ole.ole1_package("devoir.pdf", HOSTILE))
    assert inspected(document(ole.ole1_package("expose.rtf", inner))) == ("active_content",)
    assert inspected(document(ole.ole1_package("expose.rtf", document(acrobat(HARMLESS))))) == ()


def test_a_school_that_allows_active_content_still_refuses_packaged_programs() -> None:
    allowing = replace(POLICY, pdf=replace(POLICY.pdf, reject_active=False))
    assert inspected(document(EVIL_PDF), policy=allowing) == ()
    assert inspected(document(acrobat(HOSTILE)), policy=allowing) == ()
    assert inspected(document(ole.ole1_package("devoir.exe", b"x")), policy=allowing) == ("executable",)


def test_the_scan_limit_lowers_the_object_limit() -> None:
    inspector = RtfInspector(LIMITS, 100_000, POLICY.pdf)
    for piece in pieces(document(acrobat(LARGE_HOSTILE)), 4096):
        inspector.feed(piece)
    assert inspector.finding is Finding.ARCHIVE_TOO_LARGE
    assert inspector.finish() is Finding.ARCHIVE_TOO_LARGE


def test_the_header_is_read_as_ms_oleds_lays_it_out() -> None:
    blob = ole.ole1("AcroExch.Document.DC", b"%PDF-1.7 ...")
    assert ole1_header(blob[:20]) is None  # more bytes needed
    name, start, size = ole1_header(blob) or ("", 0, 0)
    assert (name, blob[start : start + size]) == ("AcroExch.Document.DC", b"%PDF-1.7 ...")


def test_random_chunks_give_the_same_verdict() -> None:
    rng = random.Random(16)
    data = with_objdata(interleaved(EVIL_PDF, b"\\bin0 {\\*\\x}\\" + b"y" * 100 + b" ", 11))
    for _ in range(30):
        inspection, at = Inspection(POLICY), 0
        while at < len(data):
            step = rng.randint(1, 600)
            inspection.feed(data[at : at + step])
            at += step
        assert inspection.finish() == ("active_content",)


def test_a_broken_file_never_breaks_the_inspection() -> None:
    """Bytes changed at random in real and hostile files: every outcome is a finding or nothing, never a
    crash (a crash would still refuse, scan_failed, but means a case the reader does not know)."""
    rng = random.Random(16)
    sources = [document(acrobat(HOSTILE)), document(EVIL_PDF, update=True), with_objdata(with_bin(EVIL_PDF))]
    sources.append(with_objdata(interleaved(EVIL_PDF, b"{\\*\\xyz}\\" + b"q" * 60 + b" ", 13)))
    specials = b"{}\\'0123456789abcdefABCDEF -\r\n"
    for _ in range(400):
        data = bytearray(rng.choice(sources))
        for _ in range(rng.randint(1, 6)):
            at = rng.randrange(len(data))
            special = rng.random() < 0.7
            data[at : at + 2] = bytes(rng.choice(specials) for _ in range(2)) if special else rng.randbytes(2)
        assert inspected(bytes(data), size=rng.choice([7, 1000, 1 << 20])) != ("scan_failed",)


def test_a_file_cut_anywhere_reads_the_same() -> None:
    """Two chunks, cut at every byte: braces in a `\\bin` run or after `\\'` are no groups, an escaped
    backslash starts no control word, and an object's words and hex read the same however they are cut."""
    # Past the first kilobyte, which the inspection holds whole to choose an inspector.
    decoys = b"Bonjour " * 150 + b"{\\pict\\bin3 }}}}{\\'{}\\\\objdata 0105 \\\\bin4 {\\par}"
    hostile = ole.rtf_document(decoys, ole.rtf_object(ole.ole1_package("a.exe", b"x", unicode=None)))
    harmless = ole.rtf_document(decoys + b"{\\*\\objclass Package}")
    for data, expected in ((hostile, ("executable",)), (harmless, ())):
        for cut in range(len(data)):
            inspection = Inspection(POLICY)
            inspection.feed(data[:cut])
            inspection.feed(data[cut:])
            assert inspection.finish() == expected, cut
