"""The status fixture (tests/support/kube/status.py) writes what the kubelet and the operators
would, and the real API server accepts it: built-in validation for Pods and Deployments, the
CRDs' status schemas with strict field validation for Kafka, KafkaTopic and SparkApplication.
Each object goes healthy, then through each fault, then back to healthy."""

from __future__ import annotations

import re
from typing import Any

import pytest
from kubernetes import client as k8s

from tests.k8s.tools import CHART_DIR
from tests.kube.helm import RELEASE, Helm
from tests.support.kube import status
from tests.support.kube.objects import create_namespace
from tests.support.kube.status import KafkaState, PodState, SparkState, TopicState

pytestmark = pytest.mark.kube


@pytest.fixture(scope="module")
def release(crds: list[str], kube_api: k8s.ApiClient, helm: Helm) -> str:
    """A release of the chart's defaults (a Strimzi cluster it creates, topics, the stream
    SparkApplication), in its own restricted namespace; returns the namespace."""
    namespace = "status"
    create_namespace(kube_api, namespace)
    helm.upgrade_install(namespace, CHART_DIR, install=True)
    return namespace


def condition(obj: dict[str, Any], kind: str) -> dict[str, Any]:
    found = [c for c in obj["status"].get("conditions", []) if c["type"] == kind]
    assert len(found) == 1, obj["status"]
    return found[0]


def container(pod: dict[str, Any]) -> dict[str, Any]:
    statuses: list[dict[str, Any]] = pod["status"]["containerStatuses"]
    return statuses[0]


def test_pods_go_ready_then_through_each_fault(kube_api: k8s.ApiClient, release: str) -> None:
    deployment = f"{RELEASE}-api"
    pod = status.create_deployment_pods(kube_api, release, deployment, replicas=1)[0]

    ready = status.set_pod_state(kube_api, release, pod, PodState.READY)
    assert ready["spec"]["nodeName"] == status.NODE_NAME
    assert ready["status"]["phase"] == "Running"
    assert condition(ready, "Ready")["status"] == "True"
    stored = status.sync_deployment_status(kube_api, release, deployment)
    assert stored["status"]["availableReplicas"] == 1
    assert condition(stored, "Available")["status"] == "True"

    expected_waiting = {
        PodState.CRASH_LOOP: "CrashLoopBackOff",
        PodState.IMAGE_PULL_BACK_OFF: "ImagePullBackOff",
    }
    for fault in (PodState.NOT_READY, PodState.CRASH_LOOP, PodState.IMAGE_PULL_BACK_OFF):
        faulty = status.set_pod_state(kube_api, release, pod, fault)
        assert condition(faulty, "Ready")["status"] == "False", fault
        if fault in expected_waiting:
            assert container(faulty)["state"]["waiting"]["reason"] == expected_waiting[fault]
        stored = status.sync_deployment_status(kube_api, release, deployment)
        assert condition(stored, "Available")["status"] == "False", fault
        assert "availableReplicas" not in stored["status"], fault

    oom = status.set_pod_state(kube_api, release, pod, PodState.OOM_KILLED)
    assert container(oom)["lastState"]["terminated"]["reason"] == "OOMKilled"
    assert container(oom)["restartCount"] > 0

    assert status.set_pod_state(kube_api, release, pod, PodState.READY)["status"]["phase"] == (
        "Running"
    )


def test_unschedulable_pod_stays_pending_and_unbound(kube_api: k8s.ApiClient, release: str) -> None:
    pod = status.create_deployment_pods(kube_api, release, f"{RELEASE}-dashboard", replicas=1)[0]
    # A second call adds a pod to the same ReplicaSet, as a scale-up would.
    other = status.create_deployment_pods(kube_api, release, f"{RELEASE}-dashboard", replicas=1)[0]
    owners = [
        k8s.CoreV1Api(kube_api).read_namespaced_pod(name, release).metadata.owner_references[0].uid
        for name in (pod, other)
    ]
    assert pod != other
    assert owners[0] == owners[1]
    stored = status.set_pod_state(kube_api, release, pod, PodState.UNSCHEDULABLE)
    assert stored["status"]["phase"] == "Pending"
    assert not stored["spec"].get("nodeName")
    scheduled = condition(stored, "PodScheduled")
    assert (scheduled["status"], scheduled["reason"]) == ("False", "Unschedulable")


def test_spark_driver_pod_reports_through_the_same_fixture(
    kube_api: k8s.ApiClient, release: str
) -> None:
    application = f"{RELEASE}-stream"
    pod = status.create_spark_driver_pod(kube_api, release, application)
    assert pod == f"{application}-driver"
    stored = status.set_pod_state(kube_api, release, pod, PodState.CRASH_LOOP)
    assert container(stored)["name"] == "spark-kubernetes-driver"
    assert stored["metadata"]["labels"]["spark-role"] == "driver"

    executor = status.create_spark_executor_pod(kube_api, release, application)
    assert re.fullmatch(rf"{application}-[0-9a-f]{{16}}-exec-1", executor), executor
    stored = status.set_pod_state(kube_api, release, executor, PodState.OOM_KILLED)
    assert container(stored)["name"] == "spark-kubernetes-executor"
    assert stored["metadata"]["labels"]["spark-role"] == "executor"
    assert stored["metadata"]["ownerReferences"][0]["name"] == pod


