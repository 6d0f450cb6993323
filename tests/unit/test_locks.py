"""The hashed locks are in step with the files edited by hand: every pin of requirements.in (and
requirements-dev.in) stands in its lock at the same version, every locked package has hashes, and the
runtime closure of requirements.txt is the same in requirements-dev.txt (what is tested is what ships)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(path: Path) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        match = PIN.match(line.strip())
        if match:
            found[canonical(match.group(1))] = match.group(2)
    return found


def locked(path: Path) -> dict[str, tuple[str, int]]:
    """Package → (version, number of hashes) in a pip-compile lock."""
    text = path.read_text(encoding="utf-8")
    entries: dict[str, tuple[str, int]] = {}
    for block in re.split(r"\n(?=[A-Za-z0-9])", text):
        match = PIN.match(block)
        if match:
            entries[canonical(match.group(1))] = (match.group(2), block.count("--hash=sha256:"))
    return entries


@pytest.mark.parametrize(
    ("source", "lock"), [("requirements.in", "requirements.txt"), ("requirements-dev.in", "requirements-dev.txt")]
)
def test_every_hand_pin_is_in_its_lock(source: str, lock: str) -> None:
    entries = locked(ROOT / lock)
    wanted = pins(ROOT / source)
    assert wanted, source
    stale = {name: version for name, version in wanted.items() if entries.get(name, ("", 0))[0] != version}
    assert stale == {}, f"{lock} is older than {source}: run `make lock`"
    assert all(count > 0 for _, count in entries.values()), "every locked package carries its hashes"


def test_the_dev_lock_holds_the_runtime_closure_unchanged() -> None:
    runtime, dev = locked(ROOT / "requirements.txt"), locked(ROOT / "requirements-dev.txt")
    assert {name: dev.get(name, ("missing", 0))[0] for name in runtime} == {n: v for n, (v, _) in runtime.items()}
