"""Stage local only: every AWS call a function makes, written down for the least-privilege test.

Each process appends one JSON line per call to `<dir>/<function>-<pid>.jsonl`: the function (from
CARTABLE_FUNCTION, set per process by the local stack), the service, the operation and the few
parameters that name what it touches. tests/integration/test_least_privilege.py then checks each
call against that function's IAM policy. Never configured outside stage local.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

NAMING = ("Bucket", "Key", "Prefix", "CopySource", "TableName", "IndexName", "QueueUrl", "TopicArn")


def record_calls(client: Any, directory: Path) -> None:
    function = os.environ.get("CARTABLE_FUNCTION", "unknown")
    path = directory / f"{function}-{os.getpid()}.jsonl"
    service = client.meta.service_model.service_name

    def write(params: dict[str, Any], model: Any, **_: Any) -> None:
        named = {k: v for k, v in params.items() if k in NAMING}
        if "TransactItems" in params:
            named["TransactItems"] = [next(iter(item)) for item in params["TransactItems"]]
        line = {"function": function, "service": service, "operation": model.name, "params": named}
        with path.open("a", encoding="utf-8") as out:
            out.write(json.dumps(line, default=str) + "\n")

    directory.mkdir(parents=True, exist_ok=True)
    client.meta.events.register("provide-client-params", write)
