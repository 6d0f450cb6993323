"""OLE compound files read for what they carry: pure, bounded, failing closed.

Office 97-2003 documents are compound files (a FAT file system in one file), and Word, Excel and
PowerPoint embed objects (Insert > Object) as compound files too, `word/embeddings/oleObject1.bin` in
a docx: Acrobat's embedding keeps the PDF in a `CONTENTS` stream, an OLE Package keeps a file, after a
header naming it, in a `\\x01Ole10Native` stream. clamd never looks for script in those PDFs. A compound
file can only be read at random, so it is held whole (up to the archives' `maxCompoundSize`) and read
here: the header, the FAT (through the DIFAT), the directory, the mini FAT and mini stream, then each
stream as runs of sectors. The directory is read as the array it is, every entry, not as the tree that
orders it: an entry no tree reaches is read too. A sector two chains share (a loop, or streams laid over
each other), a chain leaving the file, a stream larger than the file: `archive_malformed`.

`Compound.streams` lists the streams; `Compound.chunks` gives one's bytes without copying them (the mini
stream, at most the file's size, is gathered once); `package` reads an OLE Package's header; `is_program`
tells a packaged program by its names or its first bytes. What Office keeps around compound files (a
.ppt's object records, an OOXML package's relationships) is read by `office.py`; what to do with each
stream (and each object) is `embedded.py`'s.

Links: an object Office does not hold but fetches when the document opens (CVE-2017-0199 and its kin, a URL
moniker whose target Office runs) is refused as rtf.py refuses an RTF's `OLE2Link` (`linked_object`, which
no school policy relaxes). A compound file is one if a storage (the root's, or an object's in a .doc's
ObjectPool) has the class of `StdOleLink` (`Compound.linked`) or if an `\\x01Ole` stream's flags mark a
linked object (`linked_flags`); a docx, xlsx or pptx relates one through its relationships (`office.py`).
"""

from __future__ import annotations

import struct
import sys
from array import array
from collections.abc import Iterator
from dataclasses import dataclass

from chalicelib.domain.findings import Finding
from chalicelib.domain.zipchecks import Found

OLE_MAGIC = bytes.fromhex("d0cf11e0a1b11ae1")
NATIVE = "\x01Ole10Native"  # an OLE Package's stream: a header naming the file, then its bytes
OLE_STREAM = "\x01OLE"  # an object's OLEStream (MS-OLEDS 2.3.3), named case-insensitively as MS-CFB names are
OLE_LINKED = 0x00000001  # its Flags (after the Version): a linked object, whose moniker Office follows at open
# StdOleLink's class {00000300-0000-0000-C000-000000000046} as a directory entry stores it (GUID order)
LINK_CLSID = bytes.fromhex("0003000000000000c000000000000046")
ENTRY_CLSID = 80  # where an entry's class is: after the name, its length, type, colour and three links

# signature, clsid, minor and major version, byte order, sector and mini sector shifts, reserved, directory
# sectors, FAT sectors, first directory sector, transaction, mini stream cutoff, first mini FAT sector, mini
# FAT sectors, first DIFAT sector, DIFAT sectors; the header's first 109 DIFAT entries follow
HEADER_FORMAT = struct.Struct("<8s16sHHHHH6sIIIIIIIII")
HEADER_DIFAT = 109
ENTRY_SIZE = 128
ENTRY_FORMAT = struct.Struct("<64sHBB")  # name (UTF-16LE), its length in bytes with the NUL, type, colour
ENTRY_START = 116  # the first sector, then the size
MAXREGSECT, ENDOFCHAIN, FREESECT = 0xFFFFFFFA, 0xFFFFFFFE, 0xFFFFFFFF
UNUSED, STORAGE, STREAM, ROOT = 0, 1, 2, 5
MINI_SECTOR, MINI_CUTOFF = 64, 4096  # streams smaller than the cutoff are kept in 64-byte mini sectors
NATIVE_HEAD = 8192  # a Package's header: three file names (MAX_PATH each) and a few numbers fit
SLIDES = "PowerPoint Document"  # a .ppt's records, its embedded objects among them
ENCRYPTED_PACKAGE = "EncryptedPackage"  # a password-protected docx, xlsx or pptx: the package, encrypted

