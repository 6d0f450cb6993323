"""The member names of a zip, read from its central directory in the file's last bytes: pure and bounded.

A zip's own table of contents is at its end (the central directory, then the end record), which is
what unzip tools and office suites read; the local headers at the start may lie or be missing. Only
the last `TAIL_SIZE` bytes are ever looked at, and at most `MAX_MEMBERS` names are returned.
"""

from __future__ import annotations

import struct

TAIL_SIZE = 256 * 1024  # the scan keeps this much of the end of every file
MAX_MEMBERS = 10_000

END = b"PK\x05\x06"
# signature, disk, the directory's disk, entries on this disk, entries, directory size and offset, comment length
END_FORMAT = struct.Struct("<4sHHHHIIH")
LOCATOR = b"PK\x06\x07"
LOCATOR_FORMAT = struct.Struct("<4sIQI")  # signature, disk of the zip64 end, its offset, disks
END64 = b"PK\x06\x06"
END64_FORMAT = struct.Struct("<4sQHHIIQQQQ")  # ..., entries here, entries, directory size, directory offset
ENTRY = b"PK\x01\x02"
ENTRY_FORMAT = struct.Struct("<4sHHHHHHIIIHHHHHII")
UTF8_NAMES = 0x800  # general purpose flag 11: the name is UTF-8 (else code page 437)
MAX_COMMENT = 0xFFFF


def end_record(tail: bytes) -> int | None:
    """Where the end-of-central-directory record starts: the last one whose comment ends the file."""
    floor = max(0, len(tail) - END_FORMAT.size - MAX_COMMENT)
    at = tail.rfind(END, floor)
    while at >= 0:
        if at + END_FORMAT.size <= len(tail):
            comment = END_FORMAT.unpack_from(tail, at)[7]
            if at + END_FORMAT.size + comment == len(tail):
                return at
        at = tail.rfind(END, floor, at)
    return None


def _directory(tail: bytes, start: int, end: int) -> tuple[int, int, int] | None:
    """(entries, size, absolute offset) of the central directory, zip64 included; None for a split zip."""
    _, disk, first_disk, here, entries, size, offset, _ = END_FORMAT.unpack_from(tail, end)
    if 0xFFFF not in (here, entries) and 0xFFFFFFFF not in (size, offset):
        return (entries, size, offset) if disk == first_disk == 0 and here == entries else None
    locator = end - LOCATOR_FORMAT.size
    if locator < 0 or tail[locator : locator + 4] != LOCATOR:
        return None
    _, _, end64_offset, disks = LOCATOR_FORMAT.unpack_from(tail, locator)
    at = end64_offset - start
    if disks != 1 or at < 0 or at + END64_FORMAT.size > locator or tail[at : at + 4] != END64:
        return None
    _, _, _, _, disk, first_disk, here, entries, size, offset = END64_FORMAT.unpack_from(tail, at)
    return (entries, size, offset) if disk == first_disk == 0 and here == entries else None


def member_names(tail: bytes, size: int, limit: int = MAX_MEMBERS) -> tuple[str, ...] | None:
    """The names in the central directory of a zip of `size` bytes whose last bytes are `tail`.

    None when there is no directory to read: not a zip, a directory not wholly within `tail`, an
    archive split over disks, one with more than `limit` members, or entries that do not parse.
    """
    start = size - len(tail)
    end = end_record(tail)
    if start < 0 or end is None:
        return None
    directory = _directory(tail, start, end)
    if directory is None:
        return None
    entries, length, offset = directory
    at = offset - start
    if entries > limit or at < 0 or at + length > end:
        return None
    names: list[str] = []
    stop = at + length
    while len(names) < entries:
        if at + ENTRY_FORMAT.size > stop or tail[at : at + 4] != ENTRY:
            return None
        fields = ENTRY_FORMAT.unpack_from(tail, at)
        flags, name_length, extra_length, comment_length = fields[3], fields[10], fields[11], fields[12]
        raw = tail[at + ENTRY_FORMAT.size : at + ENTRY_FORMAT.size + name_length]
        names.append(raw.decode("utf-8" if flags & UTF8_NAMES else "cp437", errors="replace"))
        at += ENTRY_FORMAT.size + name_length + extra_length + comment_length
    return tuple(names) if at <= stop else None
