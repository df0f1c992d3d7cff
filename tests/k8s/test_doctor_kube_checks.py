"""The ``doctor --kube`` rules, each on objects shaped as the API server serves them.

Pods carry the statuses the kubelet writes (k8s.io/api core/v1 PodStatus: the Ready,
ContainersReady, PodScheduled conditions; waiting reasons CrashLoopBackOff and ImagePullBackOff,
terminated reason OOMKilled are the kubelet's own strings); Strimzi, Spark operator and
Prometheus operator objects carry the statuses their operators write. Every fixture is first
validated, status included, against the Kubernetes 1.35 schema or the CRD in shared/crds, so a
rule cannot pass on a shape no cluster would serve.
"""

from __future__ import annotations

import copy
import functools
from typing import Any

from cryptopulse_local.doctor.kube_checks import (
    assess_kafka,
    assess_pod,
    assess_pods,
    assess_spark,
    assess_targets,
    error_lines,
)
from cryptopulse_local.doctor.report import Status
from tests.k8s.render import KUBE_VERSION
from tests.k8s.schemas import Validator

NOW = "2026-11-30T12:00:00Z"
NAMESPACE = "cryptopulse"
INSTANCE = {"app.kubernetes.io/instance": "cryptopulse"}


@functools.cache
def validator() -> Validator:
    return Validator.create(KUBE_VERSION)


def valid(obj: dict[str, Any]) -> dict[str, Any]:
    """``obj``, once the API server's schema (or its CRD's) accepts it, status included."""
    errors = validator().errors(obj)
    assert not errors, errors
    return obj


def condition(kind: str, status: bool, reason: str = "", message: str = "") -> dict[str, Any]:
    found: dict[str, Any] = {
        "type": kind,
        "status": "True" if status else "False",
        "lastTransitionTime": NOW,
    }
    if reason:
        found["reason"] = reason
    if message:
        found["message"] = message
    return found


def pod(
    name: str = "cryptopulse-api-7d9c-x2x4z",
    component: str = "api",
    ready: bool = True,
    state: dict[str, Any] | None = None,
    last_state: dict[str, Any] | None = None,
    restarts: int = 0,
    phase: str = "Running",
) -> dict[str, Any]:
    """A pod as the kubelet reports it: one container, ``state``/``last_state`` as given."""
    container_ready = ready
    unready = "" if ready else "containers with unready status: [api]"
    return valid(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": name,
                "namespace": NAMESPACE,
                "labels": {**INSTANCE, "app.kubernetes.io/component": component},
            },
            "spec": {"containers": [{"name": component, "image": f"cryptopulse/{component}:1"}]},
            "status": {
                "phase": phase,
                "qosClass": "Burstable",
                "hostIP": "10.89.0.2",
                "podIP": "10.244.0.7",
                "startTime": NOW,
                "conditions": [
                    condition("PodReadyToStartContainers", True),
                    condition("Initialized", True),
                    condition("Ready", ready, "" if ready else "ContainersNotReady", unready),
                    condition(
                        "ContainersReady", ready, "" if ready else "ContainersNotReady", unready
                    ),
                    condition("PodScheduled", True),
                ],
                "containerStatuses": [
                    {
                        "name": component,
                        "image": f"cryptopulse/{component}:1",
                        "imageID": f"docker.io/cryptopulse/{component}@sha256:" + "a" * 64,
                        "containerID": "containerd://" + "b" * 64,
                        "ready": container_ready,
                        "started": state is None or "running" in state,
                        "restartCount": restarts,
                        "state": state or {"running": {"startedAt": NOW}},
                        "lastState": last_state or {},
                    }
                ],
            },
        }
    )


def crash_loop(exit_code: int = 1, reason: str = "Error") -> dict[str, Any]:
    return pod(
        ready=False,
        restarts=6,
        state={
            "waiting": {
                "reason": "CrashLoopBackOff",
                "message": "back-off 5m0s restarting failed container=api "
                "pod=cryptopulse-api-7d9c-x2x4z_cryptopulse(8e0a)",
            }
        },
        last_state={
            "terminated": {
                "exitCode": exit_code,
                "reason": reason,
                "startedAt": NOW,
                "finishedAt": NOW,
            }
        },
    )


