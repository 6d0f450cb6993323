"""The local stack's moto patch (local/moto_patches.py): a TransactWriteItems backs up only the items it
names, and a refused transaction leaves every one of them as it was, as DynamoDB and unpatched moto do.
Run in a child process: the patch is global to moto's models, and other tests use moto unpatched."""

from __future__ import annotations

import subprocess
import sys
import textwrap

CHILD = textwrap.dedent(
    """
    import boto3, moto
    from local.moto_patches import back_up_only_what_a_transaction_names

    back_up_only_what_a_transaction_names()
    with moto.mock_aws():
        db = boto3.client("dynamodb", region_name="eu-west-3")
        db.create_table(
            TableName="t",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        key = lambda pk, sk: {"pk": {"S": pk}, "sk": {"S": sk}}
        db.put_item(TableName="t", Item={**key("a", "1"), "n": {"N": "1"}})
        refused = [
            {"Put": {"TableName": "t", "Item": {**key("b", "1"), "n": {"N": "9"}}}},
            {"Update": {"TableName": "t", "Key": key("a", "1"), "UpdateExpression": "ADD n :one",
                        "ExpressionAttributeValues": {":one": {"N": "1"}}}},
            {"Delete": {"TableName": "t", "Key": key("c", "1")}},
            {"ConditionCheck": {"TableName": "t", "Key": key("d", "1"),
                                "ConditionExpression": "attribute_exists(pk)"}},
        ]
        try:
            db.transact_write_items(TransactItems=refused)
        except db.exceptions.TransactionCanceledException:
            pass
        else:
            raise SystemExit("the transaction was not refused")
        assert "Item" not in db.get_item(TableName="t", Key=key("b", "1")), "a refused Put stayed"
        assert db.get_item(TableName="t", Key=key("a", "1"))["Item"]["n"] == {"N": "1"}, "a refused Update stayed"
        accepted = refused[:3]
        db.transact_write_items(TransactItems=accepted)
        assert db.get_item(TableName="t", Key=key("b", "1"))["Item"]["n"] == {"N": "9"}
        assert db.get_item(TableName="t", Key=key("a", "1"))["Item"]["n"] == {"N": "2"}
        print("ok")
    """
)


def test_a_refused_transaction_leaves_every_item_it_named_as_it_was() -> None:
    child = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=120, check=False)
    assert child.returncode == 0 and child.stdout.strip() == "ok", child.stderr
