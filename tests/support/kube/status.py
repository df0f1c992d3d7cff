"""Statuses as the cluster's other writers would set them, for a control plane that has only an
API server: the kubelet (Pod status), the scheduler (Binding), kube-controller-manager's
deployment and ReplicaSet controllers (ReplicaSet, Pods, Deployment status), Strimzi's cluster and
topic operators (Kafka, KafkaTopic status) and the Spark operator (SparkApplication status).

Each ``set_*`` function writes the object's ``status`` subresource through the real API server
(custom resources with ``fieldValidation=Strict``, so a shape the CRD does not define is refused,
not silently pruned) and returns the object as stored. Healthy first, then one fault at a time::

    pods = create_deployment_pods(api, "ns", "cryptopulse-api")   # ReplicaSet + Pods, admitted
    driver = create_spark_driver_pod(api, "ns", "cryptopulse-stream")
    executor = create_spark_executor_pod(api, "ns", "cryptopulse-stream")  # owned by the driver
    set_pod_state(api, "ns", pods[0], PodState.READY)
    set_pod_state(api, "ns", pods[0], PodState.CRASH_LOOP)
    sync_deployment_status(api, "ns", "cryptopulse-api")          # availableReplicas from pods
    set_kafka_state(api, "ns", "cryptopulse", KafkaState.READY)
    set_kafka_topic_state(api, "ns", "crypto-market-data", TopicState.KAFKA_ERROR)
    set_spark_application_state(api, "ns", "cryptopulse-stream", SparkState.FAILED)

Where each shape comes from:
- Pod: ``k8s.io/api/core/v1`` PodStatus as the kubelet's status manager fills it (conditions
  PodReadyToStartContainers, Initialized, ContainersReady, Ready; PodScheduled is set by the
  Binding); waiting reasons CrashLoopBackOff and ImagePullBackOff and terminated reason OOMKilled
  are the kubelet's own strings; Unschedulable is the scheduler's PodScheduled=False reason.
- Kafka: Strimzi 1.2.0 ``StatusUtils`` and ``KafkaAssemblyOperator``: Ready=True on success;
  NotReady=True with reason ``Creating`` ("Kafka cluster is being deployed") first, or with the
  exception's class name as reason when a reconciliation fails.
- KafkaTopic: Strimzi's ``BatchingTopicController``: Ready=True, or Ready=False with a
  ``TopicOperatorException.Reason`` (KafkaError, ResourceConflict, NotSupported, InternalError);
  a KafkaError's message is the Kafka exception as Kafka 4.3 words it.
- SparkApplication: spark-operator v2.5.2 ``api/v1beta2`` ``SparkApplicationStatus`` and
  ``ApplicationStateType`` (SUBMITTED, RUNNING, FAILED, SUBMISSION_FAILED, PENDING_RERUN, ...).
"""

from __future__ import annotations

import datetime
import hashlib
import secrets
import uuid
from enum import StrEnum
from typing import Any

from kubernetes import client as k8s

from tests.support.kube.objects import body

NODE_NAME = "cryptopulse-node-1"
NODE_IP = "10.89.0.2"
POD_CIDR_PREFIX = "10.244.0."

STRIMZI_GROUP, STRIMZI_VERSION = "kafka.strimzi.io", "v1"
SPARK_GROUP, SPARK_VERSION = "sparkoperator.k8s.io", "v1beta2"
STRIMZI_OPERATOR_VERSION = "1.2.0"
SPARK_UI_PORT = 4040  # Spark's default spark.ui.port: the operator's UI Service targets it


class PodState(StrEnum):
    """The pod states a diagnosis tells apart; the value is the reason a user sees."""

    READY = "Ready"
    NOT_READY = "NotReady"  # running, readiness probe failing
    CRASH_LOOP = "CrashLoopBackOff"
    IMAGE_PULL_BACK_OFF = "ImagePullBackOff"
    OOM_KILLED = "OOMKilled"  # restarted after the kernel's OOM killer, running again
    UNSCHEDULABLE = "Unschedulable"
    SUCCEEDED = "Succeeded"  # restartPolicy Never/OnFailure pods: a `helm test` pod that passed
    FAILED = "Failed"


