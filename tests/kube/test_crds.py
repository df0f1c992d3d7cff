"""The operators' CRDs in a real API server: established, and enforcing what offline schema
validators cannot (CEL ``x-kubernetes-validations``, defaulting) on the chart's own objects."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from kubernetes import client as k8s

from tests.k8s.render import one, render
from tests.k8s.tools import CHART_DIR

pytestmark = pytest.mark.kube

EXPECTED_CRDS = {
    "kafkas.kafka.strimzi.io",
    "kafkatopics.kafka.strimzi.io",
    "kafkausers.kafka.strimzi.io",
    "kafkanodepools.kafka.strimzi.io",
    "sparkapplications.sparkoperator.k8s.io",
    "servicemonitors.monitoring.coreos.com",
    "podmonitors.monitoring.coreos.com",
    "prometheusrules.monitoring.coreos.com",
}


def dry_run_create(api: k8s.ApiClient, namespace: str, obj: dict[str, Any]) -> dict[str, Any]:
    """Create ``obj`` with server-side dry run: validated, defaulted and admitted, not stored."""
    group, version = obj["apiVersion"].split("/")
    plural = {"Kafka": "kafkas", "KafkaUser": "kafkausers", "ServiceMonitor": "servicemonitors"}[
        obj["kind"]
    ]
    body = copy.deepcopy(obj)
    body["metadata"]["namespace"] = namespace
    result: dict[str, Any] = k8s.CustomObjectsApi(api).create_namespaced_custom_object(
        group, version, namespace, plural, body, dry_run="All", field_validation="Strict"
    )
    return result


def refusal(api: k8s.ApiClient, namespace: str, obj: dict[str, Any]) -> str:
    with pytest.raises(k8s.ApiException) as refused:
        dry_run_create(api, namespace, obj)
    assert refused.value.status == 422, refused.value.body
    message: str = json.loads(refused.value.body)["message"]
    return message


def test_every_crd_from_shared_crds_is_established(crds: list[str]) -> None:
    assert set(crds) == EXPECTED_CRDS


def test_kafka_metrics_config_cel_rule(
    crds: list[str], kube_api: k8s.ApiClient, namespace: str
) -> None:
    """Strimzi's rule on spec.kafka.metricsConfig: a JMX exporter needs ``valueFrom``."""
    kafka = one(render(), "Kafka")
    dry_run_create(kube_api, namespace, kafka)  # the chart's Kafka as rendered is accepted

    broken = copy.deepcopy(kafka)
    broken["spec"]["kafka"]["metricsConfig"] = {"type": "jmxPrometheusExporter"}
    assert "valueFrom property is required" in refusal(kube_api, namespace, broken)

    fixed = copy.deepcopy(broken)
    fixed["spec"]["kafka"]["metricsConfig"]["valueFrom"] = {
        "configMapKeyRef": {"name": "kafka-metrics", "key": "kafka-metrics-config.yml"}
    }
    dry_run_create(kube_api, namespace, fixed)


def test_kafka_user_authentication_cel_rule(
    crds: list[str], kube_api: k8s.ApiClient, namespace: str
) -> None:
    """Strimzi's rule on KafkaUser spec.authentication: certificate validity only for TLS."""
    user = one(render([CHART_DIR / "ci" / "strimzi-auth-values.yaml"]), "KafkaUser")
    assert user["spec"]["authentication"]["type"] == "scram-sha-512"
    dry_run_create(kube_api, namespace, user)

    broken = copy.deepcopy(user)
    broken["spec"]["authentication"]["validityDays"] = 30
    assert "can be configured only with 'type: tls'" in refusal(kube_api, namespace, broken)


def test_servicemonitor_relabelings_are_defaulted(
    crds: list[str], kube_api: k8s.ApiClient, namespace: str
) -> None:
    """The API server applies the CRD's defaults (relabeling action "replace")."""
    monitor = one(render([CHART_DIR / "ci" / "full-values.yaml"]), "ServiceMonitor")
    monitor["spec"]["endpoints"][0]["relabelings"] = [
        {"sourceLabels": ["__meta_kubernetes_pod_node_name"], "targetLabel": "node"}
    ]
    stored = dry_run_create(kube_api, namespace, monitor)
    assert stored["spec"]["endpoints"][0]["relabelings"][0]["action"] == "replace"


def test_unknown_fields_are_refused_not_pruned(
    crds: list[str], kube_api: k8s.ApiClient, namespace: str
) -> None:
    """With strict field validation (kubectl's default) a misspelt field is an error."""
    kafka = one(render(), "Kafka")
    kafka["spec"]["kafka"]["replicaz"] = 3
    with pytest.raises(k8s.ApiException) as refused:
        dry_run_create(kube_api, namespace, kafka)
    assert refused.value.status == 400
    assert 'unknown field "spec.kafka.replicaz"' in json.loads(refused.value.body)["message"]
