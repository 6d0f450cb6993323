"""Typed values of the domain: principals, spaces, files, uploads, classes."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from chalicelib.errors import BadRequestError, NotFoundError

if TYPE_CHECKING:
    from chalicelib.domain.ratelimit import RateCharge

ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")


class Role(StrEnum):
    STUDENT = "student"
    TEACHER = "teacher"
    ADMIN = "admin"


class SpaceKind(StrEnum):
    USER = "user"
    CLASS = "class"
    ASSIGNMENT = "assignment"
    SCHOOL = "school"  # the school's own administration (roster, audit); never a client's space id


CLIENT_SPACE_KINDS = frozenset({SpaceKind.USER, SpaceKind.CLASS, SpaceKind.ASSIGNMENT})


class FileStatus(StrEnum):
    PENDING = "pending"
    AVAILABLE = "available"
    INFECTED = "infected"
    REJECTED = "rejected"


class Action(StrEnum):
    LIST = "list"
    READ = "read"
    DOWNLOAD = "download"
    UPLOAD = "upload"
    DELETE = "delete"
    SHARE = "share"
    REVOKE = "revoke"
    ASSIGN = "assign"
    FEEDBACK = "feedback"
    MANAGE = "manage"
    AUDIT = "audit"


class ShareRole(StrEnum):
    VIEWER = "viewer"
    EDITOR = "editor"


def is_valid_id(value: object) -> bool:
    """True for an id of the contract's form `[A-Za-z0-9_-]{1,64}`."""
    return isinstance(value, str) and ID_PATTERN.fullmatch(value) is not None


def new_id() -> str:
    """A fresh server-chosen id: 128 random bits, URL-safe, unguessable."""
    return secrets.token_urlsafe(16)


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """RFC 3339 in UTC with a `Z`, second precision, as the contract writes timestamps."""
    utc = moment if moment.tzinfo is UTC else moment.astimezone(UTC)
    if utc.year < 1000:  # strftime's %Y does not pad: the same text as ever
        return utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"{utc.replace(tzinfo=None, microsecond=0).isoformat()}Z"  # a third of strftime's CPU (~7 a grant)


def micro_stamp(moment: datetime) -> str:
    """A moment to the microsecond with a `Z`, as given (not converted): an order, not the contract's text."""
    if moment.year < 1000:  # strftime's %Y does not pad: the same text as ever
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return f"{moment.replace(tzinfo=None).isoformat(timespec='microseconds')}Z"  # strftime's text, at 1/3 the CPU


def parse_iso(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


@dataclass(frozen=True)
class Principal:
    """The verified caller: who, in which school, with which role."""

    user_id: str
    school: str
    role: Role


@dataclass(frozen=True)
class SpaceRef:
    """A space id such as `user:abc`, `class:5B` or `assignment:xyz`."""

    kind: SpaceKind
    id: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.id}"

    @classmethod
    def parse(cls, text: str, principal: Principal) -> SpaceRef:
        """Parse a space id from a client; `me` is the caller's own drive. Malformed ids are unknown spaces."""
        if text == "me":
            return cls(SpaceKind.USER, principal.user_id)
        kind, sep, ident = text.partition(":")
        if not sep or kind not in CLIENT_SPACE_KINDS or not is_valid_id(ident):
            raise NotFoundError()
        return cls(SpaceKind(kind), ident)

    @classmethod
    def from_stored(cls, text: str) -> SpaceRef:
        kind, _, ident = text.partition(":")
        return cls(SpaceKind(kind), ident)


@dataclass(frozen=True)
class Membership:
    """The caller's relation to the classes of their school, loaded per request when needed."""

    teaching: frozenset[str] = field(default_factory=frozenset)
    studying: frozenset[str] = field(default_factory=frozenset)
    archived: frozenset[str] = field(default_factory=frozenset)  # of those, classes of a closed school year


@dataclass(frozen=True)
class Share:
    """A file shared with a user or a class, as viewer or editor, until an optional expiry."""

    id: str
    school: str
    file_id: str
    target_kind: str  # "user" or "class"
    target_id: str
    role: ShareRole
    expires_at: datetime | None
    created_by: str
    created_at: datetime

    def live(self, now: datetime) -> bool:
        return self.expires_at is None or now < self.expires_at

    def reaches(self, user_id: str, membership: Membership) -> bool:
        """Whether the share is for this user, directly or through one of their classes."""
        if self.target_kind == "user":
            return self.target_id == user_id
        return self.target_id in membership.teaching or self.target_id in membership.studying


