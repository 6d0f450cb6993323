"""PDF active content, found as the bytes stream past: pure, bounded memory, the whole document.

A PDF runs script through names: a JavaScript action (`/S /JavaScript /JS (...)`, whether triggered by
`/OpenAction`, an `/AA` additional action or a link), a `/Launch` action, rich media or XFA forms. The
trigger alone is harmless (an `/OpenAction` to a page destination only turns to that page), so it is the
names of what runs that are looked for, as a reader would tokenize them: outside strings and comments,
with `#xx` escapes decoded (`/J#61vaScript`), and inside the compressed object streams (`/ObjStm`) where
PDF 1.5 writers put most objects, inflated with a bound. Stream data (pages, pictures, fonts) is skipped:
random bytes there would look like names. Which names, and whether to refuse them at all, is policy data
(`policies/content/types.json`, "pdf"); an attachment named as a program is refused too.

No I/O: `PdfInspector.feed` takes the bytes in any chunks; a token split between two chunks is found
because the tail of a chunk that could start one is kept for the next.
"""

from __future__ import annotations

import re
import zlib
from enum import Enum, auto
from typing import Any

from chalicelib.domain.findings import Finding, PdfRules

PDF_MAGIC = b"%PDF-"  # a PDF's header: readers find it anywhere in the first kilobyte
DELIMITERS = rb"\x00\t\n\f\r ()<>\[\]{}/%"
# The filters a stream may name; of them only Flate (or none) is read in an object stream.
FILTERS = frozenset(
    {
        "ASCIIHexDecode",
        "ASCII85Decode",
        "LZWDecode",
        "FlateDecode",
        "RunLengthDecode",
        "CCITTFaxDecode",
        "JBIG2Decode",
        "DCTDecode",
        "JPXDecode",
        "Crypt",
        "AHx",
        "A85",
        "LZW",
        "Fl",
        "RL",
        "CCF",
        "DCT",
    }
)
FLATE = frozenset({"FlateDecode", "Fl"})
# Names the inspector itself needs: an object stream's own dictionary, and whether the file is encrypted.
STRUCTURE = FILTERS | {"ObjStm", "DecodeParms", "DP", "Encrypt"}
LONGEST_NAME = 64  # raw bytes: the longest active name written wholly in #xx escapes fits
CARRY = 4 * LONGEST_NAME  # a chunk's tail kept for the next, where a token may be cut
FILE_NAME = 512  # bytes of an attachment's name kept to read its extension
STEP = 64 * 1024  # bytes inflated at a time from an object stream
LINE_END = re.compile(rb"[\r\n]")
STRING_STOP = re.compile(rb"[()\\]")
OBJECT_HEAD = re.compile(rb"(?:^|\s)(\d+\s+\d+\s+)$")


def decode_name(raw: bytes) -> str:
    """A name token's characters, `#xx` escapes decoded (`J#61vaScript` → `JavaScript`)."""
    if b"#" in raw:
        raw = re.sub(rb"#([0-9A-Fa-f]{2})", lambda m: bytes([int(m.group(1), 16)]), raw)
    return raw.decode("latin-1")


class _Mode(Enum):
    OBJECTS = auto()
    STRING = auto()
    COMMENT = auto()
    STREAM = auto()


class _Shared:
    """What every level (the file, the object streams in it) adds to: findings, flags, the inflate budget."""

    def __init__(self, rules: PdfRules) -> None:
        self.rules = rules
        self.finding: Finding | None = None
        self.encrypted = False  # the file names an /Encrypt dictionary
        self.unreadable = False  # an object stream could not be read
        self.inflated = 0
        self.token = _tokens(rules.active_names | STRUCTURE)


def _tokens(names: frozenset[str]) -> re.Pattern[bytes]:
    """What is looked for between objects: a string or a comment (skipped), an attachment's name, one of
    `names` (or any name with escapes, decoded then), and the keywords around objects and streams."""
    plain = b"|".join(re.escape(n.encode()) for n in sorted(names, key=len, reverse=True))
    end = rb"(?=[" + DELIMITERS + rb"]|\Z)"
    escaped = rb"(?=[^%s]{0,%d}#)[^%s]{1,%d}" % (DELIMITERS, LONGEST_NAME, DELIMITERS, LONGEST_NAME)
    after_delimiter = rb"(?<![^" + DELIMITERS.replace(b"/", b"") + rb"])"
    return re.compile(
        rb"(?P<open>\()|(?P<comment>%)"
        rb"|/(?P<file>U?F)\s*\("  # an attachment's (or a launched program's) file name follows
        rb"|/(?P<name>(?:" + plain + rb")" + end + rb"|" + escaped + end + rb")"
        rb"|" + after_delimiter + rb"(?P<keyword>endstream|endobj|stream|obj)" + end
    )


