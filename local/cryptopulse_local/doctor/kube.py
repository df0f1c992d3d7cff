"""``cryptopulse doctor --kube``: read a release's objects with the ``kubernetes`` client and judge
them with :mod:`.kube_checks`; then a WebSocket through a port-forward to an API pod.

Credentials: in a pod, its service account; elsewhere the current kubeconfig context (as
kubectl). The release's objects carry ``app.kubernetes.io/instance=<release>`` (the chart's
labels); KafkaTopics and the KafkaUser may live in the Kafka cluster's namespace, so they are
listed cluster-wide when allowed, else in the release's namespace.
"""

from __future__ import annotations

import contextlib
import json
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from cryptopulse_common.contract import LEGACY_UPDATE_MESSAGE, MARKET_UPDATE_MESSAGE
from cryptopulse_common.ports import API_PORT
from cryptopulse_local.doctor.kube_checks import (
    Obj,
    assess_kafka,
    assess_pods,
    assess_spark,
    assess_targets,
    conditions,
    name_of,
)
from cryptopulse_local.doctor.report import CheckResult, Finding
from cryptopulse_local.doctor.runner import Check
from cryptopulse_local.portforward import http_get

STRIMZI: Final = ("kafka.strimzi.io", "v1")
SPARK: Final = ("sparkoperator.k8s.io", "v1beta2")
MONITORING: Final = ("monitoring.coreos.com", "v1")
PROMETHEUS_PORT: Final = 9090
PROMETHEUS_PODS: Final = (
    "app.kubernetes.io/name=prometheus,app.kubernetes.io/managed-by=prometheus-operator"
)
DEFAULT_NAMESPACE: Final = "cryptopulse"
DEFAULT_RELEASE: Final = "cryptopulse"
LOG_TAIL_LINES: Final = 200
# How long the first request (GET /version) may take to connect and to answer.
REACH_TIMEOUT_SECONDS: Final = 5.0


