"""Shares: a file shared with a user or a class, as viewer or editor, revocable, optionally expiring."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from chalicelib.domain.access import AccessControl, SpaceAccess
from chalicelib.domain.audit import entry
from chalicelib.domain.files import file_json
from chalicelib.domain.models import (
    Action,
    AuditEntry,
    ClassRecord,
    FileRecord,
    FileStatus,
    Membership,
    Principal,
    Share,
    ShareRole,
    iso,
    new_id,
    parse_iso,
    require_id,
    utcnow,
)
from chalicelib.domain.paging import decode_position, encode_position, parse_limit
from chalicelib.domain.permissions import ShareTarget, decide_share_target
from chalicelib.domain.schema import SHARE
from chalicelib.errors import BadRequestError, ForbiddenError, NotFoundError


class ShareStore(Protocol):
    """What sharing reads and writes: files, the caller's and the target's classes, the shares."""

    def get_file(self, school: str, file_id: str) -> FileRecord | None: ...

    def get_files(self, school: str, file_ids: Iterable[str]) -> dict[str, FileRecord]: ...

    def membership(self, school: str, user_id: str) -> Membership: ...

    def get_class(self, school: str, class_id: str) -> ClassRecord | None: ...

    def create_share(self, share: Share, audit: AuditEntry) -> None: ...

    def get_share(self, school: str, share_id: str) -> Share | None: ...

    def delete_share(self, share: Share, audit: AuditEntry) -> None: ...

    def shares_received(
        self, school: str, targets: Sequence[tuple[str, str]], limit: int, before: str | None = None
    ) -> list[Share]: ...

    def shares_given(self, school: str, user_id: str, limit: int, before: str | None = None) -> list[Share]: ...


POSITION = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ#[A-Za-z0-9_-]{1,64}")


def position(share: Share) -> str:
    """A share's place among those received: when it was made, then its id (as the index sorts)."""
    return f"{iso(share.created_at)}#{share.id}"


def share_json(share: Share) -> dict[str, Any]:
    """The contract's share (its `createdAt` is ours: the order of the received list)."""
    return SHARE.to_json(share)


def _expiry(value: object) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadRequestError("expiresAt must be an RFC 3339 UTC time such as 2026-12-01T17:00:00Z.")
    try:
        return parse_iso(value)
    except ValueError as exc:
        raise BadRequestError("expiresAt must be an RFC 3339 UTC time such as 2026-12-01T17:00:00Z.") from exc


def _target(body: Mapping[str, Any]) -> tuple[str, str]:
    target = body.get("with")
    if not isinstance(target, dict) or target.get("type") not in ("user", "class"):
        raise BadRequestError('with must be {"type": "user" | "class", "id": ...}.')
    return str(target["type"]), require_id(target.get("id"), "with.id")


