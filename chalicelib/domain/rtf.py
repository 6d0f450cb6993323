"""RTF files read for the OLE objects they embed: pure, streaming, bounded, failing closed.

An RTF file carries an object as `{\\object ... {\\*\\objdata <hex>}}` (`\\objemb`, `\\objlink`,
`\\objautlink`, `\\objupdate` only say how Word shows it, and when it loads it: attackers use
`\\objupdate` to have it loaded at open). The hex holds an OLE 1.0 object (MS-OLEDS 2.2.5): OLEVersion,
FormatID (2: embedded), ClassName, TopicName and ItemName (each length-prefixed), NativeDataSize and the
native data: for a `Package`, an OLE Package (the file's names, then its bytes, as in an Ole10Native
stream without its size), for most other classes a compound file (Acrobat's keeps the PDF in its
`CONTENTS` stream). clamd decodes none of it; `RtfObjects` does, as the bytes stream past.

A tokenizer over groups, control words, control symbols, `\\bin` runs and text, in chunks of any size: it
keeps a control word cut by a chunk's end (at most `MAX_TOKEN` bytes) and the object being decoded,
nothing else. `\\objdata` is found wherever it is (nested in other groups, with or without `\\*`, with a
numeric parameter); its hex may hold whitespace and newlines, upper or lower case digits, an odd last
digit (dropped, as Word drops it), control words Word ignores (up to Word's 250 letters), empty groups,
and `\\bin` runs of raw bytes. Whatever Word could read otherwise than we do is refused
(`archive_malformed`): text that is not hex, a `\\'hh` or `\\u` escape, text or a destination in a group
nested in the object's, a second `\\objdata` inside one, a control word longer than Word reads, a `\\bin`
run cut by the end of the file or whose length Word would not read, and an object whose OLE 1.0 header
cannot be read. A link (not embedded, or an embedded `OLE2Link`, which Word follows at open) is
`linked_object`.
Pictures (`\\pict`, hex too) are no objects: skipped as text is, at the speed of a regular expression.

The decoded object is held (up to the compound limit: beyond, `archive_too_large_to_scan`) until its
native data is whole; what to do with it is `embedded.py`'s (`read_object`), handed the class name and
the native data. What follows the native data in the hex (the presentation Word shows, extra bytes) is
checked to be hex and not kept.
"""

from __future__ import annotations

import binascii
import re
import struct
from collections.abc import Callable

from chalicelib.domain.findings import Finding
from chalicelib.domain.zipchecks import Budget, Found

# What Word takes for RTF: `{\rt`, not only `{\rtf1` (oletools' rtfobj found it so; attackers write `{\rtx`).
RTF_MAGIC = b"{\\rt"

# One token: text (up to a group or a backslash), a brace, a control word and its parameter, a control symbol.
TOKEN = re.compile(rb"([^{}\\]+)|([{}])|\\([A-Za-z]+)(-?[0-9]+)?|\\(.)", re.S)
# Outside an object only these tokens matter: groups, a \bin run, an object, and the escapes that are not
# groups or that swallow two characters; any other control word is skipped as text is (at regex speed).
OUTSIDE = re.compile(rb"[{}]|\\(?:bin|objdata)(?![A-Za-z])|\\[\\{}']")
PARTIAL = len(b"\\objdata")  # the longest token a chunk may cut before OUTSIDE can tell it
NOT_HEX = re.compile(rb"[^0-9A-Fa-f \t\r\n\f\v]")
WHITESPACE = b" \t\r\n\f\v"
MAX_WORD = 250  # letters Word reads in a control word (rtfobj's tests)
MAX_CONTROL = 253  # letters and digits together
MAX_TOKEN = 1 + MAX_CONTROL + 2  # a control word kept across chunks: beyond, longer than Word reads
MAX_BIN = 2**31  # a \bin length Word reads as a 32-bit number: beyond, Word and we would differ

