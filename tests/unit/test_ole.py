"""OLE compound files as a table: objects embedded as Word, Excel and PowerPoint embed them (Acrobat's
CONTENTS stream, an OLE Package's Ole10Native stream), in an Office 97-2003 file itself or in a docx's
word/embeddings/oleObject1.bin → what the inspection finds. Files are written by tests/ole.py as Office
writes them (olefile reads them back); malformed ones are those files with a sector number or a size
changed. Each case is fed whole and in odd chunks: the verdict is the same.
"""

from __future__ import annotations

import os
import random
import struct
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from chalicelib.domain.content import load_content_policy
from chalicelib.domain.findings import Finding
from chalicelib.domain.inspection import CompoundInspector, inspect_zip
from chalicelib.domain.ole import Compound
from tests import corpus, ole
from tests.inspecting import inspected, pieces
from tests.zips import zipped

POLICY = load_content_policy()
LIMITS = POLICY.archives
SCRIPT = b"<< /Type /Catalog /OpenAction << /S /JavaScript /JS (app.alert\\(1\\)) >> >>"


def pdf_of(*objects: bytes, padding: int = 0) -> bytes:
    """A small PDF of these objects (numbered from 1), after a stream of `padding` random bytes."""
    filler = b"<< /Length %d >>\nstream\n" % padding + os.urandom(padding) + b"\nendstream" if padding else b"<< >>"
    body = b"".join(b"%d 0 obj\n%s\nendobj\n" % (n, o) for n, o in enumerate((filler, *objects), 1))
    return b"%PDF-1.7\n" + body + b"trailer\n<< /Root 2 0 R >>\n%%EOF\n"


HARMLESS = pdf_of(b"<< /Type /Catalog /OpenAction [3 0 R /Fit] >>")
HOSTILE = pdf_of(SCRIPT)
LARGE_HOSTILE = pdf_of(SCRIPT, padding=200_000)  # in sectors of its own, past the mini stream
WORD = bytes([0xEC, 0xA5, 0xC1, 0x00]) + os.urandom(6000)  # a WordDocument stream's FIB, then text
SUMMARY = b"\xfe\xff" + bytes(200)  # a property set stream's byte order mark, then nothing


def docx_carrying(blob: bytes) -> bytes:
    return corpus.docx_with_object(blob, "Package")


def nested(levels: int) -> bytes:
    """Compound files each carrying the next in a CONTENTS stream, a PDF that runs script at the bottom."""
    data = HOSTILE
    for _ in range(levels):
        data = ole.compound({"CONTENTS": data})
    return data


# -- malformed files: a sector number or a size changed -------------------------------------------------


def entry_at(data: bytes, name: str) -> int:
    """Where the directory entry of the stream `name` starts (the first one of that name)."""
    at = data.find(name.encode("utf-16-le") + b"\x00\x00")
    assert at > 0 and at % 128 == 0, name
    return at


def patched(data: bytes, at: int, value: int, size: int = 4) -> bytes:
    return data[:at] + value.to_bytes(size, "little") + data[at + size :]


def fat_entry(data: bytes, sector: int) -> int:
    """Where the FAT entry of `sector` is (the writer's FAT sectors follow one another)."""
    first = struct.unpack_from("<I", data, 76)[0]
    return (first + 1) * 512 + 4 * sector


def two_streams() -> bytes:
    return ole.compound({"WordDocument": WORD, "Data": os.urandom(9000)})


def start_of(data: bytes, name: str) -> int:
    return int(struct.unpack_from("<I", data, entry_at(data, name) + 116)[0])


def fat_loop() -> bytes:
    data = two_streams()
    start = start_of(data, "WordDocument")
    return patched(data, fat_entry(data, start + 3), start)  # the fourth sector leads back to the first


def laid_over() -> bytes:
    data = two_streams()
    return patched(data, entry_at(data, "Data") + 116, start_of(data, "WordDocument"))


