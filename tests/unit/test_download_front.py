"""The local download front (local/download_front.py) against a small store of its own: it forwards the path and
query unchanged with the store's Host (what the URL was signed for), streams the answer with the store's
status and headers, and adds nosniff. The whole flow over the real stack is tests/integration/test_download_front.py."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from local.download_front import DownloadFront

BODY = bytes(range(256)) * 1024  # 256 KiB, more than one chunk


class Store(BaseHTTPRequestHandler):
    """Answers what it was asked (path, Host) in headers; the body without a length when the path says so."""

    seen: list[dict[str, str]] = []

    def do_GET(self) -> None:
        Store.seen.append({"path": self.path, "host": self.headers["Host"], "origin": self.headers.get("Origin", "")})
        unknown_length = "unknown-length" in self.path
        self.protocol_version = "HTTP/1.0" if unknown_length else "HTTP/1.1"
        self.send_response(404 if "missing" in self.path else 200)
        self.send_header("Content-Type", "application/pdf")
        self.send_header("Content-Disposition", 'attachment; filename="a.pdf"')
        self.send_header("X-Content-Type-Options", "sniff-please")  # replaced, never doubled
        if not unknown_length:
            self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(BODY)

    do_HEAD = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def front() -> Iterator[tuple[DownloadFront, str]]:
    store = ThreadingHTTPServer(("127.0.0.1", 0), Store)
    threading.Thread(target=store.serve_forever, daemon=True).start()
    upstream = f"http://127.0.0.1:{store.server_address[1]}"
    served = DownloadFront(upstream)
    served.start()
    Store.seen.clear()
    try:
        yield served, upstream
    finally:
        served.stop()
        store.shutdown()
        store.server_close()


@pytest.mark.parametrize("path", ["/bucket/files/f1/u1", "/bucket/files/unknown-length"])
def test_the_front_forwards_as_signed_and_adds_nosniff(front: tuple[DownloadFront, str], path: str) -> None:
    served, upstream = front
    query = "?response-content-disposition=attachment%3B%20filename%3D%22a%22&X-Amz-Signature=ab%2Bc"
    answer = requests.get(served.origin + path + query, headers={"Origin": "http://127.0.0.1:8000"}, timeout=10)
    assert answer.status_code == 200 and answer.content == BODY
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.headers["Content-Type"] == "application/pdf"
    assert answer.headers["Content-Disposition"] == 'attachment; filename="a.pdf"'
    (request,) = Store.seen
    assert request == {
        "path": path + query,
        "host": upstream.removeprefix("http://"),
        "origin": "http://127.0.0.1:8000",
    }


def test_a_head_and_a_refusal_keep_the_store_s_answer(front: tuple[DownloadFront, str]) -> None:
    served, _ = front
    head = requests.head(served.origin + "/bucket/files/f1/u1", timeout=10)
    assert head.status_code == 200 and head.content == b"" and head.headers["Content-Length"] == str(len(BODY))
    assert head.headers["X-Content-Type-Options"] == "nosniff"
    missing = requests.get(served.origin + "/bucket/files/missing", timeout=10)
    assert missing.status_code == 404 and missing.headers["X-Content-Type-Options"] == "nosniff"


def test_a_store_that_does_not_answer_is_a_502() -> None:
    with ThreadingHTTPServer(("127.0.0.1", 0), Store) as closed:
        port = closed.server_address[1]
    served = DownloadFront(f"http://127.0.0.1:{port}")
    served.start()
    try:
        answer = requests.get(served.origin + "/bucket/files/f1/u1", timeout=10)
        assert answer.status_code == 502 and answer.headers["X-Content-Type-Options"] == "nosniff"
    finally:
        served.stop()