POD_FAULTS = (
    PodState.NOT_READY,
    PodState.CRASH_LOOP,
    PodState.IMAGE_PULL_BACK_OFF,
    PodState.OOM_KILLED,
    PodState.UNSCHEDULABLE,
)


class KafkaState(StrEnum):
    READY = "Ready"
    CREATING = "Creating"  # the first reconciliation is still deploying the cluster
    NOT_READY = "NotReady"  # a reconciliation failed (here: brokers not ready in time)


KAFKA_FAULTS = (KafkaState.CREATING, KafkaState.NOT_READY)


class TopicState(StrEnum):
    READY = "Ready"
    KAFKA_ERROR = "KafkaError"
    RESOURCE_CONFLICT = "ResourceConflict"


TOPIC_FAULTS = (TopicState.KAFKA_ERROR, TopicState.RESOURCE_CONFLICT)


class SparkState(StrEnum):
    """spark-operator's ApplicationStateType values (api/v1beta2/sparkapplication_types.go)."""

    SUBMITTED = "SUBMITTED"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    SUBMISSION_FAILED = "SUBMISSION_FAILED"
    PENDING_RERUN = "PENDING_RERUN"
    UNKNOWN = "UNKNOWN"


SPARK_FAULTS = (
    SparkState.FAILED,
    SparkState.SUBMISSION_FAILED,
    SparkState.PENDING_RERUN,
    SparkState.UNKNOWN,
)


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _serialize(api: k8s.ApiClient, obj: Any) -> dict[str, Any]:
    result: dict[str, Any] = api.sanitize_for_serialization(obj)
    return result


# ------------------------------------------------------------------------------ nodes & pods --


def ensure_node(api: k8s.ApiClient, name: str = NODE_NAME) -> dict[str, Any]:
    """A Node with a Ready status, as a kubelet registers itself and posts its status."""
    core = k8s.CoreV1Api(api)
    try:
        node = core.read_node(name)
    except k8s.ApiException as error:
        if error.status != 404:
            raise
        node = core.create_node(
            body(
                {
                    "metadata": {
                        "name": name,
                        "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux"},
                    }
                }
            )
        )
    node_body = _serialize(api, node)
    node_body["status"] = {
        "capacity": {"cpu": "4", "memory": "16Gi", "pods": "110"},
        "allocatable": {"cpu": "4", "memory": "16Gi", "pods": "110"},
        "addresses": [
            {"type": "InternalIP", "address": NODE_IP},
            {"type": "Hostname", "address": name},
        ],
        "conditions": [
            {
                "type": "Ready",
                "status": "True",
                "reason": "KubeletReady",
                "message": "kubelet is posting ready status",
                "lastHeartbeatTime": _now(),
                "lastTransitionTime": _now(),
            }
        ],
        "nodeInfo": {
            "architecture": "amd64",
            "bootID": "",
            "containerRuntimeVersion": "containerd://2.1.0",
            "kernelVersion": "6.1.0",
            "kubeProxyVersion": "",
            "kubeletVersion": "v1.35.0",
            "machineID": "",
            "operatingSystem": "linux",
            "osImage": "Debian GNU/Linux 13",
            "systemUUID": "",
        },
    }
    return _serialize(api, core.replace_node_status(name, body(node_body)))


def _template_hash(template: dict[str, Any]) -> str:
    digest = hashlib.sha256(repr(sorted(template.items())).encode()).hexdigest()
    return digest[:10]