def test_kafka_goes_ready_then_through_each_fault(kube_api: k8s.ApiClient, release: str) -> None:
    ready = status.set_kafka_state(
        kube_api, release, RELEASE, KafkaState.READY, node_pools=("broker",)
    )
    assert condition(ready, "Ready")["status"] == "True"
    listener = ready["status"]["listeners"][0]
    assert listener["bootstrapServers"] == f"{RELEASE}-kafka-bootstrap.{release}.svc:9092"
    assert ready["status"]["kafkaNodePools"] == [{"name": "broker"}]

    for fault, reason in (
        (KafkaState.CREATING, "Creating"),
        (KafkaState.NOT_READY, "TimeoutException"),
    ):
        faulty = status.set_kafka_state(kube_api, release, RELEASE, fault)
        not_ready = condition(faulty, "NotReady")
        assert (not_ready["status"], not_ready["reason"]) == ("True", reason)
        assert not [c for c in faulty["status"]["conditions"] if c["type"] == "Ready"]

    again = status.set_kafka_state(kube_api, release, RELEASE, KafkaState.READY)
    assert condition(again, "Ready")["status"] == "True"


def test_kafka_topics_go_ready_then_through_each_fault(
    kube_api: k8s.ApiClient, release: str
) -> None:
    topics = k8s.CustomObjectsApi(kube_api).list_namespaced_custom_object(
        status.STRIMZI_GROUP, status.STRIMZI_VERSION, release, "kafkatopics"
    )["items"]
    assert topics, "the chart's defaults create KafkaTopics"
    for topic in topics:
        name = topic["metadata"]["name"]
        ready = status.set_kafka_topic_state(kube_api, release, name, TopicState.READY)
        assert condition(ready, "Ready")["status"] == "True"
        assert ready["status"]["topicName"] == topic["spec"]["topicName"]
        for fault in status.TOPIC_FAULTS:
            faulty = status.set_kafka_topic_state(kube_api, release, name, fault)
            assert (condition(faulty, "Ready")["status"], condition(faulty, "Ready")["reason"]) == (
                "False",
                str(fault),
            )
        # A KafkaError that could happen to this topic: Kafka refuses a replication factor
        # (the topic's own) above the brokers registered.
        message = condition(
            status.set_kafka_topic_state(kube_api, release, name, TopicState.KAFKA_ERROR), "Ready"
        )["message"]
        wanted = topic["spec"]["replicas"]
        match = re.search(
            r"partition (\d+) time\(s\): The target replication factor of (\d+) cannot be "
            r"reached because only (\d+) broker\(s\) are registered",
            message,
        )
        assert match, message
        assert int(match[1]) == int(match[2]) == wanted > int(match[3]), message


def test_spark_application_goes_running_then_through_each_fault(
    kube_api: k8s.ApiClient, release: str
) -> None:
    name = f"{RELEASE}-stream"
    running = status.set_spark_application_state(kube_api, release, name, SparkState.RUNNING)
    assert running["status"]["applicationState"] == {"state": "RUNNING"}
    assert running["status"]["driverInfo"]["podName"] == f"{name}-driver"
    assert set(running["status"]["executorState"].values()) == {"RUNNING"}
    # Keyed by executor pod name, as Spark names the pods: <app>-<16 hex>-exec-<n>.
    assert all(
        re.fullmatch(rf"{name}-[0-9a-f]{{16}}-exec-\d+", key)
        for key in running["status"]["executorState"]
    ), running["status"]["executorState"]

    for fault in status.SPARK_FAULTS:
        faulty = status.set_spark_application_state(kube_api, release, name, fault)
        assert faulty["status"]["applicationState"]["state"] == str(fault)
        if fault in (SparkState.FAILED, SparkState.SUBMISSION_FAILED, SparkState.PENDING_RERUN):
            assert faulty["status"]["applicationState"]["errorMessage"]


def test_a_status_the_crd_does_not_define_is_refused(kube_api: k8s.ApiClient, release: str) -> None:
    """The guard behind every ``set_*``: strict field validation on the status subresource."""
    kafka = status.get_custom_object(
        kube_api, status.STRIMZI_GROUP, status.STRIMZI_VERSION, release, "kafkas", RELEASE
    )
    kafka["status"] = {"conditions": [{"type": "Ready", "status": "True", "severity": "high"}]}
    with pytest.raises(k8s.ApiException) as refused:
        k8s.CustomObjectsApi(kube_api).replace_namespaced_custom_object_status(
            status.STRIMZI_GROUP,
            status.STRIMZI_VERSION,
            release,
            "kafkas",
            RELEASE,
            kafka,
            field_validation="Strict",
        )
    assert refused.value.status == 400
    assert "severity" in refused.value.body
