"""What the archive and PDF inspectors may find in a file's bytes (each a refusal reason, openapi.yaml),
and the rules they apply: small, so the content policy reads them without loading the inspectors
(the API's cold start never pays for archives.py and pdf.py; only the scan does)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Finding(StrEnum):
    """A reason the inspected bytes are refused, as the contract's stable code."""

    # A member (or all members together) larger than the antivirus reads whole: clamd would trim it.
    ARCHIVE_TOO_LARGE = "archive_too_large_to_scan"
    # Everything expanded is more than the antivirus reads, though not by a bomb's ratio.
    TOO_LARGE = "too_large_to_scan"
    # Expands far beyond its weight (total, ratio) or holds too many members.
    BOMB = "archive_bomb"
    # Archives nested deeper than the policy inspects.
    TOO_DEEP = "archive_too_deep"
    # A zip the antivirus cannot read: ZIP64, a compression method other than stored or deflate, spanned.
    UNSCANNABLE = "archive_unscannable"
    # A zip whose directory cannot be read, or whose directory and local headers disagree; an OLE compound
    # file (an Office 97-2003 document, an object embedded in an Office file) that cannot be read whole.
    MALFORMED = "archive_malformed"
    # A linked object Office fetches and runs at open (CVE-2017-0199, CVE-2022-30190): an RTF's OLE2Link or
    # link, a compound file of StdOleLink's class or flagged linked, an oleObject relationship whose external
    # target is not a path on the pupil's own drive. No school policy relaxes it.
    LINKED = "linked_object"
    ENCRYPTED = "encrypted"
    # A PDF that runs script or launches programs (or whose object streams cannot be read).
    ACTIVE_CONTENT = "active_content"
    # A PDF that carries a program as an attachment; an Office document that carries one in an OLE Package.
    EXECUTABLE = "executable"
    # An inspector failed: never a verdict of clean.
    FAILED = "scan_failed"


@dataclass(frozen=True)
class ArchiveLimits:
    """What a zip (or an OLE compound file) may hold and still be scanned whole (`policies/content/types.json`,
    "archives")."""

    max_member_size: int = 64 * 1024 * 1024
    max_total_size: int = 256 * 1024 * 1024
    max_ratio: int = 250
    ratio_from: int = 1024 * 1024
    max_members: int = 10_000
    max_depth: int = 3
    max_compound_size: int = 64 * 1024 * 1024

    @classmethod
    def parse(cls, document: Mapping[str, Any]) -> ArchiveLimits:
        """The limits of the content policy's "archives" section."""
        return cls(
            max_member_size=int(document["maxMemberSize"]),
            max_total_size=int(document["maxTotalSize"]),
            max_ratio=int(document["maxRatio"]),
            ratio_from=int(document["ratioFrom"]),
            max_members=int(document["maxMembers"]),
            max_depth=int(document["maxDepth"]),
            max_compound_size=int(document["maxCompoundSize"]),
        )


@dataclass(frozen=True)
class PdfRules:
    """Whether PDFs with active content are refused, which names are active, and the bounds of reading."""

    reject_active: bool = True
    active_names: frozenset[str] = frozenset({"JavaScript", "JS", "Launch", "RichMedia", "XFA"})
    program_extensions: frozenset[str] = frozenset({"exe", "scr", "bat", "cmd", "com", "js", "vbs", "ps1", "msi"})
    max_inflated: int = 256 * 1024 * 1024

    @classmethod
    def parse(cls, document: Mapping[str, Any]) -> PdfRules:
        """The rules of the content policy's "pdf" section."""
        active = str(document["activeContent"])
        if active not in ("reject", "allow"):
            raise ValueError(f"pdf.activeContent must be reject or allow, not {active!r}")
        return cls(
            reject_active=active == "reject",
            active_names=frozenset(str(n) for n in document["activeNames"]),
            program_extensions=frozenset(str(e).lower().lstrip(".") for e in document["programExtensions"]),
            max_inflated=int(document["maxInflated"]),
        )
