"""The zip inspector as a table: archives made as schools and attackers make them → what it finds.

Bombs and GiB members are built as attackers build them, deflated in chunks (tests/zips.py): nothing
here ever holds what they expand to. Each case is fed whole and in odd chunks: the verdict is the same.
"""

from __future__ import annotations

import functools
import io
import json
import os
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

import pytest

from chalicelib.domain.content import load_content_policy
from chalicelib.domain.findings import ArchiveLimits, Finding
from chalicelib.domain.inspection import Inspection, ZipInspector, inspect_zip
from local.clamav import EICAR, render_config
from tests import corpus
from tests.zips import MIB, Member, deflated, nested_bomb, stored, zeros, zip64_eicar, zip_bytes

ROOT = Path(__file__).resolve().parents[2]
LIMITS = load_content_policy().archives


class Unseekable(io.RawIOBase):
    """A sink zipfile cannot seek in: it then writes data descriptors after each member."""

    def __init__(self) -> None:
        self.data = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.data += data
        return len(data)


def zipped(members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED, **options: Any) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=compression, **options) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


def streamed(members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED, zip64: bool = False) -> bytes:
    """As a zip written to a pipe is: sizes in data descriptors (our own export ZIPs are written so)."""
    sink = Unseekable()
    with zipfile.ZipFile(sink, "w", compression=compression) as archive:  # type: ignore[arg-type]
        for name, data in members.items():
            with archive.open(name, "w", force_zip64=zip64) as member:
                member.write(data)
    return bytes(sink.data)


def docx() -> bytes:
    return zipped(
        {
            "[Content_Types].xml": b'<?xml version="1.0"?><Types/>' * 20,
            "_rels/.rels": b"<Relationships/>",
            "word/document.xml": b"<w:document><w:p>Le cycle de l'eau</w:p></w:document>" * 200,
            "word/media/image1.png": os.urandom(50_000),
        }
    )


def nested(depth: int) -> bytes:
    """A zip holding a zip ... `depth` levels below the outer one."""
    data = zipped({"devoir.txt": b"Bonjour\n"})
    for level in range(depth):
        data = zipped({f"niveau{level}.zip": data, "notes.txt": b"notes\n"})
    return data


def patched(data: bytes, signature: bytes, offset: int, value: bytes, which: int = 0) -> bytes:
    """`data` with `value` written at `offset` into the `which`-th record that starts with `signature`."""
    out = bytearray(data)
    at = -1
    for _ in range(which + 1):
        at = out.index(signature, at + 1)
    out[at + offset : at + offset + len(value)] = value
    return bytes(out)


def encrypted(data: bytes) -> bytes:
    flags = struct.unpack_from("<H", data, 6)[0] | 1
    once = patched(data, b"PK\x03\x04", 6, struct.pack("<H", flags))
    return patched(once, b"PK\x01\x02", 8, struct.pack("<H", flags))


def aes_extra() -> bytes:
    """A member whose extra field says WinZip AES (id 0x9901), in its local header and its entry."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        info = zipfile.ZipInfo("secret.txt")
        info.compress_type = zipfile.ZIP_DEFLATED
        info.extra = struct.pack("<HHH2sBH", 0x9901, 7, 2, b"AE", 3, 8)  # version, vendor, strength, method
        archive.writestr(info, b"hello")
    return out.getvalue()


def zip64_end_record() -> bytes:
    """A zip whose end record defers to a ZIP64 end record and locator, as archives of 65,536 members do."""
    data = zipped({"a.txt": b"hello"})
    end = data.rindex(b"PK\x05\x06")
    count, size, offset = struct.unpack_from("<HII", data, end + 10)
    record = struct.pack("<4sQHHIIQQQQ", b"PK\x06\x06", 44, 45, 45, 0, 0, count, count, size, offset)
    locator = struct.pack("<4sIQI", b"PK\x06\x07", 0, end, 1)
    tail = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    return data[:end] + record + locator + tail


def zip64_locator_nowhere() -> bytes:
    data = zipped({"a.txt": b"hello"})
    end = data.rindex(b"PK\x05\x06")
    return data[:end] + struct.pack("<4sIQI", b"PK\x06\x07", 0, 3, 1) + data[end:]


def overlapping() -> bytes:
    """Two directory entries naming one local header (a non-recursive bomb's trick)."""
    member = deflated("a.bin", zeros(100_000))
    data = zip_bytes([member])
    end = data.rindex(b"PK\x05\x06")
    start = data.index(b"PK\x01\x02")
    entry = data[start:end]
    directory = entry + entry
    return data[:start] + directory + struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, 2, 2, len(directory), start, 0)