@dataclass(frozen=True)
class AuditEntry:
    """One line of a school's audit trail: who did what to what, when, and the decision."""

    id: str
    school: str
    actor: str
    role: str
    action: str  # e.g. upload.grant, file.download, share.create, share.revoke, access.denied
    target: str  # e.g. file:ID, space:class:5B, share:ID, route:GET /v1/files/{file_id}
    decision: str  # allow or deny
    reason: str
    at: datetime


@dataclass(frozen=True)
class ClassRecord:
    """A class of a school and its membership."""

    id: str
    school: str
    name: str
    teachers: tuple[str, ...]
    students: tuple[str, ...]
    archived_at: datetime | None = None  # its school year was closed: a read-only archive
    year: str | None = None


@dataclass(frozen=True)
class FileRecord:
    """A file of a space: its current served version and state."""

    id: str
    school: str
    space: SpaceRef
    path: str
    name: str
    size: int
    content_type: str
    sha256: str | None
    status: FileStatus
    reason: str | None
    version: int
    owner: str
    created_at: datetime
    updated_at: datetime
    object_key: str | None = None
    subject: str | None = None  # in an assignment: the student a teacher's feedback file is for
    trashed_at: datetime | None = None
    arrived_at: datetime | None = None  # when the served version's bytes reached storage (server clock)

    @property
    def belongs_to(self) -> str:
        """Whose submission the file is part of (the student, for feedback too)."""
        return self.subject or self.owner

    @property
    def is_feedback(self) -> bool:
        return self.subject is not None and self.subject != self.owner


@dataclass(frozen=True)
class FileVersion:
    """One version of a file that became available."""

    file_id: str
    version: int
    size: int
    content_type: str
    sha256: str
    object_key: str
    owner: str
    created_at: datetime


@dataclass(frozen=True)
class Assignment:
    """Homework of a class: where students turn in, until when, what."""

    id: str
    school: str
    class_id: str
    title: str
    due_at: datetime
    closes_at: datetime | None
    max_size: int | None
    allowed_types: tuple[str, ...] | None
    created_by: str
    created_at: datetime
    archived_at: datetime | None = None  # its class's school year was closed
    instructions: str | None = None
    deleted_at: datetime | None = None  # sent to the trash with its submissions: gone for good

    @property
    def space(self) -> SpaceRef:
        return SpaceRef(SpaceKind.ASSIGNMENT, self.id)


@dataclass(frozen=True)
class UploadRecord:
    """One grant to upload bytes for a file, and what became of them."""

    id: str
    file_id: str
    school: str
    space: SpaceRef
    path: str
    name: str
    size: int
    content_type: str
    sha256: str | None
    owner: str
    status: FileStatus
    reason: str | None
    created_at: datetime
    expires_at: datetime
    key: str
    allowed_types: tuple[str, ...] | None = None  # an assignment's limit, checked again on the bytes
    base_version: int | None = None  # the version the device started from: a newer one means conflict
    quota_key: str | None = None  # the quota the size is reserved against (none for assignments)
    quota_limit: int | None = None  # its limit when granted
    multipart_id: str | None = None  # the store's multipart upload, above the multipart threshold
    order: str | None = None  # when granted, in ns: of two uploads of a file, the later granted is newer
    completed_at: datetime | None = None  # a multipart upload: when its uploader asked to assemble it
    part_size: int | None = None
    # The counts of grants waiting for bytes this one joins, each with its limit when granted (not stored:
    # which counts an upload is in follows from its owner and space, `quotas.pending_counters`).
    pending_limits: tuple[tuple[str, int], ...] = ()
    # The caller's count of POSTs this minute, written with the grant (not stored): see domain/ratelimit.py.
    rate: RateCharge | None = field(default=None, compare=False)

    @property
    def part_count(self) -> int:
        return 1 if not self.part_size else -(-self.size // self.part_size)

    def part_length(self, number: int) -> int:
        """The exact length of part `number` (1-based): every part is full but the last."""
        assert self.part_size
        return min(self.part_size, self.size - (number - 1) * self.part_size)


def require_id(value: object, what: str) -> str:
    """Check a client-given id, answering 400 when it has the wrong form."""
    if not is_valid_id(value):
        raise BadRequestError(f"{what} must match [A-Za-z0-9_-]{{1,64}}.")
    assert isinstance(value, str)
    return value


def base_type(content_type: str) -> str:
    """`Text/Plain; charset=utf-8` → `text/plain`."""
    return content_type.split(";", 1)[0].strip().lower()
