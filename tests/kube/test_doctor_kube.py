"""``cryptopulse doctor --kube`` against a real API server: the chart's release installed by helm,
its pods and its operators' statuses written by the tests as the kubelet and the operators would
(tests/support/kube/status.py). Healthy first, then each fault in turn, each named by the right
check with the right fix, then healthy again.

What cannot run here: the WebSocket check (a port-forward needs a kubelet; the command itself
is run once to show it fails saying so) and pod logs (served by the kubelet: read as empty).
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client as k8s

from cryptopulse_local.doctor.kube import STRIMZI, KubeTarget, kube_checks
from cryptopulse_local.doctor.report import Report, Status
from cryptopulse_local.doctor.runner import run_checks
from tests.k8s.tools import CHART_DIR
from tests.kube.helm import RELEASE, Helm
from tests.support.doctor import run_doctor
from tests.support.kube import status
from tests.support.kube.controlplane import ControlPlane
from tests.support.kube.objects import create_namespace
from tests.support.kube.status import KafkaState, PodState, SparkState, TopicState

pytestmark = pytest.mark.kube

NAMESPACE = "doctor"
COMPONENTS = ("producer", "api", "dashboard")


@dataclass
class Release:
    api: k8s.ApiClient
    pods: dict[str, str]  # component -> its pod
    kafka: str
    pools: list[str]
    topics: list[str]
    application: str
    driver: str

    def healthy(self) -> None:
        for pod in self.pods.values():
            status.set_pod_state(self.api, NAMESPACE, pod, PodState.READY)
        status.set_kafka_state(self.api, NAMESPACE, self.kafka, KafkaState.READY, tuple(self.pools))
        for pool in self.pools:
            status.set_kafka_node_pool_ready(self.api, NAMESPACE, pool)
        for topic in self.topics:
            status.set_kafka_topic_state(self.api, NAMESPACE, topic, TopicState.READY)
        status.set_spark_application_state(
            self.api, NAMESPACE, self.application, SparkState.RUNNING
        )
        status.set_pod_state(self.api, NAMESPACE, self.driver, PodState.READY)

    def doctor(self) -> Report:
        """Every check but the WebSocket's, as ``doctor --kube`` runs them."""
        target = KubeTarget(NAMESPACE, RELEASE, self.api)
        checks = [check for check in kube_checks(target, 60) if check.name != "websocket"]
        return run_checks("kube", target.describe(), checks, None, io.StringIO())


def names(api: k8s.ApiClient, plural: str) -> list[str]:
    group, version = STRIMZI if plural.startswith("kafka") else ("sparkoperator.k8s.io", "v1beta2")
    found = k8s.CustomObjectsApi(api).list_namespaced_custom_object(
        group, version, NAMESPACE, plural, label_selector=f"app.kubernetes.io/instance={RELEASE}"
    )
    return sorted(item["metadata"]["name"] for item in found["items"])


@pytest.fixture(scope="module")
def release(crds: list[str], kube_api: k8s.ApiClient, helm: Helm) -> Release:
    """The chart's defaults (a Strimzi cluster it creates, its topics, the stream
    SparkApplication, the producer, API and dashboard Deployments), each object's pods and
    statuses set healthy."""
    create_namespace(kube_api, NAMESPACE)
    helm.upgrade_install(NAMESPACE, CHART_DIR, install=True)
    pods = {
        component: status.create_deployment_pods(
            kube_api, NAMESPACE, f"{RELEASE}-{component}", replicas=1
        )[0]
        for component in COMPONENTS
    }
    [application] = names(kube_api, "sparkapplications")
    [kafka] = names(kube_api, "kafkas")
    running = Release(
        kube_api,
        pods,
        kafka,
        names(kube_api, "kafkanodepools"),
        names(kube_api, "kafkatopics"),
        application,
        status.create_spark_driver_pod(kube_api, NAMESPACE, application),
    )
    running.healthy()
    return running


def by_name(report: Report) -> dict[str, Any]:
    return {result.name: result for result in report.results}


def describe(report: Report) -> str:
    return "\n".join(
        f"{r.status} {r.name}: {r.finding.summary} | fix: {r.finding.fix}" for r in report.results
    )


