"""The Kubernetes host layer as processes, no cluster: gunicorn serving hosting.wsgi in front of the app,
hosting.notifier announcing what arrives in incoming/, and hosting.worker (not the local pump) scanning,
against the local stack's store, queues, catalog and clamd, its bucket sending no events (as OVHcloud's:
the notifier is the only source). Grant → upload → announce → scan → download over real HTTP; a restarted
notifier announces again and nothing changes; the worker and the notifier stop cleanly on SIGTERM; the
CronJob's command runs the sweeper once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import pytest
import requests

from local.clamav import EICAR
from local.stack import ROOT, LocalStack, free_port
from tests.integration.conftest import Api, make_token

pytestmark = pytest.mark.integration

PDF = (
    b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
    b"2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\n"
    b"trailer\n<< /Root 1 0 R >>\n%%EOF\n"
)


@dataclass
class Hosted:
    api_url: str
    worker: subprocess.Popen[bytes]
    notifier: subprocess.Popen[bytes]
    health_url: str
    notifier_health_url: str
    env: dict[str, str]


def _wait(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f}s")


def _stop(process: subprocess.Popen[bytes]) -> int:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    return process.returncode


def _start(module: str, *args: str, env: dict[str, str], function: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        env={**env, "CARTABLE_FUNCTION": function},
        start_new_session=True,
    )


def _start_worker(hosted: Hosted) -> subprocess.Popen[bytes]:
    worker = _start("hosting.worker", "uploads", env=hosted.env, function="scan_uploads")
    _wait(f"{hosted.health_url}/readyz")
    return worker


def _start_notifier(hosted: Hosted) -> subprocess.Popen[bytes]:
    env = {**hosted.env, "CARTABLE_HEALTH_PORT": hosted.notifier_health_url.rsplit(":", 1)[-1]}
    notifier = _start("hosting.notifier", env=env, function="notifier")
    _wait(f"{hosted.notifier_health_url}/readyz")
    return notifier


@pytest.fixture(scope="module")
def hosted(stack: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hosted]:
    """gunicorn, the uploads worker and the notifier on the session's stack, its bucket's notifications off
    and its pump stopped meanwhile (one source of events, one consumer)."""
    port, health_port, notifier_port = free_port(), free_port(), free_port()
    env = {
        **stack.env,
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": "1",
        "GUNICORN_THREADS": "4",
        "GUNICORN_TMP_DIR": str(tmp_path_factory.mktemp("gunicorn")),
        "CARTABLE_API_STAGE": "local",
        "CARTABLE_HEALTH_HOST": "127.0.0.1",
        "CARTABLE_HEALTH_PORT": str(health_port),
        "CARTABLE_WAIT_SECONDS": "1",
        "CARTABLE_RETRY_DELAY": "2",
        "CARTABLE_NOTIFIER_INTERVAL": "0.5",
    }
    gunicorn = ("-c", str(ROOT / "hosting" / "gunicorn.conf.py"), "hosting.wsgi:application")
    api = _start("gunicorn", *gunicorn, env=env, function="api_handler")
    stack.stop_pump()
    stack.set_bucket_notifications(False)
    processes: list[subprocess.Popen[bytes]] = [api]
    try:
        _wait(f"http://127.0.0.1:{port}/v1/health")
        hosted = Hosted(
            f"http://127.0.0.1:{port}",
            api,
            api,
            f"http://127.0.0.1:{health_port}",
            f"http://127.0.0.1:{notifier_port}",
            env,
        )
        hosted.worker = _start_worker(hosted)
        processes.append(hosted.worker)
        hosted.notifier = _start_notifier(hosted)
        processes.append(hosted.notifier)
        yield hosted
        processes += [hosted.worker, hosted.notifier]  # restarted by a test
    finally:
        for process in reversed(processes):
            _stop(process)
        stack.set_bucket_notifications(True)
        stack.start_pump()


def _announcements(stack: LocalStack, key: str) -> list[dict[str, Any]]:
    """The S3 event records waiting in the uploads queue that name `key` (looked at, left visible)."""
    answer = stack.aws("sqs").receive_message(
        QueueUrl=stack.queue_url, MaxNumberOfMessages=10, VisibilityTimeout=0, WaitTimeSeconds=1
    )
    records = [record for m in answer.get("Messages", []) for record in json.loads(m["Body"]).get("Records", [])]
    return [r for r in records if unquote_plus(r["s3"]["object"]["key"]) == key]


def _wait_announced(stack: LocalStack, key: str, times: int, timeout: float = 30) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        records = _announcements(stack, key)
        if len(records) >= times or time.monotonic() > deadline:
            return records


def test_grant_upload_announce_scan_download_through_gunicorn_the_notifier_and_the_worker(
    hosted: Hosted, stack: LocalStack
) -> None:
    configuration = stack.aws("s3").get_bucket_notification_configuration(Bucket=stack.config.bucket)
    assert not configuration.get("QueueConfigurations"), "the bucket sends no events: the notifier is the source"
    pupil = Api(hosted.api_url, make_token("k8s-pupil"))
    grant = pupil.upload("cours.pdf", PDF, "application/pdf")
    assert pupil.wait_status(grant["fileId"], timeout=30)["status"] == "available", "announced, then scanned"
    answer = pupil.get(f"/v1/files/{grant['fileId']}/content")
    assert answer.status_code == 302
    assert requests.get(answer.headers["Location"], timeout=10).content == PDF

    infected = pupil.upload("virus.pdf", EICAR, "application/pdf")
    assert pupil.wait_status(infected["fileId"], timeout=30)["status"] == "infected"
    assert pupil.get(f"/v1/files/{infected['fileId']}/content").status_code == 409


def test_the_gateway_s_answers_come_from_gunicorn_too(hosted: Hosted) -> None:
    pupil = Api(hosted.api_url, make_token("k8s-pupil"))
    for answer in (pupil.get("/v1/nothing"), pupil.request("PUT", "/v1/files/x")):
        assert (answer.status_code, answer.json()["error"]["code"]) == (404, "not_found")
    big = pupil.request("POST", "/v1/uploads", data=b"{" + b" " * (11 * 1024 * 1024) + b"}")
    assert (big.status_code, big.json()["error"]["code"]) == (413, "payload_too_large")
    listing = pupil.get("/v1/spaces/me/files", params={"path": "/", "limit": "5"})
    assert listing.status_code == 200, listing.text


def test_the_cronjob_command_runs_the_sweeper_once(hosted: Hosted) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "hosting.cron", "sweep"],
        cwd=ROOT,
        env={**hosted.env, "CARTABLE_FUNCTION": "sweep_trash"},
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    report = json.loads(done.stdout.decode().strip().splitlines()[-1])
    assert "notificationsPublished" in report


def test_the_host_layer_is_not_in_the_lambda_package() -> None:
    from infra.package import PROJECT_FILES

    assert not any(name.startswith("hosting") for name in PROJECT_FILES)
    assert Path(ROOT / "hosting" / "wsgi.py").exists()


def test_a_restarted_notifier_announces_again_and_nothing_changes(hosted: Hosted, stack: LocalStack) -> None:
    """The worker stopped, an upload waits in incoming/: the notifier announces it once, stops on SIGTERM;
    a new one, remembering nothing, announces it again. The worker back: one scan, one version."""
    assert _stop(hosted.worker) == 0, "the worker stops cleanly on SIGTERM"
    pupil = Api(hosted.api_url, make_token("k8s-pupil-2"))
    data = PDF.replace(b"%%EOF", b"% twice\n%%EOF")
    grant = pupil.upload("deux-fois.pdf", data, "application/pdf")
    key = grant["upload"]["fields"]["key"]
    (first,) = _wait_announced(stack, key, 1)
    assert first["eventSource"] == "aws:s3" and first["eventName"] == "ObjectCreated:Post"
    assert first["s3"]["bucket"]["name"] == stack.config.bucket
    assert first["s3"]["object"]["size"] == len(data) and first["s3"]["object"]["eTag"]
    assert first["s3"]["object"]["sequencer"]
    time.sleep(2)  # four more passes
    assert len(_announcements(stack, key)) == 1, "announced once, not at every pass"

    assert _stop(hosted.notifier) == 0, "the notifier stops cleanly on SIGTERM"
    hosted.notifier = _start_notifier(hosted)
    assert len(_wait_announced(stack, key, 2)) == 2, "a new notifier announces what is still there"

    hosted.worker = _start_worker(hosted)
    file = pupil.wait_status(grant["fileId"], timeout=60)
    assert (file["status"], file["version"]) == ("available", 1)
    deadline = time.monotonic() + 30
    while _announcements(stack, key) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not _announcements(stack, key), "both announcements handled"
    file = pupil.get(f"/v1/files/{grant['fileId']}").json()
    assert (file["status"], file["version"]) == ("available", 1), "the second announcement changed nothing"
    listing = pupil.get("/v1/spaces/me/files", params={"path": "/"}).json()
    assert [item["name"] for item in listing["items"]].count("deux-fois.pdf") == 1
    answer = pupil.get(f"/v1/files/{grant['fileId']}/content")
    assert requests.get(answer.headers["Location"], timeout=10).content == data


def test_the_worker_and_the_notifier_stop_cleanly_on_sigterm(hosted: Hosted) -> None:
    """Last in the module: the fixture's teardown finds them stopped."""
    for process in (hosted.worker, hosted.notifier):
        os.killpg(process.pid, signal.SIGTERM)
        assert process.wait(timeout=30) == 0