def mini_loop() -> bytes:
    data = ole.compound({"WordDocument": WORD, "CONTENTS": pdf_of(SCRIPT, padding=1500)})  # in the mini stream
    minifat = struct.unpack_from("<I", data, 60)[0]
    start = start_of(data, "CONTENTS")
    return patched(data, (minifat + 1) * 512 + 4 * (start + 5), start)  # before the script


def package_cut() -> bytes:
    native = struct.pack("<IH", 5000, 2) + b"x" * 5000  # a label that never ends
    return ole.compound({"\x01Ole10Native": native})


def package_too_long() -> bytes:
    native = bytearray(ole.native("devoir.pdf", HARMLESS))
    at = native.index(b"%PDF") - 4
    native[at : at + 4] = struct.pack("<I", len(native) + 1)
    return ole.compound({"\x01Ole10Native": bytes(native)})


# id, the file, what the inspection finds (None: nothing), the limits if not the policy's
CASES: list[tuple[str, Callable[[], bytes], Finding | None, Any]] = [
    # -- what schools send: nothing found
    ("workbook", lambda: ole.compound({"Workbook": os.urandom(8000), "\x05SummaryInformation": SUMMARY}), None, None),
    ("acrobat-harmless", lambda: ole.embedded_pdf(HARMLESS), None, None),
    ("acrobat-fpdf2", lambda: ole.embedded_pdf(corpus._pdf()), None, None),
    ("package-harmless-pdf", lambda: ole.packaged("devoir.pdf", pdf_of(padding=9000)), None, None),
    ("package-text", lambda: ole.packaged("notes.txt", b"Bonjour, je m'appelle Alice."), None, None),
    ("package-empty", lambda: ole.packaged("vide.txt", b""), None, None),
    ("doc-with-objects", lambda: ole.compound({"WordDocument": WORD, "ObjectPool/_1801234567/CONTENTS": HARMLESS,
                                               "ObjectPool/_18/\x01Ole10Native": ole.native("a.pdf", HARMLESS)}),
     None, None),
    ("pdf-rules-off-in-a-program-name", lambda: ole.packaged("cours-javascript.pdf", HARMLESS), None, None),
    # -- PDFs that run script, however Office holds them
    ("acrobat-contents", lambda: ole.embedded_pdf(HOSTILE), Finding.ACTIVE_CONTENT, None),
    ("acrobat-contents-large", lambda: ole.embedded_pdf(LARGE_HOSTILE), Finding.ACTIVE_CONTENT, None),
    ("package", lambda: ole.packaged("devoir.pdf", HOSTILE), Finding.ACTIVE_CONTENT, None),
    ("package-large", lambda: ole.packaged("devoir.pdf", LARGE_HOSTILE), Finding.ACTIVE_CONTENT, None),
    ("stream-named-otherwise", lambda: ole.compound({"Data": LARGE_HOSTILE}), Finding.ACTIVE_CONTENT, None),
    ("doc-object-pool", lambda: ole.compound({"WordDocument": WORD,
                                              "ObjectPool/_1801234567/\x01Ole10Native": ole.native("a.pdf", HOSTILE)}),
     Finding.ACTIVE_CONTENT, None),
    ("xls-embedding", lambda: ole.compound({"Workbook": os.urandom(5000), "MBD0001A2B3/CONTENTS": LARGE_HOSTILE}),
     Finding.ACTIVE_CONTENT, None),
    ("package-of-a-zip", lambda: ole.packaged("devoirs.zip", zipped({"devoir.pdf": HOSTILE})),
     Finding.ACTIVE_CONTENT, None),
    ("package-of-a-docx-embedding", lambda: ole.packaged("expose.docx", docx_carrying(ole.embedded_pdf(HOSTILE))),
     Finding.ACTIVE_CONTENT, None),
    ("compound-in-a-compound", lambda: nested(2), Finding.ACTIVE_CONTENT, None),
    ("ooxml-in-a-doc", lambda: ole.compound({"WordDocument": WORD, "ObjectPool/_18/Package": docx_carrying(
        ole.embedded_pdf(HOSTILE))}), Finding.ACTIVE_CONTENT, None),  # a docx embedded in a .doc, as Word keeps it
    ("password-protected-docx", lambda: ole.compound({"EncryptionInfo": bytes(300), "EncryptedPackage": WORD,
                                                      "\x06DataSpaces/Version": bytes(76)}), Finding.ENCRYPTED, None),
    ("too-deep", lambda: nested(5), Finding.TOO_DEEP, None),
    # -- packaged programs, by name or by bytes
    ("package-exe", lambda: ole.packaged("devoir.exe", b"hello"), Finding.EXECUTABLE, None),
    ("package-js", lambda: ole.packaged("Devoir.JS", b"WScript.Shell"), Finding.EXECUTABLE, None),
    ("package-source-path", lambda: ole.compound({"\x01Ole10Native": ole.native("devoir.pdf", HARMLESS,
                                                                                 source="C:\\Temp\\setup.vbs")}),
     Finding.EXECUTABLE, None),
    ("package-unicode-name", lambda: ole.compound({"\x01Ole10Native": ole.native("devoir.pdf", LARGE_HOSTILE[:5000],
                                                                                  unicode="devoir.pdf.exe")}),
     Finding.EXECUTABLE, None),  # the ANSI name says PDF, the UTF-16 one a program
    ("package-unicode-harmless", lambda: ole.compound({"\x01Ole10Native": ole.native("a.pdf", HARMLESS,
                                                                                      unicode="a.pdf")}), None, None),
    ("package-pe-named-pdf", lambda: ole.packaged("devoir.pdf", ole.PROGRAM), Finding.EXECUTABLE, None),
    ("package-elf", lambda: ole.packaged("devoir", b"\x7fELF\x02\x01\x01" + bytes(5000)), Finding.EXECUTABLE, None),
    ("package-script", lambda: ole.packaged("lisez-moi", b"#!/bin/sh\nrm -rf ~\n"), Finding.EXECUTABLE, None),
    # -- what cannot be read whole: refused
    ("header-only", lambda: ole.OLE_MAGIC + bytes(1000), Finding.MALFORMED, None),
    ("byte-order", lambda: patched(ole.embedded_pdf(HARMLESS), 28, 0xFEFF, 2), Finding.MALFORMED, None),
    ("mini-cutoff", lambda: patched(ole.embedded_pdf(HOSTILE), 56, 2**31), Finding.MALFORMED, None),
    ("truncated", lambda: two_streams()[:-700], Finding.MALFORMED, None),
    ("fat-loop", fat_loop, Finding.MALFORMED, None),
    ("streams-laid-over", laid_over, Finding.MALFORMED, None),
    ("mini-loop", mini_loop, Finding.MALFORMED, None),
    ("size-past-the-file", lambda: patched(d := two_streams(), entry_at(d, "Data") + 120, 10**9), Finding.MALFORMED,
     None),
    ("entry-type", lambda: patched(d := two_streams(), entry_at(d, "Data") + 66, 3, 1), Finding.MALFORMED, None),
    ("package-header-cut", package_cut, Finding.MALFORMED, None),
    ("package-longer-than-its-stream", package_too_long, Finding.MALFORMED, None),
    # -- a .ppt keeps its objects in records of its PowerPoint Document stream, most of them compressed
    ("ppt-harmless-object", lambda: ole.ppt(ole.object_record(ole.embedded_pdf(HARMLESS))), None, None),
    ("ppt-compressed-object", lambda: ole.ppt(ole.object_record(ole.embedded_pdf(HOSTILE))), Finding.ACTIVE_CONTENT,
     None),
    ("ppt-stored-object", lambda: ole.ppt(ole.object_record(ole.packaged("a.pdf", LARGE_HOSTILE), compressed=False)),
     Finding.ACTIVE_CONTENT, None),
    ("ppt-small", lambda: ole.ppt(ole.object_record(ole.embedded_pdf(HOSTILE)), slides=10), Finding.ACTIVE_CONTENT,
     None),
    ("ppt-second-object", lambda: ole.ppt(ole.object_record(ole.embedded_pdf(HARMLESS)),
                                          ole.object_record(ole.packaged("devoir.exe", b"x"))),
     Finding.EXECUTABLE, None),
    ("ppt-object-cut", lambda: ole.ppt(ole.record(0x1011, ole.embedded_pdf(HOSTILE)[:3000], length=9000)),
     Finding.MALFORMED, None),
    ("ppt-object-not-inflating", lambda: ole.ppt(ole.record(0x1011, b"\0\0\1\0" + os.urandom(3000), instance=1)),
     Finding.MALFORMED, None),
    ("ppt-object-bomb", lambda: ole.ppt(ole.object_record(ole.OLE_MAGIC + bytes(8 * 2**20))), Finding.ARCHIVE_TOO_LARGE,
     replace(LIMITS, max_compound_size=2**20)),
    # -- limits
    ("over-the-compound-limit", lambda: ole.embedded_pdf(LARGE_HOSTILE), Finding.ARCHIVE_TOO_LARGE,
     replace(LIMITS, max_compound_size=100_000)),
    ("too-many-streams", lambda: ole.compound({f"s{i}": b"x" for i in range(30)}), Finding.BOMB,
     replace(LIMITS, max_members=20)),
]  # fmt: skip