def test_a_healthy_release_passes(release: Release) -> None:
    report = release.doctor()
    assert report.ok, describe(report)
    statuses = {name: result.status for name, result in by_name(report).items()}
    assert statuses == {
        "kafka": Status.PASS,
        "producer": Status.PASS,
        "stream": Status.PASS,
        "api": Status.PASS,
        "dashboard": Status.PASS,
        "prometheus": Status.SKIP,  # the chart's defaults create no monitor
    }, describe(report)


@dataclass(frozen=True)
class Fault:
    name: str
    make: Callable[[Release], Any]
    check: str
    summary: str
    fix: str


FAULTS = [
    Fault(
        "api pod crash-looping",
        lambda r: status.set_pod_state(r.api, NAMESPACE, r.pods["api"], PodState.CRASH_LOOP),
        "api",
        "is crash-looping (6 restarts; last exit code 1 (Error))",
        "--previous",
    ),
    Fault(
        "producer image not pulled",
        lambda r: status.set_pod_state(
            r.api, NAMESPACE, r.pods["producer"], PodState.IMAGE_PULL_BACK_OFF
        ),
        "producer",
        "cannot pull its image",
        "global.imageRegistry",
    ),
    Fault(
        "dashboard not ready",
        lambda r: status.set_pod_state(r.api, NAMESPACE, r.pods["dashboard"], PodState.NOT_READY),
        "dashboard",
        "is not Ready (containers with unready status",
        "readiness probe",
    ),
    Fault(
        "Kafka cluster not ready",
        lambda r: status.set_kafka_state(r.api, NAMESPACE, r.kafka, KafkaState.NOT_READY),
        "kafka",
        "is not Ready: TimeoutException",
        "broker pods",
    ),
    Fault(
        "Kafka cluster being created",
        lambda r: status.set_kafka_state(r.api, NAMESPACE, r.kafka, KafkaState.CREATING),
        "kafka",
        "is still being created",
        "Wait",
    ),
    Fault(
        "topic with more replicas than brokers",
        lambda r: status.set_kafka_topic_state(
            r.api, NAMESPACE, r.topics[0], TopicState.KAFKA_ERROR
        ),
        "kafka",
        "KafkaError",
        "kafka.topics.replicas",
    ),
    Fault(
        "SparkApplication failed",
        lambda r: status.set_spark_application_state(
            r.api, NAMESPACE, r.application, SparkState.FAILED
        ),
        "stream",
        "is FAILED: driver container failed with ExitCode: 1",
        "describe sparkapplication",
    ),
    Fault(
        "SparkApplication submission failed",
        lambda r: status.set_spark_application_state(
            r.api, NAMESPACE, r.application, SparkState.SUBMISSION_FAILED
        ),
        "stream",
        "is SUBMISSION_FAILED: failed to run spark-submit",
        "describe sparkapplication",
    ),
    Fault(
        "SparkApplication restarting",
        lambda r: status.set_spark_application_state(
            r.api, NAMESPACE, r.application, SparkState.PENDING_RERUN
        ),
        "stream",
        "is PENDING_RERUN after a failure",
        "previous log",
    ),
    Fault(
        "driver pod crash-looping",
        lambda r: status.set_pod_state(r.api, NAMESPACE, r.driver, PodState.CRASH_LOOP),
        "stream",
        "is crash-looping",
        "--previous",
    ),
]


@pytest.mark.parametrize("fault", FAULTS, ids=[fault.name for fault in FAULTS])
def test_each_fault_is_named_with_its_fix(release: Release, fault: Fault) -> None:
    release.healthy()
    assert release.doctor().ok
    fault.make(release)
    try:
        report = release.doctor()
        assert not report.ok, describe(report)
        first = report.first_failure
        assert first is not None, describe(report)
        assert first.name == fault.check, describe(report)
        assert fault.summary in first.finding.summary, describe(report)
        assert fault.fix in (first.finding.fix or ""), describe(report)
    finally:
        release.healthy()
    assert release.doctor().ok


