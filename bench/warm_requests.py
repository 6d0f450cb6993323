"""Figure 2: the warm cost of one request, in-process against a moto server in a process of its own (so
that only our side's CPU is counted): CPU µs (time.process_time) and the AWS calls each request makes
(botocore's `before-call` on every client the wiring creates).

Each request is the function's own work as on Lambda: the app called with API Gateway's event (built
beforehand by chalice.local's gateway, as API Gateway builds it) and its context, up to its answer. Until
2026-12-02 requests went through `chalice.test.Client`, which also builds the event and copies the whole
environment on each request (~0.3-0.5 ms, the "health (test client alone)" row); "grant, new file
(test client)" keeps that measure for comparison.

Measured per grant (new file, and new version of a served file), scan of a 1 KB upload (the SQS handler,
clamd and libmagic included), metadata read, download URL, listing page and changes page. "outside SDK"
is the CPU left once the time inside botocore is taken out: its API calls, and presigning (a grant's POST
policy, a download's URL), which is botocore's signing though no API call; "presign" shows that part
(counted outside the SDK until 2026-12-02: add it back to compare). A bare boto3 GetItem and the test
client alone (GET /v1/health) are measured too, as floors. A grant's one write holds the caller's count
of POSTs this minute; a grant sent with an Idempotency-Key (none here) writes its first answer too.
Targets (bench/targets.py, judged in BENCHMARKS.md): one DynamoDB write and at most one read per grant, one
query per page, CPU per grant under 2 ms and under 1 ms outside the AWS SDK.
Usage: .venv/bin/python -m bench.warm_requests [--requests 100] [--reads 40]
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from bench.common import (
    QUICK,
    ROOT,
    SCHOOL,
    CallLog,
    Measure,
    count_clients,
    emit,
    local_stack,
    moto_server,
    quiet_logs,
    scratch_dir,
    table,
    token,
    use_env,
)

BODY = b"Cartable warm request benchmark: a small homework file.\n" * 19  # 1 KB of text


def sdk_floor(measure: Measure, dynamodb: Any, table_name: str, count: int) -> None:
    """One bare boto3 GetItem, no app around it: what the AWS SDK alone costs per call on this machine."""
    key = {"pk": {"S": "FILE#none"}, "sk": {"S": "FILE"}}
    measure.log.watch(dynamodb)
    measure.run("bare boto3 GetItem (SDK floor)", count, lambda i: dynamodb.get_item(TableName=table_name, Key=key))


def check(answer: Any, status: int) -> Any:
    if answer.status_code != status:
        raise RuntimeError(f"expected {status}, got {answer.status_code}: {answer.body[:500]!r}")
    return json.loads(answer.body) if answer.body and answer.headers.get("Content-Type") == "application/json" else None


def s3_event(key: str, queue_arn: str) -> dict[str, Any]:
    """The SQS event Lambda hands to `scan_uploads` for one ObjectCreated notification."""
    from local.pump import lambda_event

    body = json.dumps({"Records": [{"eventName": "ObjectCreated:Post", "s3": {"object": {"key": key}}}]})
    return lambda_event([{"MessageId": key, "ReceiptHandle": key, "Body": body}], queue_arn, "eu-west-3")


class Answer:
    """A Lambda proxy answer, as the checks read it."""

    def __init__(self, raw: dict[str, Any]) -> None:
        self.status_code = int(raw["statusCode"])
        self.headers = raw.get("headers") or {}
        self.body = (raw.get("body") or "").encode()


def expect(status: int) -> Any:
    """A request's check, run after it is measured."""
    return lambda raw: check(Answer(raw), status)


