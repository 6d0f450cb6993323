"""clamd for the local stack and the tests: our own signature database, a consistent config, a process.

There is no signature download anywhere: we sign exactly what the tests need (EICAR and a harmless
marker), so a detection is deterministic and clamd starts in well under a second.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import time
from pathlib import Path

from chalicelib.adapters.clamav import ClamdScanner

# Built from two halves so that a desktop antivirus does not quarantine this source file.
EICAR: bytes = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + b"EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
assert len(EICAR) == 68
# A harmless string we sign, so tests can put a "virus" inside any file type.
TEST_MARKER: bytes = b"CARTABLE-TEST-SIGNATURE-4b1d7a2e-not-a-virus"

MIB = 1024 * 1024
SUN_PATH_MAX = 107  # sockaddr_un.sun_path is 108 bytes on Linux, NUL included
CLAMD_CANDIDATES = ("/usr/sbin/clamd", "/usr/local/sbin/clamd")


def ensure_clamd_installed() -> str:
    """The clamd binary, or a clear error saying how to get it."""
    # /usr/sbin is often missing from a non-root PATH, where Debian puts clamd.
    path = shutil.which("clamd") or next((c for c in CLAMD_CANDIDATES if os.access(c, os.X_OK)), None)
    if path is None:
        raise RuntimeError(
            "clamd is not installed: run `make deps` (as root it installs Debian's clamav-daemon), "
            "or `sudo apt-get install clamav-daemon`."
        )
    return path


def build_database(directory: Path) -> None:
    """Hash and body signatures for EICAR and the test marker, in `directory` (idempotent)."""
    directory.mkdir(parents=True, exist_ok=True)
    md5 = hashlib.md5(EICAR, usedforsecurity=False).hexdigest()
    # .hdb: md5:size:name, the exact file only. .ndb: name:target type (0 = any file):offset (* = anywhere):hex,
    # so EICAR is found with trailing bytes, inside an archive, or in any file type.
    _write_if_changed(directory / "cartable.hdb", f"{md5}:{len(EICAR)}:Cartable.Test.EICAR-HDB\n")
    _write_if_changed(
        directory / "cartable.ndb",
        f"Cartable.Test.EICAR:0:*:{EICAR.hex()}\nCartable.Test.Marker:0:*:{TEST_MARKER.hex()}\n",
    )


def _write_if_changed(path: Path, text: str) -> None:
    # A rewrite changes the mtime, and a running clamd's SelfCheck would reload for nothing.
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def render_config(directory: Path, socket_path: Path, max_stream: int) -> Path:
    """Write `directory/clamd.conf`, whose limits agree with the largest upload we accept."""
    directory.mkdir(parents=True, exist_ok=True)
    limit = max_stream + MIB
    lines = [
        "# Written by local/clamav.py: edits are overwritten at the next start.",
        f"LocalSocket {socket_path}",
        f"DatabaseDirectory {directory / 'db'}",
        "# Not a daemon: the process we start is clamd itself, so we can stop it and see it die.",
        "Foreground yes",
        f"LogFile {directory / 'clamd.log'}",
        "LogTime yes",
        f"PidFile {directory / 'clamd.pid'}",
        "# One MiB over the largest upload, so a legitimate file never meets a limit. A longer stream",
        "# gets 'INSTREAM size limit exceeded. ERROR' (our TOO_LARGE verdict) and clamd hangs up.",
        f"StreamMaxLength {limit}",
        "# Largest file scanned, archive members included. Over it, a gzip/bzip2/xz/tar member alerts",
        "# Heuristics.Limits.Exceeded.MaxFileSize, but a zip member is silently trimmed to its head:",
        "# the scan's archive inspector refuses those (policies/content/types.json, archives).",
        f"MaxFileSize {limit}",
        "# Total bytes scanned per stream, decompressed members included: room for archives that",
        "# compress well, while bounding a zip bomb.",
        f"MaxScanSize {min(4 * limit, 4000 * MIB)}",
        "# Archive nesting and member count: beyond them it is a bomb, not homework.",
        "MaxRecursion 16",
        "MaxFiles 10000",
        "# Without this clamd answers OK when a limit stopped the scan: it must be an alert instead.",
        "AlertExceedsMax yes",
        "# We cannot scan what we cannot decrypt: refuse it (Heuristics.Encrypted.*).",
        "AlertEncryptedArchive yes",
        "AlertEncryptedDoc yes",
        "# A truncated or malformed executable is a classic evasion (Heuristics.Broken.Executable).",
        "AlertBrokenExecutables yes",
        "# Look for database changes hourly and reload them.",
        "SelfCheck 3600",
        "# A reload pauses scans briefly instead of holding a second engine in memory meanwhile.",
        "ConcurrentDatabaseReload no",
        "",
    ]
    conf = directory / "clamd.conf"
    conf.write_text("\n".join(lines), encoding="utf-8")
    return conf


class ClamdProcess:
    """A clamd of our own on a Unix socket under `directory`, with our database and config."""

    def __init__(self, directory: Path, max_stream: int) -> None:
        self.directory = directory.resolve()
        self.max_stream = max_stream
        self.socket_path = self.directory / "clamd.sock"
        if len(os.fsencode(self.socket_path)) > SUN_PATH_MAX:
            raise ValueError(f"{self.socket_path} is too long for a Unix socket: use a shorter directory")
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        """The address our scanner is given: `unix:///.../clamd.sock`."""
        return f"unix://{self.socket_path}"

    @property
    def log_path(self) -> Path:
        """clamd's own log (it logs there once its config is read)."""
        return self.directory / "clamd.log"

    def is_running(self) -> bool:
        """Whether the clamd we started is still alive."""
        return self._process is not None and self._process.poll() is None

    def ping(self) -> bool:
        """Whether something answers PONG on our socket."""
        return ClamdScanner(self.address, timeout=2).ping()

    def start(self, timeout: float = 30) -> None:
        """Build the database and config, start clamd and wait until it answers PONG."""
        if self.is_running():
            return
        if self.ping():
            # Another clamd (say, a crashed `make dev`) owns the socket: ours would exit at once
            # while the pings answered, and we would silently test against a stale config.
            raise RuntimeError(f"a clamd already serves {self.socket_path}: stop it (pid in {self.pid_path})")
        binary = ensure_clamd_installed()
        build_database(self.directory / "db")
        conf = render_config(self.directory, self.socket_path, self.max_stream)
        self.socket_path.unlink(missing_ok=True)  # stale, from a clamd that was killed
        with self._output_path.open("wb") as output:  # config errors come out before the log opens
            self._process = subprocess.Popen([binary, "-c", str(conf)], stdout=output, stderr=subprocess.STDOUT)
        self.wait_ready(timeout)

    def wait_ready(self, timeout: float) -> None:
        """Wait until clamd answers PONG; stop it and raise with its log's tail if it does not."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.is_running():
            if self.ping():
                return
            time.sleep(0.1)
        exited = self._process is not None and not self.is_running()
        self.stop()
        reason = "it exited" if exited else f"no PONG within {timeout:g} s"
        raise RuntimeError(
            f"clamd did not start ({reason}):\n{self._tail(self._output_path)}{self._tail(self.log_path)}"
        )

    def stop(self) -> None:
        """Stop clamd and wait for it; its socket goes with it."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.socket_path.unlink(missing_ok=True)  # clamd removes it on SIGTERM, not when killed

    def learn(self, name: str, pattern: bytes, timeout: float = 30) -> None:
        """A new body signature, as a database update brings one: written beside ours, then clamd is
        told to RELOAD; returns once clamd finds it."""
        updates = self.directory / "db" / "cartable-updates.ndb"
        known = updates.read_text(encoding="utf-8") if updates.exists() else ""
        updates.write_text(known + f"{name}:0:*:{pattern.hex()}\n", encoding="utf-8")
        import contextlib

        from chalicelib.adapters.clamav import ClamdScanner
        from chalicelib.domain.content import ScanOutcome
        from chalicelib.errors import ScannerUnavailableError

        scanner = ClamdScanner(self.address, timeout=10)
        scanner.reload()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(ScannerUnavailableError):  # reloading: clamd may refuse for a moment
                if scanner.scan_stream([pattern]).outcome is ScanOutcome.FOUND:
                    return
            time.sleep(0.2)
        raise RuntimeError(f"clamd did not learn {name} within {timeout:.0f}s")

    def kill(self) -> None:
        """SIGKILL, as a crash or the OOM killer would: no goodbye to a stream being read."""
        process, self._process = self._process, None
        if process is not None:
            process.kill()
            process.wait()
        self.socket_path.unlink(missing_ok=True)

    def restart(self) -> None:
        """Stop then start again (the database and config are rebuilt)."""
        self.stop()
        self.start()

    @property
    def pid_path(self) -> Path:
        """clamd's pid file."""
        return self.directory / "clamd.pid"

    @property
    def _output_path(self) -> Path:
        return self.directory / "clamd.out"

    @staticmethod
    def _tail(path: Path, size: int = 2000) -> str:
        if not path.exists():
            return f"({path.name}: nothing)\n"
        return f"--- {path.name}\n{path.read_text(encoding='utf-8', errors='replace')[-size:]}\n"
