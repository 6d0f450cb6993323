"""The public HTTP API as the admin command line speaks it: urllib only, retries, pages, jobs and downloads."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from email.message import Message
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, BinaryIO

USER_AGENT = "cartable-admin/1"
TIMEOUT = 60.0  # seconds for one HTTP exchange
MAX_RETRY_AFTER = 120.0  # a Retry-After longer than this is waited this long at most
CHUNK = 1024 * 1024
MAX_PAGES = 100_000  # a cursor loop that never ends is a bug somewhere: stop it

# Exit codes: 1 the API refused or the work failed, 2 usage, 3 the API could not be reached (or kept failing).
REFUSED, USAGE, UNREACHABLE = 1, 2, 3


class AdminError(Exception):
    """What went wrong, as the command line prints it (`error: <code>: <message>`) and its exit code."""

    def __init__(self, code: str, message: str, exit_code: int = REFUSED, status: int = 0) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.exit_code = exit_code
        self.status = status
        self.delay: float | None = None  # the Retry-After of a 429 or 5xx, when it said one


@dataclass(frozen=True)
class Answer:
    """One HTTP answer: status, headers (names in lower case) and the body's bytes."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError as exc:
            raise AdminError("bad_answer", f"the API answered {self.status} with a body that is not JSON") from exc


Send = Callable[[urllib.request.Request, float], Answer]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A 302 is an answer to read (its Location is a signed URL to fetch without our token), not to follow."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _headers(message: Message) -> dict[str, str]:
    return {name.lower(): value for name, value in message.items()}


def urllib_send(request: urllib.request.Request, timeout: float) -> Answer:
    """Send with urllib; every status is an answer (urllib raises for 3xx-5xx), a failed connection an OSError."""
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(request, timeout=timeout) as response:
            return Answer(response.status, _headers(response.headers), response.read())
    except urllib.error.HTTPError as error:
        with error:
            return Answer(error.code, _headers(error.headers), error.read())


def retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date), or None without one."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - now)
    except (TypeError, ValueError):
        return None


def error_of(answer: Answer) -> AdminError:
    """The API's error body (`{"error": {"code", "message"}}`) as an AdminError; anything else by its status."""
    code, message = f"http_{answer.status}", answer.body[:200].decode("utf-8", "replace").strip()
    try:
        error = json.loads(answer.body)["error"]
        code, message = str(error["code"]), str(error["message"])
    except (ValueError, KeyError, TypeError):
        pass
    exit_code = UNREACHABLE if answer.status >= 500 or answer.status == 429 else REFUSED
    return AdminError(code, message or "no message", exit_code, answer.status)


def web_url(url: str) -> str:
    """The URL, if it is http(s): never a file: or another scheme urllib would open."""
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise AdminError("bad_url", f"not an http(s) URL: {url[:80]!r}")
    return url


def _retryable(status: int) -> bool:
    return status == 429 or status >= 500


