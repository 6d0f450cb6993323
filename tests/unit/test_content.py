from __future__ import annotations

import pytest

from chalicelib.domain.content import (
    Expected,
    Observed,
    ScanOutcome,
    ScanResult,
    judge,
    load_content_policy,
)
from chalicelib.domain.models import FileStatus

CLEAN = ScanResult(ScanOutcome.CLEAN)
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n"


def verdict(
    data: bytes, declared: str, sniffed: str, scan: ScanResult = CLEAN, size: int | None = None, sha: str | None = None
) -> tuple[FileStatus, str | None]:
    import hashlib

    expected = Expected(size=len(data) if size is None else size, content_type=declared, sha256=sha)
    observed = Observed(len(data), hashlib.sha256(data).hexdigest(), sniffed, data[:65536], scan)
    result = judge(load_content_policy(), expected, observed)
    return result.status, result.reason


def test_clean_pdf_is_available() -> None:
    assert verdict(PDF, "application/pdf", "application/pdf") == (FileStatus.AVAILABLE, None)


def test_signature_wins_over_everything() -> None:
    found = ScanResult(ScanOutcome.FOUND, "Win.Test.EICAR_HDB-1")
    assert verdict(PDF, "image/png", "application/x-dosexec", found, size=1) == (
        FileStatus.INFECTED,
        "Win.Test.EICAR_HDB-1",
    )


@pytest.mark.parametrize(
    ("scan", "reason"),
    [
        (ScanResult(ScanOutcome.TOO_LARGE), "too_large_to_scan"),
        (ScanResult(ScanOutcome.FOUND, "Heuristics.Limits.Exceeded.MaxFileSize"), "too_large_to_scan"),
        (ScanResult(ScanOutcome.FOUND, "Heuristics.Encrypted.Zip"), "encrypted"),
        (ScanResult(ScanOutcome.FOUND, "Heuristics.Broken.Executable"), "executable"),
    ],
)
def test_limits_and_encryption_are_rejected_not_infected(scan: ScanResult, reason: str) -> None:
    assert verdict(PDF, "application/pdf", "application/pdf", scan) == (FileStatus.REJECTED, reason)


def test_size_and_checksum() -> None:
    assert verdict(PDF, "application/pdf", "application/pdf", size=3)[1] == "size_mismatch"
    assert verdict(PDF, "application/pdf", "application/pdf", sha="0" * 64)[1] == "checksum_mismatch"


@pytest.mark.parametrize(
    ("data", "declared", "sniffed", "reason"),
    [
        (b"MZ\x90\x00", "application/pdf", "application/x-dosexec", "executable"),
        (b"\x7fELF", "text/plain", "application/x-executable", "executable"),
        (b"#!/bin/sh\n", "text/plain", "text/x-shellscript", "script"),
        (b"<svg onload=alert(1)>", "image/png", "image/svg+xml", "script"),
        (PDF, "image/png", "application/pdf", "type_mismatch"),
        (b"%PDF-1.4\n<script>alert(1)</script>", "application/pdf", "application/pdf", "type_mismatch"),
        (b"  <html>%PDF-1.4", "application/pdf", "application/pdf", "type_mismatch"),
        (b"GIF89a", "image/gif", "text/plain", "type_mismatch"),
    ],
)
def test_types(data: bytes, declared: str, sniffed: str, reason: str) -> None:
    assert verdict(data, declared, sniffed) == (FileStatus.REJECTED, reason)


def test_declared_parameters_and_case_are_ignored() -> None:
    assert verdict(b"bonjour\n", "Text/Plain; charset=utf-8", "text/plain")[0] is FileStatus.AVAILABLE


def test_office_documents_may_sniff_as_zip_when_their_directory_says_so() -> None:
    docx = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    data = b"PK\x03\x04rest"
    observed = Observed(len(data), "", "application/zip", data, CLEAN, ("[Content_Types].xml", "word/document.xml"))
    assert judge(load_content_policy(), Expected(len(data), docx, None), observed).content_type == docx
    assert verdict(data, docx, "application/zip") == (FileStatus.REJECTED, "type_mismatch")  # no directory read
    assert load_content_policy().accepts(docx)
    assert not load_content_policy().accepts("application/x-msdownload")