# What a program's first bytes are: PE, ELF, Mach-O (both orders, both sizes, fat), a script's #!
PROGRAM_MAGIC = (
    b"MZ",
    b"\x7fELF",
    b"\xfe\xed\xfa\xce",
    b"\xfe\xed\xfa\xcf",
    b"\xce\xfa\xed\xfe",
    b"\xcf\xfa\xed\xfe",
    b"\xca\xfe\xba\xbe",
    b"#!",
)


def malformed() -> Found:
    """What a compound file that cannot be read whole ends in: refused, never passed unread."""
    return Found(Finding.MALFORMED)


@dataclass(frozen=True)
class Stream:
    """A stream as the directory lists it."""

    name: str
    start: int
    size: int
    mini: bool  # stored in the mini stream (smaller than the cutoff)


class Compound:
    """A compound file held whole: its streams, each read as runs of its sectors."""

    def __init__(self, data: bytes | bytearray | memoryview, max_entries: int) -> None:
        """Reads the header, the FAT, the directory (at most `max_entries` entries: more is a bomb) and the
        mini stream; raises `Found` if it cannot. What it keeps besides `data` is smaller than `data`."""
        self._data = memoryview(data)
        self._max_entries = max_entries
        if len(self._data) < HEADER_FORMAT.size + 4 * HEADER_DIFAT:
            raise malformed()
        fields = HEADER_FORMAT.unpack_from(self._data, 0)
        signature, major, order, shift, mini_shift = fields[0], fields[3], fields[4], fields[5], fields[6]
        if signature != OLE_MAGIC or order != 0xFFFE or (major, shift) not in ((3, 9), (4, 12)) or mini_shift != 6:
            raise malformed()
        if fields[12] != MINI_CUTOFF:
            raise malformed()  # MS-CFB fixes it: streams in the mini stream stay small
        self._sector = 1 << int(shift)
        self._count = max(0, (len(self._data) - 1) // self._sector)  # whole or partial sectors after the header
        self._used = bytearray(self._count)  # which chain each sector is in: none may be in two
        self._fat = self._read_fat(fields[9], fields[15], fields[16])
        self._v3 = major == 3
        self._cutoff = MINI_CUTOFF
        self.linked = False  # a storage (the root included) of StdOleLink's class: a link, nothing held
        self._entries = self._directory(fields[10])
        root = self._entries[0] if self._entries else None
        if root is None or root[0] != ROOT:
            raise malformed()
        self._mini = self._mini_stream(root[2], root[3], fields[13])
        self._mini_used = bytearray(len(self._mini[1]))  # mini sectors, each in one stream only

    # -- sectors and chains ------------------------------------------------------------------------------

    def _at(self, sector: int) -> int:
        return (sector + 1) * self._sector

    def _words(self, sector: int) -> array[int]:
        """A sector read as 32-bit numbers (a FAT, DIFAT or mini FAT sector); it must be whole."""
        if sector >= self._count or self._at(sector) + self._sector > len(self._data):
            raise malformed()
        at = self._at(sector)
        words = array("I")  # 4 bytes a number, as in the file: tables are never larger than the file
        words.frombytes(self._data[at : at + self._sector])
        if sys.byteorder == "big":
            words.byteswap()
        return words

    def _read_fat(self, fat_sectors: int, difat_start: int, difat_sectors: int) -> array[int]:
        """The FAT: its sectors are listed by the header's DIFAT, then by the DIFAT chain; each is a sector
        of the file, none twice."""
        if fat_sectors > self._count:
            raise malformed()
        header = struct.unpack_from(f"<{HEADER_DIFAT}I", self._data, HEADER_FORMAT.size)
        listed = [s for s in header if s <= MAXREGSECT][:fat_sectors]
        sector, seen = difat_start, 0
        while len(listed) < fat_sectors and sector <= MAXREGSECT and seen < difat_sectors:
            self._claim(sector)
            words = self._words(sector)
            listed += [s for s in words[:-1] if s <= MAXREGSECT][: fat_sectors - len(listed)]
            sector, seen = words[-1], seen + 1
        if len(listed) != fat_sectors:
            raise malformed()
        fat = array("I")
        for at in listed:
            self._claim(at)
            fat += self._words(at)
        del fat[self._count :]  # entries past the file's sectors lead nowhere
        return fat

    def _claim(self, sector: int) -> None:
        if sector >= self._count or self._used[sector]:
            raise malformed()  # outside the file, or already in a chain: a loop or streams laid over others
        self._used[sector] = 1

    def _chain(self, start: int, length: int | None) -> list[int]:
        """The sectors of a chain: enough for `length` bytes, or (None) up to its end."""
        needed = None if length is None else -(-length // self._sector)
        sectors: list[int] = []
        sector = start
        while needed is None or len(sectors) < needed:
            if sector == ENDOFCHAIN and needed is None:
                break
            if sector > MAXREGSECT or sector >= len(self._fat):
                raise malformed()
            self._claim(sector)
            sectors.append(sector)
            sector = self._fat[sector]
        return sectors

    def _directory(self, start: int) -> list[tuple[int, str, int, int]]:
        """Every allocated directory entry, in the array's order: type, name, first sector, size."""
        entries = []
        for sector in self._chain(start, None):
            at = self._at(sector)
            block = self._data[at : at + self._sector]
            for offset in range(0, len(block) - ENTRY_SIZE + 1, ENTRY_SIZE):
                entry = self._entry(block, offset)
                if entry is not None:
                    entries.append(entry)
                    if len(entries) > self._max_entries:
                        raise Found(Finding.BOMB)  # more streams and storages than members an archive may hold
        return entries

    def _entry(self, block: memoryview, offset: int) -> tuple[int, str, int, int] | None:
        raw, length, kind, _ = ENTRY_FORMAT.unpack_from(block, offset)
        if kind == UNUSED:
            return None
        if kind not in (STORAGE, STREAM, ROOT) or length > 64 or length % 2:
            raise malformed()
        if block[offset + ENTRY_CLSID : offset + ENTRY_CLSID + 16] == LINK_CLSID:
            self.linked = True  # a stream's class should be zero: any entry of that class counts
        start, size = struct.unpack_from("<IQ", block, offset + ENTRY_START)
        if self._v3:
            size &= 0xFFFFFFFF  # version 3 files may leave garbage in the high half
        if size > len(self._data):
            raise malformed()
        return kind, raw[: max(0, length - 2)].decode("utf-16-le", "replace"), start, size

    def _mini_stream(self, start: int, size: int, minifat_start: int) -> tuple[memoryview, array[int]]:
        """The mini stream (gathered once: at most the file's size) and the mini FAT."""
        minifat = array("I")
        if not any(kind == STREAM and length < self._cutoff for kind, _, _, length in self._entries[1:]):
            return memoryview(b""), minifat
        data = b"".join(self._runs(self._chain(start, size), size))
        for sector in self._chain(minifat_start, None):
            minifat += self._words(sector)
        del minifat[-(-len(data) // MINI_SECTOR) :]  # entries past the mini stream lead nowhere
        return memoryview(data), minifat

    def _runs(self, sectors: list[int], size: int) -> Iterator[memoryview]:
        """The bytes of `size` in these sectors, contiguous ones as one run; they must be in the file."""
        left, index = size, 0
        while left > 0:
            first = sectors[index]
            last = first
            while index + 1 < len(sectors) and sectors[index + 1] == last + 1:
                index, last = index + 1, last + 1
            index += 1
            at = self._at(first)
            length = min(left, (last - first + 1) * self._sector)
            if at + length > len(self._data):
                raise malformed()  # the file ends inside the stream
            yield self._data[at : at + length]
            left -= length

    # -- streams -----------------------------------------------------------------------------------------

    def streams(self) -> list[Stream]:
        """Every stream of the directory (every storage's), in the directory's order."""
        return [
            Stream(name, start, size, size < self._cutoff)
            for kind, name, start, size in self._entries[1:]
            if kind == STREAM
        ]

    def chunks(self, stream: Stream) -> Iterator[memoryview]:
        """A stream's bytes, a run of contiguous sectors at a time (no copy); its chain is checked first."""
        if stream.size == 0:
            return iter(())
        if not stream.mini:
            return self._runs(self._chain(stream.start, stream.size), stream.size)
        return iter((self._mini_bytes(stream),))

    def _mini_bytes(self, stream: Stream) -> memoryview:
        data, minifat = self._mini
        out = bytearray()
        sector = stream.start
        while len(out) < stream.size:
            if sector > MAXREGSECT or sector >= len(minifat) or self._mini_used[sector]:
                raise malformed()
            self._mini_used[sector] = 1
            piece = data[sector * MINI_SECTOR : (sector + 1) * MINI_SECTOR]
            if len(piece) < min(MINI_SECTOR, stream.size - len(out)):
                raise malformed()
            out += piece
            sector = minifat[sector]
        del out[stream.size :]
        return memoryview(out)


def linked_flags(head: bytes) -> bool:
    """Whether an `\\x01Ole` stream, from its first 8 bytes (Version, Flags), marks a linked object; one too
    short to say is `archive_malformed`."""
    if len(head) < 8:
        raise malformed()
    (flags,) = struct.unpack_from("<I", head, 4)
    return bool(flags & OLE_LINKED)


@dataclass(frozen=True)
class Package:
    """An OLE Package's header: the names it gives its file, and where the file's bytes are."""

    names: tuple[str, ...]  # label, source path, temporary path
    offset: int
    size: int  # 0 for a link (no bytes embedded)


def package(head: bytes, stream_size: int) -> Package:
    """Read an `\\x01Ole10Native` stream's header from its first bytes; `Found` if it cannot be read."""
    try:
        at = 4 + 2  # the size of what follows, a flag
        label, at = _string(head, at)
        source, at = _string(head, at)
        if at + 8 > len(head):
            return Package((label, source), at, 0)  # no more: a link to a file, nothing embedded
        at += 8  # two flags and the length of the temporary path
        temporary, at = _string(head, at)
        (size,) = struct.unpack_from("<I", head, at)
    except (ValueError, struct.error) as exc:
        raise malformed() from exc
    at += 4
    if at + size > stream_size:
        raise malformed()
    return Package((label, source, temporary), at, size)


def unicode_names(tail: bytes) -> tuple[str, ...]:
    """The names newer Packagers write again after the file, in UTF-16 (temporary path, label, source path,
    each after its length in characters), read from the stream's bytes after the file; those it has."""
    names: list[str] = []
    at = 0
    while len(names) < 3 and at + 4 <= len(tail):
        (count,) = struct.unpack_from("<I", tail, at)
        at += 4
        if at + 2 * count > len(tail):
            break
        names.append(tail[at : at + 2 * count].decode("utf-16-le", "replace"))
        at += 2 * count
    return tuple(names)


def _string(data: bytes, at: int) -> tuple[str, int]:
    end = data.index(b"\x00", at)  # ValueError: the header is cut
    return data[at:end].decode("latin-1"), end + 1


def is_program(names: tuple[str, ...], head: bytes, extensions: frozenset[str]) -> bool:
    """Whether a packaged file is a program: named so (the last part of any of its paths), or its bytes."""
    for name in names:
        base = name.replace("\\", "/").rsplit("/", 1)[-1].strip().rstrip(".")
        if "." in base and base.rsplit(".", 1)[-1].lower() in extensions:
            return True
    return head.startswith(PROGRAM_MAGIC)
