"""The catalog's schema migrations: `python -m chalicelib.adapters.postgres.migrate [URL]` (or `make
migrate`) applies what is new in `migrations/` to the database at URL (default: CARTABLE_DATABASE_URL),
with yoyo-migrations: each migration in its own transaction, recorded in yoyo's tables, under yoyo's
lock so two deployments migrating at once apply each migration once."""

from __future__ import annotations

import os
import sys
from pathlib import Path

MIGRATIONS = Path(__file__).resolve().parents[3] / "migrations"


def yoyo_url(url: str) -> str:
    """A libpq URL (`postgresql://user:pw@host:port/db?sslmode=...`, or `?host=/socket/dir`) as yoyo's
    psycopg 3 backend takes it."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in ("postgres", "postgresql", "postgresql+psycopg"):
        raise ValueError("the database URL must start with postgresql://")
    return f"postgresql+psycopg://{rest}"


def migrate(url: str, migrations: Path = MIGRATIONS) -> list[str]:
    """Apply the migrations not applied yet; answers their ids (empty when the schema is current)."""
    from yoyo import get_backend, read_migrations  # type: ignore[import-untyped]

    backend = get_backend(yoyo_url(url))
    try:
        with backend.lock():
            pending = backend.to_apply(read_migrations(str(migrations)))
            backend.apply_migrations(pending)
        return [migration.id for migration in pending]
    finally:
        backend.connection.close()


def main(argv: list[str]) -> int:
    url = argv[1] if len(argv) > 1 else os.environ.get("CARTABLE_DATABASE_URL", "")
    if not url:
        print("usage: python -m chalicelib.adapters.postgres.migrate [URL]  (or set CARTABLE_DATABASE_URL)")
        return 2
    applied = migrate(url)
    print(f"migrations applied: {', '.join(applied) if applied else 'none, the schema is current'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