@pytest.fixture(scope="module")
def built() -> dict[str, bytes]:
    return {}


@pytest.mark.parametrize(("case", "make", "finding", "limits"), CASES, ids=[c[0] for c in CASES])
def test_an_office_97_2003_file_is_read_for_what_it_embeds(
    built: dict[str, bytes], case: str, make: Callable[[], bytes], finding: Finding | None, limits: Any
) -> None:
    data = built.setdefault(case, make())
    expected = () if finding is None else (finding.value,)
    assert inspected(data, limits) == expected
    assert inspected(data, limits, size=4093) == expected
    if len(data) < 20_000:
        assert inspected(data, limits, size=7) == expected


@pytest.mark.parametrize(("case", "make", "finding", "limits"), CASES, ids=[c[0] for c in CASES])
def test_an_object_embedded_in_a_docx_is_read_alike(
    built: dict[str, bytes], case: str, make: Callable[[], bytes], finding: Finding | None, limits: Any
) -> None:
    data = built.setdefault(f"docx-{case}", docx_carrying(built.setdefault(case, make())))
    rules = (limits or LIMITS, None, POLICY.pdf, POLICY.pdf.program_extensions)
    assert inspect_zip([data], *rules) == finding
    assert inspect_zip(pieces(data, 4093), *rules) == finding


