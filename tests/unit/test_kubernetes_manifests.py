"""k8s/ (the host layer's manifests) and the app image (Dockerfile): each document valid against the Kubernetes
schemas, offline (kubernetes-validate's bundled schemas), and wired to what hosting/ runs: non-root pods with
probes and resources, the commands of hosting.wsgi / hosting.worker / hosting.notifier / hosting.cron, a
PodDisruptionBudget per
Deployment, secrets by reference only. The clamd fleet's manifests (functions/scanner/k8s) are validated too."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from hosting.cron import JOBS
from hosting.worker import QUEUES

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "k8s"
KUBERNETES = "1.33.0"  # the oldest minor the providers' managed clusters still offer (Kapsule, MKS)
USER = 10001  # the Dockerfile's USER


def _documents(folder: Path) -> list[tuple[str, dict[str, Any]]]:
    return [
        (path.name, document)
        for path in sorted(folder.glob("*.yaml"))
        if path.name != "kustomization.yaml"
        for document in yaml.safe_load_all(path.read_text(encoding="utf-8"))
        if document
    ]


DOCUMENTS = _documents(K8S)


def _id(item: tuple[str, dict[str, Any]]) -> str:
    name, document = item
    return f"{name}:{document['kind']}/{document['metadata'].get('name') or document['metadata'].get('generateName')}"


@pytest.mark.parametrize("item", DOCUMENTS + _documents(ROOT / "functions" / "scanner" / "k8s"), ids=_id)
def test_every_manifest_is_valid_against_the_kubernetes_schemas(item: tuple[str, dict[str, Any]]) -> None:
    kubernetes_validate.validate(item[1], KUBERNETES, strict=True)


def _pods() -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(kind/name, the pod template's metadata, its spec) of every workload."""
    pods = []
    for _, document in DOCUMENTS:
        spec = document.get("spec", {})
        if document["kind"] in ("Deployment", "Job"):
            template = spec["template"]
        elif document["kind"] == "CronJob":
            template = spec["jobTemplate"]["spec"]["template"]
        else:
            continue
        name = document["metadata"].get("name") or document["metadata"]["generateName"]
        pods.append((f"{document['kind']}/{name}", template["metadata"], template["spec"]))
    return pods


def _by_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for _, d in DOCUMENTS if d["kind"] == kind}


def test_every_pod_runs_as_the_image_s_non_root_user_read_only_with_limits() -> None:
    pods = _pods()
    assert len(pods) == 7, [name for name, _, _ in pods]
    for name, _, spec in pods:
        security = spec["securityContext"]
        assert security["runAsNonRoot"] is True and security["runAsUser"] == USER, name
        assert security["seccompProfile"]["type"] == "RuntimeDefault", name
        assert spec["automountServiceAccountToken"] is False, name
        for container in spec["containers"]:
            own = container["securityContext"]
            assert own["allowPrivilegeEscalation"] is False and own["readOnlyRootFilesystem"] is True, name
            assert own["capabilities"]["drop"] == ["ALL"], name
            assert {"cpu", "memory"} <= set(container["resources"]["requests"]), name
            assert "memory" in container["resources"]["limits"], name
            sources = container["envFrom"]
            assert {"configMapRef": {"name": "cartable-config"}} in sources, name
            assert any("secretRef" in source for source in sources), f"{name}: its own credentials"
    assert f"USER {USER}:{USER}" in (ROOT / "Dockerfile").read_text(encoding="utf-8")


def test_secrets_are_referenced_never_written_and_each_component_has_its_own() -> None:
    assert not [d for _, d in DOCUMENTS if d["kind"] == "Secret"], "secrets come from the cluster"
    secrets = {
        name: next(s["secretRef"]["name"] for c in spec["containers"] for s in c["envFrom"] if "secretRef" in s)
        for name, _, spec in _pods()
    }
    assert len(set(secrets.values())) == len(secrets), secrets
    text = "\n".join(path.read_text(encoding="utf-8") for path in K8S.glob("*.yaml"))
    assert not re.search(r"(?i)(secret_access_key|password|database_url)\s*:\s*\S", text)


