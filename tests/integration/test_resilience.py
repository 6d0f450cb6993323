"""A part fails: nothing is lost, nothing is served unscanned."""

from __future__ import annotations

import time
from typing import Any

import pytest

from local.stack import LocalStack

pytestmark = pytest.mark.integration


def test_clamd_down_leaves_pending_then_scans_when_back(stack: LocalStack, as_user: Any) -> None:
    student = as_user("eleve-panne")
    stack.clamd.stop()
    try:
        grant = student.upload("pendant-la-panne.txt", b"ecrit pendant la panne\n", "text/plain")
        time.sleep(4)  # several pump rounds and retries while clamd is down
        file = student.get(f"/v1/files/{grant['fileId']}").json()
        assert file["status"] == "pending", file
        assert student.get(f"/v1/files/{grant['fileId']}/content").status_code == 409
    finally:
        stack.clamd.start()
    file = student.wait_status(grant["fileId"], timeout=20)
    assert file["status"] == "available", file
