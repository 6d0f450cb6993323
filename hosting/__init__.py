"""The host layer for Kubernetes (issue 20): the same Chalice app and handlers outside Lambda.

- `hosting.wsgi`: the API as a WSGI application (gunicorn serves it), turning each request into the event
  API Gateway's REST proxy integration would send, with the gateway's own answers for what it refuses;
- `hosting.worker`: the SQS handlers fed as Lambda's event source mapping feeds them (batches, partial
  failures, visibility kept while a batch runs, graceful shutdown, a health file);
- `hosting.cron`: one run of a scheduled handler, for a CronJob.

Not part of the Lambda package: `chalice package` bundles app.py and chalicelib/ only.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field


@dataclass
class LambdaContext:
    """The parts of Lambda's context object a handler (or Powertools) reads, with the function's deadline."""

    function_name: str
    timeout_seconds: float = 30.0
    memory_limit_in_mb: int = 512
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    invoked_function_arn: str = ""
    log_group_name: str = ""
    log_stream_name: str = ""
    _started: float = field(default_factory=time.monotonic, repr=False)

    def __post_init__(self) -> None:
        if not self.invoked_function_arn:
            self.invoked_function_arn = f"arn:kubernetes:function:{self.function_name}"
        if not self.log_group_name:
            self.log_group_name = f"/kubernetes/{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.timeout_seconds - (time.monotonic() - self._started)) * 1000))
