"""Zip archives inspected as they stream past, for what the antivirus silently misses: pure, bounded.

clamd trims a zip member larger than its MaxFileSize to its head without an alert, reads nothing in a
ZIP64 archive, and lets a nested bomb through. So every zip (Office, OpenDocument, Scratch and GeoGebra
files are zips too) is read here in the same single pass that hashes it and feeds clamd: each local
header as it comes, each member inflated with bounded memory to learn its true size (and to read the
archives nested in it, to a bounded depth, and the PDFs in it to the PDF inspector, as a bare PDF is read),
then the central directory and its end record at the end, which must agree with the local headers. The
first problem found ends the inspection with a `Finding`.

No I/O: `ZipInspector.feed` takes the bytes in any chunks (S3 reads, a local buffer), `finish` decides.
Memory stays bounded whatever the archive: a chunk, a header, one inflate window per nesting level, a
member's first kilobyte (to tell a zip or a PDF), the PDF inspector of the member being read, what expat
holds of a `.rels` member (at most `ole.TOKEN_LIMIT` unparsed) and each level's directory (at most
`DIRECTORY_LIMIT`).

Word, Excel and PowerPoint embed objects (a PDF, a packaged file) as OLE compound files, and Office
97-2003 files are compound files: one, a member or the upload itself (`CompoundInspector`), is held whole
up to the archives' `maxCompoundSize` (it can only be read at random) and read by `ole.Compound`; each of
its streams is told by its first bytes and read as a member is (`_Content`: a PDF, a zip, a compound file
one level deeper), the file an OLE Package carries too (a packaged program is refused), and the objects a
.ppt keeps, compressed, in the records of its `PowerPoint Document` stream. An RTF file (the upload,
`RtfInspector`, or a member) is read by `rtf.RtfObjects`, and each OLE 1.0 object it embeds by
`read_object`: a Package's file as a compound file's Package is, other native data told by its first bytes.
A linked object (Office fetches it at open: a compound file of StdOleLink's class or whose `\\x01Ole` stream
says linked, or an external `oleObject` relationship in a `.rels` member, read by `ole.Relationships` as it
is inflated, whose target is not a path on the writer's own drive) is `linked_object`, as an RTF's OLE2Link is.

This module parses each level's stream; the budget, a member's header fields and the directory and end
records are checked by `zipchecks`.
"""

from __future__ import annotations

import itertools
import struct
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import Enum, auto
from typing import Any
from urllib.parse import unquote_to_bytes

from chalicelib.domain.content import MARKER_WINDOW
from chalicelib.domain.findings import ArchiveLimits, Finding, PdfRules
from chalicelib.domain.ole import (
    ENCRYPTED_PACKAGE,
    NATIVE,
    NATIVE_HEAD,
    OLE_MAGIC,
    OLE_STREAM,
    SLIDES,
    Compound,
    Relationships,
    SlideObjects,
    Stream,
    is_program,
    linked_flags,
    package,
    unicode_names,
)
from chalicelib.domain.pdf import PDF_MAGIC, PdfInspector
from chalicelib.domain.rtf import RTF_MAGIC, RtfObjects
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
    content: _Content | None = None  # what reads its bytes as they are inflated
    links: Relationships | None = None  # a `.rels` part: read for linked objects as it is inflated

    @property
    def later(self) -> bool:
        return bool(self.flags & SIZES_LATER)


class _State(Enum):
    HEADER = auto()
    DATA = auto()
    DESCRIPTOR = auto()
    DIRECTORY = auto()


class _Level:
    """One zip, the uploaded one or one nested in it, parsed from its bytes in order."""

    def __init__(self, budget: Budget, depth: int) -> None:
        self._budget = budget
        self._depth = depth
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
        entry.content = _Content(self._budget, self._depth)
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


