"""Our clamd client against a real clamd: verdicts, limits, failures, bounded memory."""

from __future__ import annotations

import functools
import gzip
import io
import itertools
import os
import socket
import subprocess
import sys
import threading
import uuid
import zipfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests

from chalicelib.adapters.clamav import SIZE_LIMIT_REPLY, ClamdScanner, parse_reply
from chalicelib.domain.content import (
    Expected,
    Observed,
    ScanOutcome,
    ScanResult,
    judge,
    load_content_policy,
    scan_verdict,
)
from chalicelib.domain.inspection import Inspection
from chalicelib.domain.models import FileStatus
from chalicelib.errors import ScannerUnavailableError
from local.clamav import EICAR, MIB, TEST_MARKER, ClamdProcess
from tests.zips import deflated, nested_bomb, zeros, zip64_eicar, zip_bytes

# Once, in make test's DynamoDB pass: our clamd client against clamd: no catalog.
pytestmark = [pytest.mark.integration, pytest.mark.catalog_independent]

MAX_STREAM = 2 * MIB  # clamd's limits are 1 MiB above it: StreamMaxLength = MaxFileSize = 3 MiB
STREAM_LIMIT = MAX_STREAM + MIB


@pytest.fixture(scope="module")
def clamd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClamdProcess]:
    process = ClamdProcess(tmp_path_factory.mktemp("clamd"), max_stream=MAX_STREAM)
    process.start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def roomy_clamd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClamdProcess]:
    """A clamd whose limits let a 30 MiB stream through, for the memory test."""
    process = ClamdProcess(tmp_path_factory.mktemp("roomy"), max_stream=32 * MIB)
    process.start()
    yield process
    process.stop()


@pytest.fixture
def scanner(clamd: ClamdProcess) -> ClamdScanner:
    return ClamdScanner(clamd.address, timeout=30, chunk_size=64 * 1024)


def chunks(data: bytes, sizes: Iterable[int]) -> Iterator[bytes]:
    """`data` cut into pieces of the given sizes, cycled."""
    start = 0
    for size in itertools.cycle(sizes):
        if start >= len(data):
            return
        yield data[start : start + size]
        start += size


def zipped(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


@functools.cache
def eicar_after_zeros(size: int) -> bytes:
    """A zip of one member: `size` zero bytes then EICAR, deflated in chunks (never held expanded)."""
    return zip_bytes([deflated("padding-then-eicar.txt", [*zeros(size), EICAR])])


def flagged_encrypted(archive: bytes) -> bytes:
    """The same zip with the "encrypted" flag set: what clamd looks at (zipfile cannot encrypt)."""
    data = bytearray(archive)
    for signature, flags in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):  # local and central headers
        data[data.index(signature) + flags] |= 1
    return bytes(data)


# -- verdicts -------------------------------------------------------------------------------------


def test_clean_bytes(scanner: ClamdScanner) -> None:
    assert scanner.scan_stream([b"bonjour\n"]) == ScanResult(ScanOutcome.CLEAN)
    assert scanner.scan_stream([]) == ScanResult(ScanOutcome.CLEAN)
    assert scanner.ping()
    assert scanner.version().startswith("ClamAV ")


@pytest.mark.parametrize(
    "data",
    [EICAR, EICAR + b"\n", b"prefix " + EICAR + b" suffix", zipped({"devoir/eicar.com": EICAR})],
    ids=["exact", "newline", "embedded", "zipped"],
)
def test_eicar_is_found(scanner: ClamdScanner, data: bytes) -> None:
    result = scanner.scan_stream(chunks(data, [7, 1, 300]))
    assert result.outcome is ScanOutcome.FOUND
    assert result.signature is not None and result.signature.startswith("Cartable.Test.EICAR")


def test_empty_chunks_do_not_end_the_stream(scanner: ClamdScanner) -> None:
    # A zero-length INSTREAM frame means "end": sent as is, it would hide the rest from clamd.
    result = scanner.scan_stream([b"", EICAR[:30], b"", EICAR[30:], b""])
    assert result.outcome is ScanOutcome.FOUND


