"""Zip archives inspected as they stream past, for what the antivirus silently misses: pure, bounded.

clamd trims a zip member larger than its MaxFileSize to its head without an alert, reads nothing in a
ZIP64 archive, and lets a nested bomb through. So every zip (Office, OpenDocument, Scratch and GeoGebra
files are zips too) is read here in the same single pass that hashes it and feeds clamd: each local
header as it comes, each member inflated with bounded memory to learn its true size (and to read the
archives nested in it, to a bounded depth), then the central directory and its end record at the end,
which must agree with the local headers. The first problem found ends the inspection with a `Finding`.

No I/O: `ZipInspector.feed` takes the bytes in any chunks (S3 reads, a local buffer), `finish` decides.
Memory stays bounded whatever the archive: a chunk, a header, one inflate window per nesting level and
each level's directory (at most `DIRECTORY_LIMIT`).
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum, auto
from typing import Any

from chalicelib.domain.findings import ArchiveLimits, Finding
from chalicelib.domain.zipdir import END, END64, END64_FORMAT, END_FORMAT, LOCATOR_FORMAT, end_record

LOCAL = b"PK\x03\x04"
CENTRAL = b"PK\x01\x02"
LOCATOR64 = b"PK\x06\x07"
DESCRIPTOR = b"PK\x07\x08"
EXTRA_DATA = b"PK\x06\x08"  # archive extra data record: only with a central directory that is encrypted
ZIP_MAGIC = (LOCAL, END)

# signature, version, flags, method, time, date, crc, compressed, uncompressed, name and extra lengths
LOCAL_FORMAT = struct.Struct("<4sHHHHHIIIHH")
# signature, made by, needed, flags, method, time, date, crc, compressed, uncompressed, name, extra and
# comment lengths, disk, internal and external attributes, local header offset
CENTRAL_FORMAT = struct.Struct("<4sHHHHHHIIIHHHHHII")
DESCRIPTOR_FORMAT = struct.Struct("<III")  # crc, compressed, uncompressed (after an optional signature)

STORED, DEFLATED, AES = 0, 8, 99
ENCRYPTED_FLAGS = 0x0001 | 0x0040  # traditional or strong encryption
SIZES_LATER = 0x0008  # sizes and crc follow the data, in a data descriptor
ZIP64_EXTRA, AES_EXTRA = 0x0001, 0x9901
ZIP64_MARK = 0xFFFFFFFF

INFLATE_STEP = 64 * 1024  # bytes inflated (and read) at a time: the memory of one member being read
DIRECTORY_LIMIT = 4 * 1024 * 1024  # 10,000 entries with long names: more is no school file


class _Found(Exception):
    """The inspection ends: the archive is refused for this reason."""

    def __init__(self, finding: Finding) -> None:
        super().__init__(finding.value)
        self.finding = finding


class _Budget:
    """What the whole archive, nested levels included, has used of the limits."""

    def __init__(self, limits: ArchiveLimits, member_limit: int) -> None:
        self.limits = limits
        self.member_limit = member_limit
        self.read = 0  # bytes of the archive itself fed so far
        self.members = 0
        self.expanded = 0

    def member(self) -> None:
        self.members += 1
        if self.members > self.limits.max_members:
            raise _Found(Finding.BOMB)

    def admit(self, size: int, packed: int) -> None:
        """A member of `size` bytes expanded from `packed` bytes (both known)."""
        if size > self.member_limit:
            raise _Found(Finding.ARCHIVE_TOO_LARGE)
        if size > self.limits.ratio_from and size > self.limits.max_ratio * max(packed, 1):
            raise _Found(Finding.BOMB)

    def expand(self, size: int) -> None:
        self.expanded += size
        if self.expanded > self.limits.max_total_size:
            # Far more than it weighs is a bomb; photos that add up are merely more than clamd reads.
            bomb = self.expanded > self.limits.max_ratio * max(self.read, 1)
            raise _Found(Finding.BOMB if bomb else Finding.TOO_LARGE)


@dataclass
class _Entry:
    """A member as its local header (and data descriptor) said, and as its bytes turned out."""

    offset: int
    name: bytes
    flags: int
    method: int
    crc: int
    size: int | None  # declared uncompressed size (None: in a data descriptor)
    packed: int | None  # declared compressed size (None: in a data descriptor)
    consumed: int = 0  # compressed bytes read
    produced: int = 0  # uncompressed bytes seen
    inflater: Any = None
    sniff: bytearray | None = None  # the first bytes, until it is known whether they are a zip
    nested: _Level | None = None

    @property
    def later(self) -> bool:
        return bool(self.flags & SIZES_LATER)


class _State(Enum):
    HEADER = auto()
    DATA = auto()
    DESCRIPTOR = auto()
    DIRECTORY = auto()


def _extras(extra: bytes) -> dict[int, bytes]:
    """Extra fields by id; padding shorter than a field header (zipalign) is ignored."""
    fields: dict[int, bytes] = {}
    at = 0
    while at + 4 <= len(extra):
        ident, size = struct.unpack_from("<HH", extra, at)
        if at + 4 + size > len(extra):
            raise _Found(Finding.MALFORMED)
        fields.setdefault(ident, extra[at + 4 : at + 4 + size])
        at += 4 + size
    return fields


def _check_member(flags: int, method: int, sizes: tuple[int, int], extra: bytes) -> None:
    """What a local header or a directory entry alone tells: encrypted, ZIP64, a method clamd cannot read."""
    extras = _extras(extra)
    if flags & ENCRYPTED_FLAGS or method == AES or AES_EXTRA in extras:
        raise _Found(Finding.ENCRYPTED)
    if ZIP64_EXTRA in extras or ZIP64_MARK in sizes:
        raise _Found(Finding.UNSCANNABLE)
    if method not in (STORED, DEFLATED):
        raise _Found(Finding.UNSCANNABLE)


class _Level:
    """One zip, the uploaded one or one nested in it, parsed from its bytes in order."""

    def __init__(self, budget: _Budget, depth: int) -> None:
        self._budget = budget
        self._depth = depth
        self._buf = bytearray()
        self._pos = 0  # next byte of `_buf` to read
        self._base = 0  # offset in the archive of `_buf[0]`
        self._state = _State.HEADER
        self._entry: _Entry | None = None
        self._entries: dict[int, _Entry] = {}
        self._directory_at = 0
        self._directory = bytearray()

    # -- feeding -----------------------------------------------------------------------------------

    def feed(self, data: bytes | bytearray) -> None:
        if self._state is not _State.DIRECTORY:
            self._buf += data
            while self._step():
                pass
            if not self._in_directory():
                self._base += self._pos
                del self._buf[: self._pos]
                self._pos = 0
                return
            data, self._buf, self._pos = self._buf[self._pos :], bytearray(), 0
        self._directory += data
        if len(self._directory) > DIRECTORY_LIMIT:
            raise _Found(Finding.BOMB)

    def _in_directory(self) -> bool:
        """Whether the members are behind and the rest is the directory (kept whole, up to a bound)."""
        return self._state is _State.DIRECTORY

    def _step(self) -> bool:
        """One move of the parser; False when it needs more bytes (or reached the directory)."""
        if self._state is _State.HEADER:
            return self._header()
        if self._state is _State.DATA:
            return self._data()
        if self._state is _State.DESCRIPTOR:
            return self._descriptor()
        return False

    def _header(self) -> bool:
        buf, at = self._buf, self._pos
        if len(buf) - at < 4:
            return False
        signature = bytes(buf[at : at + 4])
        if signature in (CENTRAL, END, END64):
            self._state = _State.DIRECTORY
            self._directory_at = self._base + at
            return False
        if signature == EXTRA_DATA:
            raise _Found(Finding.ENCRYPTED)
        if signature != LOCAL:
            raise _Found(Finding.MALFORMED)  # bytes between members, or a truncated member
        if len(buf) - at < LOCAL_FORMAT.size:
            return False
        _, _, flags, method, _, _, crc, packed, size, name_length, extra_length = LOCAL_FORMAT.unpack_from(buf, at)
        start = at + LOCAL_FORMAT.size
        if len(buf) - start < name_length + extra_length:
            return False
        name = bytes(buf[start : start + name_length])
        extra = bytes(buf[start + name_length : start + name_length + extra_length])
        _check_member(flags, method, (packed, size), extra)
        self._budget.member()
        entry = _Entry(self._base + at, name, flags, method, crc, None, None)
        if not entry.later:
            if method == STORED and packed != size:
                raise _Found(Finding.MALFORMED)
            entry.size, entry.packed = size, packed
            self._budget.admit(size, packed)
            self._budget.expand(size)
        if method == DEFLATED:
            entry.inflater = zlib.decompressobj(-zlib.MAX_WBITS)
        entry.sniff = bytearray()
        self._entry = entry
        self._pos = start + name_length + extra_length
        self._state = _State.DATA
        return True

    def _data(self) -> bool:
        entry = self._entry
        assert entry is not None
        available = len(self._buf) - self._pos
        if entry.packed is not None and entry.consumed == entry.packed and entry.method == STORED:
            self._end_data()
            return True
        if available == 0:
            return False
        if entry.method == DEFLATED:
            return self._inflate(entry)
        if entry.packed is not None:
            take = min(available, entry.packed - entry.consumed)
            self._emit(entry, self._buf[self._pos : self._pos + take])
            entry.consumed += take
            self._pos += take
            return True
        return self._stored_until_descriptor(entry)

    def _inflate(self, entry: _Entry) -> bool:
        # A piece at a time: a member's end is only known when its stream ends, and what follows is copied.
        take = INFLATE_STEP if entry.packed is None else min(INFLATE_STEP, entry.packed - entry.consumed)
        data = self._buf[self._pos : self._pos + take]
        inflater = entry.inflater
        try:
            out = inflater.decompress(data, INFLATE_STEP)
            self._emit(entry, out)
            while not inflater.eof and (inflater.unconsumed_tail or len(out) == INFLATE_STEP):
                out = inflater.decompress(inflater.unconsumed_tail, INFLATE_STEP)
                self._emit(entry, out)
        except zlib.error as exc:
            raise _Found(Finding.MALFORMED) from exc
        used = len(data) - len(inflater.unused_data) if inflater.eof else len(data)
        entry.consumed += used
        self._pos += used
        if inflater.eof:
            if entry.packed is not None and entry.consumed != entry.packed:
                raise _Found(Finding.MALFORMED)  # the stream ended inside its declared size
            self._end_data()
        elif entry.packed is not None and entry.consumed == entry.packed:
            raise _Found(Finding.MALFORMED)  # its declared size ended inside the stream
        return True

    def _stored_until_descriptor(self, entry: _Entry) -> bool:
        """A stored member whose size follows it: it ends at the descriptor that counts its bytes."""
        buf, at = self._buf, self._pos
        found = buf.find(DESCRIPTOR, at)
        while found >= 0 and len(buf) - found >= 4 + DESCRIPTOR_FORMAT.size:
            packed = DESCRIPTOR_FORMAT.unpack_from(buf, found + 4)[1]
            if packed == entry.consumed + found - at:
                self._emit(entry, buf[at:found])
                entry.consumed += found - at
                self._pos = found
                self._end_data()
                return True
            found = buf.find(DESCRIPTOR, found + 1)
        # Keep what could be the start of a descriptor; the rest is the member's.
        keep = len(buf) - found if found >= 0 else 4 + DESCRIPTOR_FORMAT.size - 1
        upto = max(at, len(buf) - keep)
        if upto == at:
            return False
        self._emit(entry, buf[at:upto])
        entry.consumed += upto - at
        self._pos = upto
        return True

    def _emit(self, entry: _Entry, out: bytes | bytearray) -> None:
        """Bytes of a member's content: counted, checked, and given to the zip nested in it, if any."""
        if not out:
            return
        entry.produced += len(out)
        if entry.size is not None and entry.produced > entry.size:
            raise _Found(Finding.MALFORMED)  # more than its header said: clamd would stop at the header
        if entry.size is None:
            if entry.produced > self._budget.member_limit:
                raise _Found(Finding.ARCHIVE_TOO_LARGE)
            self._budget.expand(len(out))
        if entry.sniff is not None:
            entry.sniff += out
            if len(entry.sniff) < 4:
                return
            head, entry.sniff = bytes(entry.sniff), None
            if head[:4] in ZIP_MAGIC:
                if self._depth + 1 > self._budget.limits.max_depth:
                    raise _Found(Finding.TOO_DEEP)
                entry.nested = _Level(self._budget, self._depth + 1)
            out = head
        if entry.nested is not None:
            entry.nested.feed(out)

    def _end_data(self) -> None:
        entry = self._entry
        assert entry is not None
        if entry.later:
            self._state = _State.DESCRIPTOR
            return
        self._end_entry(entry)

    def _descriptor(self) -> bool:
        entry = self._entry
        assert entry is not None
        buf, at = self._buf, self._pos
        if len(buf) - at < 4 + DESCRIPTOR_FORMAT.size:
            return False
        for skip in (4, 0) if buf[at : at + 4] == DESCRIPTOR else (0,):
            crc, packed, size = DESCRIPTOR_FORMAT.unpack_from(buf, at + skip)
            if (packed, size) == (entry.consumed, entry.produced):
                entry.crc = crc
                self._pos = at + skip + DESCRIPTOR_FORMAT.size
                self._budget.admit(size, packed)
                self._end_entry(entry)
                return True
        raise _Found(Finding.MALFORMED)

    def _end_entry(self, entry: _Entry) -> None:
        if entry.size is not None and entry.produced != entry.size:
            raise _Found(Finding.MALFORMED)
        entry.size, entry.packed = entry.produced, entry.consumed
        if entry.nested is not None:
            entry.nested.finish()
        entry.inflater = entry.nested = entry.sniff = None
        self._entries[entry.offset] = entry
        self._entry = None
        self._state = _State.HEADER

    # -- the directory -------------------------------------------------------------------------------

    def finish(self) -> None:
        """The end of this zip's bytes: its directory must describe exactly the members that were read."""
        if self._state is not _State.DIRECTORY:
            raise _Found(Finding.MALFORMED)  # truncated, or no directory at all
        directory = bytes(self._directory)
        end = end_record(directory)
        if end is None:
            raise _Found(Finding.MALFORMED)
        _, disk, first_disk, here, count, size, offset, _ = END_FORMAT.unpack_from(directory, end)
        if end >= LOCATOR_FORMAT.size and directory[end - LOCATOR_FORMAT.size : end - 16] == LOCATOR64:
            _zip64_end(directory, end, self._directory_at)  # raises: ZIP64 either way
        if 0xFFFF in (here, count) or ZIP64_MARK in (size, offset):
            raise _Found(Finding.MALFORMED)  # ZIP64 values without a ZIP64 end record
        if disk or first_disk or here != count:
            raise _Found(Finding.UNSCANNABLE)  # split over disks
        if offset != self._directory_at or size != end or count != len(self._entries):
            raise _Found(Finding.MALFORMED)
        at = 0
        for _ in range(count):
            at = self._central(directory, at, size)
        if at != size or self._entries:
            raise _Found(Finding.MALFORMED)

    def _central(self, directory: bytes, at: int, size: int) -> int:
        """Check one directory entry against the local header it names; where the next entry starts."""
        if at + CENTRAL_FORMAT.size > size or directory[at : at + 4] != CENTRAL:
            raise _Found(Finding.MALFORMED)
        fields = CENTRAL_FORMAT.unpack_from(directory, at)
        flags, method, crc, packed, unpacked = fields[3], fields[4], fields[7], fields[8], fields[9]
        name_length, extra_length, comment_length, local = fields[10], fields[11], fields[12], fields[16]
        start = at + CENTRAL_FORMAT.size
        end = int(start + name_length + extra_length + comment_length)
        if end > size:
            raise _Found(Finding.MALFORMED)
        extra = directory[start + name_length : start + name_length + extra_length]
        _check_member(flags, method, (packed, unpacked), extra)
        entry = self._entries.pop(local, None)  # each local header named once, no more
        if entry is None or entry.name != directory[start : start + name_length]:
            raise _Found(Finding.MALFORMED)
        if (entry.method, entry.crc, entry.packed, entry.size) != (method, crc, packed, unpacked):
            raise _Found(Finding.MALFORMED)
        return end