def test_the_api_is_gunicorn_behind_its_service_with_probes_and_a_budget() -> None:
    (api,) = _by_kind("Deployment")["cartable-api"]["spec"]["template"]["spec"]["containers"]
    assert api["command"] == ["gunicorn", "-c", "hosting/gunicorn.conf.py", "hosting.wsgi:application"]
    assert (ROOT / "hosting" / "gunicorn.conf.py").is_file()
    assert api["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert api[probe]["httpGet"] == {"path": "/v1/health", "port": "http"}, probe
    service = _by_kind("Service")["cartable-api"]
    labels = _by_kind("Deployment")["cartable-api"]["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    assert service["spec"]["ports"][0]["targetPort"] == "http"


def test_each_queue_has_its_worker_and_each_schedule_its_cronjob() -> None:
    deployments = {
        name: d for name, d in _by_kind("Deployment").items() if name not in ("cartable-api", "cartable-notifier")
    }
    commands = {tuple(d["spec"]["template"]["spec"]["containers"][0]["command"][2:]) for d in deployments.values()}
    assert commands == {("hosting.worker", queue) for queue in QUEUES}
    for deployment in deployments.values():
        pod = deployment["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        queue = container["command"][-1]
        assert pod["terminationGracePeriodSeconds"] > QUEUES[queue][2], "the batch in hand may finish"
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    cronjobs = _by_kind("CronJob")
    jobs = {
        c["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["command"][-1] for c in cronjobs.values()
    }
    assert jobs == set(JOBS)
    for cronjob in cronjobs.values():
        assert cronjob["spec"]["concurrencyPolicy"] == "Forbid", "two sweeps never overlap"


def test_one_notifier_replaced_not_rolled_with_probes_and_only_its_store_and_queue_keys() -> None:
    notifier = _by_kind("Deployment")["cartable-notifier"]
    assert notifier["spec"]["replicas"] == 1 and notifier["spec"]["strategy"] == {"type": "Recreate"}
    (container,) = notifier["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["python", "-m", "hosting.notifier"]
    assert (ROOT / "hosting" / "notifier.py").is_file()
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert {"secretRef": {"name": "cartable-notifier"}} in container["envFrom"]
    config = (K8S / "config.yaml").read_text(encoding="utf-8")
    assert "cartable-notifier holds only AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY" in config.replace("\n# ", " ")


def test_the_config_map_and_the_notifier_s_secret_make_its_settings() -> None:
    from hosting.notifier import NotifierSettings

    (config,) = [d for _, d in DOCUMENTS if d["kind"] == "ConfigMap"]
    (container,) = _by_kind("Deployment")["cartable-notifier"]["spec"]["template"]["spec"]["containers"]
    env = {item["name"]: item["value"] for item in container["env"]}
    settings = NotifierSettings.from_env(
        {**config["data"], **env, "AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s"}
    )
    assert settings.queue_url == config["data"]["CARTABLE_QUEUE_URL"] and settings.bucket
    assert settings.s3_addressing_style == config["data"]["CARTABLE_S3_ADDRESSING_STYLE"]


def test_every_deployment_has_a_disruption_budget_and_kustomize_lists_every_file() -> None:
    budgets = [b["spec"]["selector"]["matchLabels"] for b in _by_kind("PodDisruptionBudget").values()]
    for name, deployment in _by_kind("Deployment").items():
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert any(selector.items() <= labels.items() for selector in budgets), name
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text(encoding="utf-8"))
    listed = set(kustomization["resources"])
    assert listed == {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml", "migrate.yaml"}
    assert {i["name"] for i in kustomization["images"]} == {"cartable"}


def test_the_image_holds_what_the_host_layer_imports() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    for path in ("app.py", "chalicelib/", "policies/", "migrations/", "infra/gateway.py", "hosting/"):
        assert path in dockerfile, path
    assert "--require-hashes -r requirements.txt" in dockerfile
    assert "libmagic1" in dockerfile
    assert "gunicorn==" in (ROOT / "requirements.in").read_text(encoding="utf-8")


def test_the_validation_catches_a_misspelt_field() -> None:
    import copy

    (_, deployment), *_ = [item for item in DOCUMENTS if item[1]["kind"] == "Deployment"]
    broken = copy.deepcopy(deployment)
    broken["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES, strict=True)


def test_the_config_map_and_a_component_s_secret_make_valid_settings() -> None:
    """What a pod's environment holds (k8s/config.yaml, plus the keys its secret must hold) passes the
    functions' own check of their settings."""
    from chalicelib.settings import Settings

    (config,) = [d for _, d in DOCUMENTS if d["kind"] == "ConfigMap"]
    secret = {
        "AWS_ACCESS_KEY_ID": "key",
        "AWS_SECRET_ACCESS_KEY": "secret",
        "CARTABLE_DATABASE_URL": "postgresql://cartable@db/cartable",
        "CARTABLE_CURSOR_SECRET": "c" * 32,
        "CARTABLE_RECEIPT_SECRET": "r" * 32,
    }
    settings = Settings.from_env({**config["data"], **secret})
    assert settings.catalog == "postgres" and settings.stage == "prod" and settings.queue_url
    for name in secret:
        assert name in (K8S / "config.yaml").read_text(encoding="utf-8"), f"the config says a secret holds {name}"


def test_the_api_scales_and_only_the_ingress_reaches_it() -> None:
    (hpa,) = [d for _, d in DOCUMENTS if d["kind"] == "HorizontalPodAutoscaler"]
    assert hpa["spec"]["scaleTargetRef"]["name"] in _by_kind("Deployment")
    policies = _by_kind("NetworkPolicy")
    assert policies["cartable-default-deny-ingress"]["spec"] == {"podSelector": {}, "policyTypes": ["Ingress"]}
    (rule,) = policies["cartable-api-from-ingress"]["spec"]["ingress"]
    assert rule["ports"] == [{"port": 8080, "protocol": "TCP"}], "the API container's port"
