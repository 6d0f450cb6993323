"""Files, uploads and versions as items: how each is written and read back, the name and folder keys,
the quota's reserve and release actions, and the file's conditional put (no I/O here)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from chalicelib.adapters.dynamodb.table import Item, due_key, dump
from chalicelib.domain.models import FileRecord, FileVersion, SpaceRef, UploadRecord
from chalicelib.domain.schema import FILE, UPLOAD, VERSION
from chalicelib.domain.schema import entry as entry  # a file's name in its folder's index (both catalogs')
from chalicelib.domain.schema import entry_name as entry_name

GRANT_GRACE = timedelta(minutes=30)  # an unused grant is swept this long after it expires


def dir_key(school: str, space: SpaceRef, path: str) -> str:
    return f"{school}#{space}#{path}"


def file_from_item(item: Item) -> FileRecord:
    return FILE.from_item(item)


def upload_from_item(item: Item) -> UploadRecord:
    return UPLOAD.from_item(item)


def version_from_item(item: Item) -> FileVersion:
    """A version's item names its file by its partition key only."""
    return VERSION.from_item({**item, "fileId": str(item["pk"]).removeprefix("FILE#")})


def blob_item(file: Item, version: int) -> Item:
    """Where clean bytes of a digest already are in a space: the file's version that holds them."""
    return {
        "pk": f"SHA#{file['school']}#{file['space']}#{file['sha256']}",
        "sk": f"FILE#{file['fileId']}",
        "fileId": file["fileId"],
        "version": version,
        "objectKey": file["objectKey"],
        "size": file["size"],
        "contentType": file["contentType"],
        "owner": file["owner"],
        "subject": file.get("subject"),
    }


def file_item(file: FileRecord) -> Item:
    """A new file's item: nothing served yet, no change in its space's feed yet."""
    return {
        **FILE.to_item(file),
        "pk": f"FILE#{file.id}",
        "sk": "FILE",
        "gsi1pk": dir_key(file.school, file.space, file.path),
        "gsi1sk": f"F#{entry(file)}",
        "servedVersion": 0,
        "changeSeq": 0,
    }


def upload_item(upload: UploadRecord) -> Item:
    """An upload's item, in the `due` index from when its unused grant may be swept."""
    day, stamp = due_key("grant", upload.expires_at + GRANT_GRACE)
    return {
        **UPLOAD.to_item(upload),
        "pk": f"UPLOAD#{upload.id}",
        "sk": "UPLOAD",
        "gsi2pk": day,
        "gsi2sk": f"{stamp}#{upload.id}",
    }


def reserve_action(upload: UploadRecord) -> dict[str, Any]:
    """Add the upload's size to its quota's use, on condition it stays within the limit: concurrent
    grants cannot overshoot, whatever their order."""
    assert upload.quota_key is not None and upload.quota_limit is not None
    return {
        "Update": {
            "Key": dump({"pk": f"QUOTA#{upload.quota_key}", "sk": "QUOTA"}),
            "UpdateExpression": "ADD used :size",
            "ConditionExpression": "attribute_not_exists(used) OR used <= :room",
            "ExpressionAttributeValues": dump({":size": upload.size, ":room": upload.quota_limit - upload.size}),
        }
    }


def count_actions(upload: UploadRecord) -> list[dict[str, Any]]:
    """Join each count of grants waiting for bytes, on condition it stays under its limit."""
    return [
        {
            "Update": {
                "Key": dump({"pk": f"PENDING#{counter}", "sk": "PENDING"}),
                "UpdateExpression": "ADD waiting :one",
                "ConditionExpression": "attribute_not_exists(waiting) OR waiting < :limit",
                "ExpressionAttributeValues": dump({":one": 1, ":limit": limit}),
            }
        }
        for counter, limit in upload.pending_limits
    ]


def leave_count_actions(counters: list[str]) -> list[dict[str, Any]]:
    """A grant's verdict, whatever it is: it no longer waits for bytes."""
    return [
        {
            "Update": {
                "Key": dump({"pk": f"PENDING#{counter}", "sk": "PENDING"}),
                "UpdateExpression": "ADD waiting :minus",
                "ExpressionAttributeValues": dump({":minus": -1}),
            }
        }
        for counter in counters
    ]


def release_action(quota_key: str, size: int) -> dict[str, Any]:
    return {
        "Update": {
            "Key": dump({"pk": f"QUOTA#{quota_key}", "sk": "QUOTA"}),
            "UpdateExpression": "ADD used :minus",
            "ExpressionAttributeValues": dump({":minus": -size}),
        }
    }


def put_file_if_unchanged(after: Item, before: Item) -> dict[str, Any]:
    """Put the file's new state, on condition nobody changed it since it was read."""
    return {
        "Put": {
            "Item": dump(after),
            "ConditionExpression": (
                "servedVersion = :served AND (attribute_not_exists(#chg) OR #chg = :chg)"
                " AND attribute_not_exists(purgingAt)"  # a purge, once begun, is never undone
            ),
            "ExpressionAttributeNames": {"#chg": "changeSeq"},
            "ExpressionAttributeValues": dump(
                {":served": int(before.get("servedVersion", 0)), ":chg": int(before.get("changeSeq", 0))}
            ),
        }
    }