def create_deployment_pods(
    api: k8s.ApiClient, namespace: str, deployment: str, replicas: int | None = None
) -> list[str]:
    """Create the ReplicaSet and Pods of Deployment ``namespace/deployment`` as the deployment
    and ReplicaSet controllers would (owner references, ``pod-template-hash`` label, the
    template's spec): admission, Pod Security included, judges each Pod. Returns the pod names.

    Raises ``kubernetes.client.ApiException`` as the API server answers (403 from PodSecurity).
    """
    apps, core = k8s.AppsV1Api(api), k8s.CoreV1Api(api)
    owner = _serialize(api, apps.read_namespaced_deployment(deployment, namespace))
    template = owner["spec"]["template"]
    pod_hash = _template_hash(template)
    labels = {**template["metadata"].get("labels", {}), "pod-template-hash": pod_hash}
    count = owner["spec"].get("replicas", 1) if replicas is None else replicas
    replica_set_body: dict[str, Any] = {
        "metadata": {
            "name": f"{deployment}-{pod_hash}",
            "labels": labels,
            "ownerReferences": [_owner(owner, "apps/v1", "Deployment")],
        },
        "spec": {
            "replicas": count,
            "selector": {
                "matchLabels": {
                    **owner["spec"]["selector"]["matchLabels"],
                    "pod-template-hash": pod_hash,
                }
            },
            "template": {**template, "metadata": {**template["metadata"], "labels": labels}},
        },
    }
    try:
        replica_set = apps.create_namespaced_replica_set(namespace, body(replica_set_body))
    except k8s.ApiException as error:
        if error.status != 409:  # created by an earlier call for the same template
            raise
        replica_set = apps.read_namespaced_replica_set(
            replica_set_body["metadata"]["name"], namespace
        )
    rs = _serialize(api, replica_set)
    names = []
    for _ in range(count):
        pod = core.create_namespaced_pod(
            namespace,
            body(
                {
                    "metadata": {
                        "generateName": f"{rs['metadata']['name']}-",
                        "labels": labels,
                        "annotations": template["metadata"].get("annotations", {}),
                        "ownerReferences": [_owner(rs, "apps/v1", "ReplicaSet")],
                    },
                    "spec": template["spec"],
                }
            ),
        )
        names.append(str(_serialize(api, pod)["metadata"]["name"]))
    return names


def create_spark_driver_pod(api: k8s.ApiClient, namespace: str, application: str) -> str:
    """Create the driver Pod of SparkApplication ``namespace/application`` with the fields
    spark-submit takes from the application (image, service account, labels, security
    contexts, env, volumes and mounts, the driver container name ``spark-kubernetes-driver``)
    and the operator's labels; returns its name (``<application>-driver``).

    Not every field spark-submit adds is here (its config-map volume, ports, resource limits):
    enough for Pod Security admission and for a diagnosis that reads the driver's status.
    """
    app = get_custom_object(
        api, SPARK_GROUP, SPARK_VERSION, namespace, "sparkapplications", application
    )
    labels = {
        "spark-role": "driver",
        "spark-app-selector": f"spark-{uuid.uuid4().hex}",
        "sparkoperator.k8s.io/submission-id": str(uuid.uuid4()),
    }
    owner = _owner(app, f"{SPARK_GROUP}/{SPARK_VERSION}", "SparkApplication")
    return _create_spark_pod(api, namespace, app, "driver", f"{application}-driver", labels, owner)


def spark_executor_pod_name(application: str, index: int, prefix_id: str | None = None) -> str:
    """An executor pod's name as Spark gives it: the resource name prefix (the application's
    name and ``KubernetesUtils.uniqueID()``, 16 hex digits) then ``-exec-<index>``."""
    return f"{application}-{prefix_id or secrets.token_hex(8)}-exec-{index}"


def create_spark_executor_pod(
    api: k8s.ApiClient, namespace: str, application: str, index: int = 1
) -> str:
    """Create executor ``index`` of SparkApplication ``namespace/application`` as its driver
    does (Spark's ``ExecutorPodsAllocator``, with the executor settings the operator passes):
    the executor spec's image, service account, labels, security contexts, env, volumes and
    mounts, the container ``spark-kubernetes-executor``, owned by the driver pod (create that
    first). Returns its name (:func:`spark_executor_pod_name`).

    Raises ``kubernetes.client.ApiException`` as the API server answers (404 without a driver
    pod, 403 from PodSecurity).
    """
    app = get_custom_object(
        api, SPARK_GROUP, SPARK_VERSION, namespace, "sparkapplications", application
    )
    driver = _serialize(
        api, k8s.CoreV1Api(api).read_namespaced_pod(f"{application}-driver", namespace)
    )
    labels = {
        "spark-role": "executor",
        "spark-exec-id": str(index),
        "spark-app-selector": driver["metadata"]["labels"]["spark-app-selector"],
    }
    name = spark_executor_pod_name(application, index)
    return _create_spark_pod(
        api, namespace, app, "executor", name, labels, _owner(driver, "v1", "Pod")
    )


