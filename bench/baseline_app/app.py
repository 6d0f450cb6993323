"""The cold-start baseline: the smallest Chalice app that answers the same two requests with boto3 only.

GET /v1/health answers at once; GET /v1/spaces/{space}/files creates a DynamoDB client on first use (as
Cartable's wiring does) and makes one query. No JWT check, no domain: what any boto3 API pays.
"""

from __future__ import annotations

import os
from typing import Any

import boto3
from chalice.app import Chalice

app = Chalice(app_name="baseline")
_clients: dict[str, Any] = {}


def _dynamodb() -> Any:
    if "dynamodb" not in _clients:
        _clients["dynamodb"] = boto3.session.Session().client(
            "dynamodb",
            endpoint_url=os.environ.get("CARTABLE_DYNAMODB_ENDPOINT"),
            region_name=os.environ["AWS_DEFAULT_REGION"],
        )
    return _clients["dynamodb"]


@app.route("/v1/health", methods=["GET"])
def health() -> dict[str, Any]:
    return {"status": "ok"}


@app.route("/v1/spaces/{space}/files", methods=["GET"])
def list_files(space: str) -> dict[str, Any]:
    answer = _dynamodb().query(
        TableName=os.environ["CARTABLE_TABLE"],
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": {"S": f"DIR#{space}"}},
        Limit=101,
    )
    return {"items": answer.get("Items", []), "folders": [], "nextCursor": None}
