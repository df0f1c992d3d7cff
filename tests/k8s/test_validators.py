"""The checks can fail: each validator rejects what a cluster would reject."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.k8s.podsecurity import UnknownKindError, object_violations, pod_specs, violations
from tests.k8s.render import by_kind, one, render, render_error
from tests.k8s.schemas import Validator


@pytest.fixture(scope="module")
def objects(helm: str) -> list[dict[str, Any]]:
    return render(set_values=["metrics.podMonitor.enabled=true"])


def _set(obj: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(obj)
    node = changed
    *parents, last = path.split(".")
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return changed


# --------------------------------------------------------------------------- schemas


@pytest.mark.parametrize(
    ("kind", "path", "value", "expected"),
    [
        (
            "Deployment",
            "spec.template.spec.containers.0.securityContext.runAsNonRot",
            True,
            "Additional properties are not allowed ('runAsNonRot'",
        ),
        ("Deployment", "spec.replicas", "two", "is not of type 'integer'"),
        ("Service", "spec.ports.0.port", "http", "is not of type 'integer'"),
        (
            "SparkApplication",
            "spec.driver.coresLimit",
            "1",
            "Additional properties are not allowed ('coresLimit'",
        ),
        ("SparkApplication", "spec.restartPolicy.type", "Sometimes", "is not one of"),
        (
            "SparkApplication",
            "spec.driver.template.spec.containers.0.livenessProbe.httpGet.pth",
            "/health",
            "spec.driver.template.spec.containers.0.livenessProbe.httpGet: Additional properties",
        ),
        ("KafkaTopic", "spec.partitions", "three", "is not of type 'integer'"),
        ("Kafka", "spec.kafka.listeners.0.type", "public", "is not one of"),
        ("KafkaNodePool", "spec.storage.sizeLimt", "1Gi", "Additional properties"),
        ("PodMonitor", "spec.podMetricsEndpoints.0.scrapeEvery", "1m", "Additional properties"),
        ("Deployment", "metadata.labels.team", 7, "is not of type 'string'"),
        ("KafkaTopic", "metadata.nmae", "x", "Additional properties are not allowed ('nmae'"),
    ],
)
def test_schema_violations_are_reported(
    validator: Validator,
    objects: list[dict[str, Any]],
    kind: str,
    path: str,
    value: Any,
    expected: str,
) -> None:
    good = by_kind(objects, kind)[0]
    assert validator.errors(good) == []
    errors = validator.errors(_set(good, path, value))
    assert any(expected in error for error in errors), errors


def test_an_object_of_a_kind_no_schema_describes_fails(validator: Validator) -> None:
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    assert "no schema for Widget" in validator.errors(widget)[0]
    # A known kind at a version no CRD serves is unknown too.
    topic = {"apiVersion": "kafka.strimzi.io/v1alpha9", "kind": "KafkaTopic", "metadata": {}}
    assert "no schema for KafkaTopic" in validator.errors(topic)[0]


def test_fields_a_crd_leaves_open_accept_any_key(
    validator: Validator, objects: list[dict[str, Any]]
) -> None:
    topic = by_kind(objects, "KafkaTopic")[0]
    assert validator.errors(_set(topic, "spec.config", {"any.broker.setting": "1"})) == []


def test_int_or_string_fields_take_both(
    validator: Validator, objects: list[dict[str, Any]]
) -> None:
    monitor = by_kind(objects, "PodMonitor")[0]
    for port in (8001, "metrics"):
        changed = _set(monitor, "spec.podMetricsEndpoints.0.targetPort", port)
        assert validator.errors(changed) == []
    errors = validator.errors(_set(monitor, "spec.podMetricsEndpoints.0.targetPort", 1.5))
    assert errors


# ----------------------------------------------------------------------- pod security


def _api_pod(objects: list[dict[str, Any]]) -> dict[str, Any]:
    spec: dict[str, Any] = one(objects, "Deployment", "-api")["spec"]["template"]["spec"]
    return copy.deepcopy(spec)


def test_the_rendered_api_pod_is_admitted(objects: list[dict[str, Any]]) -> None:
    assert violations(_api_pod(objects)) == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ("no runAsNonRoot", "runAsNonRoot must be true"),
        ("privilege escalation", "allowPrivilegeEscalation must be false"),
        ("keeps capabilities", "capabilities.drop must include ALL"),
        ("adds SYS_ADMIN", "capabilities.add ['SYS_ADMIN']"),
        ("unconfined seccomp", "seccompProfile.type must be RuntimeDefault or Localhost"),
        ("no seccomp", "seccompProfile.type must be RuntimeDefault or Localhost"),
        ("hostPath volume", "type ['hostPath'] is not allowed"),
        ("host network", "hostNetwork must not be true"),
        ("privileged", "privileged must not be true"),
        ("root uid", "runAsUser must not be 0"),
        ("host port", "hostPort 8000 is not allowed"),
        ("unsafe sysctl", "sysctl 'kernel.msgmax' is not in the safe set"),
    ],
)
def test_restricted_profile_violations_are_reported(
    objects: list[dict[str, Any]], change: str, expected: str
) -> None:
    spec = _api_pod(objects)
    pod_ctx, container = spec["securityContext"], spec["containers"][0]
    ctx = container["securityContext"]
    if change == "no runAsNonRoot":
        del pod_ctx["runAsNonRoot"], ctx["runAsNonRoot"]
    elif change == "privilege escalation":
        ctx["allowPrivilegeEscalation"] = True
    elif change == "keeps capabilities":
        del ctx["capabilities"]
    elif change == "adds SYS_ADMIN":
        ctx["capabilities"]["add"] = ["SYS_ADMIN", "NET_BIND_SERVICE"]
    elif change == "unconfined seccomp":
        ctx["seccompProfile"] = {"type": "Unconfined"}
    elif change == "no seccomp":
        del pod_ctx["seccompProfile"], ctx["seccompProfile"]
    elif change == "hostPath volume":
        spec["volumes"].append({"name": "host", "hostPath": {"path": "/"}})
    elif change == "host network":
        spec["hostNetwork"] = True
    elif change == "privileged":
        ctx["privileged"] = True
    elif change == "root uid":
        ctx["runAsUser"] = 0
    elif change == "host port":
        container["ports"][0]["hostPort"] = 8000
    elif change == "unsafe sysctl":
        pod_ctx["sysctls"] = [{"name": "kernel.msgmax", "value": "1"}]
    assert any(expected in problem for problem in violations(spec)), violations(spec)


def test_spark_pods_without_security_contexts_are_reported(
    objects: list[dict[str, Any]],
) -> None:
    app = copy.deepcopy(one(objects, "SparkApplication"))
    assert object_violations(app) == []
    del app["spec"]["executor"]["podSecurityContext"], app["spec"]["executor"]["securityContext"]
    problems = object_violations(app)
    assert problems
    assert all("executor pods" in problem for problem in problems)


def test_strimzi_pods_without_templates_are_reported(objects: list[dict[str, Any]]) -> None:
    kafka = copy.deepcopy(one(objects, "Kafka"))
    assert object_violations(kafka) == []
    del kafka["spec"]["kafka"]["template"]
    assert any("broker pods" in problem for problem in object_violations(kafka))


def test_a_kind_the_checker_does_not_know_fails() -> None:
    with pytest.raises(UnknownKindError, match="Widget"):
        list(pod_specs({"kind": "Widget", "spec": {}}))


# -------------------------------------------------------------------- chart behaviour


def test_values_schema_rejects_an_unknown_key(helm: str) -> None:
    error = render_error(set_values=["api.replicas=2"])
    assert "additional properties 'replicas' not allowed" in error


@pytest.mark.parametrize(
    ("set_values", "expected"),
    [
        (["kafka.create=false"], "kafka.existing.bootstrapServers is required"),
        (["kafka.user.create=true"], "set kafka.listener.authentication=scram-sha-512"),
        (
            ["kafka.create=false", "kafka.existing.bootstrapServers=k:9092"],
            "kafka.topics.create needs a Strimzi cluster",
        ),
        (["kafka.listener.authentication=scram"], "/kafka/listener/authentication"),
        (["stream.serviceAccount.create=false"], "stream.serviceAccount.name is required"),
    ],
)
def test_impossible_combinations_fail_with_what_to_do(
    helm: str, set_values: list[str], expected: str
) -> None:
    assert expected in render_error(set_values=set_values)
