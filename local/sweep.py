"""Run the sweeper by hand against the configured stage: `python -m local.sweep`."""

from __future__ import annotations

import json
import os

from chalicelib import wiring
from chalicelib.domain.models import utcnow


def main() -> None:
    os.environ.setdefault("CARTABLE_FUNCTION", "sweep_trash")  # for the local stack's record of AWS calls
    print(json.dumps(wiring.sweeper().run(utcnow()).as_json()))


if __name__ == "__main__":
    main()