def lying_size() -> bytes:
    """Its headers say 1 KiB; its deflate stream expands to 200 KiB with EICAR at the end."""
    real = deflated("devoir.txt", [bytes(200 * 1024), EICAR])
    return zip_bytes([Member(real.name, real.packed, real.crc, 1024)])


@functools.cache
def eicar_after(size: int) -> bytes:
    return zip_bytes([deflated("padding-then-eicar.txt", [*zeros(size), EICAR])])


def zip64() -> bytes:
    return zip64_eicar(EICAR)


def junk_between() -> bytes:
    data = zipped({"a": b"1", "b": b"2"})
    second = data.index(b"PK\x03\x04", 1)
    return data[:second] + b"junk" + data[second:]


def many(count: int) -> bytes:
    return zip_bytes(stored(f"photo{i:05d}.jpg", b"x") for i in range(count))


SMALL = ArchiveLimits(
    max_member_size=4 * MIB, max_total_size=2 * MIB, max_ratio=50, ratio_from=64 * 1024, max_members=20, max_depth=2
)
ROOMY = replace(SMALL, max_total_size=64 * MIB, max_members=100)

# id, the archive, the limits (None: the policy's), what is found (None: nothing)
CASES: list[tuple[str, Callable[[], bytes], ArchiveLimits | None, Finding | None]] = [
    # -- what schools send: nothing found
    ("docx-like", docx, None, None),
    ("empty", lambda: zipped({}), None, None),
    ("stored", lambda: zipped({"a.txt": b"abc", "dossier/": b""}, zipfile.ZIP_STORED), None, None),
    ("descriptors-deflated", lambda: streamed({"a.txt": b"bonjour " * 999, "b.txt": b""}), None, None),
    ("descriptors-stored", lambda: streamed({"a.bin": b"x" * 99 + b"PK\x07\x08" + bytes(40), "b": b"y"}, 0),
     None, None),
    ("docx-in-a-zip", lambda: zipped({"devoirs/alice.docx": docx(), "devoirs/bob.docx": docx()}), None, None),
    ("docx-stored-in-a-zip", lambda: streamed({"alice.docx": docx()}, zipfile.ZIP_STORED), None, None),
    ("nested-3", lambda: nested(3), None, None),
    ("comment", lambda: zipped({"a.txt": b"abc"})[:-2] + b"\x05\x00hello", None, None),
    ("random-member-under-limits", lambda: zipped({"photo.jpg": os.urandom(3 * MIB)}), ROOMY, None),
    # -- members larger than clamd reads whole: it would trim them silently
    ("eicar-after-1.1-GiB-of-zeros", lambda: eicar_after(1100 * MIB), None, Finding.ARCHIVE_TOO_LARGE),
    ("1-GiB-of-zeros", lambda: zip_bytes([deflated("zeros.bin", zeros(1024 * MIB))]), None, Finding.ARCHIVE_TOO_LARGE),
    ("member-over-a-lower-limit", lambda: zipped({"video.mp4": os.urandom(5 * MIB)}), SMALL, Finding.ARCHIVE_TOO_LARGE),
    ("descriptor-member-over-limit", lambda: streamed({"a.bin": bytes(6 * MIB)}), ROOMY, Finding.ARCHIVE_TOO_LARGE),
    # -- bombs
    ("nested-bomb-16-GiB", nested_bomb, None, Finding.BOMB),
    ("8-MiB-of-zeros", lambda: zip_bytes([deflated("zeros.bin", zeros(8 * MIB))]), None, Finding.BOMB),
    ("too-many-members", lambda: many(21), SMALL, Finding.BOMB),
    ("too-many-nested-members", lambda: zipped({f"{i}.zip": many(8) for i in range(3)}), SMALL, Finding.BOMB),
    ("zeros-adding-up", lambda: zipped({f"{i}.bin": bytes(60_000) for i in range(40)}),
     replace(ROOMY, max_total_size=2 * MIB), Finding.BOMB),
    ("photos-adding-up", lambda: zipped({f"{i}.jpg": os.urandom(MIB) for i in range(3)}), SMALL, Finding.TOO_LARGE),
    # -- nesting
    ("nested-4", lambda: nested(4), None, Finding.TOO_DEEP),
    ("nested-3-over-2", lambda: nested(3), SMALL, Finding.TOO_DEEP),
    # -- what clamd cannot read
    ("zip64-members", zip64, None, Finding.UNSCANNABLE),
    ("zip64-streamed", lambda: streamed({"eicar.com": EICAR}, zipfile.ZIP_STORED, zip64=True),
     None, Finding.UNSCANNABLE),
    ("zip64-end-record", zip64_end_record, None, Finding.UNSCANNABLE),
    ("bzip2", lambda: zipped({"a.txt": b"hello"}, zipfile.ZIP_BZIP2), None, Finding.UNSCANNABLE),
    ("lzma", lambda: zipped({"a.txt": b"hello"}, zipfile.ZIP_LZMA), None, Finding.UNSCANNABLE),
    ("encrypted", lambda: encrypted(zipped({"a.txt": b"hello " * 100})), None, Finding.ENCRYPTED),
    ("aes", aes_extra, None, Finding.ENCRYPTED),
    # -- directories that lie or cannot be read
    ("lying-size", lying_size, None, Finding.MALFORMED),
    ("truncated", lambda: docx()[:-30], None, Finding.MALFORMED),
    ("no-directory", lambda: docx()[: docx().index(b"PK\x01\x02")], None, Finding.MALFORMED),
    ("junk-between-members", junk_between, None, Finding.MALFORMED),
    ("end-record-damaged", lambda: zipped({"a": b"1"})[:-1] + b"x", None, Finding.MALFORMED),
    ("junk-after-the-end", lambda: zipped({"a": b"1"}) + b"junk", None, Finding.MALFORMED),
    ("name-differs", lambda: patched(zipped({"a.txt": b"1"}), b"PK\x01\x02", 46, b"b"), None, Finding.MALFORMED),
    ("size-differs", lambda: patched(zipped({"a.txt": b"12"}), b"PK\x01\x02", 24, b"\x09"), None, Finding.MALFORMED),
    ("offset-differs", lambda: patched(zipped({"a": b"1", "b": b"2"}), b"PK\x01\x02", 42, b"\x01", 1),
     None, Finding.MALFORMED),
    ("directory-offset-differs", lambda: patched(zipped({"a": b"1"}), b"PK\x05\x06", 16, b"\x01"),
     None, Finding.MALFORMED),
    ("two-entries-one-member", overlapping, None, Finding.MALFORMED),
    ("zip64-locator-nowhere", zip64_locator_nowhere, None, Finding.MALFORMED),
    ("corrupt-deflate", lambda: patched(zipped({"a.txt": b"abc" * 1000}), b"PK\x03\x04", 40, b"\xff\xff\xff"),
     None, Finding.MALFORMED),
    ("nested-malformed", lambda: zipped({"in.zip": docx()[:-30]}), None, Finding.MALFORMED),
]  # fmt: skip


