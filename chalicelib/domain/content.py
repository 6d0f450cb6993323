"""What content Cartable accepts, and the verdict on bytes that arrived: pure, rules from `policies/content/`."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from chalicelib.domain.models import FileStatus

TYPES_PATH = Path(__file__).resolve().parents[2] / "policies" / "content" / "types.json"

# Browsers sniff the first 512 bytes for markup; a little more covers a padded polyglot.
MARKER_WINDOW = 1024
HEAD_SIZE = 256 * 1024  # what libmagic is shown: enough for OOXML/ODF entries near the start


class ScanOutcome(StrEnum):
    CLEAN = "clean"
    FOUND = "found"
    TOO_LARGE = "too_large"


@dataclass(frozen=True)
class ScanResult:
    """What the antivirus said about a stream: a real verdict, never an error."""

    outcome: ScanOutcome
    signature: str | None = None


@dataclass(frozen=True)
class TypeRule:
    sniffed: frozenset[str]
    starts: tuple[bytes, ...]


@dataclass(frozen=True)
class ContentPolicy:
    """Accepted declared types, what each may sniff as, and the types refused outright."""

    accepted: Mapping[str, TypeRule]
    executable: frozenset[str]
    script: frozenset[str]
    markers: tuple[bytes, ...]

    def accepts(self, content_type: str) -> bool:
        return base_type(content_type) in self.accepted

    @classmethod
    def parse(cls, document: Mapping[str, object]) -> ContentPolicy:
        accepted = document["accepted"]
        assert isinstance(accepted, dict)
        return cls(
            accepted={
                name.lower(): TypeRule(
                    sniffed=frozenset(s.lower() for s in rule["sniffed"]),
                    starts=tuple(bytes.fromhex(h) for h in rule.get("starts", [])),
                )
                for name, rule in accepted.items()
            },
            executable=frozenset(str(t).lower() for t in _list(document, "executable")),
            script=frozenset(str(t).lower() for t in _list(document, "script")),
            markers=tuple(str(m).lower().encode() for m in _list(document, "activeMarkers")),
        )


def _list(document: Mapping[str, object], key: str) -> list[object]:
    value = document.get(key, [])
    assert isinstance(value, list)
    return value


@lru_cache(maxsize=1)
def load_content_policy(path: Path = TYPES_PATH) -> ContentPolicy:
    """The content rules of this deployment, read once per cold start."""
    return ContentPolicy.parse(json.loads(path.read_text(encoding="utf-8")))


def base_type(content_type: str) -> str:
    """`Text/Plain; charset=utf-8` → `text/plain`."""
    return content_type.split(";", 1)[0].strip().lower()


def type_allowed(patterns: tuple[str, ...] | None, content_type: str) -> bool:
    """Whether a type matches a list such as `["application/pdf", "image/*"]` (None allows all)."""
    if patterns is None:
        return True
    kind = base_type(content_type)
    return any(kind == p or (p.endswith("/*") and kind.startswith(p[:-1])) for p in patterns)


@dataclass(frozen=True)
class Expected:
    """What the grant promised: the bytes must match it."""

    size: int
    content_type: str
    sha256: str | None
    allowed_types: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Observed:
    """What the scanner saw in one pass over the stored object."""

    size: int
    sha256: str
    sniffed_type: str
    head: bytes
    scan: ScanResult


@dataclass(frozen=True)
class Verdict:
    status: FileStatus
    reason: str | None

    @property
    def clean(self) -> bool:
        return self.status is FileStatus.AVAILABLE


def scan_verdict(scan: ScanResult) -> Verdict | None:
    """The verdict the antivirus alone imposes, or None when it found nothing."""
    if scan.outcome is ScanOutcome.TOO_LARGE:
        return Verdict(FileStatus.REJECTED, "too_large_to_scan")
    if scan.outcome is ScanOutcome.FOUND:
        name = scan.signature or "unknown"
        if name.startswith("Heuristics.Limits.Exceeded"):
            return Verdict(FileStatus.REJECTED, "too_large_to_scan")
        if name.startswith("Heuristics.Encrypted"):
            return Verdict(FileStatus.REJECTED, "encrypted")
        if name.startswith("Heuristics.Broken.Executable"):
            return Verdict(FileStatus.REJECTED, "executable")
        return Verdict(FileStatus.INFECTED, name)
    return None


def type_problem(policy: ContentPolicy, declared: str, sniffed: str, head: bytes) -> str | None:
    """Why the bytes contradict the declared type (or are active content), else None."""
    sniffed = base_type(sniffed)
    if sniffed in policy.executable:
        return "executable"
    if sniffed in policy.script:
        return "script"
    rule = policy.accepted.get(base_type(declared))
    if rule is None or sniffed not in rule.sniffed:
        return "type_mismatch"
    if rule.starts:
        # libmagic finds a PDF signature anywhere in the first kilobyte, so an HTML page that
        # carries `%PDF-` sniffs as PDF: binary formats must also start with their magic and
        # hold no markup where a browser would look for it.
        if not head.startswith(rule.starts):
            return "type_mismatch"
        window = head[:MARKER_WINDOW].lower()
        if any(marker in window for marker in policy.markers):
            return "type_mismatch"
    return None


def judge(policy: ContentPolicy, expected: Expected, observed: Observed) -> Verdict:
    """The one verdict on an upload: available only when every check passed and the scan was clean."""
    verdict = scan_verdict(observed.scan)
    if verdict is not None:
        return verdict
    if observed.size != expected.size:
        return Verdict(FileStatus.REJECTED, "size_mismatch")
    if expected.sha256 is not None and observed.sha256 != expected.sha256.lower():
        return Verdict(FileStatus.REJECTED, "checksum_mismatch")
    problem = type_problem(policy, expected.content_type, observed.sniffed_type, observed.head)
    if problem is not None:
        return Verdict(FileStatus.REJECTED, problem)
    # The bytes are what was declared (checked above), so the declared type stands for them here.
    if not type_allowed(expected.allowed_types, expected.content_type):
        return Verdict(FileStatus.REJECTED, "type_not_allowed")
    if observed.scan.outcome is not ScanOutcome.CLEAN:
        return Verdict(FileStatus.REJECTED, "scan_failed")  # unreachable by construction; fail closed
    return Verdict(FileStatus.AVAILABLE, None)
