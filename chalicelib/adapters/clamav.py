"""Our own small clamd client: INSTREAM over a Unix or TCP socket, failing closed.

We do not use the `clamd` package: it imports pkg_resources (slow at cold start) and loses
clamd's reply when clamd closes the socket on a stream over its limit (a broken pipe), which
would turn a deterministic "too large" verdict into a blind retry.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any
from urllib.parse import SplitResult, urlsplit

from chalicelib.domain.content import ScanOutcome, ScanResult
from chalicelib.errors import ScannerUnavailableError

SIZE_LIMIT_REPLY = "INSTREAM size limit exceeded. ERROR"
MAX_REPLY = 4096  # replies are a signature name at most: a bound keeps a confused peer from filling memory
MAX_FRAME = 2**32 - 1  # INSTREAM lengths are unsigned 32-bit
END_OF_STREAM = struct.pack("!L", 0)
SEND_BUFFER = 4 * 1024 * 1024  # bytes queued for clamd in the kernel (SO_SNDBUF): four storage chunks

SocketAddress = str | tuple[str, int]


def parse_address(address: str) -> tuple[socket.AddressFamily, SocketAddress]:
    """`unix:///run/clamd.sock` or `tcp://host:3310` as a socket family and address."""
    parsed = urlsplit(address)
    found = None
    if parsed.scheme == "unix":
        found = _unix_address(parsed)
    elif parsed.scheme == "tcp":
        found = _tcp_address(parsed)
    if found is None or parsed.query or parsed.fragment:
        raise ValueError(f"clamd address must be unix:///absolute/path or tcp://host:port, not {address!r}")
    return found


def _unix_address(parsed: SplitResult) -> tuple[socket.AddressFamily, SocketAddress] | None:
    # `unix://relative.sock` would parse as a host name: only an absolute path is unambiguous.
    return (socket.AF_UNIX, parsed.path) if not parsed.netloc and parsed.path.startswith("/") else None


def _tcp_address(parsed: SplitResult) -> tuple[socket.AddressFamily, SocketAddress] | None:
    try:
        port = parsed.port
    except ValueError:  # not a number, or out of range
        return None
    host = parsed.hostname
    if not host or not port or parsed.path not in ("", "/") or parsed.username is not None:
        return None
    return (socket.AF_INET6 if ":" in host else socket.AF_INET), (host, port)


def parse_reply(reply: str) -> ScanResult:
    """A verdict from clamd's reply; anything but OK, FOUND or the size limit is not a verdict."""
    if reply == SIZE_LIMIT_REPLY:
        # Deterministic: sending the same stream again gets the same answer, so it is a verdict.
        return ScanResult(ScanOutcome.TOO_LARGE)
    if reply == "stream: OK":
        return ScanResult(ScanOutcome.CLEAN)
    if reply.startswith("stream: ") and reply.endswith(" FOUND"):
        signature = reply[len("stream: ") : -len(" FOUND")].strip()
        if signature:
            return ScanResult(ScanOutcome.FOUND, signature)
    # Other ERRORs (lstat, out of memory, queue full...) say nothing about the bytes: retry later.
    error = ScannerUnavailableError("The antivirus answered something that is not a verdict.")
    raise error.because(f"clamd replied {reply[:200]!r}")


def _frames(chunks: Iterable[bytes], chunk_size: int) -> Iterator[memoryview]:
    """The bodies of INSTREAM frames of at most `chunk_size` bytes, lazily and without copying, then an
    empty one: the zero-length frame that ends the stream."""
    for chunk in chunks:
        # An empty chunk would be a zero-length frame, which ends the stream early: skip it.
        view = memoryview(chunk)
        for start in range(0, len(view), chunk_size):
            yield view[start : start + chunk_size]
    yield memoryview(b"")


def _send_frame(sock: socket.socket, piece: memoryview) -> None:
    """One INSTREAM frame: its 4-byte length joined to its bytes in one sendmsg (one system call, and
    no copy of a megabyte to prepend four bytes); whatever a short send leaves goes after it."""
    header = struct.pack("!L", len(piece))
    sent = sock.sendmsg([header, piece])
    if sent < len(header):
        sock.sendall(header[sent:])
        sent = len(header)
    if sent - len(header) < len(piece):
        sock.sendall(piece[sent - len(header) :])