def test_the_depth_counts_zips_and_compound_files_alike() -> None:
    # A docx (level 0) embedding compound files: three levels are read below it, a fourth is too deep.
    assert inspect_zip([docx_carrying(nested(3))], LIMITS, pdf=POLICY.pdf) is Finding.ACTIVE_CONTENT
    assert inspect_zip([docx_carrying(nested(4))], LIMITS, pdf=POLICY.pdf) is Finding.TOO_DEEP
    assert inspected(nested(4)) == ("active_content",)  # a .doc is level 0 itself


def test_a_school_that_allows_active_content_still_refuses_packaged_programs() -> None:
    allowing = replace(POLICY, pdf=replace(POLICY.pdf, reject_active=False))
    assert inspected(ole.packaged("devoir.pdf", HOSTILE), policy=allowing) == ()
    assert inspected(docx_carrying(ole.embedded_pdf(HOSTILE)), policy=allowing) == ()
    assert inspected(ole.packaged("devoir.exe", b"hello"), policy=allowing) == ("executable",)


def test_the_scan_limit_lowers_the_compound_limit() -> None:
    data = ole.embedded_pdf(LARGE_HOSTILE)
    inspector = CompoundInspector(LIMITS, 100_000, POLICY.pdf)
    for piece in pieces(data, 4096):
        inspector.feed(piece)
    assert inspector.finish() is Finding.ARCHIVE_TOO_LARGE
    assert inspector.finding is Finding.ARCHIVE_TOO_LARGE


