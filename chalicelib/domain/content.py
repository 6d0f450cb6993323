"""What content Cartable accepts, and the verdict on bytes that arrived: pure, rules from `policies/content/`."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Any

from chalicelib.domain.findings import ArchiveLimits, PdfRules
from chalicelib.domain.models import FileStatus, base_type

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
    """One way bytes may be what was declared: what libmagic may call them, their first bytes, the
    school formats their container must hold, the type they are then judged (and served), and why."""

    sniffed: frozenset[str]
    starts: tuple[bytes, ...]
    judged: str | None = None  # None: the declared type itself
    containers: tuple[str, ...] = ()  # any of these, by the member names of the container's directory
    why: str | None = None

    @classmethod
    def parse(cls, rule: Mapping[str, Any]) -> TypeRule:
        judged = rule.get("judged")
        return cls(
            sniffed=frozenset(str(s).lower() for s in rule["sniffed"]),
            starts=tuple(bytes.fromhex(h) for h in rule.get("starts", [])),
            judged=str(judged).lower() if judged else None,
            containers=tuple(str(c) for c in rule.get("containers", [])),
            why=rule.get("why"),
        )


@dataclass(frozen=True)
class Container:
    """A school format inside a generic container (a zip), told by the member names of its directory."""

    name: str
    sniffed: str  # what libmagic calls the container
    type: str | None  # what it is judged when the directory alone tells (None: only confirms a declared type)
    members: tuple[str, ...]  # each must be there: an exact name, or a folder (`word/`) holding a member
    others: re.Pattern[str] | None = None  # when set, every other member must match it (Scratch's assets)
    why: str | None = None

    def holds(self, names: tuple[str, ...]) -> bool:
        """Whether a directory of these member names is this format."""
        present = set(names)
        for wanted in self.members:
            found = any(n.startswith(wanted) for n in names) if wanted.endswith("/") else wanted in present
            if not found:
                return False
        others = self.others
        if others is None:
            return True
        return all(n in self.members or n.endswith("/") or others.fullmatch(n) for n in names)

    @classmethod
    def parse(cls, item: Mapping[str, Any]) -> Container:
        others = item.get("others")
        return cls(
            name=str(item["name"]),
            sniffed=str(item["sniffed"]).lower(),
            type=str(item["type"]).lower() if item.get("type") else None,
            members=tuple(str(m) for m in item["members"]),
            others=re.compile(others) if others else None,
            why=item.get("why"),
        )


@dataclass(frozen=True)
class ContentPolicy:
    """Accepted declared types and the rules their bytes must meet, the declared types that leave the
    decision to the bytes, the school formats told from a container's directory, and the types refused
    outright."""

    accepted: Mapping[str, tuple[TypeRule, ...]]
    executable: frozenset[str]
    script: frozenset[str]
    markers: tuple[bytes, ...]
    untyped: frozenset[str] = frozenset()  # "no type" (application/octet-stream): the sniffed type decides
    containers: tuple[Container, ...] = ()
    archives: ArchiveLimits = field(default_factory=ArchiveLimits)  # what a zip may hold, scanned whole
    pdf: PdfRules = field(default_factory=PdfRules)  # whether PDFs that run code are refused, and how told

    def accepts(self, content_type: str) -> bool:
        """Whether a grant may declare this type (415 otherwise)."""
        kind = base_type(content_type)
        return kind in self.accepted or kind in self.untyped

    def reads_members(self, sniffed: str) -> bool:
        """Whether the verdict on bytes sniffed so needs the member names of their container."""
        return any(c.sniffed == base_type(sniffed) for c in self.containers)

    def judged_types(self, declared: str) -> frozenset[str] | None:
        """Every type bytes declared so may be judged (None: any accepted type, the bytes decide)."""
        kind = base_type(declared)
        if kind in self.untyped:
            return None
        return frozenset(rule.judged or kind for rule in self.accepted.get(kind, ()))

    @classmethod
    def parse(cls, document: Mapping[str, object]) -> ContentPolicy:
        accepted = document["accepted"]
        assert isinstance(accepted, dict)
        untyped = document.get("untyped", {})
        assert isinstance(untyped, dict)
        policy = cls(
            accepted={
                name.lower(): tuple(TypeRule.parse(r) for r in (rule, *rule.get("also", [])))
                for name, rule in accepted.items()
            },
            executable=frozenset(str(t).lower() for t in _list(document, "executable")),
            script=frozenset(str(t).lower() for t in _list(document, "script")),
            markers=tuple(str(m).lower().encode() for m in _list(document, "activeMarkers")),
            untyped=frozenset(str(t).lower() for t in untyped.get("types", [])),
            containers=tuple(Container.parse(c) for c in _list(document, "containers") if isinstance(c, dict)),
            archives=ArchiveLimits.parse(_mapping(document, "archives")),
            pdf=PdfRules.parse(_mapping(document, "pdf")),
        )
        names = {c.name for c in policy.containers}
        for kind, rules in policy.accepted.items():
            unknown = {c for rule in rules for c in rule.containers} - names
            assert not unknown, f"{kind} names unknown containers {sorted(unknown)}"
        return policy

    def container(self, name: str) -> Container:
        return next(c for c in self.containers if c.name == name)


def _mapping(document: Mapping[str, object], key: str) -> Mapping[str, Any]:
    value = document[key]
    assert isinstance(value, dict), key
    return value


def _list(document: Mapping[str, object], key: str) -> list[object]:
    value = document.get(key, [])
    assert isinstance(value, list)
    return value


@lru_cache(maxsize=1)
def load_content_policy(path: Path = TYPES_PATH) -> ContentPolicy:
    """The content rules of this deployment, read once per cold start."""
    return ContentPolicy.parse(json.loads(path.read_text(encoding="utf-8")))


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
    members: tuple[str, ...] | None = None  # the member names of its container's directory, when read
    findings: tuple[str, ...] = ()  # what the archive and PDF inspectors found (refusal reasons), first first


@dataclass(frozen=True)
class Verdict:
    status: FileStatus
    reason: str | None
    content_type: str | None = None  # a clean verdict: the type the bytes were judged, which is served

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


@dataclass(frozen=True)
class TypeJudgement:
    """What the bytes are (the type served), or why they are refused."""

    problem: str | None
    judged: str | None = None


def identify(policy: ContentPolicy, sniffed: str, members: tuple[str, ...] | None) -> str:
    """The type bytes of no declared type are: the school format their container's directory names,
    else what libmagic calls them."""
    sniffed = base_type(sniffed)
    if members is not None:
        for container in policy.containers:
            if container.type and container.sniffed == sniffed and container.holds(members):
                return container.type
    return sniffed


def _fits(policy: ContentPolicy, rule: TypeRule, sniffed: str, head: bytes, members: tuple[str, ...] | None) -> bool:
    if sniffed not in rule.sniffed:
        return False
    if rule.containers and (
        members is None or not any(policy.container(name).holds(members) for name in rule.containers)
    ):
        return False
    if rule.starts:
        # libmagic finds a PDF signature anywhere in the first kilobyte, so an HTML page that
        # carries `%PDF-` sniffs as PDF: binary formats must also start with their magic and
        # hold no markup where a browser would look for it.
        if not head.startswith(rule.starts):
            return False
        window = head[:MARKER_WINDOW].lower()
        if any(marker in window for marker in policy.markers):
            return False
    return True


def judge_type(
    policy: ContentPolicy, declared: str, sniffed: str, head: bytes, members: tuple[str, ...] | None = None
) -> TypeJudgement:
    """The type the bytes are judged, from the declared type, libmagic's and the container's directory;
    or why they are refused (a program, a script, a type contradicting the declared one or not accepted)."""
    sniffed = base_type(sniffed)
    if sniffed in policy.executable:
        return TypeJudgement("executable")
    if sniffed in policy.script:
        return TypeJudgement("script")
    kind = base_type(declared)
    if kind in policy.untyped:
        kind = identify(policy, sniffed, members)
        if kind not in policy.accepted:
            return TypeJudgement("type_not_accepted")
    for rule in policy.accepted.get(kind, ()):
        if _fits(policy, rule, sniffed, head, members):
            return TypeJudgement(None, rule.judged or kind)
    return TypeJudgement("type_mismatch")


def type_problem(
    policy: ContentPolicy, declared: str, sniffed: str, head: bytes, members: tuple[str, ...] | None = None
) -> str | None:
    """Why the bytes contradict the declared type (or are active content), else None."""
    return judge_type(policy, declared, sniffed, head, members).problem


def grant_allowed(policy: ContentPolicy, patterns: tuple[str, ...] | None, declared: str) -> bool:
    """Whether bytes declared so may turn out of a type an assignment allows (the scan checks the type
    they are judged); bytes of no declared type are judged by the scan alone."""
    judged = policy.judged_types(declared)
    return judged is None or any(type_allowed(patterns, kind) for kind in judged)


def judge(policy: ContentPolicy, expected: Expected, observed: Observed) -> Verdict:
    """The one verdict on an upload: available only when every check passed and the scan was clean."""
    verdict = scan_verdict(observed.scan)
    if verdict is not None:
        return verdict
    if observed.findings:
        # What clamd misses in archives and PDFs, before the type: the inspectors ran as the policy says.
        return Verdict(FileStatus.REJECTED, observed.findings[0])
    if observed.size != expected.size:
        return Verdict(FileStatus.REJECTED, "size_mismatch")
    if expected.sha256 is not None and observed.sha256 != expected.sha256.lower():
        return Verdict(FileStatus.REJECTED, "checksum_mismatch")
    typed = judge_type(policy, expected.content_type, observed.sniffed_type, observed.head, observed.members)
    if typed.problem is not None or typed.judged is None:
        return Verdict(FileStatus.REJECTED, typed.problem or "type_mismatch")
    # What the bytes were judged, not what the device said, is what an assignment's types must allow.
    if not type_allowed(expected.allowed_types, typed.judged):
        return Verdict(FileStatus.REJECTED, "type_not_allowed")
    if observed.scan.outcome is not ScanOutcome.CLEAN:
        return Verdict(FileStatus.REJECTED, "scan_failed")  # unreachable by construction; fail closed
    return Verdict(FileStatus.AVAILABLE, None, typed.judged)
