"""Type sniffing from the bytes with libmagic; imported only by the scan handler."""

from __future__ import annotations

from typing import Any


class MagicSniffer:
    """The Sniffer port over python-magic; the libmagic handle is opened on first use."""

    def __init__(self) -> None:
        self._magic: Any = None

    def sniff(self, head: bytes) -> str:
        """The MIME type libmagic gives the first bytes of a file."""
        if self._magic is None:
            import magic  # heavy (loads libmagic and its database): only where a scan runs

            self._magic = magic.Magic(mime=True)
        return str(self._magic.from_buffer(head))
