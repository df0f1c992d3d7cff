"""The Pod Security Standards "restricted" profile (Kubernetes 1.35), over rendered objects.

What the ``pod-security.kubernetes.io/enforce: restricted`` admission controller checks, applied
offline: to the pod specs of workload kinds, to the driver and executor pods a SparkApplication
describes, and to the pod templates of Strimzi's Kafka and KafkaNodePool. Every rendered kind
must be known here, as running pods or as not running any: an unknown kind fails.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

Spec = dict[str, Any]

ALLOWED_VOLUME_TYPES = {
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
}
# Baseline: capabilities a container may add; restricted narrows it to NET_BIND_SERVICE.
RESTRICTED_ADD_CAPABILITIES = {"NET_BIND_SERVICE"}
SAFE_SYSCTLS = {
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
}
SELINUX_TYPES = {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}
SECCOMP_TYPES = {"RuntimeDefault", "Localhost"}

WORKLOAD_TEMPLATE_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}
KINDS_WITHOUT_PODS = {
    "ConfigMap",
    "Secret",
    "Service",
    "ServiceAccount",
    "Role",
    "RoleBinding",
    "ClusterRole",
    "ClusterRoleBinding",
    "NetworkPolicy",
    "PersistentVolumeClaim",
    "HorizontalPodAutoscaler",
    "PodDisruptionBudget",
    "Ingress",
    "KafkaTopic",
    "KafkaUser",
    "ServiceMonitor",
    "PodMonitor",
    "PrometheusRule",
}


class UnknownKindError(ValueError):
    pass


def _containers(spec: Spec) -> Iterator[Spec]:
    for key in ("initContainers", "containers", "ephemeralContainers"):
        yield from spec.get(key) or []


def violations(spec: Spec) -> list[str]:
    """Why a pod with this spec is rejected under the restricted profile (empty: admitted)."""
    found: list[str] = []
    pod_ctx: Spec = spec.get("securityContext") or {}
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(key):
            found.append(f"{key} must not be true")
    if (pod_ctx.get("windowsOptions") or {}).get("hostProcess"):
        found.append("securityContext.windowsOptions.hostProcess must not be true")
    for volume in spec.get("volumes") or []:
        kinds = set(volume) - {"name"}
        if not kinds <= ALLOWED_VOLUME_TYPES:
            found.append(f"volume {volume.get('name')!r} of type {sorted(kinds)} is not allowed")
    for sysctl in pod_ctx.get("sysctls") or []:
        if sysctl.get("name") not in SAFE_SYSCTLS:
            found.append(f"sysctl {sysctl.get('name')!r} is not in the safe set")
    found += _selinux(pod_ctx, "securityContext")
    found += _apparmor(pod_ctx, "securityContext")
    if pod_ctx.get("runAsUser") == 0:
        found.append("securityContext.runAsUser must not be 0")
    pod_seccomp = (pod_ctx.get("seccompProfile") or {}).get("type")
    if pod_seccomp is not None and pod_seccomp not in SECCOMP_TYPES:
        found.append(f"securityContext.seccompProfile.type {pod_seccomp} is not allowed")

    containers = list(_containers(spec))
    if not containers:
        found.append("the pod has no containers")
    for container in containers:
        where = f"container {container.get('name')!r}"
        ctx: Spec = container.get("securityContext") or {}
        if ctx.get("privileged"):
            found.append(f"{where}: privileged must not be true")
        if (ctx.get("windowsOptions") or {}).get("hostProcess"):
            found.append(f"{where}: windowsOptions.hostProcess must not be true")
        if ctx.get("procMount", "Default") != "Default":
            found.append(f"{where}: procMount must be Default")
        for port in container.get("ports") or []:
            if port.get("hostPort"):
                found.append(f"{where}: hostPort {port['hostPort']} is not allowed")
        found += _selinux(ctx, where)
        found += _apparmor(ctx, where)
        if ctx.get("allowPrivilegeEscalation") is not False:
            found.append(f"{where}: allowPrivilegeEscalation must be false")
        non_root = ctx.get("runAsNonRoot", pod_ctx.get("runAsNonRoot"))
        if non_root is not True:
            found.append(f"{where}: runAsNonRoot must be true (pod or container)")
        if ctx.get("runAsUser") == 0:
            found.append(f"{where}: runAsUser must not be 0")
        seccomp = (ctx.get("seccompProfile") or {}).get("type", pod_seccomp)
        if seccomp not in SECCOMP_TYPES:
            found.append(
                f"{where}: seccompProfile.type must be RuntimeDefault or Localhost "
                f"(pod or container), not {seccomp}"
            )
        capabilities: Spec = ctx.get("capabilities") or {}
        if "ALL" not in (capabilities.get("drop") or []):
            found.append(f"{where}: capabilities.drop must include ALL")
        added = set(capabilities.get("add") or []) - RESTRICTED_ADD_CAPABILITIES
        if added:
            found.append(f"{where}: capabilities.add {sorted(added)} is not allowed")
    return found


def _selinux(ctx: Spec, where: str) -> list[str]:
    options: Spec = ctx.get("seLinuxOptions") or {}
    found = []
    if options.get("type", "") not in SELINUX_TYPES:
        found.append(f"{where}: seLinuxOptions.type {options['type']} is not allowed")
    if options.get("user") or options.get("role"):
        found.append(f"{where}: seLinuxOptions.user and role must not be set")
    return found


def _apparmor(ctx: Spec, where: str) -> list[str]:
    profile = (ctx.get("appArmorProfile") or {}).get("type")
    if profile is not None and profile not in SECCOMP_TYPES:
        return [f"{where}: appArmorProfile.type {profile} is not allowed"]
    return []


def _spark_pod(app_spec: Spec, role: str) -> Spec:
    part: Spec = app_spec.get(role) or {}
    main = {
        "name": f"spark-kubernetes-{role}",
        "securityContext": part.get("securityContext"),
        "ports": part.get("ports"),
    }
    return {
        "securityContext": part.get("podSecurityContext"),
        "hostNetwork": part.get("hostNetwork"),
        "initContainers": part.get("initContainers") or [],
        "containers": [main, *(part.get("sidecars") or [])],
        "volumes": app_spec.get("volumes") or [],
    }


def _strimzi_pod(template: Spec, containers: dict[str, str]) -> Spec:
    pod: Spec = template.get("pod") or {}
    return {
        "securityContext": pod.get("securityContext"),
        "containers": [
            {"name": name, "securityContext": (template.get(key) or {}).get("securityContext")}
            for name, key in containers.items()
        ],
        "volumes": pod.get("volumes") or [],
    }


def pod_specs(obj: dict[str, Any]) -> Iterator[tuple[str, Spec]]:
    """(which pod, its spec) for every pod this object makes run."""
    kind = obj.get("kind", "")
    spec: Spec = obj.get("spec") or {}
    if kind == "Pod":
        yield "pod", spec
    elif kind in WORKLOAD_TEMPLATE_KINDS:
        yield "pod template", spec["template"]["spec"]
    elif kind == "CronJob":
        yield "pod template", spec["jobTemplate"]["spec"]["template"]["spec"]
    elif kind == "SparkApplication":
        yield "driver pod", _spark_pod(spec, "driver")
        yield "executor pods", _spark_pod(spec, "executor")
    elif kind == "Kafka":
        kafka_containers = {"kafka": "kafkaContainer", "kafka-init": "initContainer"}
        yield (
            "broker pods",
            _strimzi_pod((spec.get("kafka") or {}).get("template") or {}, kafka_containers),
        )
        if "entityOperator" in spec:
            operators = {
                "topic-operator": "topicOperatorContainer",
                "user-operator": "userOperatorContainer",
            }
            template = (spec.get("entityOperator") or {}).get("template") or {}
            yield "entity operator pod", _strimzi_pod(template, operators)
        for extra, container in (
            ("cruiseControl", "cruiseControlContainer"),
            ("kafkaExporter", "container"),
        ):
            if extra in spec:
                template = (spec.get(extra) or {}).get("template") or {}
                yield f"{extra} pod", _strimzi_pod(template, {extra: container})
    elif kind == "KafkaNodePool":
        containers = {"kafka": "kafkaContainer", "kafka-init": "initContainer"}
        yield "node pods", _strimzi_pod(spec.get("template") or {}, containers)
    elif kind not in KINDS_WITHOUT_PODS:
        raise UnknownKindError(
            f"{kind}: the pod security check does not know whether this kind runs pods; "
            "add it to tests/k8s/podsecurity.py"
        )


def object_violations(obj: dict[str, Any]) -> list[str]:
    name = f"{obj.get('kind')}/{(obj.get('metadata') or {}).get('name')}"
    found = []
    for where, spec in pod_specs(obj):
        found += [f"{name} {where}: {problem}" for problem in violations(spec)]
    return found
