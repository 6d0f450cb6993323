"""The scanner fleet's image (functions/scanner): its clamd has the local stack's limits, listens where
the handler is told to connect, and is checked by a health check. The image itself is not built here."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from chalicelib.settings import MIB
from local.clamav import render_config

ROOT = Path(__file__).resolve().parents[2]
SCANNER = ROOT / "functions" / "scanner"
LARGEST_UPLOAD = 64 * MIB  # settings' ceiling for CARTABLE_MAX_UPLOAD_SIZE
LIMITS = (
    "StreamMaxLength",
    "MaxFileSize",
    "MaxScanSize",
    "MaxRecursion",
    "MaxFiles",
    "AlertExceedsMax",
    "AlertEncryptedArchive",
    "AlertEncryptedDoc",
    "AlertBrokenExecutables",
)


def directives(text: str) -> dict[str, str]:
    """clamd.conf as name → value (comments and blank lines dropped; names appear once)."""
    result: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, value = line.partition(" ")
            assert name not in result, f"{name} appears twice"
            result[name] = value.strip()
    return result


def fleet_config() -> dict[str, str]:
    return directives((SCANNER / "clamd.conf").read_text(encoding="utf-8"))


def test_fleet_limits_are_the_local_stacks(tmp_path: Path) -> None:
    local = directives(render_config(tmp_path, tmp_path / "clamd.sock", LARGEST_UPLOAD).read_text(encoding="utf-8"))
    fleet = fleet_config()
    assert {name: fleet.get(name) for name in LIMITS} == {name: local.get(name) for name in LIMITS}
    assert int(fleet["StreamMaxLength"]) > LARGEST_UPLOAD


def test_fleet_listens_on_tcp_in_the_foreground_and_alerts_over_limits() -> None:
    fleet = fleet_config()
    assert fleet["TCPSocket"] == "3310" and fleet["TCPAddr"] == "0.0.0.0"
    assert fleet["Foreground"] == "yes" and "LogFile" not in fleet, "logs go to stdout"
    assert fleet["AlertExceedsMax"] == "yes"
    assert fleet["DatabaseDirectory"] == "/var/lib/clamav"


def test_dockerfile_installs_clamd_and_freshclam_and_checks_health() -> None:
    dockerfile = (SCANNER / "Dockerfile").read_text(encoding="utf-8")
    assert "FROM debian:bookworm-slim" in dockerfile
    for package in ("clamav-daemon", "clamav-freshclam", "tini"):
        assert package in dockerfile
    assert "EXPOSE 3310" in dockerfile
    assert (
        'HEALTHCHECK --interval=30s --timeout=10s --start-period=300s --retries=3 CMD ["/usr/local/bin/healthcheck.sh"]'
        in dockerfile
    )
    assert "USER 10001:10001" in dockerfile
    for script in ("entrypoint.sh", "healthcheck.sh"):
        path = SCANNER / script
        assert path.stat().st_mode & 0o111, f"{script} is executable"
        assert path.read_text(encoding="utf-8").startswith("#!/bin/")


def test_entrypoint_updates_once_then_runs_both_daemons() -> None:
    script = (SCANNER / "entrypoint.sh").read_text(encoding="utf-8")
    first, daemon, clamd = (
        script.index('freshclam --config-file="$config" --foreground'),
        script.index("--daemon"),
        script.index("exec clamd --foreground"),
    )
    assert first < daemon < clamd
    assert 'echo "PrivateMirror ${CLAMAV_PRIVATE_MIRROR}"' in script
    assert "zPING" in (SCANNER / "healthcheck.sh").read_text(encoding="utf-8")


def _manifests() -> list[dict[str, Any]]:
    documents: list[dict[str, Any]] = []
    for path in sorted((SCANNER / "k8s").glob("*.yaml")):
        documents += [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]
    return documents


def test_kubernetes_manifests_run_the_image_behind_a_private_service() -> None:
    by_kind = {document["kind"]: document for document in _manifests()}
    assert {"Deployment", "Service", "NetworkPolicy"} <= set(by_kind)
    pod = by_kind["Deployment"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["ports"][0]["containerPort"] == 3310
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] == 10001
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["exec"]["command"] == ["/usr/local/bin/healthcheck.sh"]
    service = by_kind["Service"]
    assert service["metadata"]["annotations"]["service.beta.kubernetes.io/aws-load-balancer-scheme"] == "internal"
    assert service["spec"]["ports"][0]["port"] == 3310
    assert by_kind["NetworkPolicy"]["spec"]["ingress"][0]["ports"] == [{"port": 3310, "protocol": "TCP"}]


def test_ecs_task_definition_runs_the_image_with_its_health_check() -> None:
    task = json.loads((SCANNER / "ecs" / "task-definition.json").read_text(encoding="utf-8"))
    (container,) = task["containerDefinitions"]
    assert task["requiresCompatibilities"] == ["FARGATE"] and task["networkMode"] == "awsvpc"
    assert container["portMappings"][0]["containerPort"] == 3310
    assert container["healthCheck"]["command"] == ["CMD", "/usr/local/bin/healthcheck.sh"]
    assert int(task["memory"]) >= 4096, "two engines during a reload"


def test_scan_handler_points_at_the_fleet_in_every_deployed_stage() -> None:
    config = json.loads((ROOT / ".chalice" / "config.json").read_text(encoding="utf-8"))
    for stage in ("dev", "prod"):
        address = config["stages"][stage]["environment_variables"]["CARTABLE_CLAMD_ADDRESS"]
        assert address.startswith("tcp://") and address.endswith(":3310"), stage