def test_marker_in_a_random_stream_fed_in_odd_chunks(clamd: ClamdProcess) -> None:
    data = os.urandom(MIB // 2) + TEST_MARKER + os.urandom(MIB // 2)
    scanner = ClamdScanner(clamd.address, timeout=30, chunk_size=10_007)  # re-splits most chunks
    result = scanner.scan_stream(chunks(data, [1, 4093, 65_537, 13, 300_001]))
    assert result.outcome is ScanOutcome.FOUND and result.signature is not None
    assert result.signature.startswith("Cartable.Test.Marker")


def test_marker_inside_a_zip(scanner: ClamdScanner) -> None:
    archive = zipped({"notes/devoir.txt": os.urandom(300_000) + TEST_MARKER + os.urandom(1000)})
    result = scanner.scan_stream(chunks(archive, [12_345]))
    assert result.outcome is ScanOutcome.FOUND and result.signature is not None
    assert result.signature.startswith("Cartable.Test.Marker")


# -- limits: never CLEAN --------------------------------------------------------------------------


def test_a_stream_over_the_limit_is_too_large_never_clean(scanner: ClamdScanner) -> None:
    # clamd stops reading at the limit and hangs up: our send fails, yet its reply is a verdict.
    big = (b"x" * MIB for _ in range(8))
    assert scanner.scan_stream(big) == ScanResult(ScanOutcome.TOO_LARGE)
    assert scanner.scan_stream([b"x" * STREAM_LIMIT, b"y"]) == ScanResult(ScanOutcome.TOO_LARGE)
    assert scanner.scan_stream([b"x" * STREAM_LIMIT]) == ScanResult(ScanOutcome.CLEAN)  # the limit itself is fine


@pytest.mark.parametrize(
    ("data", "signature"),
    [
        (gzip.compress(b"\0" * (STREAM_LIMIT + MIB)), "Heuristics.Limits.Exceeded.MaxFileSize"),
        (zipped({f"part{i}.bin": b"\0" * MIB for i in range(14)}), "Heuristics.Limits.Exceeded.MaxScanSize"),
    ],
    ids=["gzip-member-over-MaxFileSize", "zip-over-MaxScanSize"],
)
def test_archives_past_a_limit_are_alerts(scanner: ClamdScanner, data: bytes, signature: str) -> None:
    assert len(data) < STREAM_LIMIT  # small on the wire: only unpacking meets the limit
    result = scanner.scan_stream([data])
    assert result == ScanResult(ScanOutcome.FOUND, signature)
    assert scan_verdict(result) == scan_verdict(ScanResult(ScanOutcome.TOO_LARGE))  # too_large_to_scan


def test_a_zip_member_over_max_file_size_is_refused_not_silently_trimmed(scanner: ClamdScanner) -> None:
    """ClamAV 1.4 trims a zip member to MaxFileSize and scans its head only, with no
    Heuristics.Limits.Exceeded even with AlertExceedsMax (debug: 'cli_unzip: trimming output size'):
    EICAR after 1.1 GiB of zeros (1.1 MB on the wire) goes unseen. The archive inspector, fed the same
    stream, reads the member's size and refuses it."""
    archive = eicar_after_zeros(1100 * MIB)
    assert len(archive) < 2 * MIB
    inspection = Inspection(load_content_policy(), scan_limit=MAX_STREAM)

    def watched() -> Iterator[bytes]:
        for piece in chunks(archive, [64 * 1024]):
            inspection.feed(piece)
            yield piece

    result = scanner.scan_stream(watched())
    observed = Observed(len(archive), "", "application/zip", archive[:1024], result, findings=inspection.finish())
    verdict = judge(load_content_policy(), Expected(len(archive), "application/zip", None), observed)
    assert (verdict.status, verdict.reason) == (FileStatus.REJECTED, "archive_too_large_to_scan"), result


def test_an_encrypted_zip_is_refused(scanner: ClamdScanner) -> None:
    result = scanner.scan_stream([flagged_encrypted(zipped({"a.txt": b"hello " * 100}))])
    assert result == ScanResult(ScanOutcome.FOUND, "Heuristics.Encrypted.Zip")
    verdict = scan_verdict(result)
    assert verdict is not None and (verdict.status, verdict.reason) == (FileStatus.REJECTED, "encrypted")


# -- failures: never a verdict --------------------------------------------------------------------


def test_an_unreachable_clamd_is_an_error_not_a_verdict(tmp_path: Path) -> None:
    scanner = ClamdScanner(f"unix://{tmp_path}/none.sock", timeout=2)
    with pytest.raises(ScannerUnavailableError) as info:
        scanner.scan_stream([b"data"])
    assert isinstance(info.value.__cause__, FileNotFoundError)
    assert not scanner.ping()
    with pytest.raises(ScannerUnavailableError):
        scanner.version()
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(ScannerUnavailableError) as info:
        ClamdScanner(f"tcp://127.0.0.1:{port}", timeout=2).scan_stream([b"data"])
    assert isinstance(info.value.__cause__, ConnectionRefusedError)


def test_stopped_then_restarted(clamd: ClamdProcess, scanner: ClamdScanner) -> None:
    clamd.stop()
    try:
        assert not clamd.is_running() and not scanner.ping()
        with pytest.raises(ScannerUnavailableError):
            scanner.scan_stream([b"x"])
    finally:
        clamd.start()
    assert clamd.is_running()
    assert scanner.scan_stream([b"x"]) == ScanResult(ScanOutcome.CLEAN)
    assert scanner.scan_stream([EICAR]).outcome is ScanOutcome.FOUND


@pytest.mark.parametrize("error", [RuntimeError("storage went away"), ConnectionResetError("S3 reset the read")])
def test_errors_of_the_source_pass_through_unchanged(scanner: ClamdScanner, error: Exception) -> None:
    # Even an OSError from the source is the source's: it is not clamd hanging up.
    def broken() -> Iterator[bytes]:
        yield b"start " * 1000
        raise error

    with pytest.raises(type(error)) as info:
        scanner.scan_stream(broken())
    assert info.value is error
    assert scanner.ping()  # clamd is unharmed


@contextmanager
def fake_clamd(path: Path, handle: Callable[[socket.socket], None]) -> Iterator[str]:
    """A one-connection server on a Unix socket, answering as `handle` does."""
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(1)
    stop = threading.Event()

    def serve() -> None:
        connection, _ = server.accept()
        with connection:
            handle(connection)
            stop.wait(5)  # hold the connection open until the test is done with it

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"unix://{path}"
    finally:
        stop.set()
        thread.join(5)
        server.close()


def drain_then(reply: bytes | None) -> Callable[[socket.socket], None]:
    """Read the whole INSTREAM request, then send `reply` (or nothing) and close."""

    def handle(connection: socket.socket) -> None:
        connection.settimeout(5)
        received = b""
        while not received.endswith(b"\0\0\0\0"):
            part = connection.recv(65_536)
            if not part:
                break
            received += part
        if reply is not None:
            connection.sendall(reply)
        connection.shutdown(socket.SHUT_RDWR)

    return handle


@pytest.mark.parametrize(
    "reply",
    [None, b"", b"lstat() failed: No such file or directory. ERROR\0", b"UNKNOWN COMMAND\0", b"stream: OK"[:6]],
    ids=["hangup", "empty", "other-error", "unknown", "truncated"],
)
def test_replies_that_are_not_verdicts_mean_retry(tmp_path: Path, reply: bytes | None) -> None:
    with fake_clamd(tmp_path / "fake.sock", drain_then(reply)) as address:
        with pytest.raises(ScannerUnavailableError):
            ClamdScanner(address, timeout=5).scan_stream([b"some bytes"])


def test_a_silent_clamd_times_out(tmp_path: Path) -> None:
    with fake_clamd(tmp_path / "silent.sock", lambda connection: None) as address:
        with pytest.raises(ScannerUnavailableError) as info:
            ClamdScanner(address, timeout=0.3).scan_stream([b"some bytes"])
    assert isinstance(info.value.__cause__, TimeoutError)


def test_a_size_limit_reply_before_the_end_is_still_read(tmp_path: Path) -> None:
    def refuse_early(connection: socket.socket) -> None:
        connection.recv(1024)  # then stop reading, as clamd does at StreamMaxLength
        connection.sendall(SIZE_LIMIT_REPLY.encode() + b"\0")
        connection.close()

    with fake_clamd(tmp_path / "limit.sock", refuse_early) as address:
        scanner = ClamdScanner(address, timeout=5)
        assert scanner.scan_stream(b"x" * MIB for _ in range(16)) == ScanResult(ScanOutcome.TOO_LARGE)


# -- memory ---------------------------------------------------------------------------------------


MEMORY_PROBE = """
import os, sys, tracemalloc
from chalicelib.adapters.clamav import ClamdScanner
scanner = ClamdScanner(sys.argv[1], timeout=60)
def stream(n):
    for _ in range(n):
        yield os.urandom(1 << 20)  # made and dropped one chunk at a time
tracemalloc.start()
print(scanner.scan_stream(stream(int(sys.argv[2]))).outcome.value, tracemalloc.get_traced_memory()[1])
"""


def test_memory_stays_flat_while_streaming_30_mib(roomy_clamd: ClamdProcess) -> None:
    """Peak traced memory of a scan, in a process of its own (this one runs servers), does not grow
    with the stream: 30 MiB costs what 5 MiB does, a few chunks."""

    def peak_for(mebibytes: int) -> int:
        done = subprocess.run(
            [sys.executable, "-c", MEMORY_PROBE, roomy_clamd.address, str(mebibytes)],
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
            cwd=Path(__file__).resolve().parents[2],
        )
        outcome, peak = done.stdout.split()
        assert outcome == ScanOutcome.CLEAN.value
        return int(peak)

    short, long = peak_for(5), peak_for(30)
    assert long < 8 * MIB, f"peak {long / MIB:.1f} MiB for a 30 MiB stream"
    assert long - short < MIB, f"peak {short / MIB:.1f} MiB for 5 MiB, {long / MIB:.1f} for 30"


# -- reply parsing ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("stream: OK", ScanResult(ScanOutcome.CLEAN)),
        (
            "stream: Cartable.Test.EICAR.UNOFFICIAL FOUND",
            ScanResult(ScanOutcome.FOUND, "Cartable.Test.EICAR.UNOFFICIAL"),
        ),
        (
            "stream: Heuristics.Limits.Exceeded.MaxFileSize FOUND",
            ScanResult(ScanOutcome.FOUND, "Heuristics.Limits.Exceeded.MaxFileSize"),
        ),
        ("INSTREAM size limit exceeded. ERROR", ScanResult(ScanOutcome.TOO_LARGE)),
    ],
)
def test_replies_that_are_verdicts(reply: str, expected: ScanResult) -> None:
    assert parse_reply(reply) == expected


