"""Run the sweeper by hand against the configured stage: `python -m local.sweep`."""

from __future__ import annotations

import json

from chalicelib import wiring
from chalicelib.domain.models import utcnow


def main() -> None:
    print(json.dumps(wiring.sweeper().run(utcnow()).as_json()))


if __name__ == "__main__":
    main()
