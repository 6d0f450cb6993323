"""What Office keeps around its compound files, read as it streams: pure, bounded, failing closed.

`SlideObjects` finds the objects a .ppt keeps in records of its `PowerPoint Document` stream, most of them
zlib-compressed; `Relationships` reads a docx, xlsx or pptx's `.rels` part for linked objects: an
`oleObject` relationship whose TargetMode is External (CVE-2017-0199, CVE-2022-30190: Office fetches and
runs what it names at open) is `linked_object`, unless its target is a path on the writer's own drive
(Paste Special > Paste link of a spreadsheet's cells: Office asks before it reads that file again, and on
another computer there is nothing there to read). The compound files themselves are `ole.py`'s.
"""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import Callable
from typing import Any, Protocol
from xml.parsers import expat

from chalicelib.domain.findings import Finding
from chalicelib.domain.ole import malformed
from chalicelib.domain.zipchecks import Found

RECORD_FORMAT = struct.Struct("<HHI")  # version and instance, type, length of the body
OBJECT_RECORD = 0x1011  # ExOleObjStg: an embedded object's compound file, zlib-compressed (instance 1) or not
INFLATE_STEP = 64 * 1024


class Sink(Protocol):
    """What reads an embedded object's bytes (archives' reading of a member)."""

    def feed(self, out: bytes | bytearray | memoryview) -> None: ...

    def finish(self) -> None: ...


class SlideObjects:
    """The top-level records of a .ppt's `PowerPoint Document` stream, fed in order: the body of each
    ExOleObjStg record (an embedded object's compound file; after its size, zlib-compressed, when the
    record's instance is 1) is inflated a step at a time and given to a sink of its own; other records are
    skipped. An object record cut short, or whose compressed data does not inflate, is `archive_malformed`."""

    wanted = True  # every record is read: an object may come last

    def __init__(self, open_object: Callable[[], Sink]) -> None:
        self._open_object = open_object
        self._head = bytearray()  # a record header, or a compressed object's size, being read
        self._left = 0  # bytes of the current record's body still to come
        self._sink: Sink | None = None
        self._inflater: Any = None
        self._sized = True  # a compressed object's size was read

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        """The next bytes of the stream."""
        view = memoryview(data)
        while view:
            if self._left == 0:
                view = self._header(view)
                continue
            if not self._sized:
                take = min(len(view), 4 - len(self._head), self._left)
                self._head += view[:take]
                view, self._left = view[take:], self._left - take
                self._sized = len(self._head) == 4
                if self._sized:
                    self._head.clear()
            else:
                piece = view[: self._left]
                view, self._left = view[len(piece) :], self._left - len(piece)
                self._object(piece)
            if self._left == 0:
                self._close()

    def finish(self) -> None:
        """The end of the stream: an object record must have ended with it."""
        if self._sink is not None:
            raise malformed()

    def _header(self, view: memoryview) -> memoryview:
        take = RECORD_FORMAT.size - len(self._head)
        self._head += view[:take]
        if len(self._head) < RECORD_FORMAT.size:
            return view[take:]
        version, kind, self._left = RECORD_FORMAT.unpack(self._head)
        self._head.clear()
        if kind == OBJECT_RECORD:
            self._sink = self._open_object()
            compressed = version >> 4 == 1
            self._inflater = zlib.decompressobj() if compressed else None
            self._sized = not compressed
            if self._left == 0:
                self._close()
        return view[take:]

    def _object(self, piece: memoryview) -> None:
        if self._sink is None:
            return
        if self._inflater is None:
            self._sink.feed(piece)
            return
        try:
            out = self._inflater.decompress(piece, INFLATE_STEP)
            self._sink.feed(out)
            while not self._inflater.eof and (self._inflater.unconsumed_tail or len(out) == INFLATE_STEP):
                out = self._inflater.decompress(self._inflater.unconsumed_tail, INFLATE_STEP)
                self._sink.feed(out)
        except zlib.error as exc:
            raise malformed() from exc

    def _close(self) -> None:
        sink, inflater = self._sink, self._inflater
        self._sink = self._inflater = None
        self._sized = True
        if sink is None:
            return
        if inflater is not None and not inflater.eof:
            raise malformed()  # compressed data cut short: what it hides is unknown
        sink.finish()