@pytest.mark.parametrize(
    "reply",
    ["", "stream: FOUND", "stream:  FOUND", "lstat() failed. ERROR", "UNKNOWN COMMAND", "stream: OKAY", "PONG"],
)
def test_replies_that_are_not_verdicts(reply: str) -> None:
    with pytest.raises(ScannerUnavailableError):
        parse_reply(reply)


# -- end to end: what clamd misses is refused and never served ----------------------------------------


def javascript_pdf() -> bytes:
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R /OpenAction 4 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
        b"<< /S /JavaScript /JS (app.alert\\('Bonjour'\\)) >>",
    ]
    body = b"%PDF-1.7\n" + b"".join(b"%d 0 obj\n%s\nendobj\n" % (n, o) for n, o in enumerate(objects, 1))
    return body + b"trailer\n<< /Root 1 0 R >>\n%EOF\n"


def docx_like() -> bytes:
    return zipped(
        {
            "[Content_Types].xml": b'<?xml version="1.0"?><Types/>',
            "_rels/.rels": b"<Relationships/>",
            "word/document.xml": b"<w:document><w:p>Le cycle de l'eau</w:p></w:document>" * 50,
            "word/media/image1.png": os.urandom(20_000),
            "word/embeddings/notes.xlsx": zipped({"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<w/>"}),
        }
    )


DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
ZIP = "application/zip"
HOSTILE: list[tuple[str, str, Callable[[], bytes], str | tuple[str, ...]]] = [
    ("eicar-after-1.1-GiB-of-zeros.zip", ZIP, lambda: eicar_after_zeros(1100 * MIB), "archive_too_large_to_scan"),
    ("zip64-eicar.zip", ZIP, lambda: zip64_eicar(EICAR), "archive_unscannable"),
    # 42.zip-like, 16 GiB expanded: on this stack clamd's MaxScanSize (52 MiB) alerts first; on `make dev`'s
    # (4,000 MiB) it does not, and the inspector's archive_bomb is the answer.
    ("bombe-16-GiB.zip", ZIP, nested_bomb, ("too_large_to_scan", "archive_bomb")),
    # 4 zips of 4 members of 4 MiB of zeros: 64 MiB expanded from 1 KB, past MaxScanSize, yet clamd says OK.
    ("bombe-discrete.zip", ZIP, lambda: nested_bomb(levels=2, fan_out=4), "archive_bomb"),
    (
        "zeros-1-GiB.zip",
        ZIP,
        lambda: zip_bytes([deflated("zeros.bin", zeros(1024 * MIB))]),
        "archive_too_large_to_scan",
    ),
    ("script.pdf", "application/pdf", javascript_pdf, "active_content"),
]


@pytest.mark.parametrize(("name", "declared", "make", "reason"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_what_clamd_misses_is_refused_and_never_served(
    as_user: Any, name: str, declared: str, make: Callable[[], bytes], reason: str | tuple[str, ...]
) -> None:
    data = make()
    assert len(data) < 2 * MIB  # small on the wire, all of them
    pupil = as_user(f"eleve-{uuid.uuid4().hex[:8]}")
    grant = pupil.upload(name, data, declared)
    file = pupil.wait_status(grant["fileId"], timeout=30)
    reasons = reason if isinstance(reason, tuple) else (reason,)
    assert file["status"] == "rejected" and file["reason"] in reasons, file
    answer = pupil.get(f"/v1/files/{grant['fileId']}/content")
    assert answer.status_code == 409 and answer.json()["error"]["code"] == "not_available", answer.text


def test_an_office_document_holding_a_workbook_is_served(as_user: Any) -> None:
    data = docx_like()
    pupil = as_user(f"eleve-{uuid.uuid4().hex[:8]}")
    grant = pupil.upload("expose.docx", data, DOCX)
    file = pupil.wait_status(grant["fileId"], timeout=30)
    assert (file["status"], file["reason"]) == ("available", None), file
    answer = pupil.get(f"/v1/files/{grant['fileId']}/content")
    assert answer.status_code == 302
    assert requests.get(answer.headers["Location"], timeout=30).content == data