OBJDATA = b"objdata"
BIN = b"bin"
UNICODE = b"u"  # \uN: a character, and the next character(s) skipped: in the hex, it would eat a digit
# Words that open a destination (RTF 1.9.1, as rtfobj lists them), the ones real files carry: inside an
# object's data one would divert what follows, or not, as Word decides; refused there.
DESTINATIONS = frozenset(
    b"""aftncn aftnsep aftnsepc annotation atnauthor atndate atnid atnparent atnref atrfend atrfstart author
    background bkmkend bkmkstart blipuid buptim category colorschememapping colortbl comment company creatim
    datafield datastore defchp defpap do doccomm docvar dptxbxtext ebcend ebcstart factoidname falt fchars
    ffdeftext ffentrymcr ffexitmcr ffformat ffhelptext ffl ffname ffstattext field file filetbl fldinst fldrslt
    fldtype fontemb fonttbl footer footerf footerl footerr footnote formfield ftncn ftnsep ftnsepc g generator
    gridtbl header headerf headerl headerr hl hlfr hlinkbase hlloc hlsrc hsv info keywords latentstyles lchars
    levelnumbers leveltext lfolevel linkval list listlevel listname listoverride listoverridetable listpicture
    liststylename listtable listtext lsdlockedexcept mailmerge manager nesttableprops nonesttables objalias
    objclass object objname objsect oldcprops oldpprops oldsprops oldtprops oleclsid operator panose password
    passwordhash pgp pgptbl picprop pict pn pnseclvl pntext pntxta pntxtb printim propname protend protstart
    protusertbl result revtbl revtim rxe shp shpgrp shpinst shppict shprslt shptxt sn sp staticval stylesheet
    subject sv svb tc template themedata title txe ud upr userprops wgrffmtfilter windowcaption
    writereservation writereservhash xe xform xmlattrname xmlattrvalue xmlclose xmlname xmlnstbl xmlopen""".split()
)

LINKED = 1  # FormatID of a link to a file elsewhere, fetched by Word
EMBEDDED = 2  # FormatID of an embedded object
LINK_CLASS = "ole2link"  # an embedded link (CVE-2017-0199: with \\objupdate, Word fetches and runs a URL)
MAX_NAME = 4096  # a class, topic or item name longer than this is no header
OLE1_HEAD = struct.Struct("<II")  # OLEVersion, FormatID

# What reads an object's native data: its class name ("Package", "AcroExch.Document.DC"...), the bytes.
ObjectReader = Callable[[str, memoryview], None]


def malformed() -> Found:
    """What an object Word could read otherwise than we do ends in: refused, never passed unread."""
    return Found(Finding.MALFORMED)


def ole1_header(data: bytes | bytearray) -> tuple[str, int, int] | None:
    """An OLE 1.0 object's header read from its first bytes: class name, where the native data starts and
    its size; None if more bytes are needed; `Found` if it is no embedded object's header."""
    if len(data) < OLE1_HEAD.size:
        return None
    _, format_id = OLE1_HEAD.unpack_from(data, 0)
    if format_id == LINKED:
        raise Found(Finding.LINKED)  # a link to a file elsewhere, which Word fetches
    if format_id != EMBEDDED:
        raise malformed()  # a presentation alone, or no header: nothing we can read
    names = _ole1_names(data)
    if names is None:
        return None
    class_name, at = names
    (size,) = struct.unpack_from("<I", data, at)
    if class_name.strip().lower() == LINK_CLASS:
        raise Found(Finding.LINKED)  # a link embedded as an object (Word fetches what it names at open)
    return class_name, at + 4, size


def _ole1_names(data: bytes | bytearray) -> tuple[str, int] | None:
    """The class name of an OLE 1.0 header and where its native data's size is (after the class, topic and
    item names); None if more bytes are needed."""
    at = OLE1_HEAD.size
    names = []
    for _ in range(3):  # class, topic, item
        if at + 4 > len(data):
            return None
        (length,) = struct.unpack_from("<I", data, at)
        if length > MAX_NAME:
            raise malformed()
        if at + 4 + length > len(data):
            return None
        names.append(bytes(data[at + 4 : at + 4 + length]))
        at += 4 + length
    if at + 4 > len(data):
        return None
    class_name = names[0].rstrip(b"\x00").decode("latin-1")
    if not class_name:
        raise malformed()  # no class: no object we can read
    return class_name, at