def _zip64_end(directory: bytes, end: int, directory_at: int) -> None:
    """A ZIP64 end locator precedes the end record: read it and its record, then refuse (clamd reads
    nothing in a ZIP64 archive); a locator pointing nowhere is a malformed archive."""
    _, _, record, _ = LOCATOR_FORMAT.unpack_from(directory, end - LOCATOR_FORMAT.size)
    at = record - directory_at
    if at < 0 or at + END64_FORMAT.size > end or directory[at : at + 4] != END64:
        raise _Found(Finding.MALFORMED)
    raise _Found(Finding.UNSCANNABLE)


class ZipInspector:
    """Fed the bytes of a zip in order, in any chunks; `finish` answers the first finding, or None."""

    def __init__(self, limits: ArchiveLimits, member_limit: int | None = None) -> None:
        limit = limits.max_member_size if member_limit is None else min(limits.max_member_size, member_limit)
        self._budget = _Budget(limits, limit)
        self._root = _Level(self._budget, 0)
        self._finding: Finding | None = None

    @property
    def finding(self) -> Finding | None:
        """What was found so far (the inspection stops at the first)."""
        return self._finding

    def feed(self, data: bytes) -> None:
        """The next bytes of the zip (nothing more is done once something was found)."""
        if self._finding is not None or not data:
            return
        self._budget.read += len(data)
        try:
            self._root.feed(data)
        except _Found as found:
            self._finding = found.finding

    def finish(self) -> Finding | None:
        """The end of the zip: its directory is checked; the first finding, or None."""
        if self._finding is None:
            try:
                self._root.finish()
            except _Found as found:
                self._finding = found.finding
        return self._finding


def inspect_zip(chunks: Iterable[bytes], limits: ArchiveLimits, member_limit: int | None = None) -> Finding | None:
    """The first finding in a zip given as chunks (a local buffer, a file read in pieces), or None."""
    inspector = ZipInspector(limits, member_limit)
    for chunk in chunks:
        inspector.feed(chunk)
        if inspector.finding is not None:
            break
    return inspector.finish()
