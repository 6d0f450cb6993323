"""The IdempotencyStore port on the catalog's DynamoDB table: one item per (user, key), claimed under a
condition, completed with the answer, gone after 24 h (the table's TTL; expired items are ignored).

Item: pk `IDEM#{school}#{user}`, sk `KEY#{key}`, `fingerprint`, `state` (`running` | `done`),
`claimedAt` (epoch seconds), the answer (`status`, `headers` and `body` as JSON text, `json`), `ttl`.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.domain.idempotency import LIFETIME, Prior, StoredAnswer
from chalicelib.errors import ServiceUnavailableError

BUSY = {
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "InternalServerError",
    "ServiceUnavailable",
    "TransactionConflictException",
}
# Free, expired (TTL deletes within days, not at once), or claimed by a request that died.
CLAIMABLE = "attribute_not_exists(pk) OR #ttl < :now OR (#state = :running AND claimedAt < :stale)"


def _seconds(moment: datetime) -> str:
    return str(int(moment.timestamp()))


class DynamoIdempotencyStore:
    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self._table = table

    def _key(self, scope: str, key: str) -> dict[str, Any]:
        return {"pk": {"S": f"IDEM#{scope}"}, "sk": {"S": f"KEY#{key}"}}

    def _call(self, operation: str, **arguments: Any) -> Any:
        try:
            return getattr(self._client, operation)(TableName=self._table, **arguments)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in BUSY:
                raise ServiceUnavailableError("The catalog is busy; try again shortly.") from exc
            raise

    def claim(self, scope: str, key: str, fingerprint: str, now: datetime, stale_before: datetime) -> Prior | None:
        item = {
            **self._key(scope, key),
            "fingerprint": {"S": fingerprint},
            "state": {"S": "running"},
            "claimedAt": {"N": _seconds(now)},
            "ttl": {"N": _seconds(now + LIFETIME)},  # a dead claim is taken over once stale, not expired
        }
        try:
            self._call(
                "put_item",
                Item=item,
                ConditionExpression=CLAIMABLE,
                ExpressionAttributeNames={"#ttl": "ttl", "#state": "state"},
                ExpressionAttributeValues={
                    ":now": {"N": _seconds(now)},
                    ":running": {"S": "running"},
                    ":stale": {"N": _seconds(stale_before)},
                },
            )
            return None
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
        held = self._call("get_item", Key=self._key(scope, key), ConsistentRead=True).get("Item")
        if held is None:  # released between the two calls: the next try claims it
            return Prior(fingerprint=fingerprint, answer=None)
        return Prior(fingerprint=held["fingerprint"]["S"], answer=_answer(held))

    def complete(self, scope: str, key: str, answer: StoredAnswer, expires: datetime) -> None:
        self._call(
            "update_item",
            Key=self._key(scope, key),
            UpdateExpression="SET #state = :done, #status = :status, headers = :headers, body = :body, "
            "#json = :json, #ttl = :ttl",
            ExpressionAttributeNames={"#state": "state", "#status": "status", "#json": "json", "#ttl": "ttl"},
            ExpressionAttributeValues={
                ":done": {"S": "done"},
                ":status": {"N": str(answer.status)},
                ":headers": {"S": json.dumps(answer.headers, separators=(",", ":"))},
                ":body": {"S": answer.body},
                ":json": {"BOOL": answer.json},
                ":ttl": {"N": _seconds(expires)},
            },
        )

    def release(self, scope: str, key: str) -> None:
        self._call("delete_item", Key=self._key(scope, key))


def _answer(item: dict[str, Any]) -> StoredAnswer | None:
    if item.get("state", {}).get("S") != "done":
        return None
    return StoredAnswer(
        status=int(item["status"]["N"]),
        headers=json.loads(item["headers"]["S"]),
        body=item["body"]["S"],
        json=bool(item["json"]["BOOL"]),
    )
