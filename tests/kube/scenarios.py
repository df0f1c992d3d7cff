"""What each ``charts/cryptopulse/ci/<scenario>-values.yaml`` install needs besides the operators'
CRDs: the test control plane's twin of ``k8s/ci/setup-scenario.sh`` (which prepares kind with
kubectl for the same scenarios).

- existing-kafka: an existing Strimzi cluster (``k8s/ci/shared-kafka.yaml``) in a namespace of
  its own, where the chart puts its KafkaTopics and KafkaUser. On kind that namespace is
  ``kafka``; here each test gets ``<namespace>-kafka`` (``kafka.existing.namespace`` and the
  bootstrap address say so), since the releases of different tests would otherwise create the
  same KafkaTopics in one shared namespace.
- full: the Secret the scenario names in ``secrets.existingSecret``.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path

import yaml
from kubernetes import client as k8s

from tests.k8s.tools import REPO_ROOT
from tests.support.kube.objects import create_namespace

SHARED_KAFKA = REPO_ROOT / "k8s" / "ci" / "shared-kafka.yaml"
KNOWN = ("existing-kafka", "full", "minimal", "strimzi-auth")


def name_of(values: Path) -> str:
    return values.name.removesuffix("-values.yaml")


def _create(call: Callable[..., object], *args: object) -> None:
    """Create an object; one that already exists (an earlier scenario of the test) is kept."""
    try:
        call(*args)
    except k8s.ApiException as error:
        if error.status != 409:
            raise


def prepare(api: k8s.ApiClient, values: Path, namespace: str, scratch: Path) -> list[Path]:
    """Set the control plane up for the scenario ``values`` installed into ``namespace``;
    returns the extra values files the current chart is installed with (none for most).

    Raises ValueError for a scenario this module does not know: add it here and to
    k8s/ci/setup-scenario.sh.
    """
    scenario = name_of(values)
    if scenario not in KNOWN:
        raise ValueError(f"unknown scenario {scenario}: add it to {__file__} and k8s/ci")
    if scenario == "existing-kafka":
        strimzi_namespace = f"{namespace[:56]}-kafka"
        try:
            create_namespace(api, strimzi_namespace)
        except k8s.ApiException as error:
            if error.status != 409:
                raise
        custom = k8s.CustomObjectsApi(api)
        for obj in yaml.safe_load_all(SHARED_KAFKA.read_text()):
            group, version = obj["apiVersion"].split("/")
            obj["metadata"]["namespace"] = strimzi_namespace
            plural = {"Kafka": "kafkas", "KafkaNodePool": "kafkanodepools"}[obj["kind"]]
            _create(
                custom.create_namespaced_custom_object,
                group,
                version,
                strimzi_namespace,
                plural,
                obj,
            )
        extra = scratch / f"{scenario}-{namespace}-values.yaml"
        extra.write_text(
            yaml.safe_dump(
                {
                    "kafka": {
                        "existing": {
                            "namespace": strimzi_namespace,
                            "bootstrapServers": (
                                f"shared-kafka-kafka-bootstrap.{strimzi_namespace}.svc:9092"
                            ),
                        }
                    }
                }
            )
        )
        return [extra]
    if scenario == "full":
        secret = yaml.safe_load(values.read_text())["secrets"]["existingSecret"]
        _create(
            k8s.CoreV1Api(api).create_namespaced_secret,
            namespace,
            {
                "metadata": {"name": secret},
                "stringData": {"ingest-token": secrets.token_urlsafe(30)},
            },
        )
    return []
