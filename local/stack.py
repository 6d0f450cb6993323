"""The whole local stack in one process tree: moto (S3, DynamoDB, SQS over HTTP), clamd, `chalice local`
(as local/api.py, with API Gateway's own answers) and the event pump. `make dev` runs it in the
foreground; the integration tests start the same thing.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local.oidc import OidcProvider
from local.postgres import PostgresServer, start_postgres

ROOT = Path(__file__).resolve().parents[1]
REGION = "eu-west-3"
log = logging.getLogger("cartable.stack")


def free_port() -> int:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class StackConfig:
    """Where and how the local stack runs; every name has a default that `make dev` uses."""

    build_dir: Path = ROOT / ".build"
    port: int = 8000
    moto_port: int = 5001
    download_port: int = 0  # the download front (local/download_front.py); 0: a free port
    bucket: str = "cartable-local-files"
    table: str = "cartable-local"
    queue: str = "cartable-local-uploads"
    jobs_queue: str = "cartable-local-jobs"
    max_upload_size: int = 5 * 1024**3  # the service's own limit; above 64 MiB uploads are multipart
    scan_max_size: int = 1024**3  # what the local clamd reads whole; larger files end too_large_to_scan
    jwt_secret: str = "local-dev-secret"
    oidc: bool = False  # start the demo school's OpenID provider (local/oidc); `make dev` does
    oidc_port: int = 8001
    autoreload: bool = False
    extra_env: dict[str, str] = field(default_factory=dict)
    catalog: str = "dynamodb"  # or postgres: a PostgreSQL server of the stack's own (local/postgres.py)
    # False: the bucket sends no events (as OVHcloud's); hosting.notifier lists incoming/ and announces instead
    bucket_notifications: bool = True

    @classmethod
    def from_env(cls) -> StackConfig:
        return cls(
            port=int(os.environ.get("CARTABLE_PORT", "8000")),
            moto_port=int(os.environ.get("CARTABLE_MOTO_PORT", "5001")),
            download_port=int(os.environ.get("CARTABLE_DOWNLOAD_PORT", "5002")),
            oidc_port=int(os.environ.get("CARTABLE_OIDC_PORT", "8001")),
            jwt_secret=os.environ.get("CARTABLE_JWT_SECRET", "local-dev-secret"),
            catalog=os.environ.get("CATALOG") or "dynamodb",  # make dev CATALOG=postgres
            bucket_notifications=os.environ.get("CARTABLE_BUCKET_NOTIFICATIONS", "on") != "off",
        )


class LocalStack:
    """Starts and stops every part; `env` is what the functions see, as Lambda's configuration would be."""

    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self._moto: Any = None
        self._front: Any = None
        self._processes: dict[str, subprocess.Popen[bytes]] = {}
        from local.clamav import ClamdProcess

        self.clamd = ClamdProcess(
            config.build_dir / "clamav", max_stream=min(config.max_upload_size, config.scan_max_size)
        )
        self.queue_url = ""
        self.jobs_queue_url = ""
        self.oidc: OidcProvider | None = None
        self.postgres: PostgresServer | None = None
        self._catalog: Any = None
        self.database_url = ""
        if config.oidc:
            origins = [f"http://127.0.0.1:{config.port}", f"http://localhost:{config.port}"]
            self.oidc = OidcProvider(port=config.oidc_port, build_dir=config.build_dir / "oidc", web_origins=origins)

    @property
    def aws_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.config.moto_port}"

    @property
    def download_origin(self) -> str:
        """Where downloads are answered (the front), or empty before it starts."""
        return str(self._front.origin) if self._front is not None else ""

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.config.port}"

    @property
    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                "CARTABLE_STAGE": "local",
                "AWS_DEFAULT_REGION": REGION,
                "AWS_ACCESS_KEY_ID": "local",
                "AWS_SECRET_ACCESS_KEY": "local",
                "CARTABLE_BUCKET": self.config.bucket,
                "CARTABLE_TABLE": self.config.table,
                "CARTABLE_S3_ENDPOINT": self.aws_endpoint,
                "CARTABLE_S3_ADDRESSING_STYLE": "path",
                "CARTABLE_DYNAMODB_ENDPOINT": self.aws_endpoint,
                "CARTABLE_SQS_ENDPOINT": self.aws_endpoint,
                "CARTABLE_QUEUE_URL": self.queue_url,
                "CARTABLE_JOBS_QUEUE_URL": self.jobs_queue_url,
                "CARTABLE_CLAMD_ADDRESS": self.clamd.address,
                "CARTABLE_MAX_UPLOAD_SIZE": str(self.config.max_upload_size),
                "CARTABLE_SCAN_MAX_SIZE": str(self.config.scan_max_size),
                "CARTABLE_JWT_SECRET": self.config.jwt_secret,
                "PYTHONUNBUFFERED": "1",
            }
        )
        if self.download_origin:  # downloads answer nosniff, as CloudFront's download distribution does
            env["CARTABLE_DOWNLOAD_ORIGIN"] = self.download_origin
        env.pop("AWS_PROFILE", None)
        if self.database_url:  # `chalice local` serves many requests at once in one process, unlike Lambda
            env.update(
                {
                    "CARTABLE_CATALOG": "postgres",
                    "CARTABLE_DATABASE_URL": self.database_url,
                    "CARTABLE_DATABASE_POOL_SIZE": "10",
                }
            )
        if self.oidc is not None:  # the API verifies the provider's RS256 tokens through its JWKS
            env.update(self.oidc.api_env())
        env.update(self.config.extra_env)
        return env

    def aws(self, service: str) -> Any:
        import boto3
        from botocore.config import Config

        session: Any = boto3.session.Session()
        return session.client(
            service,
            endpoint_url=self.aws_endpoint,
            region_name=REGION,
            aws_access_key_id="local",
            aws_secret_access_key="local",
            config=Config(s3={"addressing_style": "path"}),
        )

    def catalog(self) -> Any:
        """The catalog the stack's functions use (DynamoDB on moto, or PostgreSQL), for tests and scripts;
        one per stack (a PostgreSQL one's pool closes with the stack)."""
        if self._catalog is None:
            if self.database_url:
                from chalicelib.adapters.postgres import Database, PostgresCatalog

                self._catalog = PostgresCatalog(Database(self.database_url, max_size=4))
            else:
                from chalicelib.adapters.dynamodb import DynamoCatalog

                self._catalog = DynamoCatalog(self.aws("dynamodb"), self.config.table)
        return self._catalog

    # -- parts ----------------------------------------------------------------------------------
    def start(self) -> None:
        """Start everything and wait until the API answers /v1/health."""
        self.config.build_dir.mkdir(parents=True, exist_ok=True)
        try:
            self.start_moto()
            self.start_download_front()
            self.create_resources()
            if self.config.catalog == "postgres":
                self.postgres = start_postgres()
                self.database_url = self.postgres.new_database()
            self.clamd.start()
            if self.oidc is not None:
                self.oidc.start()
            self.start_api()
            self.start_pump()
            if not self.config.bucket_notifications:  # the notifier is then the only source of events
                self._spawn("notifier", [sys.executable, "-m", "hosting.notifier", "--health-port", "0"], "notifier")
            self._spawn("jobs", [sys.executable, "-m", "local.pump", "jobs"], "run_jobs")
            self.wait_healthy()
        except BaseException:
            self.stop()
            raise

    def start_moto(self) -> None:
        from moto.server import ThreadedMotoServer

        from local.moto_patches import back_up_only_what_a_transaction_names, stream_object_bodies

        back_up_only_what_a_transaction_names()
        stream_object_bodies()
        os.environ.setdefault("AWS_DEFAULT_REGION", REGION)
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request drowns the rest
        self._moto = ThreadedMotoServer(ip_address="127.0.0.1", port=self.config.moto_port, verbose=False)
        self._moto.start()
        # moto keeps its state in module globals: a stack started earlier in this process (another
        # test session's) left its bucket and table there. A new stack starts empty.
        import requests

        requests.post(f"{self.aws_endpoint}/moto-api/reset", timeout=10).raise_for_status()

    def start_download_front(self) -> None:
        """The front downloads go through (local/download_front.py), before the API learns its origin."""
        from local.download_front import DownloadFront

        self._front = DownloadFront(self.aws_endpoint, port=self.config.download_port)
        self._front.start()

    def create_resources(self) -> None:
        """Bucket, table, queue, and the bucket → queue notification for `incoming/` (unless configured off)."""
        from chalicelib.adapters.dynamodb import table_definition

        s3, sqs, dynamodb = self.aws("s3"), self.aws("sqs"), self.aws("dynamodb")
        s3.create_bucket(Bucket=self.config.bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
        s3.put_bucket_cors(Bucket=self.config.bucket, CORSConfiguration=self.bucket_cors())
        dynamodb.create_table(**table_definition(self.config.table))
        self.queue_url = sqs.create_queue(QueueName=self.config.queue, Attributes={"VisibilityTimeout": "30"})[
            "QueueUrl"
        ]
        jobs = sqs.create_queue(QueueName=self.config.jobs_queue, Attributes={"VisibilityTimeout": "900"})
        self.jobs_queue_url = jobs["QueueUrl"]
        if self.config.bucket_notifications:
            self.set_bucket_notifications(True)

    def set_bucket_notifications(self, on: bool) -> None:
        """The bucket's ObjectCreated events for `incoming/` to the uploads queue, or none (a store without
        notifications, where hosting.notifier announces them)."""
        configuration: dict[str, Any] = {}
        if on:
            sqs = self.aws("sqs")
            arn = sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])["Attributes"]
            rule = {"Key": {"FilterRules": [{"Name": "prefix", "Value": "incoming/"}]}}
            configuration = {
                "QueueConfigurations": [{"QueueArn": arn["QueueArn"], "Events": ["s3:ObjectCreated:*"], "Filter": rule}]
            }
        self.aws("s3").put_bucket_notification_configuration(
            Bucket=self.config.bucket, NotificationConfiguration=configuration
        )

    def bucket_cors(self) -> dict[str, Any]:
        """The web client, served by the API, posts bytes to and reads them from the store's signed URLs."""
        port = self.config.port
        return {
            "CORSRules": [
                {
                    "AllowedOrigins": [f"http://127.0.0.1:{port}", f"http://localhost:{port}"],
                    "AllowedMethods": ["GET", "HEAD", "POST", "PUT"],
                    "AllowedHeaders": ["*"],
                    "ExposeHeaders": ["ETag", "Content-Disposition"],
                    "MaxAgeSeconds": 600,
                }
            ]
        }

    def _spawn(self, name: str, command: list[str], function: str) -> None:
        env = {**self.env, "CARTABLE_FUNCTION": function}  # whose IAM policy its AWS calls fall under
        self._processes[name] = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)

    def start_api(self) -> None:
        """`chalice local`, answering what API Gateway answers itself as the deployed API does (local/api.py)."""
        command = [
            sys.executable,
            "-m",
            "local.api",
            "--stage",
            "local",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.config.port),
        ]
        if not self.config.autoreload:
            command.append("--no-autoreload")
        self._spawn("api", command, "api_handler")

    def start_pump(self) -> None:
        """Start the pump unless it runs (two pumps would race for the same messages)."""
        running = self._processes.get("pump")
        if running is None or running.poll() is not None:
            self._spawn("pump", [sys.executable, "-m", "local.pump"], "scan_uploads")

    def stop_pump(self) -> None:
        self._terminate("pump")

    def wait_healthy(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            api = self._processes.get("api")
            if api is not None and api.poll() is not None:
                raise RuntimeError("the local API (local/api.py) exited; see its output above")
            try:
                with urllib.request.urlopen(f"{self.api_url}/v1/health", timeout=2) as answer:
                    if answer.status == 200 and json.load(answer) == {"status": "ok"}:
                        return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"the API did not answer {self.api_url}/v1/health within {timeout:.0f}s")

    def _terminate(self, name: str) -> None:
        process = self._processes.pop(name, None)
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def stop(self) -> None:
        """Stop everything this stack started."""
        for name in list(self._processes):
            self._terminate(name)
        if self.oidc is not None:
            self.oidc.stop()
        self.clamd.stop()
        if self._front is not None:
            self._front.stop()
            self._front = None
        if self._moto is not None:
            self._moto.stop()
            self._moto = None
        if self.postgres is not None:
            if self._catalog is not None:
                self._catalog.db.close()
            self.postgres.stop()
            self.postgres = None
        self._catalog = None


