"""The Kubernetes host layer as processes, no cluster: gunicorn serving hosting.wsgi in front of the app, and
hosting.worker (not the local pump) scanning, against the local stack's store, queues, catalog and clamd.
Grant → upload → scan → download over real HTTP; the worker stops cleanly on SIGTERM; the CronJob's command
runs the sweeper once."""

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
    health_url: str
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


@pytest.fixture(scope="module")
def hosted(stack: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hosted]:
    """gunicorn and the uploads worker on the session's stack, its pump stopped meanwhile (one consumer)."""
    port, health_port = free_port(), free_port()
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
    }
    gunicorn = [
        sys.executable,
        "-m",
        "gunicorn",
        "-c",
        str(ROOT / "hosting" / "gunicorn.conf.py"),
        "hosting.wsgi:application",
    ]
    api = subprocess.Popen(gunicorn, cwd=ROOT, env={**env, "CARTABLE_FUNCTION": "api_handler"}, start_new_session=True)
    stack.stop_pump()
    worker = subprocess.Popen(
        [sys.executable, "-m", "hosting.worker", "uploads"],
        cwd=ROOT,
        env={**env, "CARTABLE_FUNCTION": "scan_uploads"},
        start_new_session=True,
    )
    try:
        _wait(f"http://127.0.0.1:{port}/v1/health")
        _wait(f"http://127.0.0.1:{health_port}/readyz")
        yield Hosted(f"http://127.0.0.1:{port}", worker, f"http://127.0.0.1:{health_port}", env)
    finally:
        _stop(worker)
        _stop(api)
        stack.start_pump()


def test_grant_upload_scan_download_through_gunicorn_and_the_worker(hosted: Hosted) -> None:
    pupil = Api(hosted.api_url, make_token("k8s-pupil"))
    grant = pupil.upload("cours.pdf", PDF, "application/pdf")
    assert pupil.wait_status(grant["fileId"], timeout=30)["status"] == "available", "the worker scanned it"
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


def test_the_worker_stops_cleanly_on_sigterm(hosted: Hosted) -> None:
    """Last in the module: the fixture's teardown finds it stopped."""
    os.killpg(hosted.worker.pid, signal.SIGTERM)
    assert hosted.worker.wait(timeout=30) == 0