def test_a_ready_pod_passes() -> None:
    assert assess_pods("api", [pod()]).status is Status.PASS


def test_a_crash_loop_names_the_previous_log_and_its_errors() -> None:
    logs = [
        "12:00:01 [api] INFO    serving",
        '{"ts":"…","level":"error","service":"api","msg":"cannot bind 0.0.0.0:8000"}',
    ]
    finding = assess_pods("api", [crash_loop()], {"cryptopulse-api-7d9c-x2x4z": logs})
    assert finding.status is Status.FAIL
    assert "crash-looping (6 restarts; last exit code 1 (Error))" in finding.summary
    assert "--previous" in (finding.fix or "")
    assert any("cannot bind" in item for item in finding.evidence)


def test_a_crash_loop_after_oom_asks_for_memory() -> None:
    finding = assess_pod(crash_loop(137, "OOMKilled"))
    assert finding.status is Status.FAIL
    assert "limits.memory" in (finding.fix or "")


def test_an_image_that_cannot_be_pulled() -> None:
    stuck = pod(
        ready=False,
        phase="Pending",
        state={
            "waiting": {
                "reason": "ImagePullBackOff",
                "message": 'Back-off pulling image "cryptopulse/api:1"',
            }
        },
    )
    finding = assess_pod(stuck)
    assert finding.status is Status.FAIL
    assert "cannot pull its image cryptopulse/api:1" in finding.summary
    assert "k8s-build-images.sh --kind" in (finding.fix or "")


def test_an_unschedulable_pod() -> None:
    pending = pod(ready=False, phase="Pending")
    pending["status"] = {
        "phase": "Pending",
        "qosClass": "Burstable",
        "conditions": [
            condition(
                "PodScheduled",
                False,
                "Unschedulable",
                "0/1 nodes are available: 1 Insufficient memory.",
            )
        ],
    }
    finding = assess_pod(valid(pending))
    assert finding.status is Status.FAIL
    assert "Insufficient memory" in finding.summary


def test_running_but_not_ready() -> None:
    finding = assess_pod(pod(ready=False))
    assert finding.status is Status.FAIL
    assert "not Ready (containers with unready status: [api])" in finding.summary


def test_ready_after_an_oom_kill_warns() -> None:
    restarted = pod(
        restarts=3,
        last_state={
            "terminated": {
                "exitCode": 137,
                "reason": "OOMKilled",
                "startedAt": NOW,
                "finishedAt": NOW,
            }
        },
    )
    finding = assess_pod(restarted)
    assert finding.status is Status.WARN
    assert "OOMKilled" in finding.summary
    assert "memory" in (finding.fix or "")


def test_no_pod_at_all() -> None:
    assert assess_pods("producer", []).status is Status.FAIL


def test_error_lines_keep_the_last_errors_only() -> None:
    lines = ["INFO ok", "ERROR one", "WARN x", "Traceback (most recent call last):", "ERROR two"]
    assert error_lines(lines, limit=2) == ["Traceback (most recent call last):", "ERROR two"]


# ---------------------------------------------------------------------------------- Strimzi --


def strimzi(kind: str, name: str, status: dict[str, Any] | None, **spec: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "kafka.strimzi.io/v1",
        "kind": kind,
        "metadata": {
            "name": name,
            "namespace": NAMESPACE,
            "generation": 1,
            "labels": {**INSTANCE, "strimzi.io/cluster": "cryptopulse"},
        },
        "spec": spec,
    }
    if status is not None:
        obj["status"] = status
    return valid(obj)


KAFKA_SPEC: dict[str, Any] = {
    "kafka": {
        "version": "4.3.0",
        "listeners": [{"name": "plain", "port": 9092, "type": "internal", "tls": False}],
    },
    "entityOperator": {"topicOperator": {}, "userOperator": {}},
}


def kafka(status: dict[str, Any] | None) -> dict[str, Any]:
    return strimzi("Kafka", "cryptopulse", status, **copy.deepcopy(KAFKA_SPEC))


READY_KAFKA = {
    "observedGeneration": 1,
    "conditions": [condition("Ready", True)],
    "kafkaVersion": "4.3.0",
    "clusterId": "2kbt3kVWQQ2w9aoC9UtaCQ",
    "operatorLastSuccessfulVersion": "1.2.0",
}


