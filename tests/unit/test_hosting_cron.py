"""hosting/cron.py: a scheduled handler once, with the event EventBridge sends, its report one JSON line, and
the exit status the CronJob's Job reads."""

from __future__ import annotations

import json
import os
import sys
import types
from typing import Any

import pytest

from hosting import cron


def test_the_event_is_a_schedule_s() -> None:
    event = cron.schedule_event("sweep_trash", "fr-par")
    assert event["detail-type"] == "Scheduled Event" and event["source"] == "aws.events"
    assert event["region"] == "fr-par" and event["resources"][0].endswith("rule/cartable-sweep_trash")
    assert event["detail"] == {} and event["time"].endswith("Z")


@pytest.fixture
def fake_app(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    calls: dict[str, Any] = {}
    module = types.ModuleType("app")

    def sweep_trash(event: dict[str, Any], context: Any) -> dict[str, int]:
        calls["event"], calls["context"] = event, context
        return {"purged": 2}

    def rescan_files(event: dict[str, Any], context: Any) -> None:
        raise RuntimeError("the catalog is down")

    module.sweep_trash = sweep_trash  # type: ignore[attr-defined]
    module.rescan_files = rescan_files  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "app", module)
    monkeypatch.setenv("CARTABLE_FUNCTION", "")  # recorded, so what the run sets is undone
    monkeypatch.delenv("CARTABLE_FUNCTION")
    return calls


def test_a_run_prints_its_report_and_exits_0(fake_app: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    assert cron.main(["sweep"]) == 0
    assert json.loads(capsys.readouterr().out) == {"purged": 2}
    context = fake_app["context"]
    assert context.function_name == "cartable-sweep_trash" and context.get_remaining_time_in_millis() > 290_000
    assert fake_app["event"]["detail-type"] == "Scheduled Event"
    assert os.environ["CARTABLE_FUNCTION"] == "sweep_trash", "its AWS calls are the sweeper's"


def test_a_failed_run_exits_1(fake_app: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    assert cron.main(["rescan"]) == 1
    out = capsys.readouterr().out  # no report; only log lines, if an earlier test sent the logs to stdout
    assert all(json.loads(line).get("level") == "ERROR" for line in out.splitlines())