def main() -> None:
    parser = argparse.ArgumentParser(description="Run Cartable's whole local stack (stage local).")
    parser.add_argument("--autoreload", action="store_true", help="restart the API when code changes")
    parser.add_argument(
        "--seed-demo", action=argparse.BooleanOptionalAction, default=True, help="seed the demo school (local/demo.py)"
    )
    parser.add_argument(
        "--oidc",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="start the demo school's OpenID provider (local/oidc) and verify its tokens",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    config = StackConfig.from_env()
    config.autoreload = args.autoreload
    config.oidc = args.oidc
    stack = LocalStack(config)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        stack.start()
        if args.seed_demo:
            from local.demo import seed

            seed(stack.api_url)
        print(f"\nCartable is ready at {stack.api_url} (object store and tables at {stack.aws_endpoint}).")
        print(f"Downloads: {stack.download_origin} (the store's answers with nosniff, as CloudFront's).")
        if stack.postgres is not None:
            print(f"Catalog: PostgreSQL at {stack.database_url}")
        if stack.oidc is not None:
            oidc = stack.oidc
            print(f"Identity provider: {oidc.issuer} (the demo school's people, password {oidc.password!r}).")
        if args.seed_demo:
            print(f"Web client: {stack.api_url}/ (sign in as any person of the demo school).")
        print("Ctrl-C stops everything.\n", flush=True)
        while True:
            for name, process in list(stack._processes.items()):
                if process.poll() is not None:
                    raise SystemExit(f"{name} stopped unexpectedly (exit {process.returncode})")
            if stack.oidc is not None and not stack.oidc.running():
                raise SystemExit("the OpenID provider stopped unexpectedly")
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