def node_pool() -> dict[str, Any]:
    return strimzi(
        "KafkaNodePool",
        "dual-role",
        {"observedGeneration": 1, "replicas": 1, "nodeIds": [0], "roles": ["controller", "broker"]},
        replicas=1,
        roles=["controller", "broker"],
        storage={"type": "ephemeral"},
    )


def topic(status: dict[str, Any] | None) -> dict[str, Any]:
    return strimzi(
        "KafkaTopic",
        "cryptopulse-crypto-market-data",
        status,
        topicName="crypto_market_data",
        partitions=3,
        replicas=3,
    )


READY_TOPIC = {
    "observedGeneration": 1,
    "topicName": "crypto_market_data",
    "topicId": "Xy1uWw7bT3iX9k2Zb8mN2A",
    "conditions": [condition("Ready", True)],
}


def test_a_ready_cluster_with_its_topics_passes() -> None:
    finding = assess_kafka([kafka(READY_KAFKA)], [node_pool()], [topic(READY_TOPIC)], [])
    assert finding.status is Status.PASS, finding


def test_a_cluster_still_being_created() -> None:
    creating = {
        "conditions": [
            condition("NotReady", True, "Creating", "Kafka cluster is being deployed"),
        ]
    }
    finding = assess_kafka([kafka(creating)], [], [], [])
    assert finding.status is Status.FAIL
    assert "still being created" in finding.summary


def test_a_failed_reconciliation_says_its_reason() -> None:
    failed = {
        "observedGeneration": 1,
        "conditions": [
            condition(
                "NotReady",
                True,
                "TimeoutException",
                "Exceeded timeout of 300000ms while waiting for Pods resource "
                "cryptopulse-dual-role-0 in namespace cryptopulse to be ready",
            )
        ],
    }
    finding = assess_kafka([kafka(failed)], [node_pool()], [], [])
    assert finding.status is Status.FAIL
    assert "TimeoutException" in finding.summary


def test_a_topic_with_more_replicas_than_brokers() -> None:
    refused = {
        "observedGeneration": 1,
        "topicName": "crypto_market_data",
        "conditions": [
            condition(
                "Ready",
                False,
                "KafkaError",
                "org.apache.kafka.common.errors.InvalidReplicationFactorException: Unable to "
                "replicate the partition 3 time(s): The target replication factor of 3 cannot "
                "be reached because only 1 broker(s) are registered.",
            )
        ],
    }
    finding = assess_kafka([kafka(READY_KAFKA)], [node_pool()], [topic(refused)], [])
    assert finding.status is Status.FAIL
    assert "kafka.topics.replicas" in (finding.fix or "")


def test_a_topic_no_operator_watches() -> None:
    finding = assess_kafka([kafka(READY_KAFKA)], [node_pool()], [topic(None)], [])
    assert finding.status is Status.FAIL
    assert "no Strimzi operator has seen it" in finding.summary
    assert "kafka.existing.namespace" in (finding.fix or "")


def test_an_unready_user() -> None:
    user = strimzi(
        "KafkaUser",
        "cryptopulse-kafka-user",
        {
            "observedGeneration": 1,
            "conditions": [
                condition("Ready", False, "InvalidResourceException", "Simple authorization ...")
            ],
        },
        authentication={"type": "scram-sha-512"},
    )
    finding = assess_kafka([kafka(READY_KAFKA)], [node_pool()], [topic(READY_TOPIC)], [user])
    assert finding.status is Status.FAIL
    assert "KafkaUser cryptopulse-kafka-user" in finding.summary


def test_no_strimzi_object_is_an_external_cluster() -> None:
    assert assess_kafka([], [], [], []).status is Status.SKIP


# ------------------------------------------------------------------------------------ Spark --


def spark_application(status: dict[str, Any] | None) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "sparkoperator.k8s.io/v1beta2",
        "kind": "SparkApplication",
        "metadata": {"name": "cryptopulse-stream", "namespace": NAMESPACE, "labels": INSTANCE},
        "spec": {
            "type": "Python",
            "mode": "cluster",
            "sparkVersion": "4.2.0",
            "mainApplicationFile": "local:///opt/cryptopulse/stream_main.py",
            "driver": {"cores": 1, "memory": "1g"},
            "executor": {"instances": 1, "cores": 1, "memory": "1g"},
        },
    }
    if status is not None:
        obj["status"] = status
    return valid(obj)