@dataclass
class KubeTarget:
    namespace: str
    release: str
    api: Any  # kubernetes.client.ApiClient
    context: str = ""  # the kubeconfig context read ("in-cluster" in a pod)

    @classmethod
    def connect(cls, namespace: str | None, release: str | None) -> KubeTarget:
        from kubernetes import client, config

        context_namespace = None
        context = "in-cluster"
        try:
            config.load_incluster_config()
        except config.ConfigException:
            config.load_kube_config()
            with contextlib.suppress(config.ConfigException, KeyError, TypeError):
                _contexts, current = config.list_kube_config_contexts()
                context_namespace = current["context"].get("namespace")
                context = str(current.get("name", ""))
        return cls(
            namespace or context_namespace or DEFAULT_NAMESPACE,
            release or DEFAULT_RELEASE,
            client.ApiClient(),
            context,
        )

    @property
    def server(self) -> str:
        host: str = self.api.configuration.host
        return host

    def unreachable(self) -> str | None:
        """Why the API server does not answer (``GET /version``, which every client may read:
        the ``system:public-info-viewer`` ClusterRole); None when it answers, whatever it answers
        (401 and 403 are each check's to report)."""
        from kubernetes import client
        from kubernetes.client.exceptions import ApiException

        try:
            client.VersionApi(self.api).get_code(
                _request_timeout=(REACH_TIMEOUT_SECONDS, REACH_TIMEOUT_SECONDS)
            )
        except ApiException:
            return None
        except Exception as error:  # urllib3's connection errors, TLS, DNS
            reason = getattr(error, "reason", None) or error
            return f"{type(reason).__name__}: {reason}"
        return None

    def describe(self) -> str:
        return f"Kubernetes release {self.release} in namespace {self.namespace}"

    def release_found(self) -> bool:
        """False when nothing in the namespace carries the release's instance label (no
        Deployment, no SparkApplication): the wrong namespace or release name. True when it
        cannot tell (a read refused: each check reports that)."""
        from kubernetes import client
        from kubernetes.client.exceptions import ApiException

        try:
            deployments = client.AppsV1Api(self.api).list_namespaced_deployment(
                self.namespace, label_selector=self.instance, limit=1
            )
            if deployments.items:
                return True
            apps = self.listed(SPARK, "sparkapplications", label_selector=self.instance, limit=1)
        except ApiException:
            return True
        return bool(apps)

    @property
    def instance(self) -> str:
        return f"app.kubernetes.io/instance={self.release}"

    @property
    def kubectl(self) -> str:
        return f"kubectl -n {self.namespace}"

    def core(self) -> Any:
        from kubernetes import client

        return client.CoreV1Api(self.api)

    def custom(self) -> Any:
        from kubernetes import client

        return client.CustomObjectsApi(self.api)

    def as_json(self, obj: Any) -> dict[str, Any]:
        result: dict[str, Any] = self.api.sanitize_for_serialization(obj)
        return result

    def pods(self, selector: str, namespace: str | None = None) -> list[dict[str, Any]]:
        found = self.core().list_namespaced_pod(
            namespace or self.namespace, label_selector=selector
        )
        return [self.as_json(pod) for pod in found.items]

    def logs(self, pod: Obj) -> list[str]:
        """The tail of a pod's log (its previous run's when it restarted); [] when unreadable
        (no kubelet answering, no permission)."""
        from kubernetes.client.exceptions import ApiException

        restarted = any(
            int(s.get("restartCount", 0) or 0) > 0
            for s in (pod.get("status", {}) or {}).get("containerStatuses", []) or []
        )
        try:
            text = self.core().read_namespaced_pod_log(
                name_of(pod),
                pod.get("metadata", {}).get("namespace", self.namespace),
                tail_lines=LOG_TAIL_LINES,
                previous=restarted,
                _request_timeout=5,
            )
        except (ApiException, OSError, ValueError):
            return []
        return str(text).splitlines()

    def listed(
        self, group_version: tuple[str, str], plural: str, **kwargs: Any
    ) -> list[Obj] | None:
        """Custom objects of ``plural`` in the release's namespace; None when the API group is
        not installed (404)."""
        from kubernetes.client.exceptions import ApiException

        group, version = group_version
        try:
            found = self.custom().list_namespaced_custom_object(
                group, version, kwargs.pop("namespace", self.namespace), plural, **kwargs
            )
        except ApiException as error:
            if error.status == 404:
                return None
            raise
        items: list[Obj] = found.get("items", [])
        return items

    def of_release(self, items: list[Obj]) -> list[Obj]:
        """The objects of this release: a release of the same name in another namespace labels
        its objects alike, so the release's namespace is read from Helm's
        ``meta.helm.sh/release-namespace`` annotation (the object's own namespace without it)."""
        kept = []
        for item in items:
            meta = item.get("metadata", {})
            owner = (meta.get("annotations") or {}).get("meta.helm.sh/release-namespace")
            if (owner or meta.get("namespace")) == self.namespace:
                kept.append(item)
        return kept

    def listed_anywhere(
        self, group_version: tuple[str, str], plural: str, selector: str
    ) -> list[Obj] | None:
        """Custom objects of ``plural`` with ``selector`` in any namespace (the release's alone
        when listing cluster-wide is forbidden); None when the API group is not installed."""
        from kubernetes.client.exceptions import ApiException

        group, version = group_version
        try:
            found = self.custom().list_cluster_custom_object(
                group, version, plural, label_selector=selector
            )
            return self.of_release(found.get("items", []))
        except ApiException as error:
            if error.status == 404:
                return None
            if error.status != 403:
                raise
        return self.listed(group_version, plural, label_selector=selector)


def _is_not_ready(pod: Obj) -> bool:
    restarted = any(
        int(s.get("restartCount", 0) or 0) > 0
        for s in (pod.get("status", {}) or {}).get("containerStatuses", []) or []
    )
    return restarted or conditions(pod).get("Ready", {}).get("status") != "True"


def check_component(target: KubeTarget, component: str) -> Finding:
    from kubernetes import client

    selector = f"{target.instance},app.kubernetes.io/component={component}"
    deployments = client.AppsV1Api(target.api).list_namespaced_deployment(
        target.namespace, label_selector=selector
    )
    if not deployments.items:
        return Finding.skipped(f"no {component} Deployment in this release (disabled)")
    pods = target.pods(selector)
    pods = [pod for pod in pods if not pod.get("metadata", {}).get("labels", {}).get("spark-role")]
    logs = {name_of(pod): target.logs(pod) for pod in pods if _is_not_ready(pod)}
    return assess_pods(component, pods, logs, target.kubectl)


