"""The local stack's moto patches (local/moto_patches.py): a TransactWriteItems backs up only the items it
names, and a refused transaction leaves every one of them as it was, as DynamoDB and unpatched moto do;
a large object's GET is sent from moto's spool file and answers the same bytes, whole or by ranges, even
when the object changes during the read, leaving no descriptor open.
Run in child processes: the patches are global to moto's models, and other tests use moto unpatched."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.common import moto_server

ROOT = Path(__file__).resolve().parents[2]
REGION = "eu-west-3"

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


# -- S3: a GET's body streamed from moto's spool file (local.moto_serve, as the benchmarks run it) -------
@pytest.fixture(scope="module")
def s3() -> Iterator[tuple[Any, subprocess.Popen[bytes]]]:
    """The benchmarks' moto server (bench.common.moto_server: local.moto_serve in a process of its own)."""
    with moto_server() as moto:
        client = moto.client("s3")
        client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        yield client, moto.process


BUCKET = "streamed"
LARGE = random.Random(7).randbytes(12 * 1024 * 1024 + 333)  # past moto's 5 MB buffer: kept in a spool file


def _open_descriptors(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def test_a_large_object_reads_back_whole_and_by_ranges(s3: tuple[Any, Any]) -> None:
    client, _ = s3
    client.put_object(Bucket=BUCKET, Key="large", Body=LARGE)
    assert client.get_object(Bucket=BUCKET, Key="large")["Body"].read() == LARGE
    for spec, expected in [
        ("bytes=0-0", LARGE[:1]),
        ("bytes=1000-2000", LARGE[1000:2001]),
        ("bytes=5242880-", LARGE[5242880:]),
        ("bytes=-500", LARGE[-500:]),
        (f"bytes=10-{len(LARGE) * 2}", LARGE[10:]),
    ]:
        answer = client.get_object(Bucket=BUCKET, Key="large", Range=spec)
        assert answer["Body"].read() == expected, spec
        assert answer["ContentLength"] == len(expected), spec
    small = b"a small object stays in moto's memory buffer"
    client.put_object(Bucket=BUCKET, Key="small", Body=small)
    assert client.get_object(Bucket=BUCKET, Key="small")["Body"].read() == small


@pytest.mark.parametrize("change", ["replaced", "deleted"])
def test_an_object_changed_during_a_read_is_still_sent_as_it_was(s3: tuple[Any, Any], change: str) -> None:
    """S3 sends the version a GET started with; so does the patch (its own descriptor on the spool file)."""
    client, _ = s3
    key = f"changing-{change}"
    client.put_object(Bucket=BUCKET, Key=key, Body=LARGE)
    body = client.get_object(Bucket=BUCKET, Key=key)["Body"]
    head = body.read(1024 * 1024)
    if change == "replaced":
        client.put_object(Bucket=BUCKET, Key=key, Body=LARGE[::-1])
    else:
        client.delete_object(Bucket=BUCKET, Key=key)
    assert head + body.read() == LARGE


def test_no_descriptor_is_left_open_by_reads_read_whole_or_abandoned(s3: tuple[Any, Any]) -> None:
    client, server = s3
    client.put_object(Bucket=BUCKET, Key="counted", Body=LARGE)
    client.get_object(Bucket=BUCKET, Key="counted")["Body"].read()
    before = _open_descriptors(server.pid)
    for turn in range(12):
        body = client.get_object(Bucket=BUCKET, Key="counted")["Body"]
        if turn % 2:
            body.read()
        else:
            body.read(4096)
        body.close()
    deadline = time.monotonic() + 30
    while _open_descriptors(server.pid) > before + 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _open_descriptors(server.pid) <= before + 2


def _memory_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} for {pid}")


def test_a_read_holds_no_copy_of_the_object(s3: tuple[Any, Any]) -> None:
    """moto's own GET reads the whole object into memory first; the patched one a chunk at a time: the
    server's peak memory during the read of 64 MB grows by far less than 64 MB."""
    client, server = s3
    size = 64 * 1024 * 1024
    client.put_object(Bucket=BUCKET, Key="big", Body=bytes(size))
    Path(f"/proc/{server.pid}/clear_refs").write_text("5")  # the peak starts again from here
    before = _memory_kb(server.pid, "VmRSS")
    body = client.get_object(Bucket=BUCKET, Key="big")["Body"]
    read = sum(len(chunk) for chunk in body.iter_chunks(1024 * 1024))
    assert read == size
    assert _memory_kb(server.pid, "VmHWM") - before < size // 4 // 1024


def test_mock_aws_keeps_its_bodies_as_bytes() -> None:
    """The patch acts over HTTP only: in mock_aws (other tests, in the same process as a local stack)
    a large object's GET answers as moto's own does."""
    child = subprocess.run(
        [sys.executable, "-c", MOCKED], capture_output=True, text=True, timeout=120, check=False, cwd=ROOT
    )
    assert child.returncode == 0 and child.stdout.strip() == "ok", child.stderr


MOCKED = textwrap.dedent(
    """
    import boto3, moto
    from local.moto_patches import stream_object_bodies

    stream_object_bodies()
    with moto.mock_aws():
        s3 = boto3.client("s3", region_name="eu-west-3")
        s3.create_bucket(Bucket="mocked", CreateBucketConfiguration={"LocationConstraint": "eu-west-3"})
        body = bytes(range(256)) * 40000
        s3.put_object(Bucket="mocked", Key="k", Body=body)
        assert s3.get_object(Bucket="mocked", Key="k")["Body"].read() == body
        assert s3.get_object(Bucket="mocked", Key="k", Range="bytes=7-9")["Body"].read() == body[7:10]
        print("ok")
    """
)


def test_an_object_completed_from_parts_reads_back_whole(s3: tuple[Any, Any]) -> None:
    """A multipart object (moto writes its parts one after the other into its spool file) reads back whole."""
    client, _ = s3
    parts = [LARGE[: 5 * 1024 * 1024], LARGE[5 * 1024 * 1024 :]]
    upload = client.create_multipart_upload(Bucket=BUCKET, Key="parts")["UploadId"]
    etags = [
        client.upload_part(Bucket=BUCKET, Key="parts", UploadId=upload, PartNumber=number, Body=part)["ETag"]
        for number, part in enumerate(parts, start=1)
    ]
    client.complete_multipart_upload(
        Bucket=BUCKET,
        Key="parts",
        UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": n, "ETag": etag} for n, etag in enumerate(etags, start=1)]},
    )
    assert client.get_object(Bucket=BUCKET, Key="parts")["Body"].read() == LARGE
