"""Zip archives inspected as they stream past, for what the antivirus silently misses: pure, bounded.

clamd trims a zip member larger than its MaxFileSize to its head without an alert, reads nothing in a
ZIP64 archive, and lets a nested bomb through. So every zip (Office, OpenDocument, Scratch and GeoGebra
files are zips too) is read here in the same single pass that hashes it and feeds clamd: each local
header as it comes, each member inflated with bounded memory to learn its true size (and to read the
archives nested in it, to a bounded depth, and the PDFs in it to the PDF inspector, as a bare PDF is read),
then the central directory and its end record at the end, which must agree with the local headers. The
first problem found ends the inspection with a `Finding`.

No I/O: `ZipLevel.feed` takes the bytes in any chunks (S3 reads, a local buffer), `finish` decides (the
inspectors around it are `inspection.py`'s). Memory stays bounded whatever the archive: a chunk, a header,
one inflate window per nesting level, a member's first kilobyte (to tell a zip or a PDF), the PDF inspector
of the member being read, what expat holds of a `.rels` member (at most `office.TOKEN_LIMIT` unparsed) and
each level's directory (at most `DIRECTORY_LIMIT`).

Each member's bytes go, as they are inflated, to what `embedded.Content` tells them to be: a nested zip, an
OLE compound file (Word, Excel and PowerPoint embed objects as compound files, and Office 97-2003 files are
compound files), a PDF, an RTF file. A `.rels` member is read by `office.Relationships` for linked objects
(an external `oleObject` relationship whose target is not a path on the writer's own drive is
`linked_object`).

This module parses each level's stream; the budget, a member's header fields and the directory and end
records are checked by `zipchecks`.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum, auto
from typing import Any
from urllib.parse import unquote_to_bytes

from chalicelib.domain.content import MARKER_WINDOW
from chalicelib.domain.findings import Finding
from chalicelib.domain.office import Relationships, Sink
from chalicelib.domain.zipchecks import (
    CENTRAL,
    DEFLATED,
    DIRECTORY_LIMIT,
    STORED,
    Budget,
    Found,
    check_directory,
    check_member,
)
from chalicelib.domain.zipdir import END, END64

LOCAL = b"PK\x03\x04"
DESCRIPTOR = b"PK\x07\x08"
EXTRA_DATA = b"PK\x06\x08"  # archive extra data record: only with a central directory that is encrypted
ZIP_MAGIC = (LOCAL, END)

# signature, version, flags, method, time, date, crc, compressed, uncompressed, name and extra lengths
LOCAL_FORMAT = struct.Struct("<4sHHHHHIIIHH")
DESCRIPTOR_FORMAT = struct.Struct("<III")  # crc, compressed, uncompressed (after an optional signature)
SIZES_LATER = 0x0008  # sizes and crc follow the data, in a data descriptor
RELS = b".rels"  # an OOXML package's relationships part (part names compare without case, %-escapes decoded)

INFLATE_STEP = 64 * 1024  # bytes inflated (and read) at a time: the memory of one member being read
# A member's first bytes, kept until they tell what it is: a zip (its first four) or a PDF (whose header
# readers find anywhere in the first kilobyte, as for a bare PDF).
SNIFF_SIZE = MARKER_WINDOW


@dataclass
class Entry:
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
    content: Sink | None = None  # what reads its bytes as they are inflated
    links: Relationships | None = None  # a `.rels` part: read for linked objects as it is inflated

    @property
    def later(self) -> bool:
        return bool(self.flags & SIZES_LATER)


class _State(Enum):
    HEADER = auto()
    DATA = auto()
    DESCRIPTOR = auto()
    DIRECTORY = auto()


# What reads a member's bytes as they are inflated (embedded.Content: a nested zip, a compound file, a PDF).
MemberReader = Callable[[Budget, int], Sink]


class ZipLevel:
    """One zip, the uploaded one or one nested in it, parsed from its bytes in order; each member's bytes go
    to a reader `member` makes (at this level's depth) as they are inflated."""

    def __init__(self, budget: Budget, depth: int, member: MemberReader) -> None:
        self._budget = budget
        self._depth = depth
        self._member = member
        self._buf = bytearray()
        self._pos = 0  # next byte of `_buf` to read
        self._base = 0  # offset in the archive of `_buf[0]`
        self._state = _State.HEADER
        self._entry: Entry | None = None
        self._entries: dict[int, Entry] = {}
        self._directory_at = 0
        self._directory = bytearray()

    # -- feeding -----------------------------------------------------------------------------------

    def feed(self, data: bytes | bytearray | memoryview) -> None:
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
            raise Found(Finding.BOMB)

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
            raise Found(Finding.ENCRYPTED)
        if signature != LOCAL:
            raise Found(Finding.MALFORMED)  # bytes between members, or a truncated member
        if len(buf) - at < LOCAL_FORMAT.size:
            return False
        _, _, flags, method, _, _, crc, packed, size, name_length, extra_length = LOCAL_FORMAT.unpack_from(buf, at)
        start = at + LOCAL_FORMAT.size
        if len(buf) - start < name_length + extra_length:
            return False
        name = bytes(buf[start : start + name_length])
        extra = bytes(buf[start + name_length : start + name_length + extra_length])
        check_member(flags, method, (packed, size), extra)
        self._budget.member()
        entry = Entry(self._base + at, name, flags, method, crc, None, None)
        if not entry.later:
            if method == STORED and packed != size:
                raise Found(Finding.MALFORMED)
            entry.size, entry.packed = size, packed
            self._budget.admit(size, packed)
            self._budget.expand(size)
        if method == DEFLATED:
            entry.inflater = zlib.decompressobj(-zlib.MAX_WBITS)
        entry.content = self._member(self._budget, self._depth)
        entry.links = _relationships(name)
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

    def _inflate(self, entry: Entry) -> bool:
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
            raise Found(Finding.MALFORMED) from exc
        used = len(data) - len(inflater.unused_data) if inflater.eof else len(data)
        entry.consumed += used
        self._pos += used
        if inflater.eof:
            if entry.packed is not None and entry.consumed != entry.packed:
                raise Found(Finding.MALFORMED)  # the stream ended inside its declared size
            self._end_data()
        elif entry.packed is not None and entry.consumed == entry.packed:
            raise Found(Finding.MALFORMED)  # its declared size ended inside the stream
        return True

    def _stored_until_descriptor(self, entry: Entry) -> bool:
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

    def _emit(self, entry: Entry, out: bytes | bytearray) -> None:
        """Bytes of a member's content: counted, checked, and given to what reads it (a nested zip, a PDF)."""
        if not out:
            return
        entry.produced += len(out)
        if entry.size is not None and entry.produced > entry.size:
            raise Found(Finding.MALFORMED)  # more than its header said: clamd would stop at the header
        if entry.size is None:
            if entry.produced > self._budget.member_limit:
                raise Found(Finding.ARCHIVE_TOO_LARGE)
            self._budget.expand(len(out))
        if entry.content is not None:
            entry.content.feed(out)
        if entry.links is not None:
            entry.links.feed(out)

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
        raise Found(Finding.MALFORMED)

    def _end_entry(self, entry: Entry) -> None:
        if entry.size is not None and entry.produced != entry.size:
            raise Found(Finding.MALFORMED)
        entry.size, entry.packed = entry.produced, entry.consumed
        if entry.content is not None:
            entry.content.finish()
        if entry.links is not None:
            entry.links.finish()
        entry.inflater = entry.content = entry.links = None
        self._entries[entry.offset] = entry
        self._entry = None
        self._state = _State.HEADER

    # -- the directory -------------------------------------------------------------------------------

    def finish(self) -> None:
        """The end of this zip's bytes: its directory must describe exactly the members that were read."""
        if self._state is not _State.DIRECTORY:
            raise Found(Finding.MALFORMED)  # truncated, or no directory at all
        check_directory(bytes(self._directory), self._directory_at, self._entries)


def _relationships(name: bytes) -> Relationships | None:
    """What reads a member for linked objects: a `.rels` part (whatever case and %-escapes name it), or none."""
    return Relationships() if unquote_to_bytes(name).lower().endswith(RELS) else None