@dataclass
class Client:
    """An admin's session with the API. A POST carries this invocation's Idempotency-Key (one per command
    run), so a POST sent again after a lost answer or a 5xx does nothing twice."""

    base: str
    token: str
    retries: int = 3
    send: Send = urllib_send
    sleep: Callable[[float], None] = time.sleep
    idempotency_key: str = field(default_factory=lambda: str(uuid.uuid4()))

    def url(self, path: str, query: Mapping[str, str | None] | None = None) -> str:
        params = {k: v for k, v in (query or {}).items() if v is not None}
        return self.base.rstrip("/") + path + ("?" + urllib.parse.urlencode(params) if params else "")

    def request(
        self,
        method: str,
        path: str,
        query: Mapping[str, str | None] | None = None,
        body: bytes | None = None,
        content_type: str = "application/json",
    ) -> Answer:
        """One call, tried again on a failed connection, a 5xx or a 429 (after its Retry-After, else 1, 2, 4 s...);
        any other answer is returned (a 4xx raises). After the last try: exit code 3."""
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json", "User-Agent": USER_AGENT}
        if body is not None:
            headers["Content-Type"] = content_type
        if method == "POST":
            headers["Idempotency-Key"] = self.idempotency_key
        failure: AdminError | None = None
        for attempt in range(self.retries + 1):
            if attempt:
                self.sleep(self._delay(attempt, failure))
            url = web_url(self.url(path, query))
            request = urllib.request.Request(url, data=body, headers=headers, method=method)  # noqa: S310 - http(s)
            try:
                answer = self.send(request, TIMEOUT)
            except OSError as exc:  # refused, reset, timed out, name not found (URLError is an OSError)
                failure = AdminError("network", f"{method} {path}: {getattr(exc, 'reason', exc)}", UNREACHABLE)
                continue
            if _retryable(answer.status):
                failure = error_of(answer)
                failure.delay = retry_after(answer.headers.get("retry-after"), time.time())
                continue
            if attempt and method == "POST" and answer.status == 409:
                # The same key's first copy may still be running (the API answers 409 until it is done).
                failure = error_of(answer)
                if attempt < self.retries:
                    continue
            if answer.status >= 400:
                raise error_of(answer)
            return answer
        assert failure is not None
        raise failure

    def _delay(self, attempt: int, failure: AdminError | None) -> float:
        if failure is not None and failure.delay is not None:
            return min(failure.delay, MAX_RETRY_AFTER)
        return float(min(2 ** (attempt - 1), MAX_RETRY_AFTER))

    def get(self, path: str, query: Mapping[str, str | None] | None = None) -> Any:
        return self.request("GET", path, query).json()

    def post(self, path: str, body: Any = None) -> Any:
        return self.request("POST", path, body=json.dumps(body).encode() if body is not None else None).json()

    def pages(self, path: str, query: Mapping[str, str | None] | None = None) -> Iterator[dict[str, Any]]:
        """Every page of a list (`items`, `nextCursor`), one after the other, until `nextCursor` is null."""
        cursor: str | None = None
        seen: set[str] = set()
        for _ in range(MAX_PAGES):
            page: dict[str, Any] = self.get(path, {**(query or {}), "cursor": cursor})
            yield page
            cursor = page.get("nextCursor")
            if not cursor:
                return
            if cursor in seen:
                raise AdminError("bad_answer", f"{path} gave the same cursor twice")
            seen.add(cursor)
        raise AdminError("bad_answer", f"{path} has more than {MAX_PAGES} pages")

    def wait_job(self, job: dict[str, Any], timeout: float, interval: float = 1.0) -> dict[str, Any]:
        """Follow a job (`GET /v1/jobs/{id}`) until it is no longer pending; a failed one raises."""
        deadline = time.monotonic() + timeout
        while job["status"] == "pending":
            if time.monotonic() > deadline:
                raise AdminError("timeout", f"job {job['id']} still pending after {timeout:.0f} s", REFUSED)
            self.sleep(interval)
            interval = min(interval * 1.5, 10.0)
            job = self.get(f"/v1/jobs/{urllib.parse.quote(job['id'], safe='')}")
        if job["status"] != "ready":
            raise AdminError(str(job.get("reason") or "failed"), f"job {job['id']} ({job['kind']}) failed")
        return job

    def download_job(self, job_id: str, output: BinaryIO) -> int:
        """Write a ready job's ZIP to `output` (its signed URL is fetched without our token); the bytes written."""
        answer = self.request("GET", f"/v1/jobs/{urllib.parse.quote(job_id, safe='')}/content")
        location = answer.headers.get("location")
        if answer.status != 302 or not location:
            raise AdminError("bad_answer", f"the job's content answered {answer.status} without a Location")
        request = urllib.request.Request(web_url(location), headers={"User-Agent": USER_AGENT})  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310 - the API's signed URL
                written = 0
                while chunk := response.read(CHUNK):
                    output.write(chunk)
                    written += len(chunk)
                return written
        except urllib.error.HTTPError as error:
            raise AdminError(f"http_{error.code}", "the storage refused the download", REFUSED, error.code) from error
        except OSError as exc:
            raise AdminError("network", f"download: {getattr(exc, 'reason', exc)}", UNREACHABLE) from exc


def read_token(path: Path | None, environ: Mapping[str, str]) -> str:
    """The bearer token: from --token-file, else CARTABLE_TOKEN; never from the command line (`ps` shows it)."""
    if path is not None:
        try:
            token = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise AdminError("usage", f"cannot read the token file {path}: {exc.strerror}", USAGE) from exc
    else:
        token = environ.get("CARTABLE_TOKEN", "").strip()
    if not token:
        raise AdminError("usage", "no token: set CARTABLE_TOKEN or give --token-file FILE", USAGE)
    return token
