"""Judging a Kubernetes release from the objects the API server returns: pure functions.

Every argument is JSON as the API server serves it (``CustomObjectsApi`` results as they are,
typed objects through ``ApiClient.sanitize_for_serialization``), so each rule can be tested on
objects shaped exactly like the CRDs and the kubelet's statuses. Where each status comes from:

- Pod: the kubelet's PodStatus (conditions Ready/ContainersReady/PodScheduled; container
  ``state.waiting.reason`` CrashLoopBackOff, ImagePullBackOff, ErrImagePull,
  CreateContainerConfigError; ``lastState.terminated.reason`` OOMKilled/Error; restartCount);
  the scheduler's PodScheduled=False reason Unschedulable.
- Kafka, KafkaNodePool, KafkaTopic, KafkaUser (kafka.strimzi.io/v1, Strimzi 1.2.0): ``status.
  conditions`` with type Ready (True/False) or NotReady (reason Creating while the first
  reconciliation runs) and Warning; no status at all = no operator has seen the object.
- SparkApplication (sparkoperator.k8s.io/v1beta2, spark-operator 2.5.2): ``status.
  applicationState.state`` (ApplicationStateType) and ``errorMessage``, ``status.driverInfo``.
- Prometheus ``/api/v1/targets``: ``activeTargets[].scrapePool`` is
  ``serviceMonitor/<ns>/<name>/<i>`` or ``podMonitor/<ns>/<name>/<i>`` (prometheus-operator's
  naming), ``health`` up/down/unknown, ``lastError``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

from cryptopulse_local.doctor.report import Finding, combine

Obj = Mapping[str, Any]

# spark-operator's ApplicationStateType values (api/v1beta2/sparkapplication_types.go).
SPARK_RUNNING: Final = "RUNNING"
SPARK_STARTING: Final = frozenset({"", "NEW", "SUBMITTED", "PENDING_SUBMISSION"})
SPARK_RETRYING: Final = frozenset({"PENDING_RERUN", "INVALIDATING", "SUCCEEDING", "FAILING"})
SPARK_FAILED: Final = frozenset({"FAILED", "SUBMISSION_FAILED", "UNKNOWN", "COMPLETED"})
IMAGE_REASONS: Final = frozenset({"ImagePullBackOff", "ErrImagePull", "InvalidImageName"})
CONFIG_REASONS: Final = frozenset({"CreateContainerConfigError", "CreateContainerError"})
# A log line that reports a failure: our JSON/text log levels, Java's, Python tracebacks.
_ERROR_LINE = re.compile(
    r'"level":\s*"(error|critical)"|\b(ERROR|FATAL|CRITICAL|SEVERE)\b|Traceback|Exception\b'
)
LOG_LINES_SHOWN: Final = 3


def name_of(obj: Obj) -> str:
    return str(obj.get("metadata", {}).get("name", "?"))


def conditions(obj: Obj) -> dict[str, Obj]:
    """``status.conditions`` by type."""
    found = obj.get("status", {}) or {}
    return {c.get("type", ""): c for c in found.get("conditions", []) or []}


def error_lines(lines: Sequence[str], limit: int = LOG_LINES_SHOWN) -> list[str]:
    """The last ``limit`` log lines that report an error, each cut to 200 characters."""
    found = [line.strip()[:200] for line in lines if _ERROR_LINE.search(line)]
    return found[-limit:]


# -------------------------------------------------------------------------------- pods --


def assess_pod(pod: Obj, logs: Sequence[str] = (), kubectl: str = "kubectl") -> Finding:
    """One pod: scheduled, containers started, Ready, restarts."""
    name = name_of(pod)
    status = pod.get("status", {}) or {}
    by_type = conditions(pod)
    errors = [f"log: {line}" for line in error_lines(logs)]
    scheduled = by_type.get("PodScheduled", {})
    if scheduled.get("status") == "False":
        return Finding.failed(
            f"{name} cannot be scheduled: {scheduled.get('message') or scheduled.get('reason')}",
            "The cluster lacks what the pod requests (CPU, memory, a volume): free some, add a "
            "node, or lower the component's resources in values.yaml.",
        )
    statuses = list(status.get("containerStatuses", []) or [])
    statuses += list(status.get("initContainerStatuses", []) or [])
    restarts = sum(int(s.get("restartCount", 0) or 0) for s in statuses)
    for container in statuses:
        waiting = (container.get("state", {}) or {}).get("waiting") or {}
        reason = waiting.get("reason", "")
        last = (container.get("lastState", {}) or {}).get("terminated") or {}
        if reason == "CrashLoopBackOff":
            exit_text = (
                f"; last exit code {last.get('exitCode')} ({last.get('reason', '?')})"
                if last
                else ""
            )
            fix = (
                "Raise its memory limit (the component's resources.limits.memory in values.yaml)."
                if last.get("reason") == "OOMKilled"
                else f"Its previous run's log says why: `{kubectl} logs {name} -c "
                f"{container.get('name')} --previous`."
            )
            return Finding.failed(
                f"{name} is crash-looping ({container.get('restartCount', 0)} restarts{exit_text})",
                fix,
                *errors,
            )
        if reason in IMAGE_REASONS:
            return Finding.failed(
                f"{name} cannot pull its image {container.get('image')} ({reason})",
                "Check the image's name and tag and the pull secrets (global.imageRegistry, "
                "imagePullSecrets); on kind, load the images first (scripts/k8s-build-images.sh "
                "--kind).",
                f"kubelet: {waiting.get('message', '')[:200]}",
            )
        if reason in CONFIG_REASONS:
            return Finding.failed(
                f"{name} cannot start {container.get('name')}: {waiting.get('message', reason)}",
                "A Secret, ConfigMap or key it refers to is missing: create it, or fix the values "
                "that name it.",
            )
    phase = status.get("phase", "")
    ready = by_type.get("Ready", {}).get("status") == "True"
    if phase in ("Succeeded", "Failed"):
        reason = status.get("reason", "")
        return Finding.failed(
            f"{name} has ended ({phase}{', ' + reason if reason else ''})",
            f"Its log says why: `{kubectl} logs {name}`; its controller replaces it.",
            *errors,
        )
    if not ready:
        message = by_type.get("Ready", {}).get("message") or phase or "no status yet"
        return Finding.failed(
            f"{name} is not Ready ({message})",
            f"Its readiness probe fails or it is still starting: `{kubectl} describe pod "
            f"{name}` shows the probe's answer; its log says why.",
            *errors,
        )
    if restarts:
        last = {}
        for container in statuses:
            last = (container.get("lastState", {}) or {}).get("terminated") or last
        why = f" (last: {last.get('reason')}, exit code {last.get('exitCode')})" if last else ""
        fix = (
            "It ran out of memory: raise the component's resources.limits.memory."
            if last.get("reason") == "OOMKilled"
            else f"Read why it stopped: `{kubectl} logs {name} --previous`."
        )
        return Finding.warned(f"{name} is Ready but restarted {restarts} times{why}", fix, *errors)
    return Finding.passed("", f"{name}: Ready")


def assess_pods(
    component: str,
    pods: Sequence[Obj],
    logs: Mapping[str, Sequence[str]] | None = None,
    kubectl: str = "kubectl",
) -> Finding:
    """Every pod of one component of the release (a Deployment's replicas)."""
    if not pods:
        return Finding.failed(
            f"no {component} pod",
            f"Its Deployment has created none: `{kubectl} describe deployment -l "
            f"app.kubernetes.io/component={component}` shows why (quota, admission, a missing "
            "ServiceAccount).",
        )
    findings = [assess_pod(pod, (logs or {}).get(name_of(pod), ()), kubectl) for pod in pods]
    ready = sum(1 for pod in pods if conditions(pod).get("Ready", {}).get("status") == "True")
    return combine(findings, f"{ready} of {len(pods)} pods Ready")


# ------------------------------------------------------------------------------- Strimzi --


def _strimzi_condition(obj: Obj, kind: str, kubectl: str) -> Finding:
    name = name_of(obj)
    found = conditions(obj)
    if not obj.get("status"):
        return Finding.failed(
            f"{kind} {name} has no status: no Strimzi operator has seen it",
            _unwatched_fix(kind, obj, kubectl),
        )
    generation = obj.get("metadata", {}).get("generation")
    observed = obj.get("status", {}).get("observedGeneration")
    ready = found.get("Ready", {})
    not_ready = found.get("NotReady", {})
    if ready.get("status") == "True":
        warnings = [c for c in found.values() if c.get("type") == "Warning"]
        if warnings:
            text = "; ".join(str(c.get("message", c.get("reason", ""))) for c in warnings)
            return Finding.warned(
                f"{kind} {name} is Ready with warnings: {text[:300]}",
                "Strimzi reports a deprecated or risky setting: change it in values.yaml.",
            )
        if generation is not None and observed is not None and observed < generation:
            return Finding.warned(
                f"{kind} {name} is Ready, but its latest change is not applied yet "
                f"(generation {generation}, observed {observed})",
                "Wait for the operator's next reconciliation; its log says if it fails.",
            )
        return Finding.passed("", f"{kind} {name}: Ready")
    if not_ready.get("reason") == "Creating":
        return Finding.failed(
            f"{kind} {name} is still being created ({not_ready.get('message', '')})",
            f"Wait: Strimzi is deploying it (`{kubectl} get {kind.lower()},pods`).",
        )
    failing = ready if ready.get("status") == "False" else not_ready
    reason = failing.get("reason", "NotReady")
    message = str(failing.get("message", ""))[:300]
    return Finding.failed(
        f"{kind} {name} is not Ready: {reason}: {message}",
        _strimzi_fix(kind, reason, message),
    )


def _unwatched_fix(kind: str, obj: Obj, kubectl: str) -> str:
    namespace = obj.get("metadata", {}).get("namespace", "?")
    if kind == "KafkaTopic":
        return (
            f"Strimzi's Topic Operator watches only its Kafka's namespace: put the KafkaTopics in "
            f"the cluster's namespace (kafka.existing.namespace), not {namespace}."
        )
    if kind == "KafkaUser":
        return (
            f"Strimzi's User Operator watches only its Kafka's namespace: put the KafkaUser in "
            f"the cluster's namespace (kafka.existing.namespace), not {namespace}."
        )
    return (
        f"Is Strimzi's cluster operator installed and watching namespace {namespace} "
        f"(k8s/install-prerequisites.sh)? `{kubectl} get pods -A -l name=strimzi-cluster-operator`."
    )


def _strimzi_fix(kind: str, reason: str, message: str) -> str:
    if kind == "KafkaTopic" and "replication factor" in message.lower():
        return (
            "The topic asks for more replicas than the cluster has brokers: lower "
            "kafka.topics.replicas to at most kafka.cluster.replicas."
        )
    if kind == "KafkaTopic" and reason == "ResourceConflict":
        return "Another KafkaTopic already manages this Kafka topic: delete one of the two."
    if reason == "TimeoutException":
        return "Its pods did not become ready in time: see the broker pods' events and logs."
    return (
        "Strimzi's cluster operator log says more (`kubectl logs deploy/strimzi-cluster-operator`)."
    )


def assess_kafka(
    kafkas: Sequence[Obj],
    node_pools: Sequence[Obj],
    topics: Sequence[Obj],
    users: Sequence[Obj],
    kubectl: str = "kubectl",
) -> Finding:
    """The Strimzi cluster the release uses, its node pools, and the release's KafkaTopics and
    KafkaUser. No Kafka and no topics: the release uses a cluster Strimzi does not manage."""
    if not kafkas and not topics and not users:
        return Finding.skipped("no Strimzi object in this release (an external Kafka cluster)")
    findings: list[Finding] = []
    if topics and not kafkas:
        cluster = topics[0].get("metadata", {}).get("labels", {}).get("strimzi.io/cluster", "?")
        namespace = topics[0].get("metadata", {}).get("namespace", "?")
        findings.append(
            Finding.failed(
                f"no Kafka {cluster} in namespace {namespace}, which the KafkaTopics name",
                "Set kafka.existing.strimziClusterName and kafka.existing.namespace to the "
                "cluster's, or let the chart create one (kafka.create=true).",
            )
        )
    findings += [_strimzi_condition(kafka, "Kafka", kubectl) for kafka in kafkas]
    for pool in node_pools:
        findings.append(_node_pool(pool))
    findings += [_strimzi_condition(topic, "KafkaTopic", kubectl) for topic in topics]
    findings += [_strimzi_condition(user, "KafkaUser", kubectl) for user in users]
    counts = f"{len(kafkas)} Kafka, {len(node_pools)} node pools, {len(topics)} topics"
    counts += f", {len(users)} users" if users else ""
    return combine(findings, f"Ready: {counts}")


def _node_pool(pool: Obj) -> Finding:
    name = name_of(pool)
    status = pool.get("status") or {}
    if not status:
        return Finding.warned(
            f"KafkaNodePool {name} has no status: the cluster operator has not reconciled it",
            "Its Kafka needs the strimzi.io/node-pools: enabled annotation and the same "
            "strimzi.io/cluster label value as the pool.",
        )
    wanted = pool.get("spec", {}).get("replicas")
    have = status.get("replicas")
    warnings = [c for c in conditions(pool).values() if c.get("type") == "Warning"]
    if warnings:
        return Finding.warned(
            f"KafkaNodePool {name}: {warnings[0].get('message', warnings[0].get('reason'))}",
            "Strimzi reports a setting to change: see the message.",
        )
    if wanted is not None and have is not None and have != wanted:
        return Finding.warned(
            f"KafkaNodePool {name} runs {have} of {wanted} nodes",
            "It is scaling, or its pods cannot start: see the broker pods.",
        )
    return Finding.passed("", f"KafkaNodePool {name}: {have} nodes, roles {status.get('roles')}")


# --------------------------------------------------------------------------------- Spark --


def assess_spark(
    applications: Sequence[Obj],
    driver: Obj | None,
    driver_logs: Sequence[str] = (),
    kubectl: str = "kubectl",
) -> Finding:
    """The release's SparkApplication and its driver pod."""
    if not applications:
        return Finding.failed(
            "no SparkApplication in this release",
            "The chart creates it when stream.enabled: check `helm get manifest` and that the "
            "sparkoperator.k8s.io CRD is installed (k8s/install-prerequisites.sh).",
        )
    app = applications[0]
    name = name_of(app)
    status = app.get("status") or {}
    state = (status.get("applicationState") or {}).get("state", "")
    error = str((status.get("applicationState") or {}).get("errorMessage", ""))[:300]
    findings: list[Finding] = []
    if not status:
        findings.append(
            Finding.failed(
                f"SparkApplication {name} has no status: the Spark operator has not picked it up",
                "Is the Spark operator running and watching this namespace (its "
                "spark.jobNamespaces; k8s/install-prerequisites.sh --namespace)?",
            )
        )
    elif state in SPARK_FAILED:
        findings.append(
            Finding.failed(
                f"SparkApplication {name} is {state}: {error or 'no message'}",
                f"`{kubectl} describe sparkapplication {name}` and the driver's log say why; the "
                "operator resubmits it per its restartPolicy.",
                f"submission attempts {status.get('submissionAttempts', 0)}, execution attempts "
                f"{status.get('executionAttempts', 0)}",
            )
        )
    elif state in SPARK_RETRYING:
        driver_name = (status.get("driverInfo") or {}).get("podName", f"{name}-driver")
        findings.append(
            Finding.failed(
                f"SparkApplication {name} is {state} after a failure: {error or 'no message'}",
                "The driver failed and the operator is restarting it: its previous log says why "
                f"(`{kubectl} logs {driver_name}`).",
            )
        )
    elif state in SPARK_STARTING:
        findings.append(
            Finding.warned(
                f"SparkApplication {name} is {state or 'new'}: the driver is starting",
                "Wait a minute: the driver pod starts, then asks for its executors.",
            )
        )
    elif state != SPARK_RUNNING:
        findings.append(Finding.warned(f"SparkApplication {name} is {state}", "See its events."))
    else:
        executors = status.get("executorState") or {}
        running = sum(1 for value in executors.values() if value == "RUNNING")
        findings.append(
            Finding.passed("", f"SparkApplication {name}: RUNNING, {running} executors running")
        )
    if driver is not None:
        findings.append(assess_pod(driver, driver_logs, kubectl))
    elif state == SPARK_RUNNING:
        findings.append(
            Finding.failed(
                f"SparkApplication {name} is RUNNING but its driver pod is missing",
                "The operator will notice and resubmit; if not, delete the SparkApplication's "
                "status by reinstalling the release.",
            )
        )
    return combine(findings, f"SparkApplication {name} RUNNING, driver Ready")


# ----------------------------------------------------------------------------- Prometheus --


def scrape_pool_prefix(monitor: Obj) -> str:
    kind = monitor.get("kind", "")
    kind = "serviceMonitor" if kind == "ServiceMonitor" else "podMonitor"
    meta = monitor.get("metadata", {})
    return f"{kind}/{meta.get('namespace', '')}/{meta.get('name', '')}/"


def assess_targets(monitors: Sequence[Obj], targets: Obj | None) -> Finding:
    """Whether Prometheus scrapes what the release's ServiceMonitors and PodMonitors select.

    ``targets`` is Prometheus' ``/api/v1/targets`` answer, None when no Prometheus was found.
    """
    if not monitors:
        return Finding.skipped("no ServiceMonitor or PodMonitor in this release")
    if targets is None:
        return Finding.warned(
            f"{len(monitors)} monitors, but no Prometheus server found to read their targets",
            "Install one (kube-prometheus-stack; k8s/install-prerequisites.sh --with-monitoring) "
            "or point your Prometheus at them (serviceMonitorSelector, podMonitorSelector).",
        )
    active = (targets.get("data") or {}).get("activeTargets") or []
    findings: list[Finding] = []
    for monitor in monitors:
        prefix = scrape_pool_prefix(monitor)
        mine = [t for t in active if str(t.get("scrapePool", "")).startswith(prefix)]
        label = prefix.rstrip("/")
        if not mine:
            findings.append(
                Finding.failed(
                    f"Prometheus has no target for {label}",
                    "Its Prometheus does not select the monitor (serviceMonitorSelector / "
                    "podMonitorSelector and their namespace selectors; kube-prometheus-stack "
                    "selects its own release label by default: set monitoring.labels), or the "
                    "monitor's selector matches no pod.",
                )
            )
            continue
        down = [t for t in mine if t.get("health") == "down"]
        unknown = [t for t in mine if t.get("health") not in ("up", "down")]
        if down:
            first = down[0]
            findings.append(
                Finding.failed(
                    f"{len(down)} of {len(mine)} targets of {label} are down: "
                    f"{str(first.get('lastError', ''))[:200]}",
                    "The pod does not answer /metrics on the monitored port: check the port name "
                    "and that the component exports metrics there.",
                    f"target: {first.get('scrapeUrl', '?')}",
                )
            )
        elif unknown:
            findings.append(
                Finding.warned(
                    f"{len(unknown)} of {len(mine)} targets of {label} are not scraped yet",
                    "Wait one scrape interval (30 s by default) and run again.",
                )
            )
        else:
            findings.append(Finding.passed("", f"{label}: {len(mine)} targets up"))
    return combine(findings, f"every target of {len(monitors)} monitors is up")