RELATIONSHIP = "Relationship"
LINKED_TYPE = "/oleobject"  # how an OLE object's relationship type ends (transitional and strict namespaces)
EXTERNAL = "external"
TOKEN_LIMIT = 1024 * 1024  # bytes expat may hold unparsed (one tag or text run): no relationship is longer


class Relationships:
    """A docx, xlsx or pptx's `.rels` part, fed in order and parsed as it streams (expat: quotes, comments,
    CDATA, character references and UTF-16 as Office reads them): a `Relationship` of an `oleObject` type
    whose TargetMode is External (a linked object Office fetches at open) is `linked_object` unless its target
    is a path on a local drive (`local_target`); a part that is not well-formed XML, declares a DTD (entities
    could spell the type) or holds a token longer than `TOKEN_LIMIT` is `archive_malformed`. Prefixes are
    ignored and values compared without case or surrounding spaces: what Office might read as a link is one.
    Other external targets (hyperlinks) are no link."""

    def __init__(self) -> None:
        self._parser = expat.ParserCreate()
        self._parser.StartElementHandler = self._start
        self._parser.StartDoctypeDeclHandler = self._doctype
        self._parser.EntityDeclHandler = self._doctype
        for name in ("EndElementHandler", "CharacterDataHandler", "CommentHandler", "ProcessingInstructionHandler"):
            setattr(self._parser, name, self._mark)
        self._fed = 0
        self._marked = 0  # where expat last reported something: what follows is held unparsed

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        """The next bytes of the part."""
        if not data:
            return
        self._fed += len(data)
        self._parse(bytes(data), False)
        if self._fed - self._marked > TOKEN_LIMIT:
            raise malformed()

    def finish(self) -> None:
        """The end of the part: it must have been a whole XML document (an empty part relates nothing)."""
        if self._fed:
            self._parse(b"", True)

    def _parse(self, data: bytes, final: bool) -> None:
        try:
            self._parser.Parse(data, final)
        except expat.ExpatError as exc:
            raise malformed() from exc

    def _mark(self, *_: Any) -> None:
        self._marked = self._parser.CurrentByteIndex

    def _doctype(self, *_: Any) -> None:
        raise malformed()  # OOXML parts have no DTD: its entities could make any value

    def _start(self, name: str, attributes: dict[str, str]) -> None:
        self._mark()
        if name.rsplit(":", 1)[-1] != RELATIONSHIP:
            return
        values: dict[str, list[str]] = {}
        for key, value in attributes.items():
            values.setdefault(key.rsplit(":", 1)[-1], []).append(value.strip().lower())
        linked = any(kind.endswith(LINKED_TYPE) for kind in values.get("Type", []))
        if linked and EXTERNAL in values.get("TargetMode", []):
            targets = values.get("Target", [])
            if len(targets) != 1 or not local_target(targets[0]):
                # An object Office fetches from where the target says when the document opens.
                raise Found(Finding.LINKED)


# A path on a drive of the writer's own computer, as Word writes a pasted link (`file:///C:\dir\book.xlsx`,
# with `!Sheet1!R1C1:R3C3` after it); `C:\...` alone too. Nothing else: a UNC path (`\\server\share`,
# `file://server/...`) makes Windows send its credentials to that server, and a URL names remote content.
LOCAL_TARGET = re.compile(r"(?:file:/{3})?[a-z]:[\\/](?![\\/])[^\x00-\x1f]*")


def local_target(target: str) -> bool:
    """Whether an external target (lower case, stripped) names a file on a drive of the writer's computer."""
    return LOCAL_TARGET.fullmatch(target) is not None
