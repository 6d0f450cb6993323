"""`make try`: the README's quickstart as one command, against a running `make dev`.

A demo pupil signs in (the local-only token route), asks for an upload grant, posts her homework
to the presigned URL as a browser would, waits for the scan's verdict and downloads the file back,
byte for byte. Each step prints what it did; the README shows the same steps with curl.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

import requests

HOMEWORK = "Bonjour, je m'appelle Alice.\nVoici mon devoir de français : la rédaction sur mon quartier.\n".encode()


class QuickstartError(Exception):
    """A step answered something else than the contract says."""


def _expect(answer: requests.Response, status: int, step: str) -> Any:
    if answer.status_code != status:
        raise QuickstartError(f"{step}: expected {status}, got {answer.status_code} {answer.text[:300]}")
    return answer.json() if answer.content and status != 204 else None


def run(api: str, user: str = "eleve-alice", timeout: float = 30, say: Any = print) -> bytes:
    """Grant, upload, wait, download; answers the downloaded bytes."""
    api = api.rstrip("/")
    try:
        health = requests.get(f"{api}/v1/health", timeout=5)
    except requests.ConnectionError as exc:
        raise QuickstartError(f"nothing answers at {api}: start the stack with `make dev` first") from exc
    say(f"1. GET /v1/health: {health.status_code} {health.text.strip()}")

    token = _expect(requests.post(f"{api}/v1/local/token", json={"user": user}, timeout=10), 200, "sign-in")["token"]
    auth = {"Authorization": f"Bearer {token}"}
    say(f"2. POST /v1/local/token: a token for {user} (stage local only)")

    body = {"space": "me", "name": "devoir.txt", "size": len(HOMEWORK), "contentType": "text/plain"}
    grant = _expect(requests.post(f"{api}/v1/uploads", json=body, headers=auth, timeout=10), 201, "grant")
    say(f"3. POST /v1/uploads: 201, upload {grant['uploadId']} for file {grant['fileId']}")

    form = grant["upload"]
    sent = requests.post(
        form["url"], data=form["fields"], files={"file": ("devoir.txt", HOMEWORK, "text/plain")}, timeout=30
    )
    if sent.status_code not in (200, 201, 204):
        raise QuickstartError(f"the store refused the bytes: {sent.status_code} {sent.text[:300]}")
    say(f"4. POST the signed fields and the file to the store: {sent.status_code}")

    deadline = time.monotonic() + timeout
    while True:
        upload = _expect(requests.get(f"{api}/v1/uploads/{grant['uploadId']}", headers=auth, timeout=10), 200, "wait")
        if upload["status"] != "pending" or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    say(f"5. GET /v1/uploads/{grant['uploadId']}: {upload['status']} (scanned by clamd, type sniffed by libmagic)")
    if upload["status"] != "available":
        raise QuickstartError(f"the upload ended {upload['status']} ({upload.get('reason')}), not available")

    link = requests.get(f"{api}/v1/files/{grant['fileId']}/content", headers=auth, allow_redirects=False, timeout=10)
    if link.status_code != 302:
        raise QuickstartError(f"download: expected 302, got {link.status_code} {link.text[:300]}")
    data = requests.get(link.headers["Location"], timeout=30).content
    same = "identical" if data == HOMEWORK else "DIFFERENT"
    say(f"6. GET /v1/files/{grant['fileId']}/content: 302 to a signed URL; {len(data)} bytes, {same}")
    if data != HOMEWORK:
        raise QuickstartError("the downloaded bytes differ from the uploaded ones")
    return data


def main() -> None:
    parser = argparse.ArgumentParser(description="Grant, upload, wait for the scan and download, on `make dev`.")
    default = f"http://127.0.0.1:{os.environ.get('CARTABLE_PORT', '8000')}"
    parser.add_argument("--api", default=default, help=f"the running stack (default {default})")
    parser.add_argument("--user", default="eleve-alice", help="a demo user (GET /v1/local/users lists them)")
    args = parser.parse_args()
    try:
        run(args.api, args.user)
    except QuickstartError as exc:
        sys.exit(f"make try: {exc}")
    print("Done: the homework went in, was scanned clean, and came back byte for byte.")


if __name__ == "__main__":
    main()
