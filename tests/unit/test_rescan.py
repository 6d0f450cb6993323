"""The rescan's bookkeeping over in-memory parts: resuming, and objects it could not judge.

The quarantine itself runs over the real stack (tests/integration/test_rescan.py); here the storage,
the antivirus and the progress record are small fakes, so each path of `run` is seen on its own."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from chalicelib.domain.content import ScanOutcome, ScanResult
from chalicelib.domain.ports import StoredObject
from chalicelib.domain.rescan import RescanService
from chalicelib.errors import ScannerUnavailableError

WHEN = datetime(2026, 11, 29, tzinfo=UTC)
CLEAN = ScanResult(ScanOutcome.CLEAN)


class Store:
    def __init__(self, keys: list[str]) -> None:
        self.objects = {k: StoredObject(k, 10, '"e"', None, WHEN) for k in keys}
        self.listed = 0

    def list_after(self, prefix: str, start_after: str, limit: int) -> list[StoredObject]:
        self.listed += 1
        keys = sorted(k for k in self.objects if k.startswith(prefix) and k > start_after)
        return [self.objects[k] for k in keys[:limit]]

    def head(self, key: str) -> StoredObject | None:
        return self.objects.get(key)


class Antivirus:
    def __init__(self, failing: set[str]) -> None:
        self.failing = failing
        self.read: list[str] = []

    def signatures(self) -> str:
        return "ClamAV 1.4/27000"

    def scan(self, objects: list[StoredObject]) -> list[ScanResult | Exception]:
        self.read += [o.key for o in objects]
        return [ScannerUnavailableError("down") if o.key in self.failing else CLEAN for o in objects]


class Progress:
    def __init__(self) -> None:
        self.saved: dict[str, Any] | None = None

    def rescan_progress(self) -> dict[str, Any] | None:
        return self.saved

    def save_rescan_progress(self, progress: dict[str, Any]) -> None:
        self.saved = dict(progress)


def service(keys: list[str], failing: set[str], page: int = 2) -> tuple[RescanService, Antivirus, Progress]:
    antivirus, progress = Antivirus(failing), Progress()
    return RescanService(progress, Store(keys), antivirus, page=page), antivirus, progress  # type: ignore[arg-type]


def test_a_rescan_reads_every_object_once_and_finishes() -> None:
    rescan, antivirus, _ = service([f"files/f{n}/u" for n in range(5)], set())
    done = rescan.run(budget_seconds=30)
    assert antivirus.read == [f"files/f{n}/u" for n in range(5)]
    assert (done.scanned, done.errors, done.finished_at is not None) == (5, 0, True)
    assert rescan.run(budget_seconds=30).started_at == done.started_at  # the same signatures: nothing again
    assert antivirus.read == [f"files/f{n}/u" for n in range(5)]


def test_an_object_not_judged_is_read_again_before_the_generation_finishes() -> None:
    rescan, antivirus, _ = service(["files/a/u", "files/b/u", "files/c/u"], {"files/b/u"})
    stuck = rescan.run(budget_seconds=0.5)
    assert stuck.finished_at is None and stuck.retry == ["files/b/u"] and stuck.after == "files/c/u"
    antivirus.failing.clear()  # clamd is back
    done = rescan.run(budget_seconds=30)
    assert done.finished_at is not None and done.retry == []
    assert antivirus.read.count("files/b/u") >= 2 and antivirus.read.count("files/a/u") == 1


def test_a_run_cut_short_resumes_where_it_stopped() -> None:
    rescan, antivirus, progress = service([f"files/f{n}/u" for n in range(6)], set(), page=2)
    first = rescan.run(budget_seconds=0)  # no time at all: nothing read, nothing lost
    assert first.scanned == 0 and first.finished_at is None
    assert progress.saved is None or progress.saved.get("after", "") == ""
    done = rescan.run(budget_seconds=30)
    assert antivirus.read == [f"files/f{n}/u" for n in range(6)] and done.finished_at is not None