def spark_status(state: str, error: str = "") -> dict[str, Any]:
    found: dict[str, Any] = {
        "applicationState": {"state": state},
        "driverInfo": {"podName": "cryptopulse-stream-driver", "webUIPort": 4040},
        "executorState": {"cryptopulse-stream-exec-1": "RUNNING"},
        "submissionAttempts": 1,
        "executionAttempts": 1,
        "lastSubmissionAttemptTime": NOW,
        "sparkApplicationId": "spark-0c5d",
        "submissionID": "6c8e",
    }
    if error:
        found["applicationState"]["errorMessage"] = error
    return found


def driver(ready: bool = True) -> dict[str, Any]:
    return pod("cryptopulse-stream-driver", "stream", ready=ready)


def test_a_running_application_with_a_ready_driver_passes() -> None:
    finding = assess_spark([spark_application(spark_status("RUNNING"))], driver())
    assert finding.status is Status.PASS, finding


def test_a_failed_application_says_the_operators_message() -> None:
    failed = spark_status("FAILED", "driver container failed with ExitCode: 1, Reason: Error")
    finding = assess_spark([spark_application(failed)], driver(ready=False))
    assert finding.status is Status.FAIL
    assert "FAILED: driver container failed with ExitCode: 1" in finding.summary


def test_a_submitted_application_is_starting() -> None:
    finding = assess_spark([spark_application(spark_status("SUBMITTED"))], None)
    assert finding.status is Status.WARN


def test_an_application_no_operator_picked_up() -> None:
    finding = assess_spark([spark_application(None)], None)
    assert finding.status is Status.FAIL
    assert "spark.jobNamespaces" in (finding.fix or "")


def test_no_application() -> None:
    assert assess_spark([], None).status is Status.FAIL


# ------------------------------------------------------------------------------- Prometheus --


def pod_monitor() -> dict[str, Any]:
    return valid(
        {
            "apiVersion": "monitoring.coreos.com/v1",
            "kind": "PodMonitor",
            "metadata": {
                "name": "cryptopulse-producer",
                "namespace": NAMESPACE,
                "labels": INSTANCE,
            },
            "spec": {
                "selector": {"matchLabels": {"app.kubernetes.io/component": "producer"}},
                "podMetricsEndpoints": [{"port": "metrics", "path": "/metrics"}],
            },
        }
    )


def targets(health: str, last_error: str = "") -> dict[str, Any]:
    """Prometheus' /api/v1/targets answer with one target of the PodMonitor."""
    return {
        "status": "success",
        "data": {
            "activeTargets": [
                {
                    "discoveredLabels": {},
                    "labels": {"job": "cryptopulse/cryptopulse-producer", "namespace": NAMESPACE},
                    "scrapePool": f"podMonitor/{NAMESPACE}/cryptopulse-producer/0",
                    "scrapeUrl": "http://10.244.0.9:8001/metrics",
                    "globalUrl": "http://10.244.0.9:8001/metrics",
                    "lastError": last_error,
                    "lastScrape": NOW,
                    "lastScrapeDuration": 0.004,
                    "health": health,
                    "scrapeInterval": "30s",
                    "scrapeTimeout": "10s",
                }
            ],
            "droppedTargets": [],
        },
    }


def test_targets_up_pass() -> None:
    assert assess_targets([pod_monitor()], targets("up")).status is Status.PASS


def test_a_target_down_says_prometheus_error() -> None:
    finding = assess_targets(
        [pod_monitor()], targets("down", 'Get "http://10.244.0.9:8001/metrics": connection refused')
    )
    assert finding.status is Status.FAIL
    assert "connection refused" in finding.summary


def test_a_monitor_prometheus_does_not_select() -> None:
    empty = {"status": "success", "data": {"activeTargets": [], "droppedTargets": []}}
    finding = assess_targets([pod_monitor()], empty)
    assert finding.status is Status.FAIL
    assert "serviceMonitorSelector" in (finding.fix or "")


def test_monitors_without_a_prometheus_warn() -> None:
    assert assess_targets([pod_monitor()], None).status is Status.WARN


def test_no_monitor_is_skipped() -> None:
    assert assess_targets([], None).status is Status.SKIP