class _Object:
    """One `\\objdata` being decoded: its hex, the OLE 1.0 object in it, held until its native data is whole."""

    def __init__(self, level: int, limit: int, read: ObjectReader) -> None:
        self.level = level  # the group the destination opened in: it ends when that group closes
        self._limit = limit
        self._read = read
        self._held: bytearray | None = bytearray()  # None once the native data was read
        self._nibble = b""  # an odd hex digit waiting for its pair
        self._header: tuple[str, int, int] | None = None

    def hex(self, text: bytes) -> None:
        """Text in the destination itself: hex digits and whitespace only."""
        if NOT_HEX.search(text):
            raise malformed()
        if self._held is None:
            return  # after the native data: checked, not kept
        digits = self._nibble + text.translate(None, WHITESPACE)
        even = len(digits) & ~1
        self._nibble = digits[even:]
        if even:
            self.raw(binascii.unhexlify(digits[:even]))

    def binary(self, data: bytes) -> None:
        """A `\\bin` run's raw bytes, in the object's data as they are."""
        if self._nibble:
            raise malformed()  # a digit waiting for its pair: Word may pair it otherwise
        if self._held is not None and data:
            self.raw(data)

    def raw(self, data: bytes) -> None:
        held = self._held
        if held is None:
            return  # after the native data: the presentation, or padding
        held += data
        if self._header is None:
            self._header = ole1_header(held)
            if self._header is None:
                if len(held) > self._limit:
                    raise Found(Finding.ARCHIVE_TOO_LARGE)
                return
        name, start, size = self._header
        if start + size > self._limit:
            raise Found(Finding.ARCHIVE_TOO_LARGE)  # held whole to be read: only up to a bound
        if len(held) >= start + size:
            self._held = None
            self._read(name, memoryview(held)[start : start + size])

    def finish(self) -> None:
        """The destination closed: the native data must have been whole (an odd last digit is dropped)."""
        if self._held is not None:
            raise malformed()  # no header, or native data cut short: what Word would load is unknown


