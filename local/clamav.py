"""clamd for the local stack and the tests: our own signature database, a consistent config, a process."""

from __future__ import annotations

import hashlib
import shutil
import socket
import subprocess
import time
from pathlib import Path

EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
# A harmless marker we sign, so tests can put a "virus" inside any file type.
TEST_MARKER = b"CARTABLE-TEST-SIGNATURE-4b1d7a2e-not-a-virus"
MIB = 1024 * 1024


def ensure_clamd_installed() -> str:
    """The clamd binary, or a clear error saying how to get it."""
    path = shutil.which("clamd") or ("/usr/sbin/clamd" if Path("/usr/sbin/clamd").exists() else None)
    if path is None:
        raise RuntimeError("clamd is not installed: run `make deps` as root, or `apt-get install clamav-daemon`.")
    return path


def build_database(directory: Path) -> None:
    """Hash and body signatures for EICAR and the test marker (no download: we sign what tests need)."""
    directory.mkdir(parents=True, exist_ok=True)
    md5 = hashlib.md5(EICAR, usedforsecurity=False).hexdigest()
    (directory / "cartable.hdb").write_text(f"{md5}:{len(EICAR)}:Cartable.Test.EICAR-HDB\n")
    (directory / "cartable.ndb").write_text(
        f"Cartable.Test.EICAR:0:*:{EICAR.hex()}\nCartable.Test.Marker:0:*:{TEST_MARKER.hex()}\n"
    )


def render_config(directory: Path, socket_path: Path, max_stream: int) -> Path:
    """A clamd.conf whose limits agree with the largest upload we accept."""
    limit = max_stream + MIB
    conf = directory / "clamd.conf"
    conf.write_text(
        "\n".join(
            [
                f"LocalSocket {socket_path}",
                f"DatabaseDirectory {directory / 'db'}",
                "Foreground yes",
                f"LogFile {directory / 'clamd.log'}",
                "LogTime yes",
                f"PidFile {directory / 'clamd.pid'}",
                # A stream longer than this is cut off with an error reply: our "too large" verdict.
                f"StreamMaxLength {limit}",
                f"MaxFileSize {limit}",
                f"MaxScanSize {4 * limit}",
                "MaxRecursion 16",
                "MaxFiles 10000",
                # Without this, content over a limit is reported OK: it must be an alert instead.
                "AlertExceedsMax yes",
                "AlertEncryptedArchive yes",
                "AlertEncryptedDoc yes",
                "AlertBrokenExecutables yes",
                "SelfCheck 3600",
                "ConcurrentDatabaseReload no",
                "",
            ]
        )
    )
    return conf


class ClamdProcess:
    """A clamd of our own on a Unix socket under `directory`."""

    def __init__(self, directory: Path, max_stream: int) -> None:
        self.directory = directory
        self.max_stream = max_stream
        self.socket_path = directory / "clamd.sock"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"unix://{self.socket_path}"

    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = 30) -> None:
        """Start clamd and wait until it answers PONG."""
        if self.is_running():
            return
        binary = ensure_clamd_installed()
        self.directory.mkdir(parents=True, exist_ok=True)
        build_database(self.directory / "db")
        conf = render_config(self.directory, self.socket_path, self.max_stream)
        self.socket_path.unlink(missing_ok=True)
        self._process = subprocess.Popen(
            [binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        self.wait_ready(timeout)

    def ping(self) -> bool:
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(2)
                sock.connect(str(self.socket_path))
                sock.sendall(b"zPING\0")
                return sock.recv(16).startswith(b"PONG")
        except OSError:
            return False

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.ping():
                return
            if self._process is not None and self._process.poll() is not None:
                break
            time.sleep(0.1)
        log = self.directory / "clamd.log"
        tail = log.read_text(errors="replace")[-2000:] if log.exists() else "(no log)"
        self.stop()
        raise RuntimeError(f"clamd did not start:\n{tail}")

    def stop(self) -> None:
        """Stop clamd (its socket goes with it)."""
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None
        self.socket_path.unlink(missing_ok=True)

    def restart(self) -> None:
        self.stop()
        self.start()
