"""Run the sweeper by hand against the configured stage: `python -m local.sweep`."""

from __future__ import annotations

import json

from chalicelib import wiring
from chalicelib.domain.models import utcnow


def main() -> None:
    report = wiring.trash_service().purge(utcnow())
    print(json.dumps({"purged": report.purged, "objectsDeleted": report.objects_deleted, "skipped": report.skipped}))


if __name__ == "__main__":
    main()