def pieces(data: bytes, size: int) -> Iterator[bytes]:
    return (data[at : at + size] for at in range(0, len(data), size))


@pytest.fixture(scope="module")
def built() -> dict[str, bytes]:
    return {}


@pytest.mark.parametrize(("case", "make", "limits", "finding"), CASES, ids=[c[0] for c in CASES])
def test_what_the_inspector_finds(
    built: dict[str, bytes], case: str, make: Callable[[], bytes], limits: ArchiveLimits | None, finding: Finding | None
) -> None:
    data = built.setdefault(case, make())
    limits = limits or LIMITS
    assert inspect_zip([data], limits) == finding
    assert inspect_zip(pieces(data, 4093), limits) == finding
    if len(data) < 200_000:
        assert inspect_zip(pieces(data, 1), limits) == finding


@pytest.mark.parametrize("sizes", [(1, 2, 3), (65_535, 1), (30, 46, 22)])
def test_odd_chunkings_of_a_streamed_zip(sizes: tuple[int, ...]) -> None:
    data = streamed({"a.txt": b"bonjour " * 5000, "b.docx": docx(), "c.bin": b"PK\x07\x08" * 20}, zipfile.ZIP_STORED)
    inspector, at, turn = ZipInspector(LIMITS), 0, 0
    while at < len(data):
        size = sizes[turn % len(sizes)]
        inspector.feed(data[at : at + size])
        at, turn = at + size, turn + 1
    assert inspector.finish() is None