class _Content:
    """The bytes of one member (or of a stream in a compound file), told by their first bytes and given to
    what reads them: a nested zip (a level of its own), a compound file (held whole, then read), a PDF (the
    PDF inspector, when the policy refuses active content), an RTF file (for its objects), or nothing."""

    def __init__(self, budget: Budget, depth: int) -> None:
        self._budget = budget
        self._depth = depth  # of the archive holding these bytes
        self._sniff: bytearray | None = bytearray()  # the first bytes, until they tell what follows
        self._nested: _Level | None = None
        self._compound: bytearray | None = None
        self._pdf: PdfInspector | None = None
        self._rtf: RtfObjects | None = None

    @property
    def wanted(self) -> bool:
        """Whether more bytes are of use: not once they were told to be nothing to read."""
        return any(part is not None for part in (self._sniff, self._nested, self._compound, self._pdf, self._rtf))

    def feed(self, out: bytes | bytearray | memoryview) -> None:
        if self._sniff is not None:
            self._sniff += out
            if len(self._sniff) < SNIFF_SIZE:
                return
            out = self._sniffed()
        self._pass_on(out)

    def finish(self) -> None:
        """The end of the bytes: what was read in them is judged."""
        if self._sniff is not None:  # shorter than SNIFF_SIZE: told from all of them
            self._pass_on(self._sniffed())
        if self._nested is not None:
            self._nested.finish()
        if self._pdf is not None:
            finding = self._pdf.finish()
            self._budget.pdf_inflated += self._pdf.inflated  # one allowance for all the archive's PDFs
            if finding is not None:
                raise Found(finding)
        if self._compound is not None:
            data, self._compound = self._compound, None
            read_compound(data, self._budget, self._depth + 1)
        if self._rtf is not None:
            self._rtf.finish()
        self._nested = self._pdf = self._rtf = None

    def _sniffed(self) -> bytes:
        head, self._sniff = bytes(self._sniff or b""), None
        if head[:4] in ZIP_MAGIC:
            self._deeper()
            self._nested = _Level(self._budget, self._depth + 1)
        elif head[:8] == OLE_MAGIC:
            self._deeper()
            self._compound = bytearray()
        else:
            if head.startswith(RTF_MAGIC):
                # A document, as a PDF is (no level of its own); each object it embeds is one level deeper.
                budget, depth = self._budget, self._depth
                self._rtf = RtfObjects(budget, lambda name, native: read_object(name, native, budget, depth))
            if PDF_MAGIC in head[:SNIFF_SIZE] and self._budget.pdf is not None:
                # A PDF reader opens an RTF with a PDF header in its first kilobyte too: read as both.
                self._pdf = PdfInspector(self._budget.pdf_rules())
        return head

    def _deeper(self) -> None:
        if self._depth + 1 > self._budget.limits.max_depth:
            raise Found(Finding.TOO_DEEP)

    def _pass_on(self, out: bytes | bytearray | memoryview) -> None:
        if not out:
            return
        if self._nested is not None:
            self._nested.feed(out)
        elif self._compound is not None:
            if len(self._compound) + len(out) > self._budget.compound_limit:
                raise Found(Finding.ARCHIVE_TOO_LARGE)  # read at random, so held whole: only up to a bound
            self._compound += out
        else:
            if self._rtf is not None:
                self._rtf.feed(out)
            if self._pdf is not None:
                self._pdf.feed(out)
                if self._pdf.finding is not None:
                    raise Found(self._pdf.finding)


def read_compound(data: bytes | bytearray, budget: Budget, depth: int) -> None:
    """A compound file held whole: each stream is read as a zip member is (PDFs, zips, compound files in
    it), an OLE Package's file too (a packaged program is refused), and a .ppt's objects; a password-protected
    Office document is refused, and so is a linked object. `Found` ends the inspection."""
    compound = Compound(data, budget.limits.max_members)
    if compound.linked:
        raise Found(Finding.LINKED)  # StdOleLink: Office follows its moniker at open, as an RTF's OLE2Link
    for stream in compound.streams():
        budget.member()
        if stream.name == ENCRYPTED_PACKAGE:
            raise Found(Finding.ENCRYPTED)  # a password-protected Office document: unreadable to clamd and to us
        chunks: Iterator[bytes | memoryview] = compound.chunks(stream)
        if stream.name.upper() == OLE_STREAM:
            chunks = _unlinked(chunks)
        if stream.name == NATIVE:
            chunks = _packaged(stream, chunks, budget)
        content: _Content | SlideObjects = _Content(budget, depth)
        if stream.name == SLIDES:
            content = SlideObjects(lambda: _Content(budget, depth))
        _feed_all(content, chunks)


