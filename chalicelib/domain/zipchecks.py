"""What a zip inspection checks apart from the stream of local headers and member bytes: the finding that
ends it, the budget of the whole archive (nested levels included), what one member's header fields alone
tell, and the central directory and end records against the members that were read. Pure, no I/O.
"""

from __future__ import annotations

import struct
from dataclasses import replace
from typing import TYPE_CHECKING

from chalicelib.domain.findings import ArchiveLimits, Finding, PdfRules
from chalicelib.domain.zipdir import END64, END64_FORMAT, END_FORMAT, LOCATOR_FORMAT, end_record

if TYPE_CHECKING:
    from chalicelib.domain.archives import Entry

CENTRAL = b"PK\x01\x02"
LOCATOR64 = b"PK\x06\x07"

# signature, made by, needed, flags, method, time, date, crc, compressed, uncompressed, name, extra and
# comment lengths, disk, internal and external attributes, local header offset
CENTRAL_FORMAT = struct.Struct("<4sHHHHHHIIIHHHHHII")

STORED, DEFLATED, AES = 0, 8, 99
ENCRYPTED_FLAGS = 0x0001 | 0x0040  # traditional or strong encryption
ZIP64_EXTRA, AES_EXTRA = 0x0001, 0x9901
ZIP64_MARK = 0xFFFFFFFF

DIRECTORY_LIMIT = 4 * 1024 * 1024  # 10,000 entries with long names: more is no school file


class Found(Exception):
    """The inspection ends: the archive is refused for this reason."""

    def __init__(self, finding: Finding) -> None:
        super().__init__(finding.value)
        self.finding = finding


class Budget:
    """What the whole archive, nested levels included, has used of the limits."""

    def __init__(
        self,
        limits: ArchiveLimits,
        member_limit: int,
        pdf: PdfRules | None = None,
        programs: frozenset[str] = frozenset(),
    ) -> None:
        self.limits = limits
        self.member_limit = member_limit
        self.compound_limit = min(limits.max_compound_size, member_limit)  # a compound file is held whole
        self.pdf = pdf  # the rules PDF members are inspected by (None: they are not)
        self.programs = programs  # the extensions of programs an OLE Package may not carry
        self.read = 0  # bytes of the archive itself fed so far
        self.members = 0
        self.expanded = 0
        self.pdf_inflated = 0  # bytes inflated from the object streams of the PDF members read so far

    def pdf_rules(self) -> PdfRules:
        """The rules for the next PDF member: what the archive's PDFs have inflated counts against one
        allowance, so ten thousand small PDFs cannot each inflate the whole of it."""
        assert self.pdf is not None
        return replace(self.pdf, max_inflated=max(0, self.pdf.max_inflated - self.pdf_inflated))

    def member(self) -> None:
        self.members += 1
        if self.members > self.limits.max_members:
            raise Found(Finding.BOMB)

    def admit(self, size: int, packed: int) -> None:
        """A member of `size` bytes expanded from `packed` bytes (both known)."""
        if size > self.member_limit:
            raise Found(Finding.ARCHIVE_TOO_LARGE)
        if size > self.limits.ratio_from and size > self.limits.max_ratio * max(packed, 1):
            raise Found(Finding.BOMB)

    def expand(self, size: int) -> None:
        self.expanded += size
        if self.expanded > self.limits.max_total_size:
            # Far more than it weighs is a bomb; photos that add up are merely more than clamd reads.
            bomb = self.expanded > self.limits.max_ratio * max(self.read, 1)
            raise Found(Finding.BOMB if bomb else Finding.TOO_LARGE)


def _extras(extra: bytes) -> dict[int, bytes]:
    """Extra fields by id; padding shorter than a field header (zipalign) is ignored."""
    fields: dict[int, bytes] = {}
    at = 0
    while at + 4 <= len(extra):
        ident, size = struct.unpack_from("<HH", extra, at)
        if at + 4 + size > len(extra):
            raise Found(Finding.MALFORMED)
        fields.setdefault(ident, extra[at + 4 : at + 4 + size])
        at += 4 + size
    return fields


def check_member(flags: int, method: int, sizes: tuple[int, int], extra: bytes) -> None:
    """What a local header or a directory entry alone tells: encrypted, ZIP64, a method clamd cannot read."""
    extras = _extras(extra)
    if flags & ENCRYPTED_FLAGS or method == AES or AES_EXTRA in extras:
        raise Found(Finding.ENCRYPTED)
    if ZIP64_EXTRA in extras or ZIP64_MARK in sizes:
        raise Found(Finding.UNSCANNABLE)
    if method not in (STORED, DEFLATED):
        raise Found(Finding.UNSCANNABLE)


def check_directory(directory: bytes, directory_at: int, entries: dict[int, Entry]) -> None:
    """A zip's directory and end records, kept whole: they must describe exactly the members that were read
    (`entries`, by the offset of their local header; each is taken out as its directory entry is checked)."""
    end = end_record(directory)
    if end is None:
        raise Found(Finding.MALFORMED)
    _, disk, first_disk, here, count, size, offset, _ = END_FORMAT.unpack_from(directory, end)
    if end >= LOCATOR_FORMAT.size and directory[end - LOCATOR_FORMAT.size : end - 16] == LOCATOR64:
        _zip64_end(directory, end, directory_at)  # raises: ZIP64 either way
    if 0xFFFF in (here, count) or ZIP64_MARK in (size, offset):
        raise Found(Finding.MALFORMED)  # ZIP64 values without a ZIP64 end record
    if disk or first_disk or here != count:
        raise Found(Finding.UNSCANNABLE)  # split over disks
    if offset != directory_at or size != end or count != len(entries):
        raise Found(Finding.MALFORMED)
    at = 0
    for _ in range(count):
        at = _central(directory, at, size, entries)
    if at != size or entries:
        raise Found(Finding.MALFORMED)


def _central(directory: bytes, at: int, size: int, entries: dict[int, Entry]) -> int:
    """Check one directory entry against the local header it names; where the next entry starts."""
    if at + CENTRAL_FORMAT.size > size or directory[at : at + 4] != CENTRAL:
        raise Found(Finding.MALFORMED)
    fields = CENTRAL_FORMAT.unpack_from(directory, at)
    flags, method, crc, packed, unpacked = fields[3], fields[4], fields[7], fields[8], fields[9]
    name_length, extra_length, comment_length, local = fields[10], fields[11], fields[12], fields[16]
    start = at + CENTRAL_FORMAT.size
    end = int(start + name_length + extra_length + comment_length)
    if end > size:
        raise Found(Finding.MALFORMED)
    extra = directory[start + name_length : start + name_length + extra_length]
    check_member(flags, method, (packed, unpacked), extra)
    entry = entries.pop(local, None)  # each local header named once, no more
    if entry is None or entry.name != directory[start : start + name_length]:
        raise Found(Finding.MALFORMED)
    if (entry.method, entry.crc, entry.packed, entry.size) != (method, crc, packed, unpacked):
        raise Found(Finding.MALFORMED)
    return end


def _zip64_end(directory: bytes, end: int, directory_at: int) -> None:
    """A ZIP64 end locator precedes the end record: read it and its record, then refuse (clamd reads
    nothing in a ZIP64 archive); a locator pointing nowhere is a malformed archive."""
    _, _, record, _ = LOCATOR_FORMAT.unpack_from(directory, end - LOCATOR_FORMAT.size)
    at = record - directory_at
    if at < 0 or at + END64_FORMAT.size > end or directory[at : at + 4] != END64:
        raise Found(Finding.MALFORMED)
    raise Found(Finding.UNSCANNABLE)