def test_the_scan_limit_lowers_the_member_limit() -> None:
    data = zipped({"video.mp4": os.urandom(3 * MIB)})
    assert inspect_zip([data], LIMITS) is None
    assert inspect_zip([data], LIMITS, member_limit=2 * MIB) is Finding.ARCHIVE_TOO_LARGE


def test_memory_is_not_the_expanded_size() -> None:
    """A 1.1 GiB member inflated to learn its true size, 64 KiB at a time: the whole never exists."""
    import tracemalloc

    limits = replace(LIMITS, max_member_size=2 * 1024 * MIB, max_total_size=2 * 1024 * MIB, max_ratio=10**6)
    data = eicar_after(1100 * MIB)
    tracemalloc.start()
    try:
        assert inspect_zip(pieces(data, MIB), limits) is None
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 32 * MIB, f"{peak / MIB:.1f} MiB"  # of 1.1 GiB expanded (other threads may allocate too)


# -- the policy's limits ------------------------------------------------------------------------------


def directives(text: str) -> dict[str, str]:
    pairs = (line.split(None, 1) for line in text.splitlines() if line.strip() and not line.startswith("#"))
    return {name: value.strip() for name, value in pairs}


def test_limits_are_data_with_a_reason_each() -> None:
    document = json.loads((ROOT / "policies" / "content" / "types.json").read_text(encoding="utf-8"))
    for section in ("archives", "pdf"):
        values = {k for k in document[section] if k not in ("about", "why")}
        assert values == set(document[section]["why"]), section
        assert all(len(why) > 20 for why in document[section]["why"].values())
    assert LIMITS == ArchiveLimits.parse(document["archives"])


@pytest.mark.parametrize("config", ["fleet", "local"])
def test_limits_stay_within_what_clamd_reads(config: str, tmp_path: Path) -> None:
    """Nothing the inspector lets through meets a clamd limit silently: a member is at most MaxFileSize, all
    of them MaxScanSize, their count MaxFiles, their nesting MaxRecursion (fleet; local at 64 MiB uploads)."""
    if config == "fleet":
        text = (ROOT / "functions" / "scanner" / "clamd.conf").read_text(encoding="utf-8")
    else:
        text = render_config(tmp_path, tmp_path / "clamd.sock", 64 * MIB).read_text(encoding="utf-8")
    clamd = directives(text)
    assert LIMITS.max_member_size <= int(clamd["MaxFileSize"])
    assert LIMITS.max_total_size <= int(clamd["MaxScanSize"])
    assert LIMITS.max_members <= int(clamd["MaxFiles"])
    assert LIMITS.max_depth < int(clamd["MaxRecursion"])


# -- the inspection of one scanned stream ---------------------------------------------------------------


def inspected(data: bytes, policy: Any = None, scan_limit: int | None = None, size: int = MIB) -> tuple[str, ...]:
    inspection = Inspection(policy or load_content_policy(), scan_limit)
    for piece in pieces(data, size):
        inspection.feed(piece)
    return inspection.finish()


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> list[corpus.Sample]:
    return corpus.build(tmp_path_factory.getbasetemp() / "corpus")


def test_real_school_files_have_nothing_to_find(samples: list[corpus.Sample]) -> None:
    for sample in samples:
        for size in (MIB, 1000):
            assert inspected(sample.data, size=size) == (), sample.id