def test_an_oom_killed_pod_that_came_back_warns(release: Release) -> None:
    status.set_pod_state(release.api, NAMESPACE, release.pods["api"], PodState.OOM_KILLED)
    try:
        report = release.doctor()
        api = by_name(report)["api"]
        assert api.status is Status.WARN, describe(report)
        assert "OOMKilled" in api.finding.summary
        assert report.ok  # a warning does not fail the run
    finally:
        release.healthy()


def test_the_command_reads_the_release_through_the_kubeconfig(
    release: Release, control_plane: ControlPlane
) -> None:
    """``cryptopulse doctor --kube --json`` as the kind workflow runs it. Without a kubelet the
    WebSocket's port-forward cannot work: it fails, saying so, and only it."""
    env = {**os.environ, "KUBECONFIG": str(control_plane.kubeconfig)}
    run = run_doctor(
        env, "--kube", "--namespace", NAMESPACE, "--release", RELEASE, "--check-timeout", "30"
    )
    failed = [check["name"] for check in run.report["checks"] if check["status"] == "fail"]
    assert failed == ["websocket"], run.describe()
    assert "port-forward" in run.check("websocket")["summary"], run.describe()
    assert run.code == 1


def test_the_kube_command_is_the_clis() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "cryptopulse_local.cli", "doctor", "--help"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    for flag in ("--kube", "--namespace", "--release", "--json", "--check-timeout"):
        assert flag in result.stdout


def test_a_user_rbac_forbids_to_read_is_told_which_permission_is_missing(
    release: Release, control_plane: ControlPlane, tmp_path: Path
) -> None:
    """A kubeconfig whose user may read nothing in the namespace (a ServiceAccount without any
    RoleBinding): every check fails saying which read was forbidden and that it takes a Role,
    not "the check itself failed ... a doctor bug"."""
    core = k8s.CoreV1Api(release.api)
    account = "doctor-no-rights"
    core.create_namespaced_service_account(
        NAMESPACE, {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": account}}
    )
    token = core.create_namespaced_service_account_token(
        account, NAMESPACE, {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest"}
    ).status.token
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [
                    {
                        "name": "test",
                        "cluster": {
                            "server": control_plane.url,
                            "certificate-authority": str(control_plane.credentials.ca_cert),
                        },
                    }
                ],
                "users": [{"name": account, "user": {"token": token}}],
                "contexts": [{"name": "limited", "context": {"cluster": "test", "user": account}}],
                "current-context": "limited",
            }
        )
    )
    env = {**os.environ, "KUBECONFIG": str(kubeconfig)}
    env.pop("KUBERNETES_SERVICE_HOST", None)
    run = run_doctor(env, "--kube", "--namespace", NAMESPACE, "--release", RELEASE)
    assert run.code == 1
    assert run.first_failure == "kafka", run.describe()
    for check in run.report["checks"]:
        assert check["status"] == "fail", run.describe()
        assert "forbidden" in check["summary"], run.describe()
        assert f"system:serviceaccount:{NAMESPACE}:{account}" in check["summary"], run.describe()
        assert "doctor bug" not in check["fix"], run.describe()
        assert "Role" in check["fix"], run.describe()
    assert "kafkatopics" in run.check("kafka")["summary"], run.describe()
    assert "deployments" in run.check("api")["summary"], run.describe()


def test_a_namespace_without_the_release_says_where_to_look(
    release: Release, control_plane: ControlPlane
) -> None:
    """The wrong namespace (a context's default one) or release name: one ``release`` failure
    saying so and how to find it, not "the producer is disabled" and "the chart creates the
    SparkApplication when stream.enabled"."""
    env = {**os.environ, "KUBECONFIG": str(control_plane.kubeconfig)}
    for namespace, name in (("default", RELEASE), (NAMESPACE, "no-such-release")):
        run = run_doctor(env, "--kube", "--namespace", namespace, "--release", name)
        assert run.code == 1, run.describe()
        assert [check["name"] for check in run.report["checks"]] == ["release"], run.describe()
        found = run.check("release")
        assert f"no release {name} in namespace {namespace}" in found["summary"], run.describe()
        assert "helm list" in found["fix"], run.describe()