def _create_spark_pod(
    api: k8s.ApiClient,
    namespace: str,
    app: dict[str, Any],
    role: str,
    name: str,
    labels: dict[str, str],
    owner: dict[str, Any],
) -> str:
    spec, role_spec = app["spec"], app["spec"][role]
    mounts = role_spec.get("volumeMounts", [])
    mounted = {mount["name"] for mount in mounts}
    args = ["driver", "--properties-file", "/opt/spark/conf/spark.properties"]
    container: dict[str, Any] = {
        "name": f"spark-kubernetes-{role}",
        "image": role_spec.get("image") or spec["image"],
        "imagePullPolicy": spec.get("imagePullPolicy", "IfNotPresent"),
        "args": args if role == "driver" else ["executor"],
        "env": role_spec.get("env", []),
        "envFrom": role_spec.get("envFrom", []),
        "volumeMounts": mounts,
        "securityContext": role_spec.get("securityContext", {}),
    }
    pod = k8s.CoreV1Api(api).create_namespaced_pod(
        namespace,
        body(
            {
                "metadata": {
                    "name": name,
                    "labels": {
                        **role_spec.get("labels", {}),
                        **labels,
                        "sparkoperator.k8s.io/app-name": app["metadata"]["name"],
                        "sparkoperator.k8s.io/launched-by-spark-operator": "true",
                    },
                    "annotations": role_spec.get("annotations", {}),
                    "ownerReferences": [owner],
                },
                "spec": {
                    "restartPolicy": "Never",
                    "serviceAccountName": role_spec.get("serviceAccount", "default"),
                    "securityContext": role_spec.get("podSecurityContext", {}),
                    "containers": [container],
                    "volumes": [v for v in spec.get("volumes", []) if v["name"] in mounted],
                },
            }
        ),
    )
    return str(_serialize(api, pod)["metadata"]["name"])


