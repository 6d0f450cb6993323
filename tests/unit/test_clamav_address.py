"""clamd addresses: parsed at construction, so a bad setting fails the cold start, not the first scan."""

from __future__ import annotations

import socket

import pytest

from chalicelib.adapters.clamav import ClamdScanner, parse_address


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("unix:///run/clamav/clamd.sock", (socket.AF_UNIX, "/run/clamav/clamd.sock")),
        ("unix:///tmp/a b/clamd.sock", (socket.AF_UNIX, "/tmp/a b/clamd.sock")),
        ("tcp://clamd.internal:3310", (socket.AF_INET, ("clamd.internal", 3310))),
        ("tcp://10.0.3.7:3310/", (socket.AF_INET, ("10.0.3.7", 3310))),
        ("tcp://[::1]:3310", (socket.AF_INET6, ("::1", 3310))),
    ],
)
def test_addresses(address: str, expected: tuple[socket.AddressFamily, object]) -> None:
    assert parse_address(address) == expected


@pytest.mark.parametrize(
    "address",
    [
        "",
        "/run/clamd.sock",
        "clamd:3310",
        "unix://relative.sock",
        "unix:relative.sock",
        "unix://",
        "unix:///run/clamd.sock?mode=x",
        "tcp://host",
        "tcp://:3310",
        "tcp://host:0",
        "tcp://host:65536",
        "tcp://host:port",
        "tcp://h:1/x",
        "tcp://user@h:1",
        "tcp://h:1#frag",
        "http://h:1",
        "TCP ://h:1",
    ],
)
def test_bad_addresses(address: str) -> None:
    with pytest.raises(ValueError):
        parse_address(address)


def test_the_scanner_checks_its_settings_without_connecting() -> None:
    ClamdScanner("unix:///nowhere/clamd.sock", timeout=1)  # no socket until a call
    with pytest.raises(ValueError):
        ClamdScanner("clamd:3310", timeout=1)
    with pytest.raises(ValueError):
        ClamdScanner("tcp://h:1", timeout=0)
    with pytest.raises(ValueError):
        ClamdScanner("tcp://h:1", timeout=1, chunk_size=0)
