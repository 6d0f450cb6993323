"""openapi.yaml describes the contract, is valid OpenAPI 3.1, and stays in step with the routes app.py serves."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "openapi.yaml"
APP = ROOT / "app.py"
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}

# Every route of CONTRACT.md (plus GET /v1/uploads/{uploadId}, our addition), with the spec's parameter names.
CONTRACT_ROUTES = {
    ("/v1/health", "GET"),
    ("/v1/classes", "GET"),
    ("/v1/classes/{classId}", "PUT"),
    ("/v1/roster/import", "POST"),
    ("/v1/uploads", "POST"),
    ("/v1/uploads/{uploadId}", "GET"),
    ("/v1/uploads/{uploadId}/complete", "POST"),
    ("/v1/files/{fileId}", "GET"),
    ("/v1/files/{fileId}", "DELETE"),
    ("/v1/files/{fileId}/content", "GET"),
    ("/v1/files/{fileId}/restore", "POST"),
    ("/v1/files/{fileId}/versions", "GET"),
    ("/v1/spaces/{space}", "GET"),
    ("/v1/spaces/{space}/files", "GET"),
    ("/v1/spaces/{space}/changes", "GET"),
    ("/v1/spaces/{space}/changes/poll", "GET"),
    ("/v1/shares", "POST"),
    ("/v1/shares/received", "GET"),
    ("/v1/shares/given", "GET"),
    ("/v1/shares/{shareId}", "DELETE"),
    ("/v1/classes/{classId}/assignments", "POST"),
    ("/v1/classes/{classId}/assignments", "GET"),
    ("/v1/assignments/{id}/submissions", "GET"),
}

# Served without a token: health, and the web client with its demo sign-in (stage local only, 404 elsewhere).
PUBLIC_ROUTES = {
    ("/v1/health", "GET"),
    ("/", "GET"),
    ("/static/{name}", "GET"),
    ("/v1/local/users", "GET"),
    ("/v1/local/token", "POST"),
}
LOCAL_ONLY_ROUTES = PUBLIC_ROUTES - {("/v1/health", "GET")}

CONTRACT_ERROR_CODES = {
    "bad_request",
    "unauthorized",
    "forbidden",
    "not_found",
    "conflict",
    "not_available",
    "payload_too_large",
    "unsupported_media_type",
    "quota_exceeded",
    "assignment_closed",
    "too_many_requests",
}


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
    return loaded


def _shape(path: str) -> str:
    """`/v1/files/{file_id}` and `/v1/files/{fileId}` both become `/v1/files/{}`."""
    return re.sub(r"\{[^}]+\}", "{}", path)


def _operations(spec: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (path, method.upper()): op
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if method in HTTP_METHODS
    }


def _resolve(spec: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = spec
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def _served_routes() -> set[tuple[str, str]]:
    """(path, METHOD) of every `@<x>.route("...", methods=[...])` decorator in app.py, read without importing it."""
    tree = ast.parse(APP.read_text(encoding="utf-8"), filename=str(APP))
    routes: set[tuple[str, str]] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for decorator in node.decorator_list:
            if not (
                isinstance(decorator, ast.Call)
                and isinstance(decorator.func, ast.Attribute)
                and decorator.func.attr == "route"
                and decorator.args
                and isinstance(decorator.args[0], ast.Constant)
                and isinstance(decorator.args[0].value, str)
            ):
                continue
            methods = ["GET"]  # Chalice's default
            for keyword in decorator.keywords:
                if keyword.arg == "methods":
                    methods = [str(ast.literal_eval(m)) for m in keyword.value.elts]  # type: ignore[attr-defined]
            routes.update((decorator.args[0].value, m.upper()) for m in methods)
    return routes


# -- (a)/(b): loads and is valid OpenAPI 3.1 -----------------------------------------------------------
def test_the_spec_is_openapi_3_1(spec: dict[str, Any]) -> None:
    assert str(spec["openapi"]).startswith("3.1")


def test_the_spec_is_valid_openapi(spec: dict[str, Any]) -> None:
    validator = pytest.importorskip("openapi_spec_validator")
    validator.validate(spec)


# -- (c): every route of the contract is described ------------------------------------------------------
def test_every_contract_route_is_described(spec: dict[str, Any]) -> None:
    described = set(_operations(spec))
    missing = sorted(CONTRACT_ROUTES - described)
    assert not missing, f"contract routes missing from openapi.yaml: {missing}"


def test_every_operation_has_a_status(spec: dict[str, Any]) -> None:
    for route, op in _operations(spec).items():
        assert op.get("x-cartable-status") in ("implemented", "planned"), route


def test_path_parameters_are_declared(spec: dict[str, Any]) -> None:
    for (path, method), op in _operations(spec).items():
        declared = {p["name"] for p in (_resolve(spec, p) for p in op.get("parameters", [])) if p["in"] == "path"}
        assert declared == set(re.findall(r"\{([^}]+)\}", path)), (path, method)


# -- (d): every route app.py serves is described, and described as implemented ---------------------------
def test_every_served_route_is_described_as_implemented(spec: dict[str, Any]) -> None:
    if not APP.exists():
        pytest.skip("app.py does not exist yet")
    served = {(_shape(path), method) for path, method in _served_routes()}
    assert served, "no @...route(...) decorator found in app.py"
    described = {(_shape(path), method): op for (path, method), op in _operations(spec).items()}
    for route in sorted(served):
        assert route in described, f"{route} is served but not in openapi.yaml"
        assert described[route]["x-cartable-status"] == "implemented", f"{route} is served but marked planned"
    implemented = {route for route, op in described.items() if op["x-cartable-status"] == "implemented"}
    assert implemented <= served, f"marked implemented but not served: {sorted(implemented - served)}"


# -- identity and errors -----------------------------------------------------------------------------
def test_every_operation_but_health_needs_a_bearer_token(spec: dict[str, Any]) -> None:
    scheme = spec["components"]["securitySchemes"]["bearer"]
    assert (scheme["type"], scheme["scheme"], scheme["bearerFormat"]) == ("http", "bearer", "JWT")
    for claim in ("sub", "school", "role", "exp", "iat", "iss", "aud"):
        assert f"`{claim}`" in scheme["description"], claim
    assert spec["security"] == [{"bearer": []}]
    for (path, method), op in _operations(spec).items():
        if (path, method) in PUBLIC_ROUTES:
            assert op["security"] == []
        else:
            assert op.get("security", spec["security"]) == [{"bearer": []}], (path, method)
            assert "401" in op["responses"], (path, method)
            assert "503" in op["responses"], (path, method)


def test_errors_carry_the_contract_codes(spec: dict[str, Any]) -> None:
    codes = set(spec["components"]["schemas"]["ErrorCode"]["enum"])
    assert codes >= CONTRACT_ERROR_CODES
    responses = spec["components"]["responses"]
    assert responses["Unauthorized"]["headers"]["WWW-Authenticate"]["schema"]["const"] == 'Bearer error="invalid_token"'
    assert "Retry-After" in responses["ServiceUnavailable"]["headers"]
    for name, response in responses.items():
        schema = response["content"]["application/json"]["schema"]
        narrowed = schema["allOf"][1]["properties"]["error"]["properties"]["code"]
        allowed = {narrowed["const"]} if "const" in narrowed else set(narrowed["enum"])
        assert allowed <= codes, name


def test_local_only_routes_say_so(spec: dict[str, Any]) -> None:
    operations = _operations(spec)
    for route in LOCAL_ONLY_ROUTES:
        assert operations[route].get("x-cartable-stage") == "local", route
        assert "404" in operations[route]["responses"], route
