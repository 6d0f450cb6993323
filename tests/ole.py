"""OLE compound files written as Office writes them, for the tests (olefile reads them but cannot write).

A version 3 file, 512-byte sectors: the streams of 4096 bytes or more in sectors of their own, the
smaller ones in the mini stream (64-byte mini sectors, the mini FAT), a directory whose every storage's
children form a balanced tree ordered as MS-CFB orders names, the FAT after them, the header's DIFAT
(up to 109 FAT sectors: files up to about 7 MiB, enough here). `embedded_pdf` and `packaged` are the
two ways Word, Excel and PowerPoint embed a PDF (Insert > Object): Acrobat's `CONTENTS` stream, or an
OLE Package's `\\x01Ole10Native` stream.
"""

from __future__ import annotations

import os
import struct
import uuid
import zlib
from dataclasses import dataclass, field

OLE_MAGIC = bytes.fromhex("d0cf11e0a1b11ae1")
SECTOR, MINI, CUTOFF = 512, 64, 4096  # version 3's sectors; version 4 writes 4096-byte ones
FREE, END, FAT_SECTOR, DIFAT_SECTOR, NONE = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFC, 0xFFFFFFFF
HEADER_DIFAT = 109
STORAGE, STREAM, ROOT = 1, 2, 5
BLACK = 1
ACROBAT = uuid.UUID("b801ca65-a1fc-11d0-85ad-444553540000")  # AcroExch.Document
PACKAGE = uuid.UUID("0003000c-0000-0000-c000-000000000046")  # Packager Shell Object
ACROBAT_PROG_ID = "AcroExch.Document.DC"
# A Windows program's first bytes (a DOS header and stub), enough to be told one; clamd finds nothing in it.
DOS_HEADER = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00".ljust(60, b"\x00") + b"\x80\x00\x00\x00"
DOS_STUB = b"\x0e\x1f\xba\x0e\x00\xb4\x09\xcd\x21\xb8\x01\x4c\xcd\x21This program cannot be run in DOS mode.\r\r\n$"
PROGRAM = DOS_HEADER + DOS_STUB.ljust(64, b"\x00") + b"PE\x00\x00"


@dataclass
class _Node:
    name: str
    kind: int
    data: bytes = b""
    clsid: uuid.UUID | None = None
    children: list[_Node] = field(default_factory=list)
    index: int = 0
    start: int = END
    left: int = NONE
    right: int = NONE
    child: int = NONE


def _order(name: str) -> tuple[int, str]:
    return len(name), name.upper()  # MS-CFB: shorter names first, then case-insensitively