class RtfObjects:
    """Fed an RTF file's bytes in order, in any chunks: each `\\objdata`'s OLE 1.0 object is decoded and its
    native data handed to `read`; `Found` ends the reading (too many objects is `archive_bomb`)."""

    def __init__(self, budget: Budget, read: ObjectReader) -> None:
        self._budget = budget
        self._read = read
        self._carry = b""  # a control word (or escape) cut by the end of the last chunk
        self._level = 0
        self._bin = 0  # raw bytes of a \bin run still to come
        self._object: _Object | None = None

    def feed(self, chunk: bytes | bytearray | memoryview) -> None:
        """The next bytes of the file."""
        data = self._carry + bytes(chunk)
        self._carry = b""
        at = self._skip_bin(data, 0)
        while at < len(data):
            if self._object is None:
                found = OUTSIDE.search(data, at)
                if found is None:
                    # Every backslash left starts a token (pairs were found): keep one the chunk may have cut.
                    last = data.rfind(b"\\", max(at, len(data) - PARTIAL))
                    self._carry = data[last:] if last >= 0 else b""
                    return
                at = found.start()
                if data[at] != 0x5C:  # a brace
                    self._group(data[at])
                    at += 1
                    continue
            match = TOKEN.match(data, at)
            if match is None or self._cut(data, match):
                self._keep(data[at:])
                return
            at = self._skip_bin(data, self._token(data, match))

    def finish(self) -> None:
        """The end of the file: a `\\bin` run or an object left open are judged."""
        data, self._carry, at = self._carry, b"", 0
        while at < len(data):  # what was kept of the last chunk: no more bytes will follow it
            match = TOKEN.match(data, at)
            if match is None:
                break  # a backslash last: nothing
            at = self._skip_bin(data, self._token(data, match))
        if self._bin:
            raise malformed()  # a binary run longer than the file: Word would read its length otherwise
        while self._level > 0:
            self._close()
        if self._object is not None:
            self._end_object()

    # -- tokens ----------------------------------------------------------------------------------------

    def _cut(self, data: bytes, match: re.Match[bytes]) -> bool:
        """Whether a control word or symbol may go on in the next chunk (its end needs two bytes seen)."""
        if match.lastindex == 1 or match.lastindex == 2:
            return False
        end = match.end()
        if match.group(5) == b"'":
            return end + 2 > len(data)
        return match.group(3) is not None and end + 2 > len(data)

    def _keep(self, tail: bytes) -> None:
        """A token cut by the chunk's end is kept for the next; one longer than Word reads is judged now."""
        if len(tail) > MAX_TOKEN:
            # Only the words that matter are tokens: an object's, \bin or \objdata; Word reads them otherwise.
            raise malformed()
        self._carry = tail

    def _token(self, data: bytes, match: re.Match[bytes]) -> int:
        """One token read; where the next starts."""
        end = match.end()
        kind = match.lastindex
        if kind == 1:
            if self._object is not None:
                self._text(match.group(1))
        elif kind == 2:
            self._group(data[match.start()])
        elif match.group(3) is not None:
            if end < len(data) and data[end] == 0x20:
                end += 1  # the space that ends a control word is part of it
            self._word(match.group(3), match.group(4))
        else:
            end = self._symbol(match.group(5), end)
        return end

    def _text(self, text: bytes) -> None:
        obj = self._object
        assert obj is not None
        if self._level == obj.level:
            obj.hex(text)
        elif text.strip(WHITESPACE):
            raise malformed()  # text in a group nested in the object's: Word may skip it, or not

    def _symbol(self, symbol: bytes, end: int) -> int:
        if self._object is None:
            return end + 2 if symbol == b"'" else end  # \'hh: two characters, whatever they are
        if symbol in (b"'", b"{", b"}", b"\\"):
            raise malformed()  # an escaped character in the hex: Word's reading of it is its own
        return end  # \*, \~, \-, a newline...: nothing

    def _word(self, name: bytes, parameter: bytes | None) -> None:
        digits = len(parameter.lstrip(b"-")) if parameter else 0
        too_long = len(name) > MAX_WORD or len(name) + digits > MAX_CONTROL
        if name == BIN:
            self._start_bin(parameter, too_long)
        elif self._object is not None:
            if too_long or name in (OBJDATA, UNICODE) or name in DESTINATIONS:
                raise malformed()  # read otherwise by Word, or a destination inside the object
        elif name == OBJDATA:
            if too_long:
                raise malformed()  # longer than Word reads: an object to Word, or not
            self._budget.member()  # each object counts as an archive's member does
            self._object = _Object(self._level, self._budget.compound_limit, self._read)

    def _start_bin(self, parameter: bytes | None, too_long: bool) -> None:
        length = int(parameter) if parameter else 0
        if too_long or abs(length) >= MAX_BIN:
            raise malformed()
        self._bin = max(0, length)  # a negative length is none (rtfobj's tests of Word)
        if self._object is not None and self._bin and self._level != self._object.level:
            raise malformed()  # raw bytes in a group nested in the object's

    def _skip_bin(self, data: bytes, at: int) -> int:
        """A `\\bin` run's raw bytes: never tokens; the object's data when inside one."""
        if not self._bin or at >= len(data):
            return at
        take = min(self._bin, len(data) - at)
        if self._object is not None:
            self._object.binary(data[at : at + take])
        self._bin -= take
        return at + take

    def _group(self, brace: int) -> None:
        if brace == 0x7B:  # {
            self._level += 1
        else:
            self._close()

    def _close(self) -> None:
        if self._object is not None and self._level == self._object.level:
            self._end_object()
        self._level = max(0, self._level - 1)

    def _end_object(self) -> None:
        obj, self._object = self._object, None
        assert obj is not None
        obj.finish()
