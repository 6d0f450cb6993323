"""`python -m hosting.cron sweep|rescan`: one run of a scheduled handler of app.py, for a Kubernetes CronJob.

The handler is the one EventBridge calls hourly on AWS (`app.sweep_trash`, `app.rescan_files`), called once
with the event a schedule sends and a Lambda-like context; its report is printed as one JSON line. The
exit status is 0 when it returned, 1 when it raised (the Job's `backoffLimit` decides on another try). The
rescan stops short of its budget by itself and resumes where it stopped at the next run.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
import uuid
from collections.abc import Sequence
from typing import Any

from hosting import LambdaContext

# command → (the app's handler, its Lambda timeout in seconds: .chalice/config.json)
JOBS = {"sweep": ("sweep_trash", 300), "rescan": ("rescan_files", 900)}
log = logging.getLogger("cartable.hosting.cron")


def schedule_event(function: str, region: str) -> dict[str, Any]:
    """The event EventBridge sends a scheduled function."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "000000000000",
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "region": region,
        "resources": [f"arn:kubernetes:events:{region}:000000000000:rule/cartable-{function}"],
        "detail": {},
    }


def run(job: str) -> Any:
    """Call the job's handler once; its report."""
    import app

    function, timeout = JOBS[job]
    os.environ.setdefault("CARTABLE_FUNCTION", function)
    region = os.environ.get("AWS_DEFAULT_REGION", "eu-west-3")
    context = LambdaContext(
        function_name=os.environ.get("CARTABLE_FUNCTION_NAME", f"cartable-{function}"), timeout_seconds=timeout
    )
    return getattr(app, function)(schedule_event(function, region), context)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run one scheduled handler of app.py once.")
    parser.add_argument("job", choices=sorted(JOBS))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="cron %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        report = run(args.job)
    except Exception:
        log.exception("%s failed", args.job)
        return 1
    print(json.dumps(report, default=str), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