def test_the_inspectors_are_chosen_by_the_first_bytes() -> None:
    assert inspected(b"PK\x03\x04 not a zip at all") == ("archive_malformed",)
    assert inspected(b"PK") == ()  # too short to be a zip: libmagic and the type rules decide
    assert inspected(b"Bonjour, voici mon devoir.\n") == ()
    assert inspected(b"%PDF-1.7\n1 0 obj << /JS (x) >> endobj\n", size=3) == ("active_content",)
    assert inspected(b" " * 100 + b"%PDF-1.4\n<< /JS (x) >>") == ("active_content",)  # within the first KB
    assert inspected(b"x" * 1024 + b"%PDF-1.4\n<< /JS (x) >>") == ()  # not a PDF to a reader
    assert inspected(eicar_after(20 * MIB), scan_limit=12 * MIB) == ("archive_too_large_to_scan",)


def test_an_inspector_that_breaks_fails_closed() -> None:
    policy = load_content_policy()
    broken = replace(policy, archives=replace(policy.archives, max_member_size=cast(int, None)))
    assert inspected(docx(), broken) == ("scan_failed",)
    assert inspected(b"Bonjour\n", broken) == ()  # not a zip: that inspector never ran


# -- PDFs inside archives ---------------------------------------------------------------------------------

PDF_RULES = load_content_policy().pdf
SCRIPT = b"<< /Type /Catalog /OpenAction << /S /JavaScript /JS (app.alert\\(1\\)) >> >>"


def pdf_of(*objects: bytes) -> bytes:
    """A small PDF of these objects, numbered from 1 (the PDF inspector needs no cross-reference table)."""
    body = b"".join(b"%d 0 obj\n%s\nendobj\n" % (n, o) for n, o in enumerate(objects, 1))
    return b"%PDF-1.7\n" + body + b"trailer\n<< /Root 1 0 R >>\n%%EOF\n"


def pdf_stream(data: bytes) -> bytes:
    return b"<< /Length %d >>\nstream\n" % len(data) + data + b"\nendstream"


def object_stream(*objects: bytes, inflated: int = 0) -> bytes:
    """A deflated object stream holding `objects` (padded with spaces to `inflated` bytes)."""
    body = b"\n".join(objects).ljust(inflated)
    data = zlib.compress(b"10 0\n" + body)
    return (
        b"<< /Type /ObjStm /N 1 /First 5 /Filter /FlateDecode /Length %d >>\nstream\n" % len(data)
        + data
        + (b"\nendstream")
    )


# id, the archive, what is found with the policy's PDF rules (None: nothing)
PDF_CASES: list[tuple[str, Callable[[], bytes], Finding | None]] = [
    # -- PDFs that only show pages: nothing found
    ("fpdf2-in-a-zip", lambda: zipped({"devoir.pdf": corpus._pdf()}), None),
    ("pages-only", lambda: zipped({"a.pdf": pdf_of(b"<< /Type /Catalog /OpenAction [3 0 R /Fit] >>")}), None),
    ("header-past-the-first-kb", lambda: zipped({"a.pdf": b"x" * 1024 + pdf_of(SCRIPT)}), None),  # no PDF to a reader
    ("names-in-a-text-member", lambda: zipped({"cours.txt": b"/JavaScript /JS /Launch"}), None),
    # -- PDFs that run script, however the zip holds them
    ("deflated", lambda: zipped({"devoir.pdf": pdf_of(SCRIPT)}), Finding.ACTIVE_CONTENT),
    ("stored", lambda: zipped({"devoir.pdf": pdf_of(SCRIPT)}, zipfile.ZIP_STORED), Finding.ACTIVE_CONTENT),
    ("descriptors-deflated", lambda: streamed({"devoir.pdf": pdf_of(SCRIPT)}), Finding.ACTIVE_CONTENT),
    ("descriptors-stored", lambda: streamed({"devoir.pdf": pdf_of(SCRIPT)}, zipfile.ZIP_STORED),
     Finding.ACTIVE_CONTENT),
    ("after-other-members", lambda: zipped({"a.txt": b"abc", "b.png": os.urandom(70_000), "c.pdf": pdf_of(SCRIPT)}),
     Finding.ACTIVE_CONTENT),
    ("named-otherwise", lambda: zipped({"notes.txt": pdf_of(SCRIPT)}), Finding.ACTIVE_CONTENT),  # readers sniff
    ("header-within-the-first-kb", lambda: zipped({"a.pdf": b" " * 1000 + pdf_of(SCRIPT)}), Finding.ACTIVE_CONTENT),
    ("tiny", lambda: zipped({"a.pdf": b"%PDF-1.4\n<< /JS (x) >>"}), Finding.ACTIVE_CONTENT),
    ("script-after-megabytes", lambda: zipped({"a.pdf": pdf_of(pdf_stream(os.urandom(3 * MIB)), SCRIPT)}),
     Finding.ACTIVE_CONTENT),
    ("in-an-object-stream", lambda: zipped({"a.pdf": pdf_of(object_stream(b"<< /S /JavaScript /JS (x) >>"))}),
     Finding.ACTIVE_CONTENT),
    ("in-a-nested-zip", lambda: zipped({"5C.zip": zipped({"devoir.pdf": pdf_of(SCRIPT)})}), Finding.ACTIVE_CONTENT),
    ("in-a-docx", lambda: corpus.repacked(docx(), "word/embeddings/devoir.pdf", pdf_of(SCRIPT)),
     Finding.ACTIVE_CONTENT),
    ("attached-program", lambda: zipped({"a.pdf": pdf_of(b"<< /Type /Filespec /F (devoir.exe) >>")}),
     Finding.EXECUTABLE),
    # -- object streams past the archive's one allowance, each PDF alone within it
    ("pdfs-inflating-together", lambda: zipped({f"{i}.pdf": pdf_of(object_stream(b"<< >>", inflated=MIB))
                                                for i in range(4)}), Finding.TOO_LARGE),
]  # fmt: skip

