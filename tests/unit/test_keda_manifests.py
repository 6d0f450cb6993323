"""k8s/keda/: the queue workers scaled on their queue's length by KEDA (issue 20), one file for the SQS API
(Scaleway Queues) and one for RabbitMQ (OVHcloud). KEDA's resources are custom ones that the Kubernetes
schemas do not know: each is checked offline against the part of KEDA's CRD schema (keda.sh/v1alpha1) it
uses, then against what k8s/ deploys: a ScaledObject per worker Deployment naming it, the queues the
ConfigMap names, credentials from a secret of KEDA's own (never the workers'), one worker always up."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
KEDA = ROOT / "k8s" / "keda"

_META = {
    "type": "object",
    "required": ["name", "namespace"],
    "properties": {
        "name": {"type": "string", "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"},
        "namespace": {"const": "cartable"},
    },
}
_STRINGS = {"type": "object", "additionalProperties": {"type": "string"}}
SCHEMAS: dict[str, dict[str, Any]] = {
    "TriggerAuthentication": {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "additionalProperties": False,
        "properties": {
            "apiVersion": {"const": "keda.sh/v1alpha1"},
            "kind": {"const": "TriggerAuthentication"},
            "metadata": _META,
            "spec": {
                "type": "object",
                "additionalProperties": False,
                "required": ["secretTargetRef"],
                "properties": {
                    "secretTargetRef": {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            "type": "object",
                            "additionalProperties": False,
                            "required": ["parameter", "name", "key"],
                            "properties": {k: {"type": "string"} for k in ("parameter", "name", "key")},
                        },
                    }
                },
            },
        },
    },
    "ScaledObject": {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "additionalProperties": False,
        "properties": {
            "apiVersion": {"const": "keda.sh/v1alpha1"},
            "kind": {"const": "ScaledObject"},
            "metadata": _META,
            "spec": {
                "type": "object",
                "additionalProperties": False,
                "required": ["scaleTargetRef", "triggers"],
                "properties": {
                    "scaleTargetRef": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["name"],
                        "properties": {
                            "name": {"type": "string"},
                            "kind": {"type": "string"},
                            "apiVersion": {"type": "string"},
                        },
                    },
                    "minReplicaCount": {"type": "integer", "minimum": 0},
                    "maxReplicaCount": {"type": "integer", "minimum": 1},
                    "pollingInterval": {"type": "integer", "minimum": 1},
                    "cooldownPeriod": {"type": "integer", "minimum": 0},
                    "triggers": {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            "type": "object",
                            "additionalProperties": False,
                            "required": ["type", "metadata"],
                            "properties": {
                                "type": {"enum": ["aws-sqs-queue", "rabbitmq"]},
                                "metadata": _STRINGS,  # KEDA reads every trigger parameter as a string
                                "authenticationRef": {
                                    "type": "object",
                                    "additionalProperties": False,
                                    "required": ["name"],
                                    "properties": {"name": {"type": "string"}},
                                },
                            },
                        },
                    },
                },
            },
        },
    },
}
# What each scaler needs (KEDA's docs: scalers/aws-sqs, scalers/rabbitmq-queue), in metadata or the auth.
NEEDS = {
    "aws-sqs-queue": ({"queueURL", "queueLength", "awsRegion"}, {"awsAccessKeyID", "awsSecretAccessKey"}),
    "rabbitmq": ({"queueName", "mode", "value"}, {"host"}),
}


def _documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]


def _k8s(kind: str) -> dict[str, dict[str, Any]]:
    found = {}
    for path in (ROOT / "k8s").glob("*.yaml"):
        for document in _documents(path):
            if document.get("kind") == kind:
                found[document["metadata"]["name"]] = document
    return found


FILES = sorted(KEDA.glob("*.yaml"))


def test_both_queue_kinds_have_their_file() -> None:
    assert [p.name for p in FILES] == ["rabbitmq.yaml", "sqs.yaml"]


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_each_resource_is_valid_against_keda_s_schema(path: Path) -> None:
    for document in _documents(path):
        jsonschema.validate(document, SCHEMAS[document["kind"]])


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_worker_scales_on_its_own_queue_with_keda_s_own_credentials(path: Path) -> None:
    documents = _documents(path)
    auths = {d["metadata"]["name"]: d for d in documents if d["kind"] == "TriggerAuthentication"}
    scaled = {d["spec"]["scaleTargetRef"]["name"]: d for d in documents if d["kind"] == "ScaledObject"}
    deployments = _k8s("Deployment")
    workers = {name for name, d in deployments.items() if "hosting.worker" in str(d["spec"]["template"])}
    assert set(scaled) == workers == {"cartable-scan-worker", "cartable-jobs-worker"}
    config = _k8s("ConfigMap")["cartable-config"]["data"]
    queues = {
        "cartable-scan-worker": config["CARTABLE_QUEUE_URL"],
        "cartable-jobs-worker": config["CARTABLE_JOBS_QUEUE_URL"],
    }
    for worker, document in scaled.items():
        spec = document["spec"]
        assert spec["minReplicaCount"] >= 1, worker  # an upload never waits for a pod to start
        assert spec["maxReplicaCount"] > spec["minReplicaCount"], worker
        (trigger,) = spec["triggers"]
        needed, auth_parameters = NEEDS[trigger["type"]]
        auth = auths[trigger["authenticationRef"]["name"]]
        refs = auth["spec"]["secretTargetRef"]
        assert needed <= set(trigger["metadata"]), worker
        assert {r["parameter"] for r in refs} == auth_parameters, worker
        assert {r["name"] for r in refs} == {"cartable-keda"}, worker  # not a worker's secret
        assert int(trigger["metadata"].get("queueLength") or trigger["metadata"]["value"]) >= 1
        if trigger["type"] == "aws-sqs-queue":
            assert trigger["metadata"]["queueURL"] == queues[worker]
            assert trigger["metadata"]["awsEndpoint"] == config["CARTABLE_SQS_ENDPOINT"]
            assert trigger["metadata"]["awsRegion"] == config["AWS_DEFAULT_REGION"]
        else:
            assert trigger["metadata"]["queueName"] == queues[worker].rsplit("/", 1)[-1]


def test_keda_is_not_in_the_base_kustomization() -> None:
    """`kubectl apply -k k8s/` must apply on a cluster without KEDA's CRDs."""
    kustomization = yaml.safe_load((ROOT / "k8s" / "kustomization.yaml").read_text(encoding="utf-8"))
    assert not [r for r in kustomization["resources"] if "keda" in r]
