"""The RateCounter port on the catalog's DynamoDB table: one item per user and minute, counted under a
condition (so concurrent requests cannot overshoot), gone two minutes later (the table's TTL). A grant
counts its request with `count_update` inside its own transaction (chalicelib/adapters/dynamodb/files.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.adapters.idempotency import BUSY
from chalicelib.errors import ServiceUnavailableError


def count_update(scope: str, window: str, limit: int, expires: datetime) -> dict[str, Any]:
    """The conditional increment of `scope`'s count in `window`, as UpdateItem and a transaction's Update
    take it (without the table's name)."""
    return {
        "Key": {"pk": {"S": f"RATE#{scope}"}, "sk": {"S": f"MINUTE#{window}"}},
        "UpdateExpression": "ADD #count :one SET #ttl = :ttl",
        "ConditionExpression": "attribute_not_exists(#count) OR #count < :limit",
        "ExpressionAttributeNames": {"#count": "count", "#ttl": "ttl"},
        "ExpressionAttributeValues": {
            ":one": {"N": "1"},
            ":limit": {"N": str(limit)},
            ":ttl": {"N": str(int(expires.timestamp()))},
        },
    }


class DynamoRateCounter:
    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self._table = table

    def take(self, scope: str, window: str, limit: int, expires: datetime) -> bool:
        try:
            self._client.update_item(TableName=self._table, **count_update(scope, window, limit, expires))
            return True
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code == "ConditionalCheckFailedException":
                return False
            if code in BUSY:
                raise ServiceUnavailableError("The catalog is busy; try again shortly.") from exc
            raise
