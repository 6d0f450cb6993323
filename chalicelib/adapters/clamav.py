"""Our own small clamd client: INSTREAM over a Unix or TCP socket, failing closed.

We do not use the `clamd` package: it imports pkg_resources (slow at cold start) and loses
clamd's reply when clamd closes the socket on a stream over its limit (a broken pipe), which
would turn a deterministic "too large" verdict into a blind retry.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterable, Iterator
from urllib.parse import urlparse

from chalicelib.domain.content import ScanOutcome, ScanResult
from chalicelib.errors import ScannerUnavailableError

SIZE_LIMIT_REPLY = "INSTREAM size limit exceeded. ERROR"
MAX_REPLY = 4096


def parse_address(address: str) -> tuple[int, str | tuple[str, int]]:
    """`unix:///run/clamd.sock` or `tcp://host:3310` as a socket family and address."""
    parsed = urlparse(address)
    if parsed.scheme == "unix" and parsed.path.startswith("/") and not parsed.netloc:
        return socket.AF_UNIX, parsed.path
    if parsed.scheme == "tcp" and parsed.hostname and parsed.port and not parsed.path.strip("/"):
        return socket.AF_INET6 if ":" in parsed.hostname else socket.AF_INET, (parsed.hostname, parsed.port)
    raise ValueError(f"clamd address must be unix:///path or tcp://host:port, not {address!r}")


def parse_reply(reply: str) -> ScanResult:
    """A verdict from clamd's reply; anything but OK, FOUND or the size limit is not a verdict."""
    if reply == SIZE_LIMIT_REPLY:
        return ScanResult(ScanOutcome.TOO_LARGE)
    if reply == "stream: OK":
        return ScanResult(ScanOutcome.CLEAN)
    if reply.startswith("stream: ") and reply.endswith(" FOUND"):
        signature = reply[len("stream: ") : -len(" FOUND")].strip()
        if signature:
            return ScanResult(ScanOutcome.FOUND, signature)
    raise ScannerUnavailableError("The antivirus answered something that is not a verdict.")


def _frames(chunks: Iterable[bytes], chunk_size: int) -> Iterator[bytes]:
    for chunk in chunks:
        for start in range(0, len(chunk), chunk_size):
            piece = chunk[start : start + chunk_size]
            yield struct.pack("!L", len(piece)) + piece


class ClamdScanner:
    """The Scanner port: one connection per stream, replies read even after clamd hangs up."""

    def __init__(self, address: str, timeout: float, chunk_size: int = 256 * 1024) -> None:
        self._family, self._address = parse_address(address)
        self._timeout = timeout
        self._chunk_size = chunk_size

    def _connect(self) -> socket.socket:
        sock = socket.socket(self._family, socket.SOCK_STREAM)
        sock.settimeout(self._timeout)
        try:
            sock.connect(self._address)
        except OSError as exc:
            sock.close()
            raise ScannerUnavailableError("The antivirus cannot be reached.") from exc
        return sock

    def _command(self, command: bytes) -> str:
        with self._connect() as sock:
            try:
                sock.sendall(command)
                return _read_reply(sock)
            except OSError as exc:
                raise ScannerUnavailableError("The antivirus did not answer.") from exc

    def ping(self) -> bool:
        """Whether clamd answers PONG."""
        try:
            return self._command(b"zPING\0") == "PONG"
        except ScannerUnavailableError:
            return False

    def version(self) -> str:
        """clamd's version and signature database date."""
        return self._command(b"zVERSION\0")

    def scan_stream(self, chunks: Iterable[bytes]) -> ScanResult:
        """Stream bytes to clamd without holding them; the chunks' own errors pass through unchanged."""
        with self._connect() as sock:
            try:
                sock.sendall(b"zINSTREAM\0")
            except OSError as exc:
                raise ScannerUnavailableError("The antivirus connection failed.") from exc
            for frame in _frames(chunks, self._chunk_size):  # a source error propagates from here
                if not _send(sock, frame):
                    # clamd stops reading and hangs up when a stream passes StreamMaxLength; its
                    # reply is already waiting in our receive buffer.
                    return parse_reply(_reply_or_unavailable(sock))
            _send(sock, struct.pack("!L", 0))
            return parse_reply(_reply_or_unavailable(sock))


def _send(sock: socket.socket, data: bytes) -> bool:
    """Send; False when clamd hung up (its reply may still be readable), an error otherwise."""
    try:
        sock.sendall(data)
    except (BrokenPipeError, ConnectionResetError):
        return False
    except OSError as exc:
        raise ScannerUnavailableError("The antivirus connection failed.") from exc
    return True


def _reply_or_unavailable(sock: socket.socket) -> str:
    try:
        return _read_reply(sock)
    except OSError as exc:
        raise ScannerUnavailableError("The antivirus did not answer.") from exc


def _read_reply(sock: socket.socket) -> str:
    """Read one NUL-terminated reply (or what came before the connection closed)."""
    data = b""
    while b"\0" not in data and len(data) < MAX_REPLY:
        part = sock.recv(MAX_REPLY)
        if not part:
            break
        data += part
    return data.split(b"\0", 1)[0].decode("utf-8", "replace").strip()
