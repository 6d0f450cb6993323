"""Files, uploads and versions: grants (with their quota), reads, folder listings, digests and the
change feed of each space."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from chalicelib.adapters.dynamodb.audit import audit_item
from chalicelib.adapters.dynamodb.changes import ChangeFeed
from chalicelib.adapters.dynamodb.records import (
    count_actions,
    dir_key,
    entry,
    entry_name,
    file_from_item,
    file_item,
    put_file_if_unchanged,
    reserve_action,
    upload_from_item,
    upload_item,
    version_from_item,
)
from chalicelib.adapters.dynamodb.table import (
    DIR_INDEX,
    Item,
    Repository,
    Table,
    decode_cursor,
    dump,
    encode_cursor,
    load,
    retried_on_races,
)
from chalicelib.adapters.ratelimit import count_update
from chalicelib.domain.models import AuditEntry, FileRecord, FileStatus, FileVersion, SpaceRef, UploadRecord, iso
from chalicelib.domain.ports import Change, CleanCopy, Page
from chalicelib.errors import AlreadyExistsError, QuotaExceededError, StaleWriteError, TooManyRequestsError

WAITING_RETRY = 60  # seconds: grants end as their bytes arrive, or within their lifetime


def name_key(file: FileRecord) -> str:
    """The key of a live file's name claim in its folder (one file per name)."""
    return f"NAME#{file.school}#{file.space}#{file.path}{entry(file)}"


def folder_action(file: FileRecord, parent: str, name: str) -> dict[str, Any]:
    """Put the folder `name` of `parent` in the file's space, listed in its parent (written again: the same)."""
    item = {
        "pk": f"FOLDER#{file.school}#{file.space}#{parent}{name}/",
        "sk": "FOLDER",
        "gsi1pk": dir_key(file.school, file.space, parent),
        "gsi1sk": f"D#{name}",
        "name": name,
    }
    return {"Put": {"Item": dump(item)}}