def test_a_broken_file_never_breaks_the_inspection() -> None:
    """Bytes changed at random in real files: every outcome is a finding or nothing, never a crash (a crash
    would still refuse, scan_failed, but means a case the reader does not know)."""
    rng = random.Random(16)
    sources = [ole.embedded_pdf(HOSTILE), ole.packaged("devoir.pdf", LARGE_HOSTILE), two_streams(), nested(2)]
    sources.append(ole.ppt(ole.object_record(ole.embedded_pdf(HOSTILE)), slides=100))
    for _ in range(400):
        data = bytearray(rng.choice(sources))
        for _ in range(rng.randint(1, 4)):
            at = rng.choice([rng.randrange(512), rng.randrange(len(data))])
            data[at : at + 4] = rng.randbytes(4)
        assert inspected(bytes(data)) != ("scan_failed",)


def test_the_writer_writes_what_olefile_reads() -> None:
    import olefile

    streams = {"WordDocument": WORD, "ObjectPool/_1/\x01Ole10Native": ole.native("a.pdf", HOSTILE), "x": b""}
    data = ole.compound(streams, clsid=ole.PACKAGE, storages={"_1": ole.ACROBAT})
    with olefile.OleFileIO(data, raise_defects=olefile.DEFECT_POTENTIAL) as reader:
        assert sorted("/".join(p) for p in reader.listdir()) == sorted(streams)
        for path, content in streams.items():
            assert reader.openstream(path).read() == content
        assert reader.root.clsid == str(ole.PACKAGE).upper()
    for blob in (ole.embedded_pdf(LARGE_HOSTILE), ole.packaged("devoir.pdf", HOSTILE)):
        with olefile.OleFileIO(blob, raise_defects=olefile.DEFECT_POTENTIAL) as reader:
            assert reader.listdir()


def test_a_large_file_lists_its_fat_in_the_difat() -> None:
    """Past about 7 MiB the FAT's sectors no longer fit the header's 109 entries: the DIFAT chain lists them."""
    import olefile

    data = ole.compound({"WordDocument": WORD, "Data": os.urandom(9 * 2**20), "ObjectPool/_1/CONTENTS": HOSTILE})
    assert struct.unpack_from("<I", data, 72)[0] >= 1  # DIFAT sectors
    with olefile.OleFileIO(data, raise_defects=olefile.DEFECT_POTENTIAL) as reader:
        assert len(reader.openstream("Data").read()) == 9 * 2**20
    assert inspected(data) == ("active_content",)
    assert inspected(data, size=65_536) == ("active_content",)
    difat = struct.unpack_from("<I", data, 68)[0]
    assert inspected(patched(data, (difat + 1) * 512 + 4, 0)) == (
        "archive_malformed",
    )  # a stream's sector listed as the FAT's


def test_a_version_4_file_is_read_alike() -> None:
    """4096-byte sectors (version 4, what large compound files may use): the same streams, the same findings."""
    import olefile

    streams = {"WordDocument": WORD, "ObjectPool/_1/CONTENTS": LARGE_HOSTILE, "ObjectPool/_2/CONTENTS": HOSTILE}
    data = ole.compound(streams, version=4)
    with olefile.OleFileIO(data, raise_defects=olefile.DEFECT_POTENTIAL) as reader:
        assert reader.sectorsize == 4096
        assert reader.openstream("ObjectPool/_1/CONTENTS").read() == LARGE_HOSTILE
    assert inspected(data) == ("active_content",)
    assert inspected(ole.compound({"WordDocument": WORD, "CONTENTS": HARMLESS}, version=4)) == ()


def test_the_reader_reads_what_the_writer_wrote() -> None:
    streams = {"a/b/c": os.urandom(5000), "a/d": os.urandom(100), "e": os.urandom(70_000), "f": b""}
    compound = Compound(ole.compound(streams), 100)
    got = {s.name: b"".join(bytes(c) for c in compound.chunks(s)) for s in compound.streams()}
    assert got == {path.rsplit("/", 1)[-1]: data for path, data in streams.items()}
