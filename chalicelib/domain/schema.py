"""Each record type mapped once: one schema per record says, field by field, its name in DynamoDB items
and change snapshots (camelCase), in the contract's JSON (or that it is not public), in PostgreSQL rows
(snake_case), and how its value is written and read back (a codec). The stores and the API build their
forms from it, so a field added to a record is added in one place, and the forms cannot drift apart.

What is specific to a store stays in its adapter (keys, indexes, TTLs, counters); what is specific to the
contract stays in the domain's JSON functions (a member list hidden from students, say). Pure and cheap to
import: no boto3, no psycopg (the API's cold start)."""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from chalicelib.domain.models import (
    Assignment,
    AuditEntry,
    ClassRecord,
    FileRecord,
    FileStatus,
    FileVersion,
    Share,
    ShareRole,
    SpaceKind,
    SpaceRef,
    UploadRecord,
    iso,
    micro_stamp,
    parse_iso,
)

Form = dict[str, Any]


def _same(value: Any) -> Any:
    return value


def _second(moment: datetime) -> datetime:
    """A moment as the items keep it (to the second, UTC): both catalogs answer the same."""
    return moment.astimezone(UTC).replace(microsecond=0)


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


@dataclass(frozen=True)
class Codec:
    """How a value is written and read back. None is never encoded: it stays None in every form."""

    dump: Callable[[Any], Any] = _same  # to an item's, a snapshot's and the contract's value
    load: Callable[[Any], Any] = _same  # back from an item or a snapshot
    to_row: Callable[[Any], Any] | None = None  # to a PostgreSQL parameter (None: as `dump`)
    from_row: Callable[[Any], Any] | None = None  # back from a row (None: as `load`)
    show: Callable[[Any], Any] | None = None  # to the contract's JSON (None: as `dump`)


PLAIN = Codec()
INT = Codec(load=int)  # DynamoDB answers numbers as Decimal
TEXT = Codec(load=lambda text: text or None)  # "" read back is None (a reason cleared by an update)
TIME = Codec(  # RFC 3339 to the second in items and JSON; a timestamptz to the second in rows
    dump=iso,
    load=lambda text: parse_iso(text) if text else None,
    to_row=_second,
    from_row=_utc,
)
MICRO_TIME = Codec(  # to the microsecond in items and rows (a feed's order), to the second in JSON
    dump=micro_stamp,
    load=lambda text: datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC),
    to_row=_same,
    from_row=_utc,
    show=iso,
)
SPACE = Codec(dump=str, load=SpaceRef.from_stored)
TUPLE = Codec(dump=list, load=tuple)  # a list in items, rows (text[]) and JSON


def enum(kind: type[Enum]) -> Codec:
    return Codec(dump=lambda member: member.value, load=kind)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


@dataclass(frozen=True)
class Field:
    """One attribute of a record type and its names in each form ("" derives the name)."""

    attr: str
    codec: Codec = PLAIN
    key: str = ""  # in items and snapshots: the attribute in camelCase
    json: str | None = ""  # in the contract's JSON: as `key`; None: not public
    column: str = ""  # in PostgreSQL: the attribute
    missing: Any = None  # the value of an item that lacks it (older items of a list)


@dataclass(frozen=True)
class Shown:
    """A value of the contract's JSON only, derived from the record (already in its JSON form)."""

    json: str
    get: Callable[[Any], Any]


@dataclass(frozen=True)
class _Slot:
    attr: str
    codec: Codec
    key: str
    json: str | None
    column: str
    missing: Any
    optional: bool


class Schema[T]:
    """A record type's forms, in the order of its fields (the contract's JSON keeps that order)."""

    def __init__(self, record: type[T], *fields: Field | Shown) -> None:
        self.record = record
        # Records are dataclasses (T is not bound to them for mypy): a field whose type admits None, or
        # that has a `missing` value, may be absent from an item; any other is required.
        types = {f.name: str(f.type) for f in dataclasses.fields(record)}  # type: ignore[arg-type]
        self._slots = tuple(
            _Slot(
                attr=f.attr,
                codec=f.codec,
                key=f.key or _camel(f.attr),
                json=(f.json or f.key or _camel(f.attr)) if f.json is not None else None,
                column=f.column or f.attr,
                missing=f.missing,
                optional=f.missing is not None or "None" in types[f.attr],
            )
            for f in fields
            if isinstance(f, Field)
        )
        # What `to_item` runs per record, computed once: every value in one call, then each key and its
        # encoder (None where a value is written as it is: no call per field).
        self._values = operator.attrgetter(*(s.attr for s in self._slots))
        self._item_keys = tuple((s.key, None if s.codec.dump is _same else s.codec.dump) for s in self._slots)
        by_attr = {s.attr: s for s in self._slots}
        self._public = tuple(
            (f.json, f.get) if isinstance(f, Shown) else _shown(by_attr[f.attr])
            for f in fields
            if isinstance(f, Shown) or by_attr[f.attr].json is not None
        )

    def to_item(self, record: T) -> Form:
        """Its attributes as an item keeps them (None values are left out by the table's `dump`)."""
        values = self._values(record)
        if len(self._item_keys) == 1:  # attrgetter of one name answers the value, not a tuple
            values = (values,)
        return {
            key: value if value is None or encode is None else encode(value)
            for (key, encode), value in zip(self._item_keys, values, strict=True)
        }

    def from_item(self, item: Mapping[str, Any]) -> T:
        return self.record(**{s.attr: _decode(s, s.codec.load, item, s.key) for s in self._slots})

    def to_json(self, record: T) -> Form:
        """The contract's form: its public fields, None included, in the schema's order."""
        return {name: get(record) for name, get in self._public}

    def to_snapshot(self, record: T) -> Form:
        """The whole record as a JSON document: public fields by their contract names, the others by
        their item names, None included."""
        return {s.json or s.key: _encode(s.codec.dump, getattr(record, s.attr)) for s in self._slots}

    def from_snapshot(self, data: Mapping[str, Any]) -> T:
        return self.record(**{s.attr: _decode(s, s.codec.load, data, s.json or s.key) for s in self._slots})

    def to_row(self, record: T) -> Form:
        """Its attributes as PostgreSQL parameters, by column (moments as datetimes, not text)."""
        return {s.column: _encode(s.codec.to_row or s.codec.dump, getattr(record, s.attr)) for s in self._slots}

    def from_row(self, row: Mapping[str, Any]) -> T:
        return self.record(**{s.attr: _decode(s, s.codec.from_row or s.codec.load, row, s.column) for s in self._slots})

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(s.column for s in self._slots)