def grant_body(name: str) -> bytes:
    body = {"space": "me", "path": "/", "name": name, "size": len(BODY), "contentType": "text/plain"}
    return json.dumps(body).encode()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=30 if QUICK else 100, help="grants and scans")
    parser.add_argument("--reads", type=int, default=20 if QUICK else 40, help="each other request")
    args = parser.parse_args()
    n, reads = args.requests, min(args.reads, args.requests)
    with moto_server() as moto, scratch_dir("bench-warm-") as build, local_stack(moto, build, with_clamd=True) as stack:
        use_env(stack.env)
        s3 = moto.client("s3")  # ours, made before the counting starts: its puts are the tablets'
        bare = moto.client("dynamodb")
        bucket = stack.config.bucket
        log = CallLog()
        count_clients(log)

        from chalice.test import Client

        import app as application

        quiet_logs(application.app)
        client = Client(application.app, stage_name="local", project_dir=str(ROOT))
        headers = {"Authorization": f"Bearer {token('warm-user')}", "Content-Type": "application/json"}
        gateway = client.http._local_gateway  # chalice.local's API Gateway: events as API Gateway makes them
        use_env(client.http._config.scope("local", "api_handler").environment_variables)  # the function's
        context = gateway._generate_lambda_context()

        def event(method: str, path: str, body: bytes = b"", auth: bool = True) -> Any:
            return gateway._generate_lambda_event(method, path, headers if auth else {}, body)

        def invoke(lambda_event: Any) -> Any:
            return application.app(lambda_event, context)

        def grant(name: str) -> dict[str, Any]:
            answer: dict[str, Any] = check(client.http.post("/v1/uploads", headers=headers, body=grant_body(name)), 201)
            return answer

        def store(answer: dict[str, Any]) -> str:
            key = answer["upload"]["fields"]["key"]
            s3.put_object(Bucket=bucket, Key=key, Body=BODY, ContentType="text/plain")
            return str(key)

        def scan(key: str) -> None:
            application.scan_uploads(s3_event(key, "arn:aws:sqs:eu-west-3:123456789012:bench"), None)

        # Warm every path once (imports, clients, libmagic, the clamd connection), uncounted.
        for i in range(3):
            warm = grant(f"warm-{i}.txt")
            scan(store(warm))
            check(client.http.get(f"/v1/files/{warm['fileId']}", headers=headers), 200)
            check(client.http.get(f"/v1/files/{warm['fileId']}/content", headers=headers), 302)
            check(client.http.get("/v1/spaces/me/files?limit=100", headers=headers), 200)
            check(client.http.get("/v1/spaces/me/changes?limit=100", headers=headers), 200)

        measure = Measure(log)
        sdk_floor(measure, bare, stack.config.table, reads)
        measure.run("health (test client alone)", reads, lambda i: check(client.http.get("/v1/health"), 200))
        health = event("GET", "/v1/health", auth=False)
        measure.run("health (function alone)", reads, lambda i: invoke(health), expect(200))
        posts = [event("POST", "/v1/uploads", grant_body(f"homework-{i:05d}.txt")) for i in range(n)]
        grants = measure.run("grant, new file", n, lambda i: invoke(posts[i]), expect(201))
        measure.run("grant, new file (test client)", reads, lambda i: grant(f"through-client-{i:05d}.txt"))
        keys = [store(g) for g in grants]
        measure.run("scan of a 1 KB upload", n, lambda i: scan(keys[i]))
        files = [g["fileId"] for g in grants]
        for file_id in files[:3]:
            status = check(client.http.get(f"/v1/files/{file_id}", headers=headers), 200)["status"]
            if status != "available":
                raise RuntimeError(f"a scanned file is {status}, not available")
        reads_of = [event("GET", f"/v1/files/{files[i]}") for i in range(reads)]
        measure.run("metadata read", reads, lambda i: invoke(reads_of[i]), expect(200))
        contents = [event("GET", f"/v1/files/{files[i]}/content") for i in range(reads)]
        measure.run("download URL", reads, lambda i: invoke(contents[i]), expect(302))
        listing = event("GET", "/v1/spaces/me/files?limit=100")
        pages = measure.run("listing page (limit 100)", reads, lambda i: invoke(listing), expect(200))
        feed = event("GET", "/v1/spaces/me/changes?limit=100")
        changes = measure.run("changes page (limit 100)", reads, lambda i: invoke(feed), expect(200))
        versions = [event("POST", "/v1/uploads", grant_body(f"homework-{i:05d}.txt")) for i in range(reads)]
        measure.run("grant, new version", reads, lambda i: invoke(versions[i]), expect(201))
        listed, changed = len(pages[-1]["items"]), len(changes[-1]["changes"])
    report(measure, n, reads, listed, changed)


def report(measure: Measure, n: int, reads: int, listed: int, changed: int) -> None:
    """The figure's table and its JSON line."""
    rows = []
    for name, r in measure.rows.items():
        rows.append(
            [
                name,
                r["cpu_us"],
                r["cpu_us_outside_sdk"],
                r["cpu_us_presign"],
                r["cpu_us_p99"],
                r["wall_ms"],
                r["dynamodb_writes"],
                r["dynamodb_items_written"],
                r["dynamodb_reads"],
                r["s3_calls"],
                " ".join(f"{k.split(':')[1]}×{v:g}" for k, v in r["calls"].items()) or "-",
            ]
        )
    table(
        [
            "request",
            "CPU µs",
            "outside SDK",
            "presign",
            "CPU p99",
            "wall ms",
            "DDB writes",
            "items",
            "DDB reads",
            "S3",
            "AWS calls per request",
        ],
        rows,
        title=f"Figure 2: warm cost per request ({n} grants and scans, {reads} of the others; "
        "wall time is against moto, not AWS)",
    )
    print(f"listing page: {listed} files; changes page: {changed} changes; scans clamd over a Unix socket")
    print("outside SDK: presigning counted inside it (botocore); grants without an Idempotency-Key")
    grant_row = measure.rows["grant, new file"]
    pages_ok = all(
        measure.rows[p]["calls"].get("dynamodb:Query", 0) == 1 and measure.rows[p]["dynamodb_reads"] == 1
        for p in ("listing page (limit 100)", "changes page (limit 100)")
    )
    floor = measure.rows["bare boto3 GetItem (SDK floor)"]["cpu_us"]
    overhead = measure.rows["health (test client alone)"]["cpu_us"]
    emit(
        "warm_requests",
        {
            "requests": n,
            "reads": reads,
            "test_client_overhead_cpu_us": round(overhead),
            "sdk_floor_cpu_us": round(floor),
            "grant_cpu_us": grant_row["cpu_us"],
            "grant_cpu_us_outside_sdk": grant_row["cpu_us_outside_sdk"],
            "grant_cpu_us_presign": grant_row["cpu_us_presign"],  # outside the SDK by the earlier accounting
            "grant_dynamodb_writes": grant_row["dynamodb_writes"],
            "grant_items_written": grant_row["dynamodb_items_written"],
            "pages_one_query": pages_ok,
            "ops": measure.rows,  # unrounded: BENCHMARKS.md judges the targets on them (bench/report.py)
            "school": SCHOOL,
        },
    )


if __name__ == "__main__":
    main()