class ClamdScanner:
    """The Scanner port: one connection per stream, replies read even after clamd hangs up."""

    def __init__(self, address: str, timeout: float, chunk_size: int = 1024 * 1024) -> None:
        if not 0 < chunk_size <= MAX_FRAME:
            raise ValueError(f"chunk_size must be between 1 and {MAX_FRAME}, not {chunk_size}")
        if timeout <= 0:
            raise ValueError(f"timeout must be positive, not {timeout}")
        self._family, self._address = parse_address(address)
        self._timeout = timeout
        self._chunk_size = chunk_size

    def ping(self) -> bool:
        """Whether clamd answers PONG."""
        try:
            return self._command(b"zPING\0") == "PONG"
        except ScannerUnavailableError:
            return False

    def version(self) -> str:
        """clamd's version (and signature database version, when it has an official one)."""
        reply = self._command(b"zVERSION\0")
        if not reply:
            raise ScannerUnavailableError("The antivirus did not answer.")
        return reply

    def scan_stream(self, chunks: Iterable[bytes]) -> ScanResult:
        """Stream bytes to clamd without holding them; the chunks' own errors pass through unchanged."""
        with self._connect() as sock:
            _send(sock, b"zINSTREAM\0")
            # The iterator is advanced outside the try: its errors (even an OSError from S3) are not clamd's.
            for piece in _frames(chunks, self._chunk_size):
                try:
                    _send_frame(sock, piece)
                except (BrokenPipeError, ConnectionResetError) as exc:
                    # clamd stops reading and hangs up once a stream passes StreamMaxLength; its
                    # reply is then usually already waiting in our receive buffer.
                    return _reply_after_hangup(sock, exc)
                except OSError as exc:
                    raise ScannerUnavailableError("The antivirus connection failed.") from exc
            return parse_reply(_receive(sock))

    def reload(self) -> str:
        """Ask clamd to read its signature database again (an operator's command; `RELOADING`)."""
        return self._command(b"zRELOAD\0")

    async def scan_stream_async(self, chunks: AsyncIterator[bytes]) -> ScanResult:
        """The same conversation over asyncio streams, for many scans at once (rescans)."""
        import asyncio

        try:
            if self._family == socket.AF_UNIX:
                assert isinstance(self._address, str)
                connect = asyncio.open_unix_connection(self._address, limit=MAX_REPLY)
            else:
                assert isinstance(self._address, tuple)
                connect = asyncio.open_connection(*self._address, limit=MAX_REPLY)
            reader, writer = await asyncio.wait_for(connect, self._timeout)
        except (OSError, TimeoutError) as exc:
            raise ScannerUnavailableError("The antivirus cannot be reached.") from exc
        try:
            writer.write(b"zINSTREAM\0")
            async for chunk in chunks:
                for start in range(0, len(chunk), self._chunk_size):
                    piece = chunk[start : start + self._chunk_size]
                    writer.write(struct.pack("!L", len(piece)) + piece)
                    try:
                        await asyncio.wait_for(writer.drain(), self._timeout)
                    except (BrokenPipeError, ConnectionResetError):
                        reply = await _read_async_reply(reader, self._timeout)
                        if not reply:
                            raise ScannerUnavailableError("The antivirus hung up without a verdict.") from None
                        return parse_reply(reply)
            writer.write(END_OF_STREAM)
            await asyncio.wait_for(writer.drain(), self._timeout)
            return parse_reply(await _read_async_reply(reader, self._timeout))
        except (OSError, TimeoutError) as exc:
            raise ScannerUnavailableError("The antivirus connection failed.") from exc
        finally:
            writer.close()

    def _connect(self) -> socket.socket:
        try:
            sock = socket.socket(self._family, socket.SOCK_STREAM)
        except OSError as exc:
            raise ScannerUnavailableError("The antivirus cannot be reached.") from exc
        # clamd reads a stream 4 KiB at a time, writing each to its spool file: with room for a few of
        # our chunks queued, it never waits for the next one to come from storage. The kernel caps it at
        # net.core.wmem_max (its memory, not ours).
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)
        sock.settimeout(self._timeout)
        try:
            sock.connect(self._address)
        except OSError as exc:
            sock.close()
            raise ScannerUnavailableError("The antivirus cannot be reached.") from exc
        return sock

    def _command(self, command: bytes) -> str:
        with self._connect() as sock:
            _send(sock, command)
            return _receive(sock)


def _send(sock: socket.socket, data: bytes) -> None:
    try:
        sock.sendall(data)
    except OSError as exc:
        raise ScannerUnavailableError("The antivirus connection failed.") from exc


def _receive(sock: socket.socket) -> str:
    try:
        return _read_reply(sock)
    except OSError as exc:
        raise ScannerUnavailableError("The antivirus did not answer.") from exc


def _reply_after_hangup(sock: socket.socket, hangup: OSError) -> ScanResult:
    try:
        reply = _read_reply(sock)
    except OSError:
        reply = ""
    if not reply:
        raise ScannerUnavailableError("The antivirus hung up without a verdict.") from hangup
    return parse_reply(reply)


async def _read_async_reply(reader: Any, timeout: float) -> str:
    import asyncio

    data: bytes
    try:
        data = await asyncio.wait_for(reader.readuntil(b"\0"), timeout)
    except asyncio.IncompleteReadError as partial:
        data = partial.partial
    except (asyncio.LimitOverrunError, ConnectionResetError):
        return ""
    return data.split(b"\0", 1)[0].decode("utf-8", "replace").strip()


def _read_reply(sock: socket.socket) -> str:
    """One NUL-terminated reply (or what came before the connection closed), at most MAX_REPLY bytes."""
    data = b""
    while b"\0" not in data and len(data) < MAX_REPLY:
        part = sock.recv(MAX_REPLY)
        if not part:
            break
        data += part
    return data.split(b"\0", 1)[0].decode("utf-8", "replace").strip()