def _owner(obj: dict[str, Any], api_version: str, kind: str) -> dict[str, Any]:
    return {
        "apiVersion": api_version,
        "kind": kind,
        "name": obj["metadata"]["name"],
        "uid": obj["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def bind_pod(api: k8s.ApiClient, namespace: str, name: str, node: str = NODE_NAME) -> None:
    """Assign the pod to ``node`` through the ``pods/binding`` subresource, as the scheduler
    does (the API server sets ``spec.nodeName`` and PodScheduled=True)."""
    # _preload_content=False: the client cannot deserialize the Status the API server answers
    # (the stubs do not list this keyword every generated method takes).
    k8s.CoreV1Api(api).create_namespaced_pod_binding(  # type: ignore[call-arg]
        name,
        namespace,
        body(
            {
                "apiVersion": "v1",
                "kind": "Binding",
                "metadata": {"name": name},
                "target": {"apiVersion": "v1", "kind": "Node", "name": node},
            }
        ),
        _preload_content=False,
    )


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _pod_ip(name: str) -> str:
    return POD_CIDR_PREFIX + str(int(_digest(name), 16) % 250 + 2)


def _container_id() -> str:
    return f"containerd://{secrets.token_hex(32)}"


def _condition(kind: str, status: bool, reason: str = "", message: str = "") -> dict[str, Any]:
    condition: dict[str, Any] = {
        "type": kind,
        "status": "True" if status else "False",
        "lastProbeTime": None,
        "lastTransitionTime": _now(),
    }
    if reason:
        condition["reason"] = reason
    if message:
        condition["message"] = message
    return condition


def pod_status(pod: dict[str, Any], state: PodState) -> dict[str, Any]:
    """The ``status`` a kubelet (or, for UNSCHEDULABLE, the scheduler) writes for ``pod`` in
    ``state``; ``pod`` is the stored object (its spec names the containers)."""
    containers = [c["name"] for c in pod["spec"]["containers"]]
    images = {c["name"]: c["image"] for c in pod["spec"]["containers"]}
    now = _now()
    if state is PodState.UNSCHEDULABLE:
        return {
            "phase": "Pending",
            "qosClass": pod.get("status", {}).get("qosClass", "Burstable"),
            "conditions": [
                _condition(
                    "PodScheduled",
                    False,
                    "Unschedulable",
                    "0/1 nodes are available: 1 Insufficient memory. preemption: 0/1 nodes are "
                    "available: 1 No preemption victims found for incoming pod.",
                )
            ],
        }

    def status_of(name: str) -> dict[str, Any]:
        base: dict[str, Any] = {
            "name": name,
            "image": images[name],
            "imageID": f"{images[name].split('@')[0]}@sha256:{_digest(images[name])}",
            "containerID": _container_id(),
            "restartCount": 0,
            "ready": False,
            "started": False,
            "state": {},
            "lastState": {},
        }
        if state in (PodState.READY, PodState.NOT_READY):
            base.update(
                ready=state is PodState.READY, started=True, state={"running": {"startedAt": now}}
            )
        elif state is PodState.CRASH_LOOP:
            base.update(
                restartCount=6,
                state={
                    "waiting": {
                        "reason": "CrashLoopBackOff",
                        "message": (
                            f"back-off 5m0s restarting failed container={name} "
                            f"pod={pod['metadata']['name']}_{pod['metadata']['namespace']}"
                            f"({pod['metadata']['uid']})"
                        ),
                    }
                },
                lastState={
                    "terminated": {
                        "exitCode": 1,
                        "reason": "Error",
                        "startedAt": now,
                        "finishedAt": now,
                        "containerID": _container_id(),
                    }
                },
            )
        elif state is PodState.OOM_KILLED:
            base.update(
                restartCount=3,
                ready=True,
                started=True,
                state={"running": {"startedAt": now}},
                lastState={
                    "terminated": {
                        "exitCode": 137,
                        "reason": "OOMKilled",
                        "startedAt": now,
                        "finishedAt": now,
                        "containerID": _container_id(),
                    }
                },
            )
        elif state is PodState.IMAGE_PULL_BACK_OFF:
            base.update(
                imageID="",
                state={
                    "waiting": {
                        "reason": "ImagePullBackOff",
                        "message": f'Back-off pulling image "{images[name]}"',
                    }
                },
            )
            del base["containerID"]
        else:  # SUCCEEDED / FAILED
            failed = state is PodState.FAILED
            base.update(
                state={
                    "terminated": {
                        "exitCode": 1 if failed else 0,
                        "reason": "Error" if failed else "Completed",
                        "startedAt": now,
                        "finishedAt": now,
                        "containerID": base["containerID"],
                    }
                }
            )
        return base

    statuses = [status_of(name) for name in containers]
    all_ready = all(s["ready"] for s in statuses)
    unready = [s["name"] for s in statuses if not s["ready"]]
    not_ready_message = f"containers with unready status: [{' '.join(unready)}]"
    terminal = state in (PodState.SUCCEEDED, PodState.FAILED)
    if terminal:
        phase = "Succeeded" if state is PodState.SUCCEEDED else "Failed"
        ready_reason = "PodCompleted" if state is PodState.SUCCEEDED else "PodFailed"
    else:
        phase = "Pending" if state is PodState.IMAGE_PULL_BACK_OFF else "Running"
        ready_reason = "" if all_ready else "ContainersNotReady"
    ip = _pod_ip(pod["metadata"]["name"])
    return {
        "phase": phase,
        "qosClass": pod.get("status", {}).get("qosClass", "Burstable"),
        "hostIP": NODE_IP,
        "hostIPs": [{"ip": NODE_IP}],
        "podIP": ip,
        "podIPs": [{"ip": ip}],
        "startTime": now,
        "conditions": [
            _condition("PodReadyToStartContainers", not terminal),
            _condition("Initialized", True, "PodCompleted" if terminal else ""),
            _condition(
                "Ready", all_ready, ready_reason, "" if all_ready or terminal else not_ready_message
            ),
            _condition(
                "ContainersReady",
                all_ready,
                ready_reason,
                "" if all_ready or terminal else not_ready_message,
            ),
            _condition("PodScheduled", True),
        ],
        "containerStatuses": statuses,
    }


def set_pod_state(
    api: k8s.ApiClient, namespace: str, name: str, state: PodState, node: str = NODE_NAME
) -> dict[str, Any]:
    """Write pod ``namespace/name``'s status for ``state`` through ``pods/status`` (binding it
    to ``node`` first unless it is bound or ``state`` is UNSCHEDULABLE); returns the stored pod.

    An UNSCHEDULABLE pod must not be bound yet: the API server keeps a bound pod bound.
    """
    core = k8s.CoreV1Api(api)
    pod = _serialize(api, core.read_namespaced_pod(name, namespace))
    if state is not PodState.UNSCHEDULABLE and not pod["spec"].get("nodeName"):
        ensure_node(api, node)
        bind_pod(api, namespace, name, node)
        pod = _serialize(api, core.read_namespaced_pod(name, namespace))
    pod["status"] = pod_status(pod, state)
    return _serialize(api, core.replace_namespaced_pod_status(name, namespace, body(pod)))


def sync_deployment_status(api: k8s.ApiClient, namespace: str, name: str) -> dict[str, Any]:
    """Write Deployment ``namespace/name``'s status from its pods' readiness, as the deployment
    controller would: replicas, readyReplicas, availableReplicas (minReadySeconds 0), and the
    Available and Progressing conditions. Returns the stored Deployment."""
    apps, core = k8s.AppsV1Api(api), k8s.CoreV1Api(api)
    deployment = _serialize(api, apps.read_namespaced_deployment(name, namespace))
    selector = ",".join(
        f"{k}={v}" for k, v in deployment["spec"]["selector"]["matchLabels"].items()
    )
    pods = _serialize(api, core.list_namespaced_pod(namespace, label_selector=selector))["items"]
    ready = sum(
        1
        for pod in pods
        if any(
            c["type"] == "Ready" and c["status"] == "True"
            for c in pod.get("status", {}).get("conditions", [])
        )
    )
    wanted = deployment["spec"].get("replicas", 1)
    available = ready >= wanted
    deployment["status"] = {
        "observedGeneration": deployment["metadata"]["generation"],
        "replicas": len(pods),
        "updatedReplicas": len(pods),
        "readyReplicas": ready,
        "availableReplicas": ready,
        "unavailableReplicas": max(wanted - ready, 0),
        "conditions": [
            {
                "type": "Available",
                "status": "True" if available else "False",
                "reason": "MinimumReplicasAvailable" if available else "MinimumReplicasUnavailable",
                "message": "Deployment has minimum availability."
                if available
                else "Deployment does not have minimum availability.",
                "lastUpdateTime": _now(),
                "lastTransitionTime": _now(),
            },
            {
                "type": "Progressing",
                "status": "True",
                "reason": "NewReplicaSetAvailable" if available else "ReplicaSetUpdated",
                "message": f'ReplicaSet "{name}" has successfully progressed.'
                if available
                else f'ReplicaSet "{name}" is progressing.',
                "lastUpdateTime": _now(),
                "lastTransitionTime": _now(),
            },
        ],
    }
    if not ready:
        del deployment["status"]["readyReplicas"], deployment["status"]["availableReplicas"]
    return _serialize(
        api, apps.replace_namespaced_deployment_status(name, namespace, body(deployment))
    )


# -------------------------------------------------------------------------- custom resources --


def get_custom_object(
    api: k8s.ApiClient, group: str, version: str, namespace: str, plural: str, name: str
) -> dict[str, Any]:
    result: dict[str, Any] = k8s.CustomObjectsApi(api).get_namespaced_custom_object(
        group, version, namespace, plural, name
    )
    return result


def _replace_status(
    api: k8s.ApiClient,
    group: str,
    version: str,
    namespace: str,
    plural: str,
    name: str,
    status: dict[str, Any],
) -> dict[str, Any]:
    obj = get_custom_object(api, group, version, namespace, plural, name)
    obj["status"] = status
    result: dict[str, Any] = k8s.CustomObjectsApi(api).replace_namespaced_custom_object_status(
        group, version, namespace, plural, name, obj, field_validation="Strict"
    )
    return result


def kafka_status(kafka: dict[str, Any], state: KafkaState) -> dict[str, Any]:
    """The status Strimzi's cluster operator writes for ``kafka`` in ``state``."""
    generation = kafka["metadata"].get("generation", 1)
    if state is KafkaState.CREATING:
        return {
            "conditions": [
                {
                    "type": "NotReady",
                    "status": "True",
                    "reason": "Creating",
                    "message": "Kafka cluster is being deployed",
                    "lastTransitionTime": _now(),
                }
            ]
        }
    name, namespace = kafka["metadata"]["name"], kafka["metadata"]["namespace"]
    if state is KafkaState.NOT_READY:
        return {
            "observedGeneration": generation,
            "conditions": [
                {
                    "type": "NotReady",
                    "status": "True",
                    "reason": "TimeoutException",
                    "message": f"Exceeded timeout of 300000ms while waiting for Pods resource "
                    f"{name}-broker-0 in namespace {namespace} to be ready",
                    "lastTransitionTime": _now(),
                }
            ],
        }
    host = f"{name}-kafka-bootstrap.{namespace}.svc"
    listeners = [
        {
            "name": listener["name"],
            "addresses": [{"host": host, "port": listener["port"]}],
            "bootstrapServers": f"{host}:{listener['port']}",
        }
        for listener in kafka["spec"]["kafka"].get("listeners", [])
    ]
    version = kafka["spec"]["kafka"].get("version", "4.1.1")
    return {
        "observedGeneration": generation,
        "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": _now()}],
        "listeners": listeners,
        "clusterId": secrets.token_urlsafe(16)[:22],
        "kafkaVersion": version,
        "kafkaMetadataVersion": f"{version.rsplit('.', 1)[0]}-IV1",
        "operatorLastSuccessfulVersion": STRIMZI_OPERATOR_VERSION,
    }


