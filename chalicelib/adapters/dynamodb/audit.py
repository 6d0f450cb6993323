"""The school's audit trail: entries written alone or inside another aggregate's transaction."""

from __future__ import annotations

from typing import Any

from chalicelib.adapters.dynamodb.table import DIR_INDEX, Item, Repository, decode_cursor, dump, encode_cursor, load
from chalicelib.domain.models import AuditEntry, micro_stamp
from chalicelib.domain.schema import AUDIT

AUDIT_RETENTION_SECONDS = 400 * 24 * 3600  # a school year and its appeals; then DynamoDB's TTL drops it


def audit_item(entry: AuditEntry) -> Item:
    stamp = f"{micro_stamp(entry.at)}#{entry.id}"
    return {
        "pk": f"AUDIT#{entry.school}",
        "sk": stamp,
        "gsi1pk": f"AUDITUSER#{entry.school}#{entry.actor}",
        "gsi1sk": stamp,
        **AUDIT.to_item(entry),
        "ttl": int(entry.at.timestamp()) + AUDIT_RETENTION_SECONDS,
    }


def audit_from_item(item: Item) -> AuditEntry:
    return AUDIT.from_item(item)


class AuditRepository(Repository):
    """AUDIT#{school} / {at}#{id}, and one actor's entries in the `dir` index."""

    def record_audit(self, entry: AuditEntry) -> None:
        self._call("put_item", TableName=self._table, Item=dump(audit_item(entry)))

    def list_audit(
        self, school: str, actor: str | None, limit: int, cursor: str | None
    ) -> tuple[list[AuditEntry], str | None]:
        """A school's audit trail, or one of its users', newest first."""
        names: tuple[str, ...]
        if actor is None:
            partition, names = f"AUDIT#{school}", ("pk", "sk")
            kwargs: dict[str, Any] = {"KeyConditionExpression": "pk = :p"}
        else:
            partition, names = f"AUDITUSER#{school}#{actor}", ("pk", "sk", "gsi1pk", "gsi1sk")
            kwargs = {"IndexName": DIR_INDEX, "KeyConditionExpression": "gsi1pk = :p"}
        kwargs.update(
            TableName=self._table,
            ExpressionAttributeValues=dump({":p": partition}),
            ScanIndexForward=False,
            Limit=limit + 1,
        )
        if cursor:
            kwargs["ExclusiveStartKey"] = decode_cursor(cursor, {names[-2]: partition})
        items = [load(raw) for raw in self._call("query", **kwargs).get("Items", [])]
        next_cursor = None
        if len(items) > limit:
            items = items[:limit]
            next_cursor = encode_cursor(dump({k: items[-1][k] for k in names}))
        return [audit_from_item(i) for i in items], next_cursor