def read_object(class_name: str, native: memoryview, budget: Budget, depth: int) -> None:
    """An OLE 1.0 object an RTF file at `depth` embeds, one level deeper: a Package's file (a program is
    refused) as a compound file's Package is read, other native data told by its first bytes (a compound
    file, Acrobat's or Word's, a bare PDF or zip) as a member's are. `Found` ends the inspection."""
    if class_name.strip().lower() != "package":
        _feed_all(_Content(budget, depth), iter((native,)))  # a compound file or a zip is a level deeper
        return
    if depth + 1 > budget.limits.max_depth:
        raise Found(Finding.TOO_DEEP)
    # An OLE 1.0 Package is an Ole10Native stream without the size that begins the stream.
    size = struct.pack("<I", len(native))
    stream = Stream(NATIVE, 0, len(size) + len(native), False)
    _feed_all(_Content(budget, depth + 1), _packaged(stream, iter((size, native)), budget))


def _feed_all(content: _Content | SlideObjects, chunks: Iterator[bytes | memoryview]) -> None:
    for chunk in chunks:  # every run, even unwanted (no copy): a Package's names may follow its file
        view = memoryview(chunk)
        # A step at a time, as a member is inflated: a PDF's inspector holds what it is fed.
        for at in range(0, len(view), INFLATE_STEP):
            if not content.wanted:
                break
            content.feed(view[at : at + INFLATE_STEP])
    content.finish()


def _unlinked(chunks: Iterator[bytes | memoryview]) -> Iterator[bytes | memoryview]:
    """An `\\x01Ole` stream's bytes, once its flags (in its first run: a sector or the whole mini stream)
    say the object is embedded, not linked."""
    first = next(chunks, b"")
    if linked_flags(bytes(first[:8])):
        raise Found(Finding.LINKED)  # a linked object: Office follows its moniker at open
    return itertools.chain((first,), chunks)


def _packaged(stream: Stream, chunks: Iterator[bytes | memoryview], budget: Budget) -> Iterator[bytes | memoryview]:
    """The file an OLE Package carries (refused if it is a program, by its names or its first bytes)."""
    held: list[bytes | memoryview] = []
    for chunk in chunks:
        held.append(chunk)
        if sum(len(c) for c in held) >= NATIVE_HEAD:
            break
    # Every run before the last is shorter than NATIVE_HEAD: this is the stream's first bytes.
    head = b"".join(bytes(c[:NATIVE_HEAD]) for c in held)[:NATIVE_HEAD]
    found = package(head, stream.size)
    lead = head[found.offset : found.offset + 8]
    if len(lead) < min(8, found.size):
        raise Found(Finding.MALFORMED)  # a header too long to be a Package's
    if is_program(found.names, lead if found.size else b"", budget.programs):
        raise Found(Finding.EXECUTABLE)
    skip, left = found.offset, found.size
    tail = bytearray()  # what follows the file: its names again, in UTF-16, from newer Packagers
    for chunk in itertools.chain(held, chunks):
        if skip >= len(chunk):
            skip -= len(chunk)
            continue
        piece = chunk[skip : skip + left]
        if piece:
            yield piece
        if len(tail) < NATIVE_HEAD:
            tail += chunk[skip + len(piece) : skip + len(piece) + NATIVE_HEAD - len(tail)]
        skip, left = 0, left - len(piece)
    if is_program(unicode_names(bytes(tail)), b"", budget.programs):
        raise Found(Finding.EXECUTABLE)


