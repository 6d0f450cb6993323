"""DynamoDB's attribute values to and from Python, as boto3's TypeSerializer and TypeDeserializer make them
(tests/unit/test_dynamodb_values.py compares the two on every kind of value), without importing boto3:
its package imports s3transfer and its thread pools, ~15-20 ms of every API function's cold start that no
request needs (our clients are botocore's, `adapters/clients.py`). One difference: binary values come back
as `bytes` where boto3 wraps them in its `Binary` (we store none)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Set
from decimal import Clamped, Context, Decimal, Inexact, Overflow, Rounded, Underflow
from typing import Any

# DynamoDB's numbers: 38 significant digits, exponents from -130 to 125; anything rounded is refused.
DYNAMODB_CONTEXT = Context(Emin=-128, Emax=126, prec=38, traps=[Clamped, Overflow, Inexact, Rounded, Underflow])


def serialize(value: Any) -> dict[str, Any]:
    """One Python value in DynamoDB's wire form; TypeError for what DynamoDB cannot hold (floats, say)."""
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if _is_number(value):
        return {"N": _number(value)}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, (bytes, bytearray)):
        return {"B": value}
    return _container(value)


def _container(value: Any) -> dict[str, Any]:
    """A set, a map or a list in wire form (what `serialize` checks after the single values, in boto3's order)."""
    if isinstance(value, Set):
        members = list(value)
        if all(_is_number(member) for member in members):
            return {"NS": [_number(member) for member in members]}
        if all(isinstance(member, str) for member in members):
            return {"SS": members}
        if all(isinstance(member, (bytes, bytearray)) for member in members):
            return {"BS": members}
    if isinstance(value, Mapping):
        return {"M": {key: serialize(item) for key, item in value.items()}}
    if isinstance(value, (list, tuple)):
        return {"L": [serialize(item) for item in value]}
    raise TypeError(f'Unsupported type "{type(value)}" for value "{value}"')


def deserialize(wire: Mapping[str, Any]) -> Any:
    """One attribute value from DynamoDB's wire form (numbers as Decimal, sets as sets)."""
    if not wire:
        raise TypeError("Value must be a nonempty dictionary whose key is a valid dynamodb type.")
    kind, value = next(iter(wire.items()))
    if kind == "S":  # nearly every value
        return value
    read = _READERS.get(kind)
    if read is None:
        raise TypeError(f"Dynamodb type {kind} is not supported")
    return read(value)


_READERS: dict[str, Callable[[Any], Any]] = {
    "N": DYNAMODB_CONTEXT.create_decimal,
    "M": lambda value: {key: deserialize(item) for key, item in value.items()},
    "L": lambda value: [deserialize(item) for item in value],
    "BOOL": lambda value: value,
    "NULL": lambda value: None,
    "SS": set,
    "NS": lambda value: {DYNAMODB_CONTEXT.create_decimal(member) for member in value},
    "B": bytes,
    "BS": lambda value: {bytes(member) for member in value},
}


def _is_number(value: Any) -> bool:
    if isinstance(value, (int, Decimal)):
        return True
    if isinstance(value, float):
        raise TypeError("Float types are not supported. Use Decimal types instead.")
    return False


def _number(value: int | Decimal) -> str:
    number = str(DYNAMODB_CONTEXT.create_decimal(value))
    if number in ("Infinity", "NaN"):
        raise TypeError("Infinity and NaN not supported")
    return number