class _Level:
    """The tokens of one byte sequence: the file itself, or the objects inflated from an object stream."""

    def __init__(self, shared: _Shared) -> None:
        self._shared = shared
        self._token = shared.token
        self._buf = bytearray()
        self._pos = 0
        self._mode = _Mode.OBJECTS
        self._names: set[str] = set()  # structure names of the object being read
        self._depth = 0  # of parentheses, in a string
        self._file: bytearray | None = None  # the string being read is a file name
        self._inflater: Any = None
        self._objects: _Level | None = None  # an object stream's content, read as objects

    def feed(self, data: bytes | bytearray | memoryview, final: bool = False) -> None:
        self._buf += data
        while self._shared.finding is None and self._step(final):
            pass
        # Keep the byte before the next one: a keyword must follow a delimiter.
        drop = max(0, self._pos - 1)
        del self._buf[:drop]
        self._pos -= drop

    def finish(self) -> None:
        self.feed(b"", final=True)
        if self._mode is _Mode.STREAM:
            self._end_stream()

    def _step(self, final: bool) -> bool:
        if self._mode is _Mode.OBJECTS:
            return self._objects_step(final)
        if self._mode is _Mode.STRING:
            return self._string_step(final)
        if self._mode is _Mode.COMMENT:
            end = LINE_END.search(self._buf, self._pos)
            self._pos = len(self._buf) if end is None else end.end()
            if end is not None:
                self._mode = _Mode.OBJECTS
            return end is not None
        return self._stream_step(final)

    # -- objects -------------------------------------------------------------------------------------

    def _objects_step(self, final: bool) -> bool:
        buf = self._buf
        match = self._token.search(buf, self._pos)
        if match is None or (not final and match.end() + 2 > len(buf)):
            # Nothing whole here: keep the tail where a token may begin.
            start = len(buf) if final else max(self._pos, len(buf) - CARRY)
            self._pos = start if match is None else min(max(self._pos, match.start()), start)
            return False
        self._pos = match.end()
        if match.group("open") is not None:
            self._open_string(None)
        elif match.group("comment") is not None:
            self._mode = _Mode.COMMENT
        elif match.group("file") is not None:
            self._open_string(bytearray())
        elif match.group("name") is not None:
            self._name(decode_name(match.group("name")))
        else:
            self._keyword(match.group("keyword").decode())
        return True

    def _name(self, name: str) -> None:
        if name in self._shared.rules.active_names:
            self._shared.finding = Finding.ACTIVE_CONTENT
        if name == "Encrypt":
            self._shared.encrypted = True
        if name in STRUCTURE:
            self._names.add(name)

    def _keyword(self, keyword: str) -> None:
        if keyword != "stream":
            self._names.clear()  # an object begins or ends
            return
        buf = self._buf
        if buf[self._pos : self._pos + 2] == b"\r\n":
            self._pos += 2
        elif bytes(buf[self._pos : self._pos + 1]) in (b"\r", b"\n"):
            self._pos += 1
        self._mode = _Mode.STREAM
        if "ObjStm" in self._names:
            filters = self._names & FILTERS
            if filters and (filters - FLATE or self._names & {"DecodeParms", "DP"}):
                self._shared.unreadable = True  # a filter or predictor not read here: fail closed
            else:
                self._inflater = zlib.decompressobj() if filters else None
                self._objects = _Level(self._shared)
        self._names.clear()

    # -- strings -------------------------------------------------------------------------------------

    def _open_string(self, file: bytearray | None) -> None:
        self._mode = _Mode.STRING
        self._depth = 1
        self._file = file

    def _string_step(self, final: bool) -> bool:
        buf = self._buf
        match = STRING_STOP.search(buf, self._pos)
        if match is None or (match.group() == b"\\" and match.end() >= len(buf) and not final):
            end = len(buf) if match is None else match.start()
            self._keep(buf[self._pos : end])
            self._pos = end
            return False
        self._keep(buf[self._pos : match.start()])
        self._pos = match.end()
        char = match.group()
        if char == b"\\":
            self._keep(buf[self._pos : self._pos + 1])
            self._pos += 1
        elif char == b"(":
            self._depth += 1
            self._keep(char)
        else:
            self._depth -= 1
            if self._depth == 0:
                self._close_string()
            else:
                self._keep(char)
        return True

    def _keep(self, part: bytes | bytearray) -> None:
        if self._file is not None and len(self._file) < FILE_NAME:
            self._file += part[: FILE_NAME - len(self._file)]

    def _close_string(self) -> None:
        self._mode = _Mode.OBJECTS
        if self._file is None:
            return
        raw, self._file = bytes(self._file), None
        name = raw[2:].decode("utf-16-be", "replace") if raw.startswith(b"\xfe\xff") else raw.decode("latin-1")
        extension = name.strip().rstrip(".").rsplit(".", 1)[-1].lower() if "." in name else ""
        if extension in self._shared.rules.program_extensions:
            self._shared.finding = Finding.EXECUTABLE

    # -- streams -------------------------------------------------------------------------------------

    def _stream_step(self, final: bool) -> bool:
        """Skip stream data (reading an object stream's) up to its end: `endstream`, or failing that
        `endobj` or the next `N G obj`, as a lenient reader would recover."""
        buf = self._buf
        end, resume = _stream_end(buf, self._pos)
        if end < 0:
            upto = len(buf) if final else max(self._pos, len(buf) - CARRY)
            self._stream_data(buf[self._pos : upto])
            self._pos = upto
            return False
        self._stream_data(buf[self._pos : end])
        self._pos = resume
        self._end_stream()
        return True

    def _stream_data(self, data: bytes | bytearray) -> None:
        if self._objects is None or not data:
            return
        if self._inflater is None:
            self._objects.feed(data)
            return
        inflater = self._inflater
        try:
            for piece in range(0, len(data), STEP):
                out = inflater.decompress(data[piece : piece + STEP], STEP)
                self._inflated(out)
                while not inflater.eof and (inflater.unconsumed_tail or len(out) == STEP):
                    out = inflater.decompress(inflater.unconsumed_tail, STEP)
                    self._inflated(out)
                if inflater.eof:
                    break
        except zlib.error:
            self._shared.unreadable = True
            self._inflater = self._objects = None

    def _inflated(self, out: bytes) -> None:
        if self._objects is None:
            return
        self._shared.inflated += len(out)
        if self._shared.inflated > self._shared.rules.max_inflated:
            self._shared.finding = Finding.TOO_LARGE
            return
        self._objects.feed(out)

    def _end_stream(self) -> None:
        self._mode = _Mode.OBJECTS
        objects, inflater = self._objects, self._inflater
        self._objects = self._inflater = None
        if objects is None:
            return
        if inflater is not None and not inflater.eof:
            self._shared.unreadable = True  # a truncated object stream: what it hides is unknown
        objects.finish()