def check_kafka(target: KubeTarget) -> Finding:
    topics = target.listed_anywhere(STRIMZI, "kafkatopics", target.instance)
    if topics is None:
        return Finding.skipped("Strimzi is not installed (no kafka.strimzi.io API)")
    users = target.listed_anywhere(STRIMZI, "kafkausers", target.instance) or []
    kafkas = [k for k in target.listed(STRIMZI, "kafkas", label_selector=target.instance) or []]
    cluster_namespace, cluster = target.namespace, ""
    if topics:
        labels = topics[0].get("metadata", {}).get("labels", {})
        cluster = labels.get("strimzi.io/cluster", "")
        cluster_namespace = topics[0].get("metadata", {}).get("namespace", target.namespace)
    if not kafkas and cluster:
        every = target.listed(STRIMZI, "kafkas", namespace=cluster_namespace) or []
        kafkas = [k for k in every if name_of(k) == cluster]
    pools: list[Obj] = []
    for kafka in kafkas:
        namespace = kafka.get("metadata", {}).get("namespace", target.namespace)
        pools += (
            target.listed(
                STRIMZI,
                "kafkanodepools",
                namespace=namespace,
                label_selector=f"strimzi.io/cluster={name_of(kafka)}",
            )
            or []
        )
    return assess_kafka(kafkas, pools, topics, users, target.kubectl)


def check_stream(target: KubeTarget) -> Finding:
    apps = target.listed(SPARK, "sparkapplications", label_selector=target.instance)
    if apps is None:
        return Finding.failed(
            "the Spark operator is not installed (no sparkoperator.k8s.io API)",
            "Install it: k8s/install-prerequisites.sh (Kubeflow Spark operator 2.5.2).",
        )
    driver = None
    if apps:
        app = apps[0]
        pod_name = ((app.get("status") or {}).get("driverInfo") or {}).get("podName")
        selector = f"spark-role=driver,sparkoperator.k8s.io/app-name={name_of(app)}"
        drivers = target.pods(selector)
        driver = next((p for p in drivers if name_of(p) == pod_name), None) or (
            drivers[0] if drivers else None
        )
    logs = target.logs(driver) if driver is not None and _is_not_ready(driver) else []
    return assess_spark(apps, driver, logs, target.kubectl)


def _forward(target: KubeTarget, pod: Obj, port: int) -> socket.socket:
    from kubernetes.stream import portforward

    forward = portforward(
        target.core().connect_get_namespaced_pod_portforward,
        name_of(pod),
        pod.get("metadata", {}).get("namespace", target.namespace),
        ports=str(port),
    )
    sock: socket.socket = forward.socket(port)
    sock.settimeout(10)
    return sock


def check_prometheus(target: KubeTarget) -> Finding:
    monitors: list[Obj] = []
    for plural, kind in (("servicemonitors", "ServiceMonitor"), ("podmonitors", "PodMonitor")):
        found = target.listed(MONITORING, plural, label_selector=target.instance)
        if found is None:
            return Finding.skipped("the Prometheus operator is not installed")
        monitors += [{**item, "kind": item.get("kind") or kind} for item in found]
    if not monitors:
        return assess_targets([], None)
    servers = [
        pod
        for pod in target.as_json(
            target.core().list_pod_for_all_namespaces(label_selector=PROMETHEUS_PODS)
        ).get("items", [])
        if conditions(pod).get("Ready", {}).get("status") == "True"
    ]
    if not servers:
        return assess_targets(monitors, None)
    try:
        status, body = http_get(_forward(target, servers[0], PROMETHEUS_PORT), "/api/v1/targets")
        answer = json.loads(body) if status == 200 else None
    except (OSError, ValueError) as error:
        return Finding.warned(
            f"cannot read Prometheus' targets through a port-forward: {error}",
            "Check that this user may create pods/portforward in the Prometheus' namespace.",
        )
    return assess_targets(monitors, answer)


