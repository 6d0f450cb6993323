"""Typed values of the domain: principals, spaces, files, uploads, classes."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from chalicelib.errors import BadRequestError, NotFoundError

ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")


class Role(StrEnum):
    STUDENT = "student"
    TEACHER = "teacher"
    ADMIN = "admin"


class SpaceKind(StrEnum):
    USER = "user"
    CLASS = "class"
    ASSIGNMENT = "assignment"


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
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


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
        if not sep or kind not in SpaceKind.__members__.values() or not is_valid_id(ident):
            raise NotFoundError()
        return cls(SpaceKind(kind), ident)

    @classmethod
    def from_stored(cls, text: str) -> SpaceRef:
        kind, _, ident = text.partition(":")
        return cls(SpaceKind(kind), ident)


@dataclass(frozen=True)
class ClassRecord:
    """A class of a school and its membership."""

    id: str
    school: str
    name: str
    teachers: tuple[str, ...]
    students: tuple[str, ...]


@dataclass(frozen=True)
class Membership:
    """The caller's relation to the classes of their school, loaded per request when needed."""

    teaching: frozenset[str] = field(default_factory=frozenset)
    studying: frozenset[str] = field(default_factory=frozenset)


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


def require_id(value: object, what: str) -> str:
    """Check a client-given id, answering 400 when it has the wrong form."""
    if not is_valid_id(value):
        raise BadRequestError(f"{what} must match [A-Za-z0-9_-]{{1,64}}.")
    assert isinstance(value, str)
    return value
