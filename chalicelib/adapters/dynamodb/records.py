"""Files, uploads and versions as items: how each is written and read back, the name and folder keys,
the quota's reserve and release actions, and the file's conditional put (no I/O here)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from chalicelib.adapters.dynamodb.table import Item, due_key, dump
from chalicelib.domain.models import (
    FileRecord,
    FileStatus,
    FileVersion,
    SpaceKind,
    SpaceRef,
    UploadRecord,
    iso,
    parse_iso,
)

GRANT_GRACE = timedelta(minutes=30)  # an unused grant is swept this long after it expires


def dir_key(school: str, space: SpaceRef, path: str) -> str:
    return f"{school}#{space}#{path}"


def entry_name(space: SpaceRef, belongs_to: str, name: str, feedback: bool = False) -> str:
    """A file's name in its folder's index: students' submissions (and their feedback) never collide or mix."""
    if space.kind is not SpaceKind.ASSIGNMENT:
        return name
    return f"{belongs_to}/~feedback/{name}" if feedback else f"{belongs_to}/{name}"


def entry(file: FileRecord) -> str:
    return entry_name(file.space, file.belongs_to, file.name, file.is_feedback)


def file_from_item(item: Item) -> FileRecord:
    return FileRecord(
        id=item["fileId"],
        school=item["school"],
        space=SpaceRef.from_stored(item["space"]),
        path=item["path"],
        name=item["name"],
        size=int(item["size"]),
        content_type=item["contentType"],
        sha256=item.get("sha256"),
        status=FileStatus(item["status"]),
        reason=item.get("reason") or None,
        version=int(item["version"]),
        owner=item["owner"],
        created_at=parse_iso(item["createdAt"]),
        updated_at=parse_iso(item["updatedAt"]),
        object_key=item.get("objectKey"),
        subject=item.get("subject"),
        trashed_at=parse_iso(item["trashedAt"]) if item.get("trashedAt") else None,
        arrived_at=parse_iso(item["arrivedAt"]) if item.get("arrivedAt") else None,
    )


def upload_from_item(item: Item) -> UploadRecord:
    return UploadRecord(
        id=item["uploadId"],
        file_id=item["fileId"],
        school=item["school"],
        space=SpaceRef.from_stored(item["space"]),
        path=item["path"],
        name=item["name"],
        size=int(item["size"]),
        content_type=item["contentType"],
        sha256=item.get("sha256"),
        owner=item["owner"],
        status=FileStatus(item["status"]),
        reason=item.get("reason") or None,
        created_at=parse_iso(item["createdAt"]),
        expires_at=parse_iso(item["expiresAt"]),
        key=item["key"],
        allowed_types=tuple(item["allowedTypes"]) if "allowedTypes" in item else None,
        base_version=int(item["baseVersion"]) if "baseVersion" in item else None,
        quota_key=item.get("quotaKey"),
        multipart_id=item.get("multipartId"),
        order=item.get("grantOrder"),
        completed_at=parse_iso(item["completedAt"]) if "completedAt" in item else None,
        part_size=int(item["partSize"]) if "partSize" in item else None,
    )


def version_from_item(item: Item) -> FileVersion:
    return FileVersion(
        file_id=str(item["pk"]).removeprefix("FILE#"),
        version=int(item["version"]),
        size=int(item["size"]),
        content_type=item["contentType"],
        sha256=item["sha256"],
        object_key=item["objectKey"],
        owner=item["owner"],
        created_at=parse_iso(item["createdAt"]),
    )


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
    return {
        "pk": f"FILE#{file.id}",
        "sk": "FILE",
        "gsi1pk": dir_key(file.school, file.space, file.path),
        "gsi1sk": f"F#{entry(file)}",
        "subject": file.subject,
        "fileId": file.id,
        "school": file.school,
        "space": str(file.space),
        "path": file.path,
        "name": file.name,
        "size": file.size,
        "contentType": file.content_type,
        "sha256": file.sha256,
        "status": file.status.value,
        "reason": file.reason,
        "version": file.version,
        "servedVersion": 0,
        "changeSeq": 0,
        "owner": file.owner,
        "createdAt": iso(file.created_at),
        "updatedAt": iso(file.updated_at),
    }


def upload_item(upload: UploadRecord) -> Item:
    return {
        "pk": f"UPLOAD#{upload.id}",
        "sk": "UPLOAD",
        "uploadId": upload.id,
        "fileId": upload.file_id,
        "school": upload.school,
        "space": str(upload.space),
        "path": upload.path,
        "name": upload.name,
        "size": upload.size,
        "contentType": upload.content_type,
        "sha256": upload.sha256,
        "owner": upload.owner,
        "status": upload.status.value,
        "createdAt": iso(upload.created_at),
        "expiresAt": iso(upload.expires_at),
        "key": upload.key,
        "allowedTypes": list(upload.allowed_types) if upload.allowed_types is not None else None,
        "baseVersion": upload.base_version,
        "quotaKey": upload.quota_key,
        "multipartId": upload.multipart_id,
        "grantOrder": upload.order,
        "partSize": upload.part_size,
        "gsi2pk": due_key("grant", upload.expires_at + GRANT_GRACE)[0],
        "gsi2sk": f"{due_key('grant', upload.expires_at + GRANT_GRACE)[1]}#{upload.id}",
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