def check_websocket(target: KubeTarget, wait_seconds: float) -> Finding:
    from websockets.sync.client import connect

    pods = [
        pod
        for pod in target.pods(f"{target.instance},app.kubernetes.io/component=api")
        if conditions(pod).get("Ready", {}).get("status") == "True"
    ]
    if not pods:
        return Finding.failed(
            "no Ready API pod to connect to", "See the api check above: fix that first."
        )
    started = time.monotonic()
    try:
        sock = _forward(target, pods[0], API_PORT)
        with connect("ws://localhost/ws", sock=sock, open_timeout=15, close_timeout=1) as ws:
            first = json.loads(ws.recv(timeout=15))
            coins = len(first.get("data") or [])
            deadline = started + wait_seconds
            while (left := deadline - time.monotonic()) > 0:
                try:
                    message = json.loads(ws.recv(timeout=left))
                except TimeoutError:
                    break
                if message.get("type") in (MARKET_UPDATE_MESSAGE, LEGACY_UPDATE_MESSAGE):
                    return Finding.passed(
                        f"an update through a port-forward to {name_of(pods[0])} after "
                        f"{time.monotonic() - started:.1f} s",
                        f"snapshot: {coins} coins",
                    )
    except Exception as error:
        return Finding.failed(
            f"WebSocket through a port-forward to {name_of(pods[0])} failed: "
            f"{type(error).__name__}: {error}",
            "Check that this user may create pods/portforward, and the API pod's log.",
        )
    return Finding.failed(
        f"connected (snapshot: {coins} coins) but no update in {wait_seconds:.0f} s",
        "Updates come from the stream job: see the stream check and the driver's log.",
    )


def _status_message(error: Any) -> str:
    """The API server's own sentence (``Status.message``) from an ``ApiException``'s body."""
    try:
        body = json.loads(error.body or "")
    except (TypeError, ValueError):
        body = None
    if isinstance(body, dict) and body.get("message"):
        return str(body["message"])
    return str(error.reason or error.status)


def refused_finding(error: Any, target: KubeTarget) -> Finding | None:
    """The finding for an ``ApiException`` that refuses this user (401: credentials not
    accepted; 403: RBAC forbids the read, with the API server's sentence naming the user, verb
    and resource); None for any other status."""
    message = _status_message(error)
    if error.status == 401:
        return Finding.failed(
            f"the API server refused these credentials (401 {message})",
            f"The kubeconfig user of context {target.context or '?'} has an expired or wrong "
            "token or certificate: log in again (`kubectl get --raw /version` tests it).",
        )
    if error.status == 403:
        return Finding.failed(
            message,
            "This user may not read what the doctor checks: bind it a Role in "
            f"{target.namespace} (or a ClusterRole) with get and list on pods, pods/log and "
            "deployments (the built-in `view` ClusterRole has them), the Strimzi, Spark "
            "operator and Prometheus operator objects, and create on pods/portforward; or use "
            "a context that has them (`kubectl auth can-i --list -n "
            f"{target.namespace}` shows what this one may do).",
        )
    return None


def kube_checks(target: KubeTarget, timeout_seconds: float) -> list[Check]:
    """The release's checks in flow order."""

    def check(name: str, stage: str, run: Callable[[], Finding], title: str) -> Check:
        def guarded(_earlier: Sequence[CheckResult]) -> Finding:
            from kubernetes.client.exceptions import ApiException

            try:
                return run()
            except ApiException as error:
                refused = refused_finding(error, target)
                if refused is None:
                    raise
                return refused

        return Check(name, stage, guarded, timeout_seconds, title)

    ws_wait = max(timeout_seconds - 5, 10.0)
    return [
        check("kafka", "kafka", lambda: check_kafka(target), "Strimzi Kafka, topics and user"),
        check("producer", "producer", lambda: check_component(target, "producer"), "producer pods"),
        check("stream", "stream", lambda: check_stream(target), "SparkApplication and driver"),
        check("api", "api", lambda: check_component(target, "api"), "API pods"),
        check("websocket", "api", lambda: check_websocket(target, ws_wait), "WebSocket update"),
        check("dashboard", "dashboard", lambda: check_component(target, "dashboard"), "dashboard"),
        check("prometheus", "monitoring", lambda: check_prometheus(target), "Prometheus targets"),
    ]
