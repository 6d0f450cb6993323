"""The trash, retention and purges: what the sweeper finds due in the sparse `due` index."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from chalicelib.adapters.dynamodb.audit import audit_item
from chalicelib.adapters.dynamodb.files import FileRepository
from chalicelib.adapters.dynamodb.records import dir_key, entry, file_from_item, put_file_if_unchanged, release_action
from chalicelib.adapters.dynamodb.shares import given_key, share_from_item
from chalicelib.adapters.dynamodb.table import (
    DIR_INDEX,
    DUE_INDEX,
    Item,
    Repository,
    Table,
    decode_cursor,
    due_key,
    dump,
    encode_cursor,
    load,
    retried_on_races,
)
from chalicelib.domain.models import AuditEntry, FileRecord, SpaceRef, iso
from chalicelib.domain.quotas import quota_key
from chalicelib.errors import AlreadyExistsError, StaleWriteError

TRASH_LIFE = timedelta(days=30)  # a deleted file can be restored this long, then it is purged


class TrashRepository(Repository):
    """A trashed file's keys (gsi1pk `TRASH#…`, gsi2pk `DUE#trash#…`), RETAIN#… and the due grants."""

    def __init__(self, table: Table, files: FileRepository) -> None:
        super().__init__(table)
        self._files = files

    def trash_file(self, file_id: str, now: datetime, audit: AuditEntry) -> None:
        """Out of listings and name claims, a `delete` in the feed; restorable until purged. A delete
        that lost the race for the space's feed to another writer is tried again, never refused."""
        retried_on_races(lambda: self._trash_once(file_id, now, audit))

    def _trash_once(self, file_id: str, now: datetime, audit: AuditEntry) -> None:
        file = self._get(f"FILE#{file_id}", "FILE")
        if file is None or "trashedAt" in file:
            raise StaleWriteError("The file was just removed.")
        after = {k: v for k, v in file.items() if k not in ("gsi1pk", "gsi1sk")}
        due_day, due_at = due_key("trash", now + TRASH_LIFE)
        after.update(
            trashedAt=iso(now),
            gsi1pk=f"TRASH#{file['school']}#{file['space']}",
            gsi1sk=f"{iso(now)}#{file_id}",
            gsi2pk=due_day,
            gsi2sk=f"{due_at}#{file_id}",
        )
        actions: list[dict[str, Any]] = [
            {"Delete": {"Key": dump({"pk": self._name_key(file), "sk": "NAME"})}},
            {"Put": {"Item": dump(audit_item(audit))}},
        ]
        if int(file.get("changeSeq", 0)):
            actions += self._files.change(after, "delete")
        actions.append(put_file_if_unchanged(after, file))
        self._files.commit(actions)

    def restore_file(self, file_id: str, audit: AuditEntry) -> None:
        """Back in its folder under its name (if still free) and back in the feed."""
        retried_on_races(lambda: self._restore_once(file_id, audit))

    def _restore_once(self, file_id: str, audit: AuditEntry) -> None:
        file = self._get(f"FILE#{file_id}", "FILE")
        if file is None or "trashedAt" not in file or "purgingAt" in file:
            raise StaleWriteError("The file is not in the trash.")
        record = file_from_item(file)
        after = {k: v for k, v in file.items() if k not in ("trashedAt", "gsi2pk", "gsi2sk")}
        after.update(gsi1pk=dir_key(record.school, record.space, record.path), gsi1sk=f"F#{entry(record)}")
        claim = {"pk": self._name_key(file), "sk": "NAME", "fileId": file_id}
        actions: list[dict[str, Any]] = [
            {"Put": {"Item": dump(claim), "ConditionExpression": "attribute_not_exists(pk)"}},
            {"Put": {"Item": dump(audit_item(audit))}},
        ]
        if int(file.get("changeSeq", 0)):
            actions += self._files.change(after, "upsert")
        actions.append(put_file_if_unchanged(after, file))
        try:
            self._files.commit(actions)
        except StaleWriteError as exc:
            if 0 in exc.failed:  # the name claim: another file took the name meanwhile
                raise AlreadyExistsError("Another file now has this name in this folder.") from exc
            raise  # a race on the feed or the file: tried again

    def _name_key(self, file: Item) -> str:
        record = file_from_item(file)
        return f"NAME#{record.school}#{record.space}#{record.path}{entry(record)}"

    def get_trashed_file(self, school: str, file_id: str) -> FileRecord | None:
        item = self._get(f"FILE#{file_id}", "FILE")
        if item is None or item.get("school") != school or "trashedAt" not in item:
            return None
        return file_from_item(item)

    def list_trash(
        self, school: str, space: SpaceRef, limit: int, cursor: str | None
    ) -> tuple[list[FileRecord], str | None]:
        """The space's trash, most recently deleted first: one query."""
        partition = f"TRASH#{school}#{space}"
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": DIR_INDEX,
            "KeyConditionExpression": "gsi1pk = :p",
            "ExpressionAttributeValues": dump({":p": partition}),
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if cursor:
            kwargs["ExclusiveStartKey"] = decode_cursor(cursor, {"gsi1pk": partition})
        result = self._call("query", **kwargs)
        items = [load(raw) for raw in result.get("Items", [])]
        last = result.get("LastEvaluatedKey")
        return [file_from_item(i) for i in items], (encode_cursor(last) if last else None)

    def _due(self, kind: str, day: str, now: datetime, limit: int) -> list[str]:
        """The keys (pk) of work of a kind due by `now`, in the day partition `day` (YYYY-MM-DD), oldest
        first, at most `limit` (a run's budget: the rest waits for the next run), page after page."""
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": DUE_INDEX,
            "KeyConditionExpression": "gsi2pk = :p AND gsi2sk <= :now",
            "ExpressionAttributeValues": dump({":p": f"DUE#{kind}#{day}", ":now": f"{iso(now)}#~"}),
        }
        keys: list[str] = []
        while len(keys) < limit:
            result = self._call("query", Limit=limit - len(keys), **kwargs)
            keys += [str(load(raw)["pk"]) for raw in result.get("Items", [])]
            if "LastEvaluatedKey" not in result:
                break
            kwargs["ExclusiveStartKey"] = result["LastEvaluatedKey"]
        return keys

    def put_retention_due(self, school: str, year: str, when: datetime) -> None:
        """The day a closed year's pupils' work falls past the school's retention."""
        day, stamp = due_key("retain", when)
        item = {
            "pk": f"RETAIN#{school}#{year}",
            "sk": "RETAIN",
            "school": school,
            "gsi2pk": day,
            "gsi2sk": f"{stamp}#{school}",
        }
        self._call("put_item", TableName=self._table, Item=dump(item))

    def retention_due(self, day: str, now: datetime, limit: int) -> list[str]:
        """Schools with a closed year whose retention fell due by `now` in that day partition."""
        return sorted({pk.removeprefix("RETAIN#").split("#")[0] for pk in self._due("retain", day, now, limit)})

    def trash_due(self, day: str, now: datetime, limit: int) -> list[str]:
        """Ids of trashed files whose purge fell due by `now`."""
        return [pk.removeprefix("FILE#") for pk in self._due("trash", day, now, limit)]

    def begin_purge(self, file_id: str, now: datetime, size: int) -> FileRecord | None:
        """Mark a trashed file as being purged (a restore refuses it from then on) and note the bytes
        its purge gives back to its space's quota; None if it is not in the trash any more."""
        try:
            result = self._call(
                "update_item",
                TableName=self._table,
                Key=dump({"pk": f"FILE#{file_id}", "sk": "FILE"}),
                UpdateExpression="SET purgingAt = if_not_exists(purgingAt, :now),"
                " purgeBytes = if_not_exists(purgeBytes, :size)",
                ConditionExpression="attribute_exists(trashedAt)",
                ExpressionAttributeValues=dump({":now": iso(now), ":size": size}),
                ReturnValues="ALL_NEW",
            )
        except StaleWriteError:
            return None
        return file_from_item(load(result["Attributes"]))

    def grants_due(self, day: str, now: datetime, limit: int) -> list[str]:
        """Ids of uploads still without a verdict whose grant expired (with its grace) by `now`."""
        return [pk.removeprefix("UPLOAD#") for pk in self._due("grant", day, now, limit)]

    def purge_records(self, file_id: str) -> None:
        """The records of a trashed file, once its objects are gone: file, versions, shares, digests.
        The feed keeps its `delete` position; safe to run again after a crash."""
        file = self._get(f"FILE#{file_id}", "FILE")
        if file is not None and "trashedAt" not in file:
            raise StaleWriteError("The file was restored; it is not purged.")
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :p",
            "ExpressionAttributeValues": dump({":p": f"FILE#{file_id}"}),
            "ConsistentRead": True,
        }
        items: list[Item] = []
        while True:  # every version and share of the file, however many pages they take
            result = self._call("query", **kwargs)
            items += [load(raw) for raw in result.get("Items", [])]
            if "LastEvaluatedKey" not in result:
                break
            kwargs["ExclusiveStartKey"] = result["LastEvaluatedKey"]
        keys = [{"pk": i["pk"], "sk": i["sk"]} for i in items if i["sk"] != "FILE"]
        # each share is also found by its id
        keys += [{"pk": str(i["sk"]), "sk": "SHARE"} for i in items if str(i["sk"]).startswith("SHARE#")]
        # and among those its creator made
        keys += [given_key(share_from_item(i)) for i in items if str(i["sk"]).startswith("SHARE#")]
        if file is not None:
            digests = {str(i["sha256"]) for i in items if str(i["sk"]).startswith("VERSION#") and i.get("sha256")}
            keys += [{"pk": f"SHA#{file['school']}#{file['space']}#{d}", "sk": f"FILE#{file_id}"} for d in digests]
        self._batch_write([{"DeleteRequest": {"Key": dump(k)}} for k in keys])
        if file is not None:
            # Last, and in one transaction: the file goes and its bytes leave its quota's use.
            actions: list[dict[str, Any]] = [
                {
                    "Delete": {
                        "Key": dump({"pk": f"FILE#{file_id}", "sk": "FILE"}),
                        "ConditionExpression": "attribute_exists(purgingAt)",
                    }
                }
            ]
            record = file_from_item(file)
            # A teacher's feedback is charged to nobody; a pupil's submission to that pupil.
            if not record.is_feedback and int(file.get("purgeBytes", 0)):
                quota = quota_key(record.school, record.space, record.owner)
                actions.append(release_action(quota, int(file["purgeBytes"])))
            self._transact(actions)
