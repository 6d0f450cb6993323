"""Our clamd client against a real clamd: verdicts, limits, failures, bounded memory."""

from __future__ import annotations

import io
import os
import tracemalloc
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from chalicelib.adapters.clamav import ClamdScanner, parse_reply
from chalicelib.domain.content import ScanOutcome, ScanResult
from chalicelib.errors import ScannerUnavailableError
from local.clamav import EICAR, TEST_MARKER, ClamdProcess

pytestmark = pytest.mark.integration
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def clamd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClamdProcess]:
    process = ClamdProcess(tmp_path_factory.mktemp("clamd"), max_stream=4 * MIB)
    process.start()
    yield process
    process.stop()


@pytest.fixture
def scanner(clamd: ClamdProcess) -> ClamdScanner:
    return ClamdScanner(clamd.address, timeout=30, chunk_size=64 * 1024)


def chunks(data: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def test_clean_bytes(scanner: ClamdScanner) -> None:
    assert scanner.scan_stream([b"bonjour\n"]) == ScanResult(ScanOutcome.CLEAN)
    assert scanner.ping()


@pytest.mark.parametrize("data", [EICAR, EICAR + b"\n", b"prefix " + EICAR], ids=["exact", "newline", "prefixed"])
def test_eicar_is_found(scanner: ClamdScanner, data: bytes) -> None:
    result = scanner.scan_stream(chunks(data, 7))
    assert result.outcome is ScanOutcome.FOUND
    assert result.signature is not None and result.signature.startswith("Cartable.Test.EICAR")


def test_marker_inside_a_zip_in_odd_chunks(scanner: ClamdScanner) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("notes/devoir.txt", os.urandom(300_000) + TEST_MARKER + os.urandom(1000))
    result = scanner.scan_stream(chunks(buffer.getvalue(), 12_345))
    assert result.outcome is ScanOutcome.FOUND and result.signature is not None
    assert result.signature.startswith("Cartable.Test.Marker")


def test_a_stream_over_the_limit_is_too_large_never_clean(scanner: ClamdScanner) -> None:
    big = (b"x" * MIB for _ in range(8))  # 8 MiB > StreamMaxLength (5 MiB)
    assert scanner.scan_stream(big).outcome is ScanOutcome.TOO_LARGE


def test_an_unreachable_clamd_is_an_error_not_a_verdict(tmp_path: Path) -> None:
    scanner = ClamdScanner(f"unix://{tmp_path}/none.sock", timeout=2)
    with pytest.raises(ScannerUnavailableError):
        scanner.scan_stream([b"data"])
    assert not scanner.ping()
    with pytest.raises(ScannerUnavailableError):
        ClamdScanner("tcp://127.0.0.1:9", timeout=2).scan_stream([b"data"])


def test_errors_of_the_source_pass_through(scanner: ClamdScanner) -> None:
    def broken() -> Iterator[bytes]:
        yield b"start"
        raise OSError("storage went away")

    with pytest.raises(OSError, match="storage went away"):
        scanner.scan_stream(broken())
    assert scanner.ping()  # clamd is unharmed


def test_restart(clamd: ClamdProcess, scanner: ClamdScanner) -> None:
    clamd.stop()
    with pytest.raises(ScannerUnavailableError):
        scanner.scan_stream([b"x"])
    clamd.start()
    assert scanner.scan_stream([b"x"]).outcome is ScanOutcome.CLEAN


def test_memory_stays_flat_while_streaming(scanner: ClamdScanner) -> None:
    def stream() -> Iterator[bytes]:
        for _ in range(4):
            yield os.urandom(MIB)  # 4 MiB, produced and dropped one chunk at a time

    tracemalloc.start()
    try:
        assert scanner.scan_stream(stream()).outcome is ScanOutcome.CLEAN
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 3 * MIB


@pytest.mark.parametrize(
    ("reply", "outcome"),
    [
        ("stream: OK", ScanOutcome.CLEAN),
        ("stream: Win.Test.EICAR_HDB-1 FOUND", ScanOutcome.FOUND),
        ("INSTREAM size limit exceeded. ERROR", ScanOutcome.TOO_LARGE),
    ],
)
def test_replies_that_are_verdicts(reply: str, outcome: ScanOutcome) -> None:
    assert parse_reply(reply).outcome is outcome


@pytest.mark.parametrize("reply", ["", "stream: FOUND", "lstat() failed. ERROR", "UNKNOWN COMMAND", "stream: OKAY"])
def test_replies_that_are_not_verdicts(reply: str) -> None:
    with pytest.raises(ScannerUnavailableError):
        parse_reply(reply)