def compound(
    streams: dict[str, bytes],
    clsid: uuid.UUID | None = None,
    storages: dict[str, uuid.UUID] | None = None,
    version: int = 3,
) -> bytes:
    """A compound file holding `streams` ("ObjectPool/_1/CONTENTS": storages named by the path); version 3
    (512-byte sectors, what Office writes) or 4 (4096-byte sectors, the header padded to one)."""
    nodes = _nodes(streams, clsid, storages or {})
    sector = SECTOR if version == 3 else 4096
    layout = _Layout(sector)
    mini_fat = layout.streams(nodes)
    mini_fat_start = layout.place(b"".join(struct.pack("<I", n) for n in mini_fat)) if mini_fat else END
    # The directory's last sector filled with unused entries (their links NOSTREAM), as Office leaves it.
    unused = -len(nodes) % (sector // 128)
    directory_start = layout.place(b"".join(_entry(node) for node in nodes) + _empty_entry() * unused)
    fat_start, fat_count, difat_start, difat_count = layout.fat()
    difat = [fat_start + i for i in range(min(fat_count, HEADER_DIFAT))]
    difat += [FREE] * (HEADER_DIFAT - len(difat))
    header = struct.pack(
        "<8s16sHHHHH6sIIIIIIIII",
        OLE_MAGIC,
        b"\x00" * 16,
        0x3E,
        version,
        0xFFFE,
        sector.bit_length() - 1,
        6,
        b"\x00" * 6,
        0 if version == 3 else -(-(len(nodes) + unused) * 128 // sector),
        fat_count,
        directory_start,
        0,
        CUTOFF,
        mini_fat_start,
        -(-len(mini_fat) * 4 // sector),
        difat_start,
        difat_count,
    ) + b"".join(struct.pack("<I", n) for n in difat)
    return header.ljust(sector, b"\x00") + b"".join(layout.sectors)


def _nodes(streams: dict[str, bytes], clsid: uuid.UUID | None, storages: dict[str, uuid.UUID]) -> list[_Node]:
    """The directory's entries, the root first, each storage's children linked as a tree."""
    root = _Node("Root Entry", ROOT, clsid=clsid)
    nodes = [root]
    for path, data in streams.items():
        parent = root
        *folders, name = path.split("/")
        for folder in folders:
            found = next((c for c in parent.children if c.name == folder), None)
            if found is None:
                found = _Node(folder, STORAGE, clsid=storages.get(folder))
                parent.children.append(found)
                nodes.append(found)
            parent = found
        node = _Node(name, STREAM, data)
        parent.children.append(node)
        nodes.append(node)
    for index, node in enumerate(nodes):
        node.index = index
    for node in nodes:
        node.child = _tree(sorted(node.children, key=lambda c: _order(c.name)))
    return nodes


class _Layout:
    """The sectors after the header, and the FAT that chains them."""

    def __init__(self, sector: int) -> None:
        self.size = sector
        self.per_sector = sector // 4  # sector numbers in a FAT (or DIFAT, mini FAT) sector
        self.sectors: list[bytes] = []
        self.table: list[int] = []

    def place(self, data: bytes) -> int:
        """`data` in sectors of its own, chained; its first sector."""
        count = -(-len(data) // self.size)
        if count == 0:
            return END
        first = len(self.sectors)
        for i in range(count):
            self.sectors.append(data[i * self.size : (i + 1) * self.size].ljust(self.size, b"\x00"))
            self.table.append(first + i + 1 if i + 1 < count else END)
        return first

    def streams(self, nodes: list[_Node]) -> list[int]:
        """Each stream placed: large ones in sectors, small ones in the mini stream; the mini FAT."""
        mini_stream, mini_fat = bytearray(), []
        for node in nodes:
            if node.kind != STREAM or not node.data:
                continue
            if len(node.data) >= CUTOFF:
                node.start = self.place(node.data)
                continue
            count = -(-len(node.data) // MINI)
            node.start = len(mini_fat)
            mini_fat += [node.start + i + 1 if i + 1 < count else END for i in range(count)]
            mini_stream += node.data.ljust(count * MINI, b"\x00")
        nodes[0].start, nodes[0].data = self.place(bytes(mini_stream)), bytes(mini_stream)
        return mini_fat + [FREE] * (-len(mini_fat) % self.per_sector)

    def fat(self) -> tuple[int, int, int, int]:
        """The FAT's own sectors, then the DIFAT's (listing the FAT's past the header's 109), last: where
        each starts and how many."""
        count, extra = 1, 0
        while len(self.sectors) + count + extra > count * self.per_sector:
            count += 1
            extra = -(-max(0, count - HEADER_DIFAT) // (self.per_sector - 1))
        start = len(self.sectors)
        table = self.table + [FAT_SECTOR] * count + [DIFAT_SECTOR] * extra
        table += [FREE] * (count * self.per_sector - len(table))
        raw = b"".join(struct.pack("<I", n) for n in table)
        self.sectors += [raw[i * self.size : (i + 1) * self.size] for i in range(count)]
        listed = [start + i for i in range(HEADER_DIFAT, count)]
        difat_start = len(self.sectors) if extra else END
        for i in range(extra):
            part = listed[i * (self.per_sector - 1) : (i + 1) * (self.per_sector - 1)]
            part += [FREE] * (self.per_sector - 1 - len(part)) + [difat_start + i + 1 if i + 1 < extra else END]
            self.sectors.append(b"".join(struct.pack("<I", n) for n in part))
        return start, count, difat_start, extra


def _tree(children: list[_Node]) -> int:
    """The middle child as the root of its siblings' tree, the halves either side: balanced, all black."""
    if not children:
        return NONE
    middle = len(children) // 2
    node = children[middle]
    node.left, node.right = _tree(children[:middle]), _tree(children[middle + 1 :])
    return node.index


def _entry(node: _Node) -> bytes:
    name = node.name.encode("utf-16-le") + b"\x00\x00"
    size = len(node.data) if node.kind in (STREAM, ROOT) else 0
    start = node.start if node.kind in (STREAM, ROOT) else 0
    return struct.pack(
        "<64sHBBIII16sIQQIQ",
        name,
        len(name),
        node.kind,
        BLACK,
        node.left,
        node.right,
        node.child,
        node.clsid.bytes_le if node.clsid else b"\x00" * 16,
        0,
        0,
        0,
        start,
        size,
    )


def _empty_entry() -> bytes:
    return struct.pack("<64sHBBIII16sIQQIQ", b"", 0, 0, 0, NONE, NONE, NONE, b"\x00" * 16, 0, 0, 0, 0, 0)


def comp_obj(user_type: str, clipboard: str, prog_id: str) -> bytes:
    """A `\\x01CompObj` stream: what kind of object this is, as OLE writes it."""

    def string(text: str) -> bytes:
        raw = text.encode("latin-1") + b"\x00"
        return struct.pack("<I", len(raw)) + raw

    head = struct.pack("<HHI", 1, 0xFFFE, 0x0A03) + b"\xff\xff\xff\xff" + b"\x00" * 16
    return head + string(user_type) + string(clipboard) + string(prog_id) + struct.pack("<I", 0x71B239F4) + b"\x00" * 12


OLE_STREAM = struct.pack("<IIIII", 0x02000001, 0, 0, 0, 0)  # `\x01Ole`: an embedded (not linked) object
STD_OLE_LINK = uuid.UUID("00000300-0000-0000-c000-000000000046")  # StdOleLink: the class of a linked object
URL_MONIKER = uuid.UUID("79eac9e0-baf9-11ce-8c82-00aa004ba90b")


def ole_stream(url: str | None = None) -> bytes:
    """A `\\x01Ole` stream (MS-OLEDS 2.3.3 OLEStream): an embedded object's (None), or, as CVE-2017-0199's
    documents carry it, a linked object's (Flags 1) whose absolute moniker is a URL moniker naming `url`."""
    if url is None:
        return OLE_STREAM
    target = url.encode("utf-16-le") + b"\x00\x00"
    moniker = URL_MONIKER.bytes_le + struct.pack("<I", len(target)) + target
    head = struct.pack("<IIIII", 0x02000001, 1, 1, 0, 0) + struct.pack("<I", 0)  # no relative moniker
    tail = struct.pack("<I", 0xFFFFFFFF) + bytes(16) + struct.pack("<II", 0, 0) + bytes(24)  # class, name, times
    return head + struct.pack("<I", len(moniker)) + moniker + tail


def linked_object(url: str, link_class: bool = True) -> bytes:
    """A linked object as an oleObject1.bin (or an RTF's OLE2Link native data) holds one: the `\\x01Ole` stream
    with the URL moniker, in a compound file of StdOleLink's class (`link_class`) or of no class."""
    return compound({"\x01Ole": ole_stream(url)}, clsid=STD_OLE_LINK if link_class else None)


def embedded_pdf(pdf: bytes) -> bytes:
    """A PDF embedded as Acrobat embeds one (AcroExch.Document): the file whole in a `CONTENTS` stream."""
    return compound(
        {
            "\x01Ole": OLE_STREAM,
            "\x01CompObj": comp_obj("Adobe Acrobat Document", "Acrobat Document", ACROBAT_PROG_ID),
            "CONTENTS": pdf,
        },
        clsid=ACROBAT,
    )


def native(name: str, data: bytes, source: str | None = None, unicode: str | None = None) -> bytes:
    """An OLE Package's `\\x01Ole10Native` stream: its size, the label, the source and temporary paths, the file,
    then (`unicode`, as newer Packagers write) the temporary path, label and source path again in UTF-16."""
    source = source or f"C:\\Users\\eleve\\Documents\\{name}"
    temporary = f"C:\\Users\\eleve\\AppData\\Local\\Temp\\{name}".encode("latin-1") + b"\x00"
    body = (
        struct.pack("<H", 2)
        + name.encode("latin-1")
        + b"\x00"
        + source.encode("latin-1")
        + b"\x00"
        + struct.pack("<HHI", 0, 3, len(temporary))
        + temporary
        + struct.pack("<I", len(data))
        + data
    )
    if unicode is not None:
        paths = (f"C:\\Users\\eleve\\AppData\\Local\\Temp\\{unicode}", unicode, f"C:\\Users\\eleve\\{unicode}")
        body += b"".join(struct.pack("<I", len(p)) + p.encode("utf-16-le") for p in paths)
    return struct.pack("<I", len(body)) + body


def packaged(name: str, data: bytes) -> bytes:
    """A file embedded as an OLE Package (what Office does for a file no program on the machine embeds)."""
    return compound(
        {
            "\x01Ole10Native": native(name, data),
            "\x01CompObj": comp_obj("OLE Package", "", "Package"),
            "\x03ObjInfo": b"\x00\x00\x03\x00\x0d\x00",
        },
        clsid=PACKAGE,
    )


WORD = uuid.UUID("00020906-0000-0000-c000-000000000046")  # Microsoft Word 97-2003 Document


def word_97(pdf: bytes) -> bytes:
    """A Word 97-2003 document as its container holds an embedded PDF: the text's streams, and the object
    in ObjectPool/_<id> (Acrobat's CONTENTS, as in an embedded object of its own)."""
    fib = struct.pack("<HHHH", 0xA5EC, 0x00C1, 0x0409, 0) + bytes(4096)  # the FIB's magic and version, then zeros
    pool = "ObjectPool/_1801234567"
    return compound(
        {
            "WordDocument": fib,
            "1Table": bytes(4096),
            "\x05SummaryInformation": b"\xfe\xff\x00\x00" + bytes(100),
            f"{pool}/\x01Ole": OLE_STREAM,
            f"{pool}/\x01CompObj": comp_obj("Adobe Acrobat Document", "Acrobat Document", ACROBAT_PROG_ID),
            f"{pool}/CONTENTS": pdf,
        },
        clsid=WORD,
        storages={"_1801234567": ACROBAT},
    )


def record(kind: int, body: bytes, version: int = 0, instance: int = 0, length: int | None = None) -> bytes:
    """A PowerPoint record: version and instance, type, the body's length, the body."""
    return struct.pack("<HHI", version | instance << 4, kind, len(body) if length is None else length) + body


def object_record(blob: bytes, compressed: bool = True) -> bytes:
    """An ExOleObjStg record: an embedded object's compound file, zlib-compressed after its size (instance 1)
    as PowerPoint writes it, or stored."""
    if compressed:
        return record(0x1011, struct.pack("<I", len(blob)) + zlib.compress(blob), instance=1)
    return record(0x1011, blob)


def ppt(*records: bytes, slides: int = 5000) -> bytes:
    """A PowerPoint 97-2003 file: its `PowerPoint Document` stream a document container (`slides` bytes of
    it), then `records` (the embedded objects), then the end of the user edit, beside `Current User`."""
    document = record(0x03E8, os.urandom(slides), version=0xF)
    edit = record(0x0FF5, struct.pack("<IIIHBBIIII", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0))
    current = record(0x0FF6, struct.pack("<IIHHHBB", 20, 0xE391C05F, 0, 0x03F4, 3, 0, 0) + b"eleve")
    return compound({"Current User": current, "PowerPoint Document": document + b"".join(records) + edit})


# -- RTF: objects as Word and WordPad write them ----------------------------------------------------------

METAFILE = struct.pack("<HHHIHIH", 1, 9, 0x300, 12, 0, 3, 0) + struct.pack("<IH", 3, 0)  # an empty WMF picture


def ole1(class_name: str, native_data: bytes, format_id: int = 2, presentation: bool = True) -> bytes:
    """An OLE 1.0 object (MS-OLEDS 2.2.5) as an RTF's `\\objdata` holds it: OLEVersion, FormatID (2: embedded),
    ClassName, TopicName, ItemName (length-prefixed), NativeDataSize, the native data; then, as Word writes
    it, the picture it shows (a presentation object: FormatID 5, class METAFILE)."""

    def string(text: str) -> bytes:
        raw = text.encode("latin-1") + b"\x00" if text else b""
        return struct.pack("<I", len(raw)) + raw

    body = struct.pack("<II", 0x0501, format_id) + string(class_name) + string("") + string("")
    body += struct.pack("<I", len(native_data)) + native_data
    if presentation:
        picture = struct.pack("<II", 0x0501, 5) + string("METAFILE") + struct.pack("<ii", 1520, -960)
        body += picture + struct.pack("<I", len(METAFILE)) + METAFILE
    return body


def ole1_package(name: str, data: bytes, unicode: str | None = None) -> bytes:
    """A file embedded in an RTF as an OLE Package (WordPad's Insert Object, or a dragged file): its native
    data is an Ole10Native stream without the size that begins the stream."""
    return ole1("Package", native(name, data, unicode=unicode)[4:])


def rtf_hex(data: bytes, width: int = 128) -> bytes:
    """Bytes as RTF writes them in a destination: hex, lower case, in lines of `width` digits."""
    digits = data.hex().encode()
    return b"\r\n".join(digits[at : at + width] for at in range(0, len(digits), width))


def rtf_object(blob: bytes, class_name: str = "Package", update: bool = False) -> bytes:
    """An embedded object as Word writes it in RTF: `\\object\\objemb` (and `\\objupdate`, which makes Word
    load it at open), the class, the OLE 1.0 object's hex in `\\*\\objdata`, the picture it shows."""
    return (
        b"{\\object\\objemb" + (b"\\objupdate" if update else b"") + b"\\objw1520\\objh960"
        b"{\\*\\objclass " + class_name.encode() + b"}{\\*\\objdata \r\n" + rtf_hex(blob) + b"\r\n}"
        b"{\\result {\\pict\\wmetafile8\\picw1520\\pich960 " + rtf_hex(METAFILE) + b"}}}"
    )


def rtf_picture(png: bytes) -> bytes:
    """A picture as Word writes it in RTF (`\\pict\\pngblip`, hex): no object, however long."""
    return b"{\\*\\shppict{\\pict\\picw64\\pich48\\picwgoal960\\pichgoal720\\pngblip\r\n" + rtf_hex(png) + b"}}"


def rtf_document(*parts: bytes) -> bytes:
    """An RTF document as Word 2016 writes one: font and colour tables, a paragraph of French, then `parts`."""
    head = (
        b"{\\rtf1\\adeflang1025\\ansi\\ansicpg1252\\uc1\\adeff31507\\deff0\\stshfdbch31505\\deflang1036"
        b"{\\fonttbl{\\f0\\fbidi \\froman\\fcharset0\\fprq2{\\*\\panose 02020603050405020304}Times New Roman;}"
        b"{\\f1\\fswiss\\fcharset0 Calibri;}}{\\colortbl;\\red0\\green0\\blue0;}"
        b"{\\*\\generator Riched20 10.0.19041}\\viewkind4\\uc1\r\n"
        b"\\pard\\sa200\\sl276\\slmult1\\f0\\fs22\\lang1036 Expos\\'e9 : le cycle de l'eau\\par\r\n"
        b"{\\rtlch\\fcs1 \\af31507 \\ltrch\\fcs0 \\insrsid5 L'eau s'\\u233\\'e9vapore, forme des nuages.}\\par\r\n"
    )
    return head + b"\r\n".join(parts) + b"\\par\r\n}\r\n"