def set_kafka_state(
    api: k8s.ApiClient,
    namespace: str,
    name: str,
    state: KafkaState,
    node_pools: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Write Kafka ``namespace/name``'s status for ``state``; ``node_pools`` are listed in
    ``status.kafkaNodePools`` when READY. Returns the stored Kafka."""
    kafka = get_custom_object(api, STRIMZI_GROUP, STRIMZI_VERSION, namespace, "kafkas", name)
    status = kafka_status(kafka, state)
    if state is KafkaState.READY and node_pools:
        status["kafkaNodePools"] = [{"name": pool} for pool in node_pools]
    return _replace_status(api, STRIMZI_GROUP, STRIMZI_VERSION, namespace, "kafkas", name, status)


def kafka_node_pool_status(pool: dict[str, Any]) -> dict[str, Any]:
    """The status Strimzi's cluster operator writes for a reconciled KafkaNodePool (1.2.0
    ``KafkaNodePoolStatus``: node ids, replicas, roles, the pods' label selector)."""
    cluster = pool["metadata"]["labels"]["strimzi.io/cluster"]
    replicas = pool["spec"]["replicas"]
    return {
        "observedGeneration": pool["metadata"].get("generation", 1),
        "conditions": [],
        "nodeIds": list(range(replicas)),
        "clusterId": secrets.token_urlsafe(16)[:22],
        "replicas": replicas,
        "roles": list(pool["spec"]["roles"]),
        "labelSelector": f"strimzi.io/cluster={cluster},strimzi.io/name={cluster}-kafka,"
        f"strimzi.io/kind=Kafka,strimzi.io/pool-name={pool['metadata']['name']}",
    }


def set_kafka_node_pool_ready(api: k8s.ApiClient, namespace: str, name: str) -> dict[str, Any]:
    """Write KafkaNodePool ``namespace/name``'s reconciled status; returns it as stored."""
    pool = get_custom_object(api, STRIMZI_GROUP, STRIMZI_VERSION, namespace, "kafkanodepools", name)
    return _replace_status(
        api,
        STRIMZI_GROUP,
        STRIMZI_VERSION,
        namespace,
        "kafkanodepools",
        name,
        kafka_node_pool_status(pool),
    )


def kafka_topic_status(topic: dict[str, Any], state: TopicState) -> dict[str, Any]:
    """The status Strimzi's topic operator writes for ``topic`` in ``state``."""
    topic_name = topic["spec"].get("topicName") or topic["metadata"]["name"]
    status: dict[str, Any] = {
        "observedGeneration": topic["metadata"].get("generation", 1),
        "topicName": topic_name,
    }
    if state is TopicState.READY:
        status["topicId"] = secrets.token_urlsafe(16)[:22]
        status["conditions"] = [{"type": "Ready", "status": "True", "lastTransitionTime": _now()}]
    elif state is TopicState.KAFKA_ERROR:
        # Fewer brokers registered than the topic's replicas: Kafka 4.3's controller refuses
        # to create it (ReplicationControlManager + StripedReplicaPlacer's message), and the
        # topic operator puts the exception's toString() in the condition.
        replicas = topic["spec"].get("replicas", 1)
        status["conditions"] = [
            {
                "type": "Ready",
                "status": "False",
                "reason": "KafkaError",
                "message": "org.apache.kafka.common.errors.InvalidReplicationFactorException: "
                f"Unable to replicate the partition {replicas} time(s): The target "
                f"replication factor of {replicas} cannot be reached because only "
                f"{replicas - 1} broker(s) are registered or some brokers have all their log "
                "directories cordoned.",
                "lastTransitionTime": _now(),
            }
        ]
    else:
        status["conditions"] = [
            {
                "type": "Ready",
                "status": "False",
                "reason": "ResourceConflict",
                "message": f"Managed by Ref{{namespace='{topic['metadata']['namespace']}', "
                f"name='{topic_name}-other'}}",
                "lastTransitionTime": _now(),
            }
        ]
    return status


def set_kafka_topic_state(
    api: k8s.ApiClient, namespace: str, name: str, state: TopicState
) -> dict[str, Any]:
    """Write KafkaTopic ``namespace/name``'s status for ``state``; returns the stored topic."""
    topic = get_custom_object(api, STRIMZI_GROUP, STRIMZI_VERSION, namespace, "kafkatopics", name)
    return _replace_status(
        api,
        STRIMZI_GROUP,
        STRIMZI_VERSION,
        namespace,
        "kafkatopics",
        name,
        kafka_topic_status(topic, state),
    )


def spark_application_status(app: dict[str, Any], state: SparkState) -> dict[str, Any]:
    """The status the Spark operator writes for ``app`` in ``state``."""
    name = app["metadata"]["name"]
    now = _now()
    status: dict[str, Any] = {
        "applicationState": {"state": str(state)},
        "driverInfo": {},
        "submissionAttempts": 1,
        "lastSubmissionAttemptTime": now,
        "submissionID": str(uuid.uuid4()),
    }
    if state is SparkState.SUBMISSION_FAILED:
        status["applicationState"]["errorMessage"] = (
            'failed to run spark-submit: exit status 1: Exception in thread "main" '
            "io.fabric8.kubernetes.client.KubernetesClientException: Failure executing: POST "
            f'pods. Message: pods "{name}-driver" is forbidden'
        )
        return status
    status.update(
        sparkApplicationId=f"spark-{uuid.uuid4().hex}",
        executionAttempts=1,
        driverInfo={
            "podName": f"{name}-driver",
            "webUIServiceName": f"{name}-ui-svc",
            "webUIPort": SPARK_UI_PORT,
            "webUIAddress": f"10.0.0.{int(_digest(name), 16) % 200 + 20}:{SPARK_UI_PORT}",
        },
    )
    executors = app["spec"].get("executor", {}).get("instances", 1)
    executor_state = {
        SparkState.RUNNING: "RUNNING",
        SparkState.COMPLETED: "COMPLETED",
        SparkState.FAILED: "FAILED",
        SparkState.PENDING_RERUN: "FAILED",
        SparkState.UNKNOWN: "UNKNOWN",
        SparkState.SUBMITTED: "PENDING",
    }[state]
    prefix_id = secrets.token_hex(8)  # one driver's executors share the name prefix
    status["executorState"] = {
        spark_executor_pod_name(name, i + 1, prefix_id): executor_state for i in range(executors)
    }
    if state in (SparkState.FAILED, SparkState.PENDING_RERUN):
        status["applicationState"]["errorMessage"] = (
            "driver container failed with ExitCode: 1, Reason: Error"
        )
    if state in (SparkState.FAILED, SparkState.COMPLETED):
        status["terminationTime"] = now
    return status


def set_spark_application_state(
    api: k8s.ApiClient, namespace: str, name: str, state: SparkState
) -> dict[str, Any]:
    """Write SparkApplication ``namespace/name``'s status for ``state``; returns it as stored."""
    app = get_custom_object(api, SPARK_GROUP, SPARK_VERSION, namespace, "sparkapplications", name)
    return _replace_status(
        api,
        SPARK_GROUP,
        SPARK_VERSION,
        namespace,
        "sparkapplications",
        name,
        spark_application_status(app, state),
    )
