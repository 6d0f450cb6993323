"""The content rules as tables: declared type × sniffed type × the container's member names → verdict
and the type the bytes are judged (and served). Then the real school files of tests/corpus.py, sniffed
by this machine's libmagic, and the zip directory reader."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path

import pytest

from chalicelib.domain.content import (
    Expected,
    Observed,
    ScanOutcome,
    ScanResult,
    grant_allowed,
    judge,
    judge_type,
    load_content_policy,
)
from chalicelib.domain.models import FileStatus
from chalicelib.domain.zipdir import TAIL_SIZE, member_names
from tests import corpus

ROOT = Path(__file__).resolve().parents[2]
POLICY = load_content_policy()
CLEAN = ScanResult(ScanOutcome.CLEAN)
OCTET = "application/octet-stream"
ZIP = "application/zip"
PK = b"PK\x03\x04\x14\x00\x00\x00\x08\x00"
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"
OLE = bytes.fromhex("d0cf11e0a1b11ae1") + b"\x00" * 8
TEXT = b"Bonjour, je m'appelle Alice.\nJ'aime le foot, le basket et la danse.\n"
SCRATCH = ("project.json", "83a9787d4cb6f3b7632b4ddfebf74367.wav", "bcf454acf82e4504149f7ffe07081dbc.svg")
GEOGEBRA = ("geogebra_thumbnail.png", "geogebra_javascript.js", "geogebra_defaults2d.xml", "geogebra.xml")
WORD = ("[Content_Types].xml", "_rels/.rels", "word/document.xml", "docProps/core.xml")
EXCEL = ("docProps/app.xml", "xl/workbook.xml", "xl/worksheets/sheet1.xml", "[Content_Types].xml")
ODF = ("mimetype", "styles.xml", "content.xml", "META-INF/manifest.xml")
DOCX = corpus.DOCX
XLS = "application/vnd.ms-excel"

# declared, sniffed, members of the zip's directory (None: not read), first bytes → reason, judged type
TABLE: list[tuple[str, str, tuple[str, ...] | None, bytes, str | None, str | None]] = [
    # texts: CSV is plain text; a Windows CSV is served text/csv
    ("text/plain", "text/plain", None, TEXT, None, "text/plain"),
    ("text/plain", "text/csv", None, TEXT, None, "text/plain"),
    ("text/csv", "text/plain", None, b"Nom;Note\r\n", None, "text/csv"),
    (XLS, "text/csv", None, b"Nom,Note\r\n", None, "text/csv"),
    (XLS, "text/plain", None, b"Nom;Note\r\n", None, "text/csv"),
    (XLS, "application/CDFV2", None, OLE, None, XLS),
    (XLS, "application/vnd.ms-excel", None, OLE, None, XLS),
    (XLS, "text/html", None, b"<html><body>", "script", None),
    (XLS, "application/pdf", None, PDF, "type_mismatch", None),
    ("text/plain", "application/x-dosexec", None, b"MZ\x90\x00", "executable", None),
    # sound: MediaRecorder's Opus in WebM, which libmagic calls video/webm
    ("audio/webm", "video/webm", None, b"\x1aE\xdf\xa3", None, "audio/webm"),
    ("audio/webm", "audio/mpeg", None, b"ID3", "type_mismatch", None),
    ("video/webm", "video/webm", None, b"\x1aE\xdf\xa3", None, "video/webm"),
    # zip-based school formats, declared with their own type: the directory must show them
    ("application/x.scratch.sb3", ZIP, SCRATCH, PK, None, "application/x.scratch.sb3"),
    ("application/x.scratch.sb3", ZIP, (*SCRATCH, "install.exe"), PK, "type_mismatch", None),
    ("application/x.scratch.sb3", ZIP, GEOGEBRA, PK, "type_mismatch", None),
    ("application/x.scratch.sb3", ZIP, None, PK, "type_mismatch", None),
    ("application/x.scratch.sb3", "application/x-dosexec", SCRATCH, b"MZ", "executable", None),
    ("application/vnd.geogebra.file", ZIP, GEOGEBRA, PK, None, "application/vnd.geogebra.file"),
    ("application/vnd.geogebra.file", ZIP, ("geogebra.xml.bak",), PK, "type_mismatch", None),
    ("application/x-zip-compressed", ZIP, ("devoir.txt",), PK, None, ZIP),
    (ZIP, ZIP, SCRATCH, PK, None, ZIP),
    # Office and OpenDocument files that libmagic calls a plain zip: the declared family and the directory
    (DOCX, DOCX, None, PK, None, DOCX),
    (DOCX, ZIP, WORD, PK, None, DOCX),
    (DOCX, ZIP, EXCEL, PK, "type_mismatch", None),
    (DOCX, ZIP, None, PK, "type_mismatch", None),
    (DOCX, ZIP, WORD, b"  <html>PK", "type_mismatch", None),
    (corpus.XLSX, ZIP, EXCEL, PK, None, corpus.XLSX),
    (corpus.ODT, ZIP, ODF, PK, None, corpus.ODT),
    (corpus.ODS, ZIP, WORD, PK, "type_mismatch", None),
    # no declared type: the bytes decide, under the rule of the type they are
    (OCTET, ZIP, SCRATCH, PK, None, "application/x.scratch.sb3"),
    (OCTET, ZIP, GEOGEBRA, PK, None, "application/vnd.geogebra.file"),
    (OCTET, ZIP, WORD, PK, None, DOCX),
    (OCTET, ZIP, EXCEL, PK, None, corpus.XLSX),
    (OCTET, ZIP, ODF, PK, None, ZIP),  # the names do not say which OpenDocument type: a zip
    (OCTET, ZIP, (*SCRATCH, "install.exe"), PK, None, ZIP),  # not Scratch's layout: a zip like any
    (OCTET, ZIP, None, PK, None, ZIP),
    (OCTET, "application/pdf", None, PDF, None, "application/pdf"),
    (OCTET, "application/pdf", None, b"  <html>%PDF-1.4", "type_mismatch", None),
    (OCTET, "image/png", None, PNG, None, "image/png"),
    (OCTET, "image/png", None, b"GIF89a", "type_mismatch", None),
    (OCTET, "text/plain", None, TEXT, None, "text/plain"),
    (OCTET, "text/csv", None, b"a,b\n1,2\n", None, "text/csv"),
    (OCTET, "video/webm", None, b"\x1aE\xdf\xa3", None, "video/webm"),
    (OCTET, "application/x-dosexec", None, b"MZ\x90\x00", "executable", None),
    (OCTET, "application/x-executable", None, b"\x7fELF", "executable", None),
    (OCTET, "application/x-sharedlib", None, b"\x7fELF", "executable", None),
    (OCTET, "text/x-shellscript", None, b"#!/bin/sh\n", "script", None),
    (OCTET, "text/x-python", None, b"#!/usr/bin/env python\n", "script", None),
    (OCTET, "text/html", None, b"<!doctype html>", "script", None),
    (OCTET, "image/svg+xml", None, b"<svg onload=alert(1)>", "script", None),
    (OCTET, "application/x-iso9660-image", None, b"\x00" * 16, "type_not_accepted", None),
    (OCTET, "application/x-ole-storage", None, OLE, "type_not_accepted", None),
    (OCTET, OCTET, None, b"\x00\x01\x02", "type_not_accepted", None),
    (OCTET, "application/x-empty", None, b"", "type_not_accepted", None),
]


@pytest.mark.parametrize(
    ("declared", "sniffed", "members", "head", "reason", "judged"),
    TABLE,
    ids=[f"{d}|{s}|{'dir' if m else '-'}|{r or j}" for d, s, m, _, r, j in TABLE],
)
def test_declared_sniffed_and_directory(
    declared: str, sniffed: str, members: tuple[str, ...] | None, head: bytes, reason: str | None, judged: str | None
) -> None:
    typed = judge_type(POLICY, declared, sniffed, head, members)
    assert (typed.problem, typed.judged) == (reason, judged)
    observed = Observed(len(head), hashlib.sha256(head).hexdigest(), sniffed, head, CLEAN, members)
    verdict = judge(POLICY, Expected(len(head), declared, None), observed)
    if reason is None:
        assert (verdict.status, verdict.reason, verdict.content_type) == (FileStatus.AVAILABLE, None, judged)
    else:
        assert (verdict.status, verdict.reason, verdict.content_type) == (FileStatus.REJECTED, reason, None)


HOMEWORK = ("application/pdf", "image/*")
# an assignment's allowed types, declared, sniffed, directory → verdict reason (None: available)
ASSIGNMENTS: list[tuple[tuple[str, ...], str, str, tuple[str, ...] | None, bytes, str | None]] = [
    (HOMEWORK, OCTET, "application/pdf", None, PDF, None),
    (HOMEWORK, OCTET, "image/png", None, PNG, None),
    (HOMEWORK, OCTET, ZIP, SCRATCH, PK, "type_not_allowed"),  # a Scratch project is not a PDF
    (HOMEWORK, OCTET, "text/plain", None, TEXT, "type_not_allowed"),
    (("text/csv",), XLS, "text/csv", None, b"a,b\n", None),  # the Windows CSV is judged text/csv
    (("text/csv",), XLS, "application/CDFV2", None, OLE, "type_not_allowed"),  # a real workbook is not
    ((XLS,), XLS, "text/csv", None, b"a,b\n", "type_not_allowed"),
    (("application/x.scratch.sb3",), OCTET, ZIP, SCRATCH, PK, None),
]


@pytest.mark.parametrize(("allowed", "declared", "sniffed", "members", "head", "reason"), ASSIGNMENTS)
def test_an_assignment_allows_the_judged_type(
    allowed: tuple[str, ...],
    declared: str,
    sniffed: str,
    members: tuple[str, ...] | None,
    head: bytes,
    reason: str | None,
) -> None:
    observed = Observed(len(head), hashlib.sha256(head).hexdigest(), sniffed, head, CLEAN, members)
    verdict = judge(POLICY, Expected(len(head), declared, None, allowed), observed)
    assert verdict.reason == reason
    assert verdict.clean is (reason is None)


@pytest.mark.parametrize(
    ("allowed", "declared", "granted"),
    [
        (None, DOCX, True),
        (HOMEWORK, OCTET, True),  # the scan decides on what the bytes are
        (HOMEWORK, "image/heic", True),
        (HOMEWORK, DOCX, False),
        (("text/csv",), XLS, True),  # a Windows CSV may be judged text/csv
        (("application/pdf",), XLS, False),
        ((ZIP,), "application/x-zip-compressed", True),
        (("audio/*",), "audio/webm", True),
    ],
)
def test_the_grant_refuses_only_what_no_judged_type_could_allow(
    allowed: tuple[str, ...] | None, declared: str, granted: bool
) -> None:
    assert grant_allowed(POLICY, allowed, declared) is granted


@pytest.mark.parametrize(
    "declared",
    [OCTET, "audio/webm", "audio/webm;codecs=opus", "application/x.scratch.sb3", "application/vnd.geogebra.file", XLS],
)
def test_these_declared_types_are_granted(declared: str) -> None:
    assert POLICY.accepts(declared)


@pytest.mark.parametrize("declared", ["application/x-msdownload", "text/html", "image/svg+xml", "application/x-sh"])
def test_types_no_rule_accepts_answer_415(declared: str) -> None:
    assert not POLICY.accepts(declared)


def test_every_allowance_beyond_the_declared_type_says_why() -> None:
    document = json.loads((ROOT / "policies" / "content" / "types.json").read_text(encoding="utf-8"))
    assert document["untyped"]["why"]
    for container in POLICY.containers:
        assert container.why and container.why.endswith("."), container.name
    for declared, rules in POLICY.accepted.items():
        for rule in rules:
            plain = rule.sniffed <= {declared} and rule.judged in (None, declared) and not rule.containers
            assert plain or (rule.why and rule.why.endswith(".")), f"{declared}: {sorted(rule.sniffed)} needs a why"


def test_only_zips_have_their_directory_read() -> None:
    assert POLICY.reads_members(ZIP)
    assert not POLICY.reads_members("application/pdf")
    assert not POLICY.reads_members(DOCX)


# -- the real school files, sniffed by this machine's libmagic ------------------------------------


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, corpus.Sample]:
    return {s.id: s for s in corpus.build(tmp_path_factory.getbasetemp() / "corpus")}


@pytest.mark.parametrize("sample_id", corpus.sample_ids())
def test_real_school_files_are_judged_what_they_are(samples: dict[str, corpus.Sample], sample_id: str) -> None:
    from chalicelib.adapters.sniff import MagicSniffer
    from chalicelib.domain.content import HEAD_SIZE

    sample = samples[sample_id]
    head = sample.data[:HEAD_SIZE]
    sniffed = MagicSniffer().sniff(head)
    members = member_names(sample.data[-TAIL_SIZE:], len(sample.data)) if POLICY.reads_members(sniffed) else None
    observed = Observed(len(sample.data), hashlib.sha256(sample.data).hexdigest(), sniffed, head, CLEAN, members)
    verdict = judge(POLICY, Expected(len(sample.data), sample.declared, None), observed)
    assert (verdict.status, verdict.reason, verdict.content_type) == (FileStatus.AVAILABLE, None, sample.judged), (
        f"sniffed {sniffed}"
    )


def test_the_corpus_holds_what_the_issue_names(samples: dict[str, corpus.Sample]) -> None:
    sniffed = {s.id: s for s in samples.values()}
    assert sniffed["text-utf8-commas"].data.startswith(b"Bonjour, je m'appelle Alice.")
    assert sniffed["text-utf16-bom"].data.startswith(b"\xff\xfe")
    assert b"\r\n" in sniffed["csv-windows"].data and "é".encode("cp1252") in sniffed["csv-windows"].data
    assert sniffed["jpeg-phone"].data.startswith(b"\xff\xd8\xff") and b"Exif" in sniffed["jpeg-phone"].data[:64]
    assert sniffed["heic-iphone"].data[4:12] == b"ftypheic"
    assert b"OpusHead" in sniffed["webm-opus-mediarecorder"].data
    assert sniffed["webm-opus-mediarecorder"].data.startswith(b"\x1aE\xdf\xa3")
    with zipfile.ZipFile(io.BytesIO(sniffed["sb3-no-type"].data)) as sb3:
        project = json.loads(sb3.read("project.json"))
        assets = {c["md5ext"] for t in project["targets"] for c in t["costumes"] + t["sounds"]}
        assert set(sb3.namelist()) == {"project.json", *assets}
        assert all(hashlib.md5(sb3.read(a)).hexdigest() == a[:32] for a in assets)


# -- the zip directory reader ---------------------------------------------------------------------


def zipped(names: list[str], comment: bytes = b"") -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name in names:
            archive.writestr(name, b"x")
        archive.comment = comment
    return out.getvalue()


def test_member_names_from_the_central_directory() -> None:
    data = zipped(["project.json", "élève/notes.txt"])
    assert member_names(data, len(data)) == ("project.json", "élève/notes.txt")
    assert member_names(data[-100:], len(data)) is None  # the directory is not within the tail
    assert member_names(b"%PDF-1.7 not a zip", 18) is None
    assert member_names(data[:-5], len(data) - 5) is None  # truncated


def test_an_end_record_inside_the_comment_is_not_taken_for_the_real_one() -> None:
    data = zipped(["a.txt"], comment=b"PK\x05\x06" + b"\x00" * 30)
    assert member_names(data, len(data)) == ("a.txt",)


def test_member_names_are_bounded() -> None:
    data = zipped([f"{i}.svg" for i in range(50)])
    assert member_names(data, len(data), limit=49) is None
    assert member_names(data, len(data), limit=50) is not None


def test_zip64_directories_are_read() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for i in range(0x10000):  # over 65,535 members: only the zip64 end record counts them
            archive.writestr(f"{i}", b"")
    data = out.getvalue()
    assert b"PK\x06\x06" in data[-200:]
    names = member_names(data, len(data), limit=100_000)
    assert names is not None and len(names) == 0x10000 and names[-1] == "65535"
    assert member_names(data[-TAIL_SIZE:], len(data)) is None  # a directory larger than the tail


def test_the_scan_keeps_enough_tail_for_real_school_zips(samples: dict[str, corpus.Sample]) -> None:
    for sample in samples.values():
        if sample.data.startswith(b"PK"):
            assert member_names(sample.data[-TAIL_SIZE:], len(sample.data)), sample.id


def test_every_type_refusal_is_a_listed_reason() -> None:
    import yaml

    spec = yaml.safe_load((ROOT / "openapi.yaml").read_text(encoding="utf-8"))
    listed = spec["components"]["schemas"]["Reason"]["x-cartable-reasons"]
    given = {reason for *_, reason, _ in TABLE if reason is not None} | {"type_not_allowed"}
    assert given <= set(listed)
