"""The local stack's download front: what CloudFront's download distribution is on AWS (issue 16).

Presigned GETs cannot make S3 (or moto) answer `X-Content-Type-Options: nosniff`, so downloads go through
a front that adds it. This one forwards GET, HEAD and OPTIONS (a browser's CORS preflight) to the object
store with the path and query unchanged and the store's own Host, which the URL was signed for; it streams
the answer back with the store's status and headers (the judged Content-Type, the attachment disposition,
CORS) and nosniff. Threaded, in the stack's process, as moto is.
"""

from __future__ import annotations

import http.client
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

log = logging.getLogger("cartable.download_front")
CHUNK = 256 * 1024
# Per connection, never forwarded (RFC 9110 7.6.1); Host is the store's own.
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
}
ADDED = {"X-Content-Type-Options": "nosniff"}


class FrontHandler(BaseHTTPRequestHandler):
    """One request: forwarded to the store, its answer streamed back with nosniff."""

    server: DownloadFront
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self._forward()

    def do_HEAD(self) -> None:
        self._forward()

    def do_OPTIONS(self) -> None:
        self._forward()

    def _forward(self) -> None:
        upstream = self.server.upstream
        connection_type = http.client.HTTPSConnection if upstream.scheme == "https" else http.client.HTTPConnection
        connection = connection_type(upstream.netloc, timeout=60)
        headers = {name: value for name, value in self.headers.items() if name.lower() not in HOP_BY_HOP}
        try:
            connection.request(self.command, self.path, headers=headers)  # Host: the store's, as signed
            answer = connection.getresponse()
        except OSError as exc:
            log.warning("the object store did not answer: %r", exc)
            connection.close()
            self._unavailable()
            return
        try:
            self._answer(answer)
        except OSError as exc:  # mid-stream: the headers are gone, only closing tells the client
            log.warning("a download broke off: %r", exc)
            self.close_connection = True
        finally:
            connection.close()

    def _unavailable(self) -> None:
        body = b"the object store did not answer\n"
        self.send_response_only(502)
        for name, value in {**ADDED, "Content-Type": "text/plain; charset=utf-8"}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _answer(self, answer: http.client.HTTPResponse) -> None:
        self.send_response_only(answer.status, answer.reason)
        length = answer.getheader("Content-Length")
        for name, value in answer.getheaders():
            if name.lower() not in HOP_BY_HOP and name.lower() not in {"x-content-type-options", "content-length"}:
                self.send_header(name, value)
        for name, value in ADDED.items():
            self.send_header(name, value)
        bodiless = self.command == "HEAD" or answer.status in (204, 304)
        if length is not None:
            self.send_header("Content-Length", length)
        elif not bodiless:
            self.send_header("Connection", "close")  # a body of unknown length ends with the connection
            self.close_connection = True
        self.end_headers()
        if bodiless:
            return
        while chunk := answer.read(CHUNK):
            self.wfile.write(chunk)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug(format, *args)  # never the URLs (signed) at INFO


class DownloadFront(ThreadingHTTPServer):
    """Serves downloads of the store at `upstream` (e.g. moto's http://127.0.0.1:5001) on 127.0.0.1:`port`
    (0: a free port); `origin` is what CARTABLE_DOWNLOAD_ORIGIN names."""

    daemon_threads = True

    def __init__(self, upstream: str, port: int = 0, host: str = "127.0.0.1") -> None:
        self.upstream = urlsplit(upstream)
        super().__init__((host, port), FrontHandler)
        self._thread: threading.Thread | None = None

    @property
    def origin(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        self._thread = threading.Thread(target=self.serve_forever, name="download-front", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
