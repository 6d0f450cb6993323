"""INSTREAM as our client writes it: each frame's 4-byte length joined to its bytes in one call, a short
send finished, chunks re-split without copies, the stream ended by a zero-length frame; and a whole
conversation with a fake clamd on a Unix socket, the bytes it received being the bytes sent."""

from __future__ import annotations

import os
import socket
import struct
import threading
from collections.abc import Iterable
from pathlib import Path

import pytest

from chalicelib.adapters.clamav import ClamdScanner, _frames, _send_frame
from chalicelib.domain.content import ScanOutcome, ScanResult

MIB = 1024 * 1024


class ShortSends:
    """A socket that takes at most `most` bytes a call, as one whose send buffer is nearly full does."""

    def __init__(self, most: int) -> None:
        self.most = most
        self.data = bytearray()
        self.calls = 0

    def _take(self, data: bytes) -> int:
        self.calls += 1
        taken = data[: self.most]
        self.data += taken
        return len(taken)

    def sendmsg(self, buffers: Iterable[bytes | memoryview]) -> int:
        return self._take(b"".join(bytes(b) for b in buffers))

    def sendall(self, data: bytes | memoryview) -> None:
        data = bytes(data)
        while data:
            data = data[self._take(data) :]


@pytest.mark.parametrize("most", [1, 2, 3, 4, 5, 9, 10, 1000])
def test_a_frame_is_whole_however_short_the_sends(most: int) -> None:
    sock = ShortSends(most)
    _send_frame(sock, memoryview(b"bonjour"))  # type: ignore[arg-type]
    assert bytes(sock.data) == struct.pack("!L", 7) + b"bonjour"


def test_a_frame_is_one_call_when_the_buffer_has_room() -> None:
    sock = ShortSends(10 * MIB)
    _send_frame(sock, memoryview(bytes(MIB)))  # type: ignore[arg-type]
    assert sock.calls == 1 and len(sock.data) == 4 + MIB


def test_chunks_are_re_split_without_copies_then_ended() -> None:
    first, second = os.urandom(2500), os.urandom(1000)
    frames = list(_frames([first, b"", second], 1024))
    assert [len(f) for f in frames] == [1024, 1024, 452, 1000, 0]  # no frame for the empty chunk
    assert all(f.obj is first for f in frames[:3]) and frames[3].obj is second
    assert b"".join(bytes(f) for f in frames) == first + second


def fake_clamd(path: Path, received: bytearray) -> threading.Thread:
    """One INSTREAM conversation on a Unix socket: the frames' bytes kept, `stream: OK` answered."""
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(1)

    def read_exactly(conn: socket.socket, size: int) -> bytes:
        data = bytearray()
        while len(data) < size:
            part = conn.recv(min(size - len(data), 4104))  # clamd reads 4 KiB at a time
            assert part, "the client hung up mid-frame"
            data += part
        return bytes(data)

    def serve() -> None:
        with server, server.accept()[0] as conn:
            assert read_exactly(conn, len(b"zINSTREAM\0")) == b"zINSTREAM\0"
            while size := struct.unpack("!L", read_exactly(conn, 4))[0]:
                received.extend(read_exactly(conn, size))
            conn.sendall(b"stream: OK\0")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return thread


def test_a_stream_arrives_as_it_was_sent(tmp_path: Path) -> None:
    data = os.urandom(3 * MIB + 17)
    pieces = [data[:1], data[1 : 2 * MIB], b"", data[2 * MIB :]]
    received = bytearray()
    clamd = fake_clamd(tmp_path / "clamd.sock", received)
    scanner = ClamdScanner(f"unix://{tmp_path / 'clamd.sock'}", timeout=10, chunk_size=MIB)
    assert scanner.scan_stream(pieces) == ScanResult(ScanOutcome.CLEAN)
    clamd.join(timeout=10)
    assert bytes(received) == data