SMALL_PDF = replace(PDF_RULES, max_inflated=3 * MIB)


@pytest.mark.parametrize(("case", "make", "finding"), PDF_CASES, ids=[c[0] for c in PDF_CASES])
def test_the_pdfs_in_a_zip_are_read_as_bare_ones(
    built: dict[str, bytes], case: str, make: Callable[[], bytes], finding: Finding | None
) -> None:
    data = built.setdefault(f"pdf-{case}", make())
    assert inspect_zip([data], LIMITS, pdf=SMALL_PDF) == finding
    assert inspect_zip(pieces(data, 4093), LIMITS, pdf=SMALL_PDF) == finding
    if len(data) < 50_000:
        assert inspect_zip(pieces(data, 1), LIMITS, pdf=SMALL_PDF) == finding
    # Without PDF rules (a school that allows active content) the members are not read as PDFs.
    assert inspect_zip([data], LIMITS) is None


def test_one_pdf_alone_stays_within_the_allowance() -> None:
    data = zipped({"0.pdf": pdf_of(object_stream(b"<< >>", inflated=MIB))})
    assert inspect_zip([data], LIMITS, pdf=SMALL_PDF) is None


@pytest.mark.parametrize("hostile_id", corpus.hostile_ids())
def test_the_hostile_corpus_is_refused_with_its_reason(hostile_id: str) -> None:
    file = next(h for h in corpus.hostile() if h.id == hostile_id)
    for size in (MIB, 1000, 7):
        assert inspected(file.data, size=size) == (file.reason,), size


def test_a_school_that_allows_active_content_accepts_them_in_zips_too() -> None:
    policy = load_content_policy()
    allowing = replace(policy, pdf=replace(policy.pdf, reject_active=False))
    for file in corpus.hostile():
        # A program packaged in an Office document, or a linked object, is no PDF's active content: refused whatever.
        expected = () if file.reason == "active_content" else (file.reason,)
        assert inspected(file.data, allowing) == expected, file.id


def test_a_pdf_member_is_read_with_bounded_memory() -> None:
    """A 60 MiB PDF member (a scanned book) read through for script: only its inspector's window is held."""
    import tracemalloc

    data = zip_bytes([deflated("livre.pdf", [pdf_of(pdf_stream(bytes(60 * MIB)), SCRIPT)])])
    limits = replace(LIMITS, max_ratio=10**6)  # zeros, for speed: not a bomb here
    tracemalloc.start()
    try:
        assert inspect_zip(pieces(data, MIB), limits, pdf=PDF_RULES) is Finding.ACTIVE_CONTENT
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 * MIB, f"{peak / MIB:.1f} MiB"
