"""The inspectors one scanned stream is fed to, chosen by its first bytes: a zip's, a compound file's
(Office 97-2003), an RTF file's (for the OLE objects it embeds), a PDF's, or none.

It fails closed: an inspector that breaks is a finding (`scan_failed`), never a clean file.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from chalicelib.domain.archives import ZIP_MAGIC, ZipLevel
from chalicelib.domain.content import MARKER_WINDOW, ContentPolicy
from chalicelib.domain.embedded import Content, read_compound
from chalicelib.domain.findings import ArchiveLimits, Finding, PdfRules
from chalicelib.domain.office import Sink
from chalicelib.domain.ole import OLE_MAGIC
from chalicelib.domain.pdf import PDF_MAGIC, PdfInspector
from chalicelib.domain.rtf import RTF_MAGIC
from chalicelib.domain.zipchecks import Budget, Found

log = logging.getLogger("cartable.scan")


class Inspection:
    """Fed every chunk of one stream, in order; `finish` answers what the inspectors found."""

    def __init__(self, policy: ContentPolicy, scan_limit: int | None = None) -> None:
        self._policy = policy
        self._scan_limit = scan_limit  # clamd reads no member larger than what it reads whole
        self._head = bytearray()  # until there are enough bytes to choose
        self._inspector: Inspector | None = None
        self._chosen = False
        self._failed = False

    def feed(self, chunk: bytes) -> None:
        """The next bytes of the stream."""
        if not self._chosen:
            self._head += chunk
            if len(self._head) < MARKER_WINDOW:
                return
            chunk = self._choose()
        self._feed(chunk)

    def finish(self) -> tuple[str, ...]:
        """The findings, as refusal reasons (empty: nothing found, or nothing to inspect)."""
        if not self._chosen:
            self._feed(self._choose())
        if self._failed:
            return (Finding.FAILED.value,)
        if self._inspector is None:
            return ()
        try:
            finding = self._inspector.finish()
        except Exception:
            log.exception("inspector failed: the file is refused")
            return (Finding.FAILED.value,)
        return (finding.value,) if finding is not None else ()

    def _choose(self) -> bytes:
        head, self._head, self._chosen = bytes(self._head), bytearray(), True
        try:
            self._inspector = self._inspector_for(head)
        except Exception:
            log.exception("inspector failed: the file is refused")
            self._failed = True
        return head

    def _inspector_for(self, head: bytes) -> Inspector | None:
        pdf = self._policy.pdf if self._policy.pdf.reject_active else None
        programs = self._policy.pdf.program_extensions
        if head[:4] in ZIP_MAGIC:
            # The PDFs in a zip (or in an Office file) run script as bare ones do: read them alike.
            return ZipInspector(self._policy.archives, self._scan_limit, pdf, programs)
        if head[:8] == OLE_MAGIC:
            # A .doc, .xls or .ppt: the objects embedded in it (PDFs, packaged files) are read too.
            return CompoundInspector(self._policy.archives, self._scan_limit, pdf, programs)
        if head.startswith(RTF_MAGIC):
            # An RTF file: the OLE objects it embeds (a PDF, a packaged program) are decoded and read.
            return RtfInspector(self._policy.archives, self._scan_limit, pdf, programs)
        if PDF_MAGIC in head[:MARKER_WINDOW] and pdf is not None:
            # Readers find the header anywhere in the first kilobyte, as libmagic does.
            return PdfInspector(pdf)
        return None

    def _feed(self, chunk: bytes) -> None:
        if self._inspector is None or self._failed or not chunk:
            return
        try:
            self._inspector.feed(chunk)
        except Exception:
            log.exception("inspector failed: the file is refused")
            self._failed = True


class _Streamed:
    """An inspector whose reader takes the bytes as they come (a zip's level, an RTF's content, a compound
    file's held bytes): the first finding ends it, and nothing more is read. Each kind says which reader
    (`_reader_for`); all share the budget built from the archives' limits."""

    def __init__(
        self,
        limits: ArchiveLimits,
        member_limit: int | None = None,
        pdf: PdfRules | None = None,
        programs: frozenset[str] | None = None,
    ) -> None:
        """`member_limit`: the largest member read (clamd's own limit, when lower than the archives');
        `pdf`: the rules PDF members are inspected by, as bare PDFs are (None: they are not);
        `programs`: the extensions of programs that an OLE Package may not carry."""
        limit = limits.max_member_size if member_limit is None else min(limits.max_member_size, member_limit)
        self._budget = Budget(limits, limit, pdf, PdfRules().program_extensions if programs is None else programs)
        self._reader = self._reader_for(self._budget)
        self._finding: Finding | None = None

    @staticmethod
    def _reader_for(budget: Budget) -> Sink:
        raise NotImplementedError

    @property
    def finding(self) -> Finding | None:
        """What was found so far (the inspection stops at the first)."""
        return self._finding

    def feed(self, data: bytes) -> None:
        """The next bytes of the file (nothing more is done once something was found)."""
        if self._finding is not None or not data:
            return
        self._budget.read += len(data)
        try:
            self._reader.feed(data)
        except Found as found:
            self._finding = found.finding

    def finish(self) -> Finding | None:
        """The end of the file (a zip's directory is checked, an RTF's open object or a compound file
        read); the first finding, or None."""
        if self._finding is None:
            try:
                self._reader.finish()
            except Found as found:
                self._finding = found.finding
        return self._finding


class ZipInspector(_Streamed):
    """Fed the bytes of a zip in order, in any chunks; `finish` answers the first finding, or None."""

    @staticmethod
    def _reader_for(budget: Budget) -> Sink:
        return ZipLevel(budget, 0, Content)


class CompoundInspector(_Streamed):
    """Fed the bytes of a compound file (an Office 97-2003 document) in order, held up to the archives'
    `maxCompoundSize`; `finish` reads it and answers the first finding, or None."""

    @staticmethod
    def _reader_for(budget: Budget) -> Sink:
        return _Held(budget)


class _Held:
    """A compound file's bytes, held (it can only be read at random) up to the archives' `maxCompoundSize`,
    beyond which it cannot be read whole; read stream by stream when they end."""

    def __init__(self, budget: Budget) -> None:
        self._budget, self._data = budget, bytearray()

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        if self._budget.read > self._budget.compound_limit:  # `read` counts these bytes already
            self._data = bytearray()
            raise Found(Finding.ARCHIVE_TOO_LARGE)
        self._data += data

    def finish(self) -> None:
        data, self._data = self._data, bytearray()
        read_compound(data, self._budget, 0)


class RtfInspector(_Streamed):
    """Fed the bytes of an RTF file in order, in any chunks: each OLE object it embeds is decoded as it
    streams past (held up to the archives' `maxCompoundSize`) and read (and the file as a PDF too, if a PDF
    header is in its first kilobyte); `finish` answers the first finding, or None."""

    @staticmethod
    def _reader_for(budget: Budget) -> Sink:
        return Content(budget, 0)  # told an RTF by its first bytes, as a member is


def inspect_zip(
    chunks: Iterable[bytes],
    limits: ArchiveLimits,
    member_limit: int | None = None,
    pdf: PdfRules | None = None,
    programs: frozenset[str] | None = None,
) -> Finding | None:
    """The first finding in a zip given as chunks (a local buffer, a file read in pieces), or None."""
    inspector = ZipInspector(limits, member_limit, pdf, programs)
    for chunk in chunks:
        inspector.feed(chunk)
        if inspector.finding is not None:
            break
    return inspector.finish()


Inspector = ZipInspector | CompoundInspector | RtfInspector | PdfInspector
