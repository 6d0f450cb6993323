from __future__ import annotations

import socket

import pytest

from chalicelib.adapters.clamav import parse_address


def test_addresses() -> None:
    assert parse_address("unix:///run/clamav/clamd.sock") == (socket.AF_UNIX, "/run/clamav/clamd.sock")
    assert parse_address("tcp://clamd.internal:3310") == (socket.AF_INET, ("clamd.internal", 3310))


@pytest.mark.parametrize(
    "address", ["", "clamd:3310", "unix://relative.sock", "tcp://host", "http://h:1", "tcp://h:1/x"]
)
def test_bad_addresses(address: str) -> None:
    with pytest.raises(ValueError):
        parse_address(address)
