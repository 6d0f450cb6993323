"""A PostgreSQL server of our own, as the local stack starts clamd: initdb in a temp dir, pg_ctl on a free
loopback port with its unix socket in that dir, and the catalog's migrations applied to a template
database from which each user of it (the local stack, a test module) copies a fresh database.
`make dev CATALOG=postgres` and the tests use it; stop() removes everything.

initdb refuses to run as root (as `make test` runs on CI): then the server runs as the unprivileged
`postgres` user (Debian's package makes it) through runuser, or `nobody` through setpriv."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

TEMPLATE = "cartable_template"


def postgres_bin() -> Path | None:
    """The directory of initdb and pg_ctl: CARTABLE_PG_BIN, PATH, or the newest Debian install."""
    if os.environ.get("CARTABLE_PG_BIN"):
        return Path(os.environ["CARTABLE_PG_BIN"])
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    installs = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    return installs[-1].parent if installs else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _unprivileged() -> str | None:
    """The user to run the server as when we are root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    raise RuntimeError("running as root and no unprivileged user (postgres, nobody) to run PostgreSQL as")


def _as(user: str | None, command: list[str]) -> list[str]:
    if user is None:
        return command
    if shutil.which("runuser"):
        return ["runuser", "-u", user, "--", *command]
    entry = pwd.getpwnam(user)
    return ["setpriv", f"--reuid={entry.pw_uid}", f"--regid={entry.pw_gid}", "--clear-groups", *command]


@dataclass
class PostgresServer:
    bin: Path
    home: Path
    port: int
    user: str | None

    def url(self, database: str) -> str:
        return f"postgresql://cartable@127.0.0.1:{self.port}/{database}"

    def admin(self, sql: str) -> None:
        """A statement outside any transaction (CREATE/DROP DATABASE), on the maintenance database."""
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(sql.encode())

    def new_database(self) -> str:
        """A fresh database with the current schema (a copy of the migrated template)."""
        name = f"cartable_{uuid.uuid4().hex[:12]}"
        self.admin(f'CREATE DATABASE "{name}" TEMPLATE {TEMPLATE}')
        return self.url(name)

    def stop(self) -> None:
        """Stop the server at once and remove its directory."""
        subprocess.run(
            _as(self.user, [str(self.bin / "pg_ctl"), "-D", str(self.home / "data"), "-m", "immediate", "stop"]),
            capture_output=True,
            timeout=60,
            check=False,
        )
        shutil.rmtree(self.home, ignore_errors=True)


def start_postgres() -> PostgresServer:
    """initdb, pg_ctl start (waits until it accepts connections), the migrated template database."""
    from chalicelib.adapters.postgres.migrate import migrate

    bin_dir = postgres_bin()
    if bin_dir is None:
        raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql, or set CARTABLE_PG_BIN)")
    user = _unprivileged()
    home = Path(tempfile.mkdtemp(prefix="cartable-pg-"))
    if user is not None:
        entry = pwd.getpwnam(user)
        os.chown(home, entry.pw_uid, entry.pw_gid)
    server = PostgresServer(bin=bin_dir, home=home, port=_free_port(), user=user)
    data = home / "data"
    try:
        subprocess.run(
            _as(
                user,
                [
                    str(bin_dir / "initdb"),
                    "-D",
                    str(data),
                    "-U",
                    "cartable",
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--locale=C.UTF-8",
                    "--no-sync",
                ],
            ),
            capture_output=True,
            timeout=120,
            check=True,
        )
        options = (
            f"-p {server.port} -k {home} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off"
            " -c full_page_writes=off -c max_connections=200"
        )
        subprocess.run(
            _as(
                user, [str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(home / "log"), "-o", options, "-w", "start"]
            ),
            capture_output=True,
            timeout=120,
            check=True,
        )
        server.admin(f"CREATE DATABASE {TEMPLATE}")
        migrate(server.url(TEMPLATE))
    except subprocess.CalledProcessError as exc:
        log = (home / "log").read_text(errors="replace") if (home / "log").exists() else ""
        server.stop()
        raise RuntimeError(f"PostgreSQL did not start: {exc.stderr.decode(errors='replace')}\n{log}") from exc
    except BaseException:
        server.stop()
        raise
    return server
