"""Our DynamoDB value codec (chalicelib/adapters/dynamodb/values.py) against boto3's TypeSerializer and
TypeDeserializer, which it stands in for so that the API never imports boto3: the same wire form for every
kind of value, the same Python values back, the same refusals."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from boto3.dynamodb.types import Binary, TypeDeserializer, TypeSerializer

from chalicelib.adapters.dynamodb import values

VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    42,
    10**37,
    -(10**37),
    Decimal("3.14"),
    Decimal("1E+125"),
    Decimal("-1E-130"),
    "",
    "Élève 5ᵉB, devoir n°3 — 🙂",
    b"\x00\xffbytes",
    bytearray(b"ba"),
    {1, 2, 3},
    {Decimal("1.5"), 7},
    {"a", "b"},
    frozenset({"x"}),
    {b"a", b"b"},
    set(),
    [],
    ["a", 1, None, [True, {"k": "v"}]],
    ("t", 2),
    {},
    {"name": "devoir.pdf", "size": 1234, "tags": {"maths"}, "nested": {"deep": [Decimal("0.1"), b"z"]}},
]
REFUSED: list[Any] = [
    1.5,
    float("nan"),
    10**38,
    Decimal("Infinity"),
    Decimal("NaN"),
    Decimal("1E+200"),
    object(),
    {1, "a"},
]


def plain(value: Any) -> Any:
    """boto3's answer with its Binary wrappers unwrapped: ours answers bytes (we store none)."""
    if isinstance(value, Binary):
        return bytes(value.value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, set):
        return {plain(v) for v in value}
    return value


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_values_are_written_as_boto3_writes_them(value: Any) -> None:
    ours, theirs = values.serialize(value), TypeSerializer().serialize(value)
    if isinstance(value, (set, frozenset)):  # a set's members come in no set order
        ((kind, members),) = ours.items()
        assert theirs.keys() == {kind} and sorted(members) == sorted(theirs[kind])
    else:
        assert ours == theirs


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_values_are_read_back_as_boto3_reads_them(value: Any) -> None:
    wire = TypeSerializer().serialize(value)
    ours, theirs = values.deserialize(wire), plain(TypeDeserializer().deserialize(wire))
    assert ours == theirs
    assert type(ours) is type(theirs)


@pytest.mark.parametrize("value", REFUSED, ids=repr)
def test_what_dynamodb_cannot_hold_is_refused_as_boto3_refuses_it(value: Any) -> None:
    with pytest.raises(Exception) as theirs:
        TypeSerializer().serialize(value)
    with pytest.raises(type(theirs.value)):
        values.serialize(value)


@pytest.mark.parametrize("wire", [{}, {"X": 1}], ids=repr)
def test_an_unknown_wire_value_is_refused(wire: dict[str, Any]) -> None:
    with pytest.raises(TypeError):
        TypeDeserializer().deserialize(wire)
    with pytest.raises(TypeError):
        values.deserialize(wire)


def test_the_api_imports_no_boto3() -> None:
    """The codec and the clients are botocore's alone: a fresh interpreter importing the app, the DynamoDB
    catalog and the client factory has no boto3 (nor s3transfer) in sys.modules."""
    import subprocess
    import sys

    code = (
        "import sys, app, chalicelib.adapters.dynamodb, chalicelib.adapters.clients;"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('boto3', 's3transfer')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