def _encode(encode: Callable[[Any], Any], value: Any) -> Any:
    return None if value is None else encode(value)


def _shown(slot: _Slot) -> tuple[str, Callable[[Any], Any]]:
    assert slot.json is not None
    show = slot.codec.show or slot.codec.dump
    return slot.json, lambda record: _encode(show, getattr(record, slot.attr))


def _decode(slot: _Slot, decode: Callable[[Any], Any], source: Mapping[str, Any], name: str) -> Any:
    """A field's value read back; a required one missing is a KeyError (a broken item, not a None)."""
    raw = source.get(name) if slot.optional else source[name]
    return slot.missing if raw is None else decode(raw)


def ident(kind: str, public: str | None = "id") -> Field:
    """A record's id: `{kind}Id` in items, `{kind}_id` in rows, `id` in the contract unless said."""
    return Field("id", key=f"{kind}Id", json=public, column=f"{kind}_id")


SCHOOL = Field("school", json=None)  # the tenant: from the caller's token, never in the contract

FILE = Schema(
    FileRecord,
    ident("file"),
    SCHOOL,
    Field("space", SPACE),
    Field("path"),
    Field("name"),
    Field("size", INT),
    Field("content_type"),
    Field("sha256"),
    Field("status", enum(FileStatus)),
    Field("reason", TEXT),
    Field("version", INT),
    Field("owner"),
    Field("created_at", TIME),
    Field("updated_at", TIME),
    Field("object_key", json=None),
    Field("subject", json=None),
    Field("trashed_at", TIME, json=None),
    Field("arrived_at", TIME, json=None),
)


def entry_name(space: SpaceRef, belongs_to: str, name: str, feedback: bool = False) -> str:
    """A file's name in its folder's index, as both catalogs key it: in an assignment, students'
    submissions (and their feedback) never collide or mix."""
    if space.kind is not SpaceKind.ASSIGNMENT:
        return name
    return f"{belongs_to}/~feedback/{name}" if feedback else f"{belongs_to}/{name}"


def entry(file: FileRecord) -> str:
    return entry_name(file.space, file.belongs_to, file.name, file.is_feedback)


UPLOAD = Schema(
    UploadRecord,
    ident("upload", public="uploadId"),
    Field("file_id"),
    SCHOOL,
    Field("space", SPACE, json=None),
    Field("path", json=None),
    Field("name", json=None),
    Field("size", INT, json=None),
    Field("content_type", json=None),
    Field("sha256", json=None),
    Field("owner", json=None),
    Field("status", enum(FileStatus)),
    Field("reason", TEXT),
    Field("created_at", TIME),
    Field("expires_at", TIME),
    Field("key", json=None),
    Field("allowed_types", TUPLE, json=None),
    Field("base_version", INT, json=None),
    Field("quota_key", json=None),
    Field("multipart_id", json=None),
    Field("order", key="grantOrder", json=None, column="grant_order"),
    Field("completed_at", TIME, json=None),
    Field("part_size", INT, json=None),
    # quota_limit and pending_limits are the grant's terms, checked once when granted: never stored
)

VERSION = Schema(
    FileVersion,
    Field("file_id", json=None),  # in items, the partition key's
    Field("version", INT),
    Field("size", INT),
    Field("content_type"),
    Field("sha256"),
    Field("object_key", json=None),
    Field("owner"),
    Field("created_at", TIME),
)

ASSIGNMENT = Schema(
    Assignment,
    ident("assignment"),
    SCHOOL,
    Field("class_id"),
    Field("title"),
    Field("due_at", TIME),
    Field("closes_at", TIME),
    Field("max_size", INT),
    Field("allowed_types", TUPLE),
    Field("created_by", json=None),
    Field("created_at", TIME, json=None),
    Field("archived_at", TIME, json=None),
    Field("deleted_at", TIME, json=None),
    Shown("space", lambda assignment: str(assignment.space)),
    Field("instructions", TEXT),  # contract v1.1 (PATCH): after v1's keys
)

CLASS = Schema(
    ClassRecord,
    ident("class"),
    SCHOOL,
    Field("name"),
    Field("teachers", TUPLE, missing=()),
    Field("students", TUPLE, missing=()),
    Field("archived_at", TIME),
    Field("year"),
)

SHARE = Schema(
    Share,
    ident("share"),
    SCHOOL,
    Field("file_id"),
    Shown("with", lambda share: {"type": share.target_kind, "id": share.target_id}),
    Field("target_kind", json=None),
    Field("target_id", json=None),
    Field("role", enum(ShareRole)),
    Field("expires_at", TIME),
    Field("created_by"),
    Field("created_at", TIME),
)

AUDIT = Schema(
    AuditEntry,
    ident("audit"),
    SCHOOL,
    Field("actor"),
    Field("role"),
    Field("action"),
    Field("target"),
    Field("decision"),
    Field("reason"),
    Field("at", TIME),
)
