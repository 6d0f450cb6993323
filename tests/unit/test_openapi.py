"""openapi.yaml stays in step with the routes the app really serves."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "openapi.yaml").read_text(encoding="utf-8"))
    return loaded


def _shape(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", path)


def test_the_spec_is_valid_openapi(spec: dict[str, Any]) -> None:
    validator = pytest.importorskip("openapi_spec_validator")
    validator.validate(spec)


def test_every_served_route_is_described_as_implemented(spec: dict[str, Any]) -> None:
    from app import app

    described = {(_shape(p), m.upper()): op for p, item in spec["paths"].items() for m, op in item.items()}
    served = {(_shape(path), method) for path, methods in app.routes.items() for method in methods}
    for route in served:
        assert route in described, f"{route} is served but not in openapi.yaml"
        assert described[route]["x-cartable-status"] == "implemented", route
    implemented = {route for route, op in described.items() if op["x-cartable-status"] == "implemented"}
    assert implemented == served


def test_every_operation_but_health_needs_a_token(spec: dict[str, Any]) -> None:
    for path, item in spec["paths"].items():
        for op in item.values():
            if path == "/v1/health":
                assert op["security"] == []
            else:
                assert "security" not in op and "401" in op["responses"], path
