"""The Makefile's system check: each Debian package on its own, asked for when it is missing.

clamd is hidden the way `apt-get remove clamav-daemon` leaves a machine, in a private mount
namespace (a bind mount of /dev/null over the binary), so the machine itself is untouched.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CLAMD = shutil.which("clamd", path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")


def _namespaces_allowed() -> bool:
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        return False
    return subprocess.run(["unshare", "-m", "true"], capture_output=True, check=False).returncode == 0


pytestmark = [
    pytest.mark.skipif(CLAMD is None, reason="clamd is not installed: `make test` installs it first"),
    pytest.mark.skipif(not _namespaces_allowed(), reason="needs root and `unshare -m` to hide clamd"),
]


def without_clamd(command: str, user: str | None = None) -> subprocess.CompletedProcess[str]:
    """`command` in a mount namespace where clamd is not installed (optionally as another user)."""
    if user is not None:
        command = f"setpriv --reuid={user} --regid={user} --clear-groups -- {command}"
    script = f"mount --bind /dev/null {CLAMD} && {command}"
    return subprocess.run(
        ["unshare", "-m", "sh", "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )


def test_make_asks_for_clamd_when_it_is_missing() -> None:
    done = without_clamd("make -s system-deps SYSTEM_DEPS_FLAGS=--dry-run")
    assert done.returncode == 0, done.stderr
    assert "missing: clamd" in done.stdout
    assert "would install: clamav-daemon" in done.stdout
    # each package is checked on its own: libmagic is present, so it is not asked for
    assert "libmagic1" not in done.stdout


def test_without_root_it_names_the_one_command_to_run() -> None:
    done = without_clamd("infra/system-deps clamd libmagic magicdb", user="65534")
    assert done.returncode == 1
    assert "sudo apt-get install -y clamav-daemon" in done.stderr


def test_with_everything_present_it_says_nothing() -> None:
    done = subprocess.run(
        ["infra/system-deps", "--dry-run", "clamd", "libmagic", "magicdb"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert (done.returncode, done.stdout) == (0, "")


def test_make_test_asks_for_postgresql_when_it_is_missing() -> None:
    """Hidden as `apt-get remove postgresql-15` leaves the machine: no initdb under /usr/lib/postgresql."""
    script = "mount -t tmpfs tmpfs /usr/lib/postgresql && make -s pg-deps SYSTEM_DEPS_FLAGS=--dry-run"
    done = subprocess.run(
        ["unshare", "-m", "sh", "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "would install: postgresql" in done.stdout