class FileRepository(Repository):
    """FILE#…/FILE, FILE#…/VERSION#…, UPLOAD#…, NAME#…, FOLDER#…, SHA#…, QUOTA#…, CHG#… and HEAD#…."""

    def __init__(self, table: Table) -> None:
        super().__init__(table)
        self._feed = ChangeFeed(table)

    def get_file(self, school: str, file_id: str) -> FileRecord | None:
        """A file of the school; one in the trash is not found."""
        item = self._get(f"FILE#{file_id}", "FILE")
        if item is None or item.get("school") != school or "trashedAt" in item:
            return None
        return file_from_item(item)

    def get_file_anywhere(self, file_id: str) -> FileRecord | None:
        """A file whatever its school (for the platform's own work: rescans)."""
        item = self._get(f"FILE#{file_id}", "FILE")
        return None if item is None else file_from_item(item)

    def get_files(self, school: str, file_ids: Iterable[str]) -> dict[str, FileRecord]:
        """Several files by id, in batches of 100."""
        keys = [dump({"pk": f"FILE#{i}", "sk": "FILE"}) for i in sorted(set(file_ids))]
        files: dict[str, FileRecord] = {}
        for item in self._batch_get(keys):
            if item.get("school") == school and "trashedAt" not in item:
                record = file_from_item(item)
                files[record.id] = record
        return files

    def find_file_id(
        self, school: str, space: SpaceRef, path: str, name: str, owner: str, feedback: bool = False
    ) -> str | None:
        item = self._get(f"NAME#{school}#{space}#{path}{entry_name(space, owner, name, feedback)}", "NAME")
        return None if item is None else str(item["fileId"])

    def find_file(
        self, school: str, space: SpaceRef, path: str, name: str, owner: str, feedback: bool = False
    ) -> FileRecord | None:
        """The live file under a name, in one read: the folder index holds the file's whole item. The
        index may lag a write by a moment; the grant's own transaction decides (the name's claim, the
        file's state), and a grant that lost on it asks again with `find_file_id` and `get_file`."""
        entry_key = f"F#{entry_name(space, owner, name, feedback)}"
        result = self._call(
            "query",
            TableName=self._table,
            IndexName=DIR_INDEX,
            KeyConditionExpression="gsi1pk = :p AND gsi1sk = :s",
            ExpressionAttributeValues=dump({":p": dir_key(school, space, path), ":s": entry_key}),
        )
        items = [load(raw) for raw in result.get("Items", [])]
        live = [i for i in items if i.get("school") == school and "trashedAt" not in i]
        return file_from_item(live[0]) if live else None

    def create_file(
        self,
        file: FileRecord,
        upload: UploadRecord,
        folders: Sequence[tuple[str, str]],
        audit: AuditEntry | None = None,
    ) -> None:
        """A new file, its name claim, its first grant, its folders and its audit entry, in one transaction."""
        claim = {
            "pk": f"NAME#{file.school}#{file.space}#{file.path}{entry(file)}",
            "sk": "NAME",
            "fileId": file.id,
        }
        actions: list[dict[str, Any]] = [
            {"Put": {"Item": dump(claim), "ConditionExpression": "attribute_not_exists(pk)"}},
            {"Put": {"Item": dump(file_item(file)), "ConditionExpression": "attribute_not_exists(pk)"}},
            {"Put": {"Item": dump(upload_item(upload)), "ConditionExpression": "attribute_not_exists(pk)"}},
        ]
        actions += [folder_action(file, parent, name) for parent, name in folders]
        try:
            self._transact_grant(actions, upload, audit)
        except StaleWriteError as exc:
            raise AlreadyExistsError("A file with that name was just created.") from exc

    def move_file(
        self,
        file_id: str,
        path: str,
        name: str,
        folders: Sequence[tuple[str, str]],
        now: datetime,
        audit: AuditEntry,
    ) -> FileRecord:
        """A served file under a new name or folder of its space, in one transaction: the new name's claim
        (AlreadyExistsError if taken), the old one's release, the folders, the audit entry and an `upsert`
        in its space's feed. StaleWriteError (not retried) if the file is not live and available; a race
        for the feed or the file (a verdict, another rename) is tried again."""
        return retried_on_races(lambda: self._move_once(file_id, path, name, folders, now, audit))

    def _move_once(
        self,
        file_id: str,
        path: str,
        name: str,
        folders: Sequence[tuple[str, str]],
        now: datetime,
        audit: AuditEntry,
    ) -> FileRecord:
        file = self._get(f"FILE#{file_id}", "FILE")
        if file is None or "trashedAt" in file or file.get("status") != FileStatus.AVAILABLE.value:
            raise StaleWriteError("The file is not available.")
        before = file_from_item(file)
        moved = replace(before, path=path, name=name)
        if (moved.path, entry(moved)) == (before.path, entry(before)):
            return before
        after = dict(file)
        after.update(
            path=path,
            name=name,
            updatedAt=iso(now),
            gsi1pk=dir_key(moved.school, moved.space, path),
            gsi1sk=f"F#{entry(moved)}",
        )
        claim = {"pk": name_key(moved), "sk": "NAME", "fileId": file_id}
        actions: list[dict[str, Any]] = [
            {"Put": {"Item": dump(claim), "ConditionExpression": "attribute_not_exists(pk)"}},
            {"Delete": {"Key": dump({"pk": name_key(before), "sk": "NAME"})}},
            *(folder_action(moved, parent, folder) for parent, folder in folders),
            {"Put": {"Item": dump(audit_item(audit))}},
        ]
        if int(file.get("changeSeq", 0)):
            actions += self.change(after, "upsert")
        actions.append(put_file_if_unchanged(after, file))
        try:
            self.commit(actions)
        except StaleWriteError as exc:
            if 0 in exc.failed:  # the name's claim: the caller's own precondition, never retried
                raise AlreadyExistsError("A file with that name is already in that folder.") from exc
            raise  # a race on the feed or the file: tried again
        return file_from_item(after)

    def add_upload(self, upload: UploadRecord, audit: AuditEntry | None = None, served: bool | None = None) -> None:
        """A new grant for an existing file; a file never served shows the new grant's state. `served`
        is what the caller read (a file with bytes served or not): then the transaction checks it
        instead of reading the file again, and refuses (StaleWriteError) if the file moved on."""
        file_key = dump({"pk": f"FILE#{upload.file_id}", "sk": "FILE"})
        if served is None:
            file = self._get(f"FILE#{upload.file_id}", "FILE")
            if file is None:
                raise StaleWriteError("The file was just removed.")
            served = int(file.get("servedVersion", 0)) > 0
        actions: list[dict[str, Any]] = [
            {"Put": {"Item": dump(upload_item(upload)), "ConditionExpression": "attribute_not_exists(pk)"}}
        ]
        live = "attribute_exists(pk) AND attribute_not_exists(trashedAt)"
        if not served:
            # Nothing served yet: the file describes its latest attempt.
            values = {
                ":pending": FileStatus.PENDING.value,
                ":size": upload.size,
                ":ct": upload.content_type,
                ":now": iso(upload.created_at),
                ":zero": 0,
            }
            update = {
                "Key": file_key,
                "UpdateExpression": "SET #st = :pending, #sz = :size, contentType = :ct, updatedAt = :now"
                " REMOVE reason, sha256",
                "ConditionExpression": f"{live} AND servedVersion = :zero",
                "ExpressionAttributeNames": {"#st": "status", "#sz": "size"},
                "ExpressionAttributeValues": dump(values),
            }
            actions.append({"Update": update})
        else:
            # Still under the name granted: a grant that read the folder's index just before a rename (the
            # index lags) refuses here and asks again, so the old name makes a new file.
            check = {
                "Key": file_key,
                "ConditionExpression": f"{live} AND servedVersion > :zero AND #pa = :path AND #nm = :name",
                "ExpressionAttributeNames": {"#pa": "path", "#nm": "name"},
                "ExpressionAttributeValues": dump({":zero": 0, ":path": upload.path, ":name": upload.name}),
            }
            actions.append({"ConditionCheck": check})
        self._transact_grant(actions, upload, audit)

    def _transact_grant(self, actions: list[dict[str, Any]], upload: UploadRecord, audit: AuditEntry | None) -> None:
        """A grant's writes, its audit entry and its quota reservation, all or nothing; a full quota is
        told apart from a lost race."""
        if audit is not None:
            actions.append({"Put": {"Item": dump(audit_item(audit))}})
        counts = range(len(actions), len(actions) + len(upload.pending_limits))
        actions += count_actions(upload)
        if upload.quota_key is not None:
            actions.append(reserve_action(upload))
        rate = upload.rate
        if rate is not None:  # the caller's request counted by this same write
            actions.append({"Update": count_update(rate.scope, rate.window, rate.limit, rate.expires)})
        try:
            self._transact(actions)
        except StaleWriteError as exc:
            if rate is not None and len(actions) - 1 in exc.failed:
                raise rate.refusal() from exc  # past the caller's budget this minute: 429, before the rest
            quota = len(actions) - (2 if rate is not None else 1)
            if upload.quota_key is not None and quota in exc.failed:
                raise QuotaExceededError("This upload would exceed the storage quota.") from exc
            if any(i in exc.failed for i in counts):
                raise TooManyRequestsError(
                    "Too many uploads are waiting for their bytes; send or cancel some first.", WAITING_RETRY
                ) from exc
            raise
        if rate is not None:
            rate.settled = True

    def set_multipart(self, upload_id: str, multipart_id: str) -> None:
        """Name the store's multipart upload on a pending grant, once."""
        self._set_on_pending_upload(upload_id, "multipartId", multipart_id, once=True)

    def set_completed(self, upload_id: str, now: datetime) -> None:
        """When a multipart upload's uploader asked to assemble it: its bytes' arrival, by our clock."""
        self._set_on_pending_upload(upload_id, "completedAt", iso(now))

    def _set_on_pending_upload(self, upload_id: str, name: str, value: str, once: bool = False) -> None:
        """Set one attribute of an upload still pending (StaleWriteError once judged, or set when `once`)."""
        self._call(
            "update_item",
            TableName=self._table,
            Key=dump({"pk": f"UPLOAD#{upload_id}", "sk": "UPLOAD"}),
            UpdateExpression="SET #attr = :value",
            ConditionExpression="#st = :pending" + (" AND attribute_not_exists(#attr)" if once else ""),
            ExpressionAttributeNames={"#st": "status", "#attr": name},
            ExpressionAttributeValues=dump({":value": value, ":pending": FileStatus.PENDING.value}),
        )

    def get_upload(self, upload_id: str) -> UploadRecord | None:
        item = self._get(f"UPLOAD#{upload_id}", "UPLOAD")
        return None if item is None else upload_from_item(item)

    def file_versions(self, file_id: str) -> list[FileVersion]:
        """Every available version of a file, newest first."""
        result = self._call(
            "query",
            TableName=self._table,
            KeyConditionExpression="pk = :p AND begins_with(sk, :v)",
            ExpressionAttributeValues=dump({":p": f"FILE#{file_id}", ":v": "VERSION#"}),
            ScanIndexForward=False,
            ConsistentRead=True,
        )
        return [version_from_item(load(raw)) for raw in result.get("Items", [])]

    def quota_used(self, quota_key: str) -> int:
        """Bytes reserved or kept against a quota."""
        item = self._get(f"QUOTA#{quota_key}", "QUOTA")
        return 0 if item is None else int(item.get("used", 0))

    def clean_copies(self, school: str, space: SpaceRef, sha256: str, limit: int) -> list[CleanCopy]:
        """Versions of files of the space that hold clean bytes with this digest."""
        result = self._call(
            "query",
            TableName=self._table,
            KeyConditionExpression="pk = :p",
            ExpressionAttributeValues=dump({":p": f"SHA#{school}#{space}#{sha256.lower()}"}),
            Limit=limit,
        )
        return [
            CleanCopy(
                file_id=str(i["fileId"]),
                object_key=str(i["objectKey"]),
                size=int(i["size"]),
                content_type=str(i["contentType"]),
                owner=str(i["owner"]),
                subject=i.get("subject") or None,
            )
            for i in (load(raw) for raw in result.get("Items", []))
        ]

    def changes(self, school: str, space: SpaceRef, after: int, limit: int) -> list[Change]:
        """Files whose latest change is after position `after`, in order (see `changes.ChangeFeed`)."""
        return self._feed.read(school, str(space), after, limit)

    def list_folder(
        self, school: str, space: SpaceRef, path: str, limit: int, cursor: str | None, owner: str | None = None
    ) -> Page:
        """One query: subfolders then files of one folder, in name order (only `owner`'s, when given)."""
        partition = dir_key(school, space, path)
        condition, values = "gsi1pk = :p", {":p": partition}
        if owner is not None:
            condition, values = condition + " AND begins_with(gsi1sk, :o)", {**values, ":o": f"F#{owner}/"}
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": DIR_INDEX,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": dump(values),
            "Limit": limit + 1,
        }
        if cursor:
            kwargs["ExclusiveStartKey"] = decode_cursor(cursor, {"gsi1pk": partition})
        raw_items = self._call("query", **kwargs).get("Items", [])
        items = [load(raw) for raw in raw_items]
        next_cursor = None
        if len(items) > limit:
            items = items[:limit]
            last = items[-1]
            next_cursor = encode_cursor(dump({k: last[k] for k in ("pk", "sk", "gsi1pk", "gsi1sk")}))
        folders = [str(i["name"]) for i in items if str(i["gsi1sk"]).startswith("D#")]
        files = [file_from_item(i) for i in items if str(i["gsi1sk"]).startswith("F#")]
        return Page(folders=folders, files=files, next_cursor=next_cursor)

    def change(self, after: Item, op: str) -> list[dict[str, Any]]:
        """Actions that move a file to the end of its space's change feed (its state as of `after`);
        send them with `commit`, which voids the position taken if the transaction fails."""
        return self._feed.change(after, op)

    def commit(self, actions: list[dict[str, Any]]) -> None:
        self._feed.commit(actions)
