"""Shares: under their file, by their id, in the `dir` index by whom they were made to, and under
their creator (GIVEN#…), written and deleted in the same transactions as the share."""

from __future__ import annotations

from collections.abc import Sequence

from chalicelib.adapters.dynamodb.audit import audit_item
from chalicelib.adapters.dynamodb.table import DIR_INDEX, Item, Repository, dump, load
from chalicelib.domain.models import AuditEntry, Share, iso
from chalicelib.domain.schema import SHARE


def share_from_item(item: Item) -> Share:
    return SHARE.from_item(item)


def given_key(share: Share) -> Item:
    """Where a share is found among those its creator made: newest first by `{createdAt}#{shareId}`."""
    return {"pk": f"GIVEN#{share.school}#{share.created_by}", "sk": f"{iso(share.created_at)}#{share.id}"}


class ShareRepository(Repository):
    """FILE#…/SHARE#…, SHARE#…/SHARE and GIVEN#{school}#{createdBy}/{createdAt}#{shareId}."""

    def file_shares(self, file_id: str) -> list[Share]:
        """Every share of a file, read consistently so a revocation counts on the next request."""
        result = self._call(
            "query",
            TableName=self._table,
            KeyConditionExpression="pk = :p AND begins_with(sk, :s)",
            ExpressionAttributeValues=dump({":p": f"FILE#{file_id}", ":s": "SHARE#"}),
            ConsistentRead=True,
        )
        return [share_from_item(load(raw)) for raw in result.get("Items", [])]

    def create_share(self, share: Share, audit: AuditEntry) -> None:
        """The share under its file, its pointer by id, and the audit entry, together."""
        body: Item = SHARE.to_item(share)
        if share.expires_at is not None:
            body["ttl"] = int(share.expires_at.timestamp()) + 86400
        under_file = {
            **body,
            "pk": f"FILE#{share.file_id}",
            "sk": f"SHARE#{share.id}",
            "gsi1pk": f"SHAREDWITH#{share.school}#{share.target_kind}#{share.target_id}",
            "gsi1sk": f"{iso(share.created_at)}#{share.id}",
        }
        pointer = {**body, "pk": f"SHARE#{share.id}", "sk": "SHARE"}
        given = {**body, **given_key(share)}
        self._transact(
            [
                {
                    "ConditionCheck": {
                        "Key": dump({"pk": f"FILE#{share.file_id}", "sk": "FILE"}),
                        "ConditionExpression": "attribute_exists(pk)",
                    }
                },
                {"Put": {"Item": dump(under_file), "ConditionExpression": "attribute_not_exists(pk)"}},
                {"Put": {"Item": dump(pointer), "ConditionExpression": "attribute_not_exists(pk)"}},
                {"Put": {"Item": dump(given), "ConditionExpression": "attribute_not_exists(pk)"}},
                {"Put": {"Item": dump(audit_item(audit))}},
            ]
        )

    def get_share(self, school: str, share_id: str) -> Share | None:
        item = self._get(f"SHARE#{share_id}", "SHARE")
        if item is None or item.get("school") != school:
            return None
        return share_from_item(item)

    def delete_share(self, share: Share, audit: AuditEntry) -> None:
        self._transact(
            [
                {"Delete": {"Key": dump({"pk": f"FILE#{share.file_id}", "sk": f"SHARE#{share.id}"})}},
                {"Delete": {"Key": dump({"pk": f"SHARE#{share.id}", "sk": "SHARE"})}},
                {"Delete": {"Key": dump(given_key(share))}},
                {"Put": {"Item": dump(audit_item(audit))}},
            ]
        )

    def shares_received(
        self, school: str, targets: Sequence[tuple[str, str]], limit: int, before: str | None = None
    ) -> list[Share]:
        """Shares made to any of the targets (the user, their classes), newest first, at most `limit` of
        each (older than the position `before`): one query per target, merged by the caller."""
        found: list[Share] = []
        for kind, ident in targets:
            condition, values = "gsi1pk = :p", {":p": f"SHAREDWITH#{school}#{kind}#{ident}"}
            if before is not None:
                condition, values = condition + " AND gsi1sk < :before", {**values, ":before": before}
            result = self._call(
                "query",
                TableName=self._table,
                IndexName=DIR_INDEX,
                KeyConditionExpression=condition,
                ExpressionAttributeValues=dump(values),
                ScanIndexForward=False,
                Limit=limit,
            )
            found.extend(share_from_item(load(raw)) for raw in result.get("Items", []))
        return found

    def shares_given(self, school: str, user_id: str, limit: int, before: str | None = None) -> list[Share]:
        """Shares the user made, newest first, at most `limit` (older than the position `before`): one
        query of their GIVEN# partition. Expired ones are still read until the TTL deletes them."""
        condition, values = "pk = :p", {":p": f"GIVEN#{school}#{user_id}"}
        if before is not None:
            condition, values = condition + " AND sk < :before", {**values, ":before": before}
        result = self._call(
            "query",
            TableName=self._table,
            KeyConditionExpression=condition,
            ExpressionAttributeValues=dump(values),
            ScanIndexForward=False,
            Limit=limit,
            ConsistentRead=True,
        )
        return [share_from_item(load(raw)) for raw in result.get("Items", [])]