class SharingService:
    """Creates, lists and revokes shares; every step is decided by the one permission function."""

    def __init__(self, catalog: ShareStore, access: AccessControl) -> None:
        self._catalog = catalog
        self._access = access

    def create(self, principal: Principal, body: Mapping[str, Any]) -> dict[str, Any]:
        """Share a file the caller may share, with a target the caller may reach."""
        file_id = require_id(body.get("fileId"), "fileId")
        kind, target_id = _target(body)
        role_text = body.get("role")
        if role_text not in ("viewer", "editor"):
            raise BadRequestError("role must be viewer or editor.")
        expires_at = _expiry(body.get("expiresAt"))
        file = self._catalog.get_file(principal.school, file_id)
        if file is None:
            raise NotFoundError()
        access = self._access.file(principal, file, Action.SHARE)
        access.require(Action.SHARE)
        target = self._share_target(principal, kind, target_id)
        membership = access.membership
        if not membership.teaching and not membership.studying:
            membership = self._catalog.membership(principal.school, principal.user_id)
        decision = decide_share_target(self._access.rules, principal, membership, target)
        if not decision.allowed:
            if not target.exists:
                raise NotFoundError().because(decision.reason)
            raise ForbiddenError("You may not share with this user or class.").because(decision.reason)
        share = Share(
            id=new_id(),
            school=principal.school,
            file_id=file.id,
            target_kind=kind,
            target_id=target_id,
            role=ShareRole(role_text),
            expires_at=expires_at,
            created_by=principal.user_id,
            created_at=utcnow().replace(microsecond=0),
        )
        self._catalog.create_share(share, entry(principal, "share.create", f"share:{share.id}", reason=decision.reason))
        return share_json(share)

    def _share_target(self, principal: Principal, kind: str, target_id: str) -> ShareTarget:
        """What the decision needs about a target; nothing outside the caller's school exists."""
        if kind == "class":
            exists = self._catalog.get_class(principal.school, target_id) is not None
            return ShareTarget(kind, target_id, exists)
        membership = self._catalog.membership(principal.school, target_id)
        exists = bool(membership.teaching or membership.studying)
        return ShareTarget(kind, target_id, exists, membership)

    def received(self, principal: Principal, limit: str | None = None, cursor: str | None = None) -> dict[str, Any]:
        """Available files shared with the caller, directly or through a class, newest share first, a
        page at a time: one query per partition (the user's, each class's), merged. A page may hold
        fewer than `limit` items (expired shares, files not available are left out), never skips one."""
        page_size = parse_limit(limit)
        before = decode_position(cursor, POSITION) if cursor else None
        membership = self._catalog.membership(principal.school, principal.user_id)
        targets = [("user", principal.user_id)]
        targets += [("class", c) for c in sorted(membership.teaching | membership.studying)]
        found = self._catalog.shares_received(principal.school, targets, page_size + 1, before)
        merged = sorted(found, key=position, reverse=True)
        page, next_cursor = merged[:page_size], None
        if len(merged) > page_size:
            next_cursor = encode_position(position(page[-1]))
        now = utcnow()
        live = [s for s in page if s.live(now)]
        files = self._catalog.get_files(principal.school, [s.file_id for s in live])
        items = []
        for share in live:
            file = files.get(share.file_id)
            if file is not None and file.status is FileStatus.AVAILABLE:
                items.append({**share_json(share), "file": file_json(file)})
        return {"items": items, "nextCursor": next_cursor}

    def given(self, principal: Principal, limit: str | None = None, cursor: str | None = None) -> dict[str, Any]:
        """The shares the caller made, newest first, a page at a time (one query of the caller's own), so
        they can be revoked. Expired shares and shares of a file in the trash (which cannot be revoked) are
        left out, so a page may hold fewer than `limit` items, never skips one. `file` is the shared file
        while the caller may still read it, else null."""
        page_size = parse_limit(limit)
        before = decode_position(cursor, POSITION) if cursor else None
        found = self._catalog.shares_given(principal.school, principal.user_id, page_size + 1, before)
        page, next_cursor = found[:page_size], None
        if len(found) > page_size:
            next_cursor = encode_position(position(page[-1]))
        now = utcnow()
        live = [s for s in page if s.live(now)]
        files = self._catalog.get_files(principal.school, [s.file_id for s in live])
        spaces: dict[str, SpaceAccess | None] = {}
        items = []
        for share in live:
            file = files.get(share.file_id)
            if file is None:
                continue
            if str(file.space) not in spaces:  # one decision's inputs per space, not per share
                spaces[str(file.space)] = self._space_access(principal, file)
            access = spaces[str(file.space)]
            narrowed = None if access is None else access.for_file(file.owner, subject=file.subject)
            shown = narrowed is not None and narrowed.allows(Action.READ) and narrowed.sees_unserved(file)
            items.append({**share_json(share), "file": file_json(file) if shown else None})
        return {"items": items, "nextCursor": next_cursor}

    def _space_access(self, principal: Principal, file: FileRecord) -> SpaceAccess | None:
        try:
            return self._access.space(principal, file.space, school=file.school)
        except NotFoundError:
            return None

    def revoke(self, principal: Principal, share_id: str) -> None:
        """End a share at once; its creator or the file's owner may, anyone else finds nothing."""
        share = self._catalog.get_share(principal.school, share_id) if share_id else None
        file = self._catalog.get_file(principal.school, share.file_id) if share else None
        if share is None or file is None:
            raise NotFoundError()
        access = self._access.space(principal, file.space, school=file.school).for_file(file.owner)
        access = access.for_share(share.created_by)
        if not access.allows(Action.REVOKE):
            raise NotFoundError().because("neither the share's creator nor the file's owner")
        self._catalog.delete_share(share, entry(principal, "share.revoke", f"share:{share.id}"))
