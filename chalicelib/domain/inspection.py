"""The inspectors one scanned stream is fed to, chosen by its first bytes: a zip's, a compound file's
(Office 97-2003), an RTF file's (for the OLE objects it embeds), a PDF's, or none.

It fails closed: an inspector that breaks is a finding (`scan_failed`), never a clean file.
"""

from __future__ import annotations

import logging

from chalicelib.domain.archives import ZIP_MAGIC, CompoundInspector, RtfInspector, ZipInspector
from chalicelib.domain.content import MARKER_WINDOW, ContentPolicy
from chalicelib.domain.findings import Finding
from chalicelib.domain.ole import OLE_MAGIC
from chalicelib.domain.pdf import PDF_MAGIC, PdfInspector
from chalicelib.domain.rtf import RTF_MAGIC

Inspector = ZipInspector | CompoundInspector | RtfInspector | PdfInspector

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
