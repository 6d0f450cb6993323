"""The scan's read-ahead: same items in order, the source's error where it happened, an early stop."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from chalicelib.adapters.readahead import read_ahead


def test_items_come_in_order() -> None:
    assert list(read_ahead(lambda: iter([b"a", b"b", b"c"]))) == [b"a", b"b", b"c"]
    assert list(read_ahead(lambda: iter([]))) == []


def test_an_error_of_the_source_is_raised_after_the_items_before_it() -> None:
    def failing() -> Iterator[bytes]:
        yield b"first"
        raise ConnectionResetError("storage went away")

    seen: list[bytes] = []
    with pytest.raises(ConnectionResetError):
        for item in read_ahead(failing):
            seen.append(item)
    assert seen == [b"first"]


def test_stopping_early_stops_the_reader_and_closes_its_source() -> None:
    closed = threading.Event()
    produced: list[int] = []

    def endless() -> Iterator[int]:
        try:
            n = 0
            while True:
                produced.append(n)
                yield n
                n += 1
        finally:
            closed.set()

    stream = read_ahead(endless, depth=2)
    assert next(stream) == 0
    stream.close()
    assert closed.wait(5)
    assert len(produced) <= 4  # bounded: one in hand, `depth` queued, one waiting to be queued
