"""Run the sweeper by hand against the configured stage: `python -m local.sweep`."""

from __future__ import annotations

import json

from chalicelib import wiring
from chalicelib.domain.models import utcnow


def main() -> None:
    trash = wiring.trash_service()
    report = trash.purge(utcnow())
    expired = trash.expire_grants(utcnow())
    print(json.dumps({"purged": report.purged, "objectsDeleted": report.objects_deleted, "grantsExpired": expired}))


if __name__ == "__main__":
    main()