class _Streamed:
    """An inspector whose reader takes the bytes as they come (a zip's level, an RTF's content): the first
    finding ends it, and nothing more is read."""

    def __init__(self, budget: Budget, reader: _Level | _Content) -> None:
        self._budget, self._reader = budget, reader
        self._finding: Finding | None = None

    @property
    def finding(self) -> Finding | None:
        """What was found so far (the inspection stops at the first)."""
        return self._finding

    def feed(self, data: bytes) -> None:
        """The next bytes of the file (nothing more is done once something was found)."""
        if self._finding is not None or not data:
            return
        self._budget.read += len(data)
        try:
            self._reader.feed(data)
        except Found as found:
            self._finding = found.finding

    def finish(self) -> Finding | None:
        """The end of the file (a zip's directory is checked, an RTF's open object read); the first
        finding, or None."""
        if self._finding is None:
            try:
                self._reader.finish()
            except Found as found:
                self._finding = found.finding
        return self._finding


class ZipInspector(_Streamed):
    """Fed the bytes of a zip in order, in any chunks; `finish` answers the first finding, or None."""

    def __init__(
        self,
        limits: ArchiveLimits,
        member_limit: int | None = None,
        pdf: PdfRules | None = None,
        programs: frozenset[str] | None = None,
    ) -> None:
        """`pdf`: the rules PDF members are inspected by, as bare PDFs are (None: they are not);
        `programs`: the extensions of programs that an OLE Package may not carry."""
        budget = _budget(limits, member_limit, pdf, programs)
        super().__init__(budget, _Level(budget, 0))


class CompoundInspector:
    """Fed the bytes of a compound file (an Office 97-2003 document) in order, held up to the archives'
    `maxCompoundSize`; `finish` reads it and answers the first finding, or None."""

    def __init__(
        self,
        limits: ArchiveLimits,
        member_limit: int | None = None,
        pdf: PdfRules | None = None,
        programs: frozenset[str] | None = None,
    ) -> None:
        """The same arguments as `ZipInspector`'s."""
        self._budget = _budget(limits, member_limit, pdf, programs)
        self._data = bytearray()
        self._finding: Finding | None = None

    @property
    def finding(self) -> Finding | None:
        """What was found so far."""
        return self._finding

    def feed(self, data: bytes) -> None:
        """The next bytes of the file (held; beyond the bound it is refused: it cannot be read whole)."""
        if self._finding is not None or not data:
            return
        self._budget.read += len(data)
        if self._budget.read > self._budget.compound_limit:
            self._finding, self._data = Finding.ARCHIVE_TOO_LARGE, bytearray()
            return
        self._data += data

    def finish(self) -> Finding | None:
        """The end of the file: its streams are read; the first finding, or None."""
        if self._finding is None:
            data, self._data = self._data, bytearray()
            try:
                read_compound(data, self._budget, 0)
            except Found as found:
                self._finding = found.finding
        return self._finding


class RtfInspector(_Streamed):
    """Fed the bytes of an RTF file in order, in any chunks: each OLE object it embeds is decoded as it
    streams past (held up to the archives' `maxCompoundSize`) and read (and the file as a PDF too, if a PDF
    header is in its first kilobyte); `finish` answers the first finding, or None."""

    def __init__(
        self,
        limits: ArchiveLimits,
        member_limit: int | None = None,
        pdf: PdfRules | None = None,
        programs: frozenset[str] | None = None,
    ) -> None:
        """The same arguments as `ZipInspector`'s."""
        budget = _budget(limits, member_limit, pdf, programs)
        super().__init__(budget, _Content(budget, 0))  # told an RTF by its first bytes, as a member is


def _budget(
    limits: ArchiveLimits, member_limit: int | None, pdf: PdfRules | None, programs: frozenset[str] | None
) -> Budget:
    limit = limits.max_member_size if member_limit is None else min(limits.max_member_size, member_limit)
    return Budget(limits, limit, pdf, PdfRules().program_extensions if programs is None else programs)


def inspect_zip(
    chunks: Iterable[bytes],
    limits: ArchiveLimits,
    member_limit: int | None = None,
    pdf: PdfRules | None = None,
    programs: frozenset[str] | None = None,
) -> Finding | None:
    """The first finding in a zip given as chunks (a local buffer, a file read in pieces), or None."""
    inspector = ZipInspector(limits, member_limit, pdf, programs)
    for chunk in chunks:
        inspector.feed(chunk)
        if inspector.finding is not None:
            break
    return inspector.finish()
