"""Run a rescan by hand against the configured stage: `python -m local.rescan [--force] [--budget S]`.

Prints the progress after every page, then the final record (see chalicelib/domain/rescan.py).
"""

from __future__ import annotations

import argparse
import json
import os

from chalicelib import wiring
from chalicelib.domain.rescan import RescanProgress


def main() -> None:
    os.environ.setdefault("CARTABLE_FUNCTION", "rescan_files")  # for the local stack's record of AWS calls
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--force", action="store_true", help="start a new generation even if nothing changed")
    parser.add_argument("--budget", type=float, default=3600, help="seconds before stopping (it resumes later)")
    args = parser.parse_args()

    def show(progress: RescanProgress) -> None:
        counts = f"scanned {progress.scanned}, infected {progress.infected}, errors {progress.errors}"
        print(f"{counts}, up to {progress.after}", flush=True)

    final = wiring.rescan_service().run(args.budget, force=args.force, on_page=show)
    print(json.dumps(final.as_json()))


if __name__ == "__main__":
    main()
