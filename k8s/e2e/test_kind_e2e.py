"""End-to-end check of a cryptopulse release in a real cluster (the kind CI workflow runs it).

Not collected by the repository's ``pytest`` run (it lives outside tests/); run it against a
cluster where ``helm upgrade --install --wait`` has installed the chart:

    .venv/bin/python -m pytest k8s/e2e -v

Through the Kubernetes API (kubernetes Python client, the current kubeconfig context): every
pod of the release becomes Ready, the Kafka cluster and the SparkApplication report ready and
running, then a port-forward to an API pod serves /health and a WebSocket on /ws that receives
aggregates for every coin the producer publishes; the dashboard's nginx serves its config and
proxies /api/ to the API.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from kubernetes import client, config
from kubernetes.stream import portforward
from websockets.sync.client import connect

from cryptopulse_common.contract import DEFAULT_COIN_IDS
from cryptopulse_local.portforward import http_get

# The kubernetes client and its dependencies warn about deprecated APIs they call.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

NAMESPACE = os.environ.get("CRYPTOPULSE_NAMESPACE", "cryptopulse")
RELEASE = os.environ.get("CRYPTOPULSE_RELEASE", "cryptopulse")
READY_TIMEOUT = float(os.environ.get("CRYPTOPULSE_E2E_READY_SECONDS", "600"))
DATA_TIMEOUT = float(os.environ.get("CRYPTOPULSE_E2E_DATA_SECONDS", "300"))
INSTANCE = f"app.kubernetes.io/instance={RELEASE}"


@pytest.fixture(scope="module")
def core() -> client.CoreV1Api:
    config.load_kube_config()
    return client.CoreV1Api()


@pytest.fixture(scope="module")
def custom() -> client.CustomObjectsApi:
    config.load_kube_config()
    return client.CustomObjectsApi()


def wait_for(what: str, check: Callable[[], str | None], timeout: float) -> None:
    """Poll ``check`` (None = done, else why not yet) until done or fail with the last reason."""
    deadline = time.monotonic() + timeout
    reason = "not checked"
    while time.monotonic() < deadline:
        reason = check() or ""
        if not reason:
            return
        time.sleep(5)
    pytest.fail(f"{what} not ready after {timeout:.0f} s: {reason}")


def pods(core: client.CoreV1Api, selector: str) -> list[Any]:
    return list(core.list_namespaced_pod(NAMESPACE, label_selector=selector).items)


def not_ready(pod: Any) -> str | None:
    conditions = {c.type: c.status for c in (pod.status.conditions or [])}
    if pod.status.phase == "Running" and conditions.get("Ready") == "True":
        return None
    waiting = [
        f"{s.name}: {s.state.waiting.reason}"
        for s in (pod.status.container_statuses or [])
        if s.state and s.state.waiting
    ]
    return f"{pod.metadata.name} is {pod.status.phase} {waiting}"


def test_every_component_pod_becomes_ready(core: client.CoreV1Api) -> None:
    def check() -> str | None:
        for component in ("producer", "api", "dashboard"):
            found = pods(core, f"{INSTANCE},app.kubernetes.io/component={component}")
            if not found:
                return f"no {component} pod"
            for pod in found:
                if reason := not_ready(pod):
                    return reason
        stream = pods(core, f"{INSTANCE},app.kubernetes.io/component=stream")
        roles = {pod.metadata.labels.get("spark-role") for pod in stream}
        if not {"driver", "executor"} <= roles:
            return (
                f"stream pods with roles {sorted(r for r in roles if r)}, want driver and executor"
            )
        for pod in stream:
            if reason := not_ready(pod):
                return reason
        return None

    wait_for("the release's pods", check, READY_TIMEOUT)


def test_kafka_is_ready_and_the_stream_job_runs(custom: client.CustomObjectsApi) -> None:
    def kafka() -> str | None:
        items = custom.list_namespaced_custom_object("kafka.strimzi.io", "v1", NAMESPACE, "kafkas")[
            "items"
        ]
        if not items:
            return None  # an existing cluster outside this release
        conditions = {
            c["type"]: c["status"] for c in items[0].get("status", {}).get("conditions", [])
        }
        return None if conditions.get("Ready") == "True" else f"Kafka conditions {conditions}"

    def stream() -> str | None:
        apps = custom.list_namespaced_custom_object(
            "sparkoperator.k8s.io", "v1beta2", NAMESPACE, "sparkapplications"
        )["items"]
        if not apps:
            return "no SparkApplication"
        state = apps[0].get("status", {}).get("applicationState", {}).get("state")
        return None if state == "RUNNING" else f"SparkApplication state {state}"

    wait_for("the Kafka cluster", kafka, READY_TIMEOUT)
    wait_for("the stream job", stream, READY_TIMEOUT)


def test_the_releases_topics_and_user_are_ready_where_their_operators_watch(
    custom: client.CustomObjectsApi,
) -> None:
    """KafkaTopics and the KafkaUser may live in an existing cluster's namespace: each must be
    Ready there, i.e. that cluster's Topic and User Operators saw it."""

    def check() -> str | None:
        waiting = []
        for plural in ("kafkatopics", "kafkausers"):
            items = custom.list_cluster_custom_object(
                "kafka.strimzi.io", "v1", plural, label_selector=INSTANCE
            )["items"]
            for item in items:
                conditions = {
                    c["type"]: c["status"] for c in item.get("status", {}).get("conditions", [])
                }
                if conditions.get("Ready") != "True":
                    meta = item["metadata"]
                    waiting.append(f"{plural} {meta['namespace']}/{meta['name']} {conditions}")
        return "; ".join(waiting) or None

    wait_for("the release's KafkaTopics and KafkaUser", check, READY_TIMEOUT)


