"""The RateCounter port on the catalog's DynamoDB table: one item per user and minute, counted under a
condition (so concurrent requests cannot overshoot), gone two minutes later (the table's TTL)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.adapters.idempotency import BUSY
from chalicelib.errors import ServiceUnavailableError


class DynamoRateCounter:
    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self._table = table

    def take(self, scope: str, window: str, limit: int, expires: datetime) -> bool:
        try:
            self._client.update_item(
                TableName=self._table,
                Key={"pk": {"S": f"RATE#{scope}"}, "sk": {"S": f"MINUTE#{window}"}},
                UpdateExpression="ADD #count :one SET #ttl = :ttl",
                ConditionExpression="attribute_not_exists(#count) OR #count < :limit",
                ExpressionAttributeNames={"#count": "count", "#ttl": "ttl"},
                ExpressionAttributeValues={
                    ":one": {"N": "1"},
                    ":limit": {"N": str(limit)},
                    ":ttl": {"N": str(int(expires.timestamp()))},
                },
            )
            return True
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code == "ConditionalCheckFailedException":
                return False
            if code in BUSY:
                raise ServiceUnavailableError("The catalog is busy; try again shortly.") from exc
            raise