def _stream_end(buf: bytearray, start: int) -> tuple[int, int]:
    """Where the stream data starting at `start` ends and where reading objects resumes; (-1, -1) if not here."""
    marker = buf.find(b"endstream", start)
    at = buf.find(b"obj", start)
    while at >= 0 and (marker < 0 or at < marker):
        if at - 3 >= start and buf[at - 3 : at] == b"end":
            return at - 3, at - 3  # `endobj` without `endstream`
        head = OBJECT_HEAD.search(bytes(buf[max(start, at - 40) : at]))
        if head is not None:
            begin = at - len(head.group(1))
            return begin, begin  # the next object, the stream's end never written
        at = buf.find(b"obj", at + 1)
    if marker >= 0:
        return marker, marker + len(b"endstream")
    return -1, -1


class PdfInspector:
    """Fed the bytes of a PDF in order, in any chunks; `finish` answers the first finding, or None."""

    def __init__(self, rules: PdfRules) -> None:
        self._shared = _Shared(rules)
        self._root = _Level(self._shared)

    @property
    def finding(self) -> Finding | None:
        """What was found so far (the inspection stops at the first)."""
        return self._shared.finding

    @property
    def inflated(self) -> int:
        """Bytes inflated from object streams so far (an archive's PDFs share one allowance)."""
        return self._shared.inflated

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        """The next bytes of the PDF (nothing more is done once something was found)."""
        if self._shared.finding is None and data:
            self._root.feed(data)

    def finish(self) -> Finding | None:
        """The end of the PDF: the first finding, or None."""
        shared = self._shared
        if shared.finding is None:
            self._root.finish()
        if shared.finding is None and shared.unreadable:
            # An object stream we could not read may hide anything: refused, never served unread.
            shared.finding = Finding.ENCRYPTED if shared.encrypted else Finding.ACTIVE_CONTENT
        return shared.finding
