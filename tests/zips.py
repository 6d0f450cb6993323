"""Zips as attackers make them, written without ever holding what they expand to.

A member is its compressed bytes, built in chunks (GiBs of zeros deflate to about a thousandth of
their size), with its CRC and size computed as they go; `write_zip` lays members out with local headers,
a central directory and its end record, as zipfile would. Used by the unit and integration tests and by
the archive memory figure (`bench/archive_memory.py`).
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

MIB = 1024 * 1024
STORED, DEFLATED = 0, 8


@dataclass(frozen=True)
class Member:
    """One member: its name, its bytes as stored in the zip, their CRC-32 and expanded size."""

    name: str
    packed: bytes
    crc: int
    size: int
    method: int = DEFLATED


def zeros(size: int, chunk: int = 8 * MIB) -> Iterator[bytes]:
    """`size` zero bytes, one chunk at a time (the same chunk object, never the whole)."""
    block = bytes(min(chunk, size))
    left = size
    while left > 0:
        yield block if left >= len(block) else block[:left]
        left -= len(block)


def deflated(name: str, parts: Iterable[bytes], level: int = 9) -> Member:
    """A deflated member of the concatenated `parts`, compressed as they come."""
    compressor = zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS)
    packed, crc, size = bytearray(), 0, 0
    for part in parts:
        crc = zlib.crc32(part, crc)
        size += len(part)
        packed += compressor.compress(part)
    packed += compressor.flush()
    return Member(name, bytes(packed), crc, size)


def stored(name: str, data: bytes) -> Member:
    return Member(name, data, zlib.crc32(data), len(data), STORED)


def local_header(member: Member, extra: bytes = b"") -> bytes:
    name = member.name.encode()
    return struct.pack(
        "<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0x800, member.method, 0, 0x21, member.crc,
        len(member.packed), member.size, len(name), len(extra),
    ) + name + extra  # fmt: skip


def central_entry(member: Member, offset: int) -> bytes:
    name = member.name.encode()
    return struct.pack(
        "<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 20, 20, 0x800, member.method, 0, 0x21, member.crc,
        len(member.packed), member.size, len(name), 0, 0, 0, 0, 0, offset,
    ) + name  # fmt: skip


def end_record(count: int, size: int, offset: int) -> bytes:
    return struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, count, count, size, offset, 0)


def write_zip(members: Iterable[Member], out: BinaryIO) -> int:
    """Write a zip of `members` to `out` (one at a time: a generator of members keeps memory flat)."""
    entries, written = [], 0
    for member in members:
        entries.append(central_entry(member, written))  # small: the member's bytes are not kept
        header = local_header(member)
        out.write(header)
        out.write(member.packed)
        written += len(header) + len(member.packed)
    directory = b"".join(entries)
    out.write(directory)
    out.write(end_record(len(entries), len(directory), written))
    return written + len(directory) + 22


def zip_bytes(members: Iterable[Member]) -> bytes:
    import io

    out = io.BytesIO()
    write_zip(members, out)
    return out.getvalue()


def nested_bomb(levels: int = 3, fan_out: int = 16, leaf: int = 4 * MIB) -> bytes:
    """A 42.zip-like bomb: `fan_out` zips of `fan_out` zips ... of `fan_out` members of `leaf` zeros,
    each level deflated again (deflated zeros compress again). 3 levels of 16 × 4 MiB: 16 GiB expanded."""
    data = zip_bytes(deflated(f"{i:02d}.bin", zeros(leaf)) for i in range(fan_out))
    for level in range(1, levels):
        inner = deflated("x", [data])
        data = zip_bytes(
            Member(f"level{level}-{i:02d}.zip", inner.packed, inner.crc, inner.size) for i in range(fan_out)
        )
    return data


def zip64_eicar(eicar: bytes) -> bytes:
    """`eicar` in a member written with ZIP64 headers (zipfile's force_zip64): clamd reads nothing in it."""
    import io
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        with archive.open("eicar.com", "w", force_zip64=True) as member:
            member.write(eicar)
    return out.getvalue()


def zipped(members: dict[str, bytes]) -> bytes:
    """A zip of these members as zipfile writes it (deflated), for an archive that is only a container."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()
