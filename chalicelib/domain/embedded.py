"""What a zip member's bytes (or a compound file's stream, or an object an RTF embeds) are, told by their
first bytes, and their reading: a nested zip (`archives.ZipLevel`, a level deeper), an OLE compound file
(held whole up to the archives' `maxCompoundSize`, then read stream by stream by `read_compound`: each
stream as a member, an OLE Package's file too, a .ppt's object records, a linked object refused), a PDF
(the PDF inspector), an RTF file (each OLE 1.0 object it embeds read by `read_object`), or nothing. Pure
and bounded, as `archives.py` is; `Found` ends the inspection.
"""

from __future__ import annotations

import itertools
import struct
from collections.abc import Iterator

from chalicelib.domain.archives import INFLATE_STEP, SNIFF_SIZE, ZIP_MAGIC, ZipLevel
from chalicelib.domain.findings import Finding
from chalicelib.domain.office import SlideObjects
from chalicelib.domain.ole import (
    ENCRYPTED_PACKAGE,
    NATIVE,
    NATIVE_HEAD,
    OLE_MAGIC,
    OLE_STREAM,
    SLIDES,
    Compound,
    Stream,
    is_program,
    linked_flags,
    package,
    unicode_names,
)
from chalicelib.domain.pdf import PDF_MAGIC, PdfInspector
from chalicelib.domain.rtf import RTF_MAGIC, RtfObjects
from chalicelib.domain.zipchecks import Budget, Found


class Content:
    """The bytes of one member (or of a stream in a compound file), told by their first bytes and given to
    what reads them: a nested zip (a level of its own), a compound file (held whole, then read), a PDF (the
    PDF inspector, when the policy refuses active content), an RTF file (for its objects), or nothing."""

    def __init__(self, budget: Budget, depth: int) -> None:
        self._budget = budget
        self._depth = depth  # of the archive holding these bytes
        self._sniff: bytearray | None = bytearray()  # the first bytes, until they tell what follows
        self._nested: ZipLevel | None = None
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
            self._nested = ZipLevel(self._budget, self._depth + 1, Content)
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
        content: Content | SlideObjects = Content(budget, depth)
        if stream.name == SLIDES:
            content = SlideObjects(lambda: Content(budget, depth))
        _feed_all(content, chunks)


def read_object(class_name: str, native: memoryview, budget: Budget, depth: int) -> None:
    """An OLE 1.0 object an RTF file at `depth` embeds, one level deeper: a Package's file (a program is
    refused) as a compound file's Package is read, other native data told by its first bytes (a compound
    file, Acrobat's or Word's, a bare PDF or zip) as a member's are. `Found` ends the inspection."""
    if class_name.strip().lower() != "package":
        _feed_all(Content(budget, depth), iter((native,)))  # a compound file or a zip is a level deeper
        return
    if depth + 1 > budget.limits.max_depth:
        raise Found(Finding.TOO_DEEP)
    # An OLE 1.0 Package is an Ole10Native stream without the size that begins the stream.
    size = struct.pack("<I", len(native))
    stream = Stream(NATIVE, 0, len(size) + len(native), False)
    _feed_all(Content(budget, depth + 1), _packaged(stream, iter((size, native)), budget))


def _feed_all(content: Content | SlideObjects, chunks: Iterator[bytes | memoryview]) -> None:
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