def forwarded_socket(core: client.CoreV1Api, component: str, port: int) -> socket.socket:
    pod = pods(core, f"{INSTANCE},app.kubernetes.io/component={component}")[0]
    forward = portforward(
        core.connect_get_namespaced_pod_portforward,
        pod.metadata.name,
        NAMESPACE,
        ports=str(port),
    )
    sock: socket.socket = forward.socket(port)
    sock.settimeout(30)
    return sock


def test_the_api_answers_health_through_a_port_forward(core: client.CoreV1Api) -> None:
    status, body = http_get(forwarded_socket(core, "api", 8000), "/health")
    assert status == 200, body
    assert json.loads(body)["status"] == "ok"


def messages(core: client.CoreV1Api) -> Iterator[dict[str, Any]]:
    sock = forwarded_socket(core, "api", 8000)
    with connect("ws://localhost/ws", sock=sock, open_timeout=30) as ws:
        deadline = time.monotonic() + DATA_TIMEOUT
        while (left := deadline - time.monotonic()) > 0:
            try:
                yield json.loads(ws.recv(timeout=left))
            except TimeoutError:
                return


def config_map(core: client.CoreV1Api, component: str) -> dict[str, str]:
    """The data of a component's ConfigMap ("<fullname>-<component>", the chart's naming)."""
    fullname = RELEASE if "cryptopulse" in RELEASE else f"{RELEASE}-cryptopulse"
    name = f"{fullname}-{component}"
    data: dict[str, str] = core.read_namespaced_config_map(name, NAMESPACE).data or {}
    return data


def test_a_websocket_receives_aggregates_for_every_coin(core: client.CoreV1Api) -> None:
    coins = config_map(core, "producer").get("PRODUCER_COINS", "")
    expected = {c.strip() for c in coins.split(",") if c.strip()} or set(DEFAULT_COIN_IDS)
    seen: set[str] = set()
    for message in messages(core):
        seen.update(record["coin_id"] for record in message.get("data") or [])
        if expected <= seen:
            break
    assert expected <= seen, (
        f"after {DATA_TIMEOUT:.0f} s the WebSocket had aggregates for {sorted(seen)}; "
        f"missing {sorted(expected - seen)}"
    )


def test_the_dashboard_serves_its_config_and_proxies_the_api(core: client.CoreV1Api) -> None:
    status, body = http_get(forwarded_socket(core, "dashboard", 8080), "/config.json")
    assert status == 200, body
    assert set(json.loads(body)) == {"wsUrl", "apiUrl", "currency"}
    proxied = bool(config_map(core, "dashboard").get("DASHBOARD_API_UPSTREAM"))
    status, body = http_get(forwarded_socket(core, "dashboard", 8080), "/api/snapshot")
    assert status == 200, body
    if proxied:
        assert isinstance(json.loads(body), dict), body  # the API's snapshot
    else:
        # dashboard.proxyApi off (the Ingress routes /api/): nginx answers with the app's
        # index.html (its single-page fallback), never with the API's JSON.
        assert body.lstrip().lower().startswith(b"<!doctype html"), body[:200]
