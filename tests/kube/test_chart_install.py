"""``helm install`` and ``helm upgrade`` of the chart against a real API server, into namespaces
that enforce the "restricted" Pod Security Standard: every object is stored (schemas, CEL rules,
immutable fields, admission), every pod the chart's controllers would create is admitted, and
``helm test`` runs its pod to a verdict."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client as k8s
from kubernetes import dynamic

from tests.k8s.tools import CHART_DIR
from tests.kube import scenarios
from tests.kube.helm import PREVIOUS_CHARTS, RELEASE, SCENARIOS, Helm, HelmError, chart_at
from tests.support.kube import status
from tests.support.kube.status import PodState

pytestmark = pytest.mark.kube

SCENARIO_IDS = [scenarios.name_of(path) for path in SCENARIOS]
HELM_MAJORS = pytest.mark.parametrize("major", [3, 4], ids=["helm3", "helm4"])
# The values that make up the checkpoint PersistentVolumeClaim's spec.
CLAIM_SPEC_VALUES = ("accessMode", "size", "storageClass")
TEST_POD_DEADLINE_SECONDS = 120.0  # a deadline for helm to create its test pod


def assert_no_pod_security_warnings(result: Any) -> None:
    """The API server answers a workload whose pod template breaks the enforced level with a
    warning (it only refuses the pods themselves); helm prints warnings on stderr."""
    assert "PodSecurity" not in result.stderr, result.stderr


def assert_release_stored(api: k8s.ApiClient, helm: Helm, namespace: str) -> list[dict[str, Any]]:
    """Every object of the release's manifest can be read back from the API server."""
    client = dynamic.DynamicClient(api)
    manifest = helm.manifest(namespace)
    assert manifest, "the release has no objects"
    for obj in manifest:
        resource = client.resources.get(api_version=obj["apiVersion"], kind=obj["kind"])
        where = obj["metadata"].get("namespace", namespace) if resource.namespaced else None
        stored = resource.get(name=obj["metadata"]["name"], namespace=where)
        assert stored.metadata.uid, f"{obj['kind']} {obj['metadata']['name']} was not stored"
    return manifest


def admit_workload_pods(api: k8s.ApiClient, namespace: str, manifest: list[dict[str, Any]]) -> int:
    """Create the pods the release's Deployments and SparkApplication would get (Pod Security
    admission judges pods, not their templates: the Spark operator's webhook-free path copies
    the driver and executor specs into pods); returns how many were admitted."""
    created = 0
    for obj in manifest:
        if obj["kind"] == "Deployment":
            created += len(
                status.create_deployment_pods(api, namespace, obj["metadata"]["name"], replicas=1)
            )
        elif obj["kind"] == "SparkApplication":
            status.create_spark_driver_pod(api, namespace, obj["metadata"]["name"])
            status.create_spark_executor_pod(api, namespace, obj["metadata"]["name"])
            created += 2
    return created


@HELM_MAJORS
@pytest.mark.parametrize("values", SCENARIOS, ids=SCENARIO_IDS)
def test_scenario_installs_into_a_restricted_namespace(
    crds: list[str],
    kube_api: k8s.ApiClient,
    helms: dict[int, Helm],
    namespace: str,
    values: Path,
    major: int,
    tmp_path: Path,
) -> None:
    helm = helms[major]
    extra = scenarios.prepare(kube_api, values, namespace, tmp_path)
    result = helm.upgrade_install(namespace, CHART_DIR, values, *extra, install=True)
    assert_no_pod_security_warnings(result)
    manifest = assert_release_stored(kube_api, helm, namespace)
    kinds = {obj["kind"] for obj in manifest}
    assert {"Deployment", "SparkApplication"} <= kinds
    # producer, API, dashboard, the Spark driver and an executor
    assert admit_workload_pods(kube_api, namespace, manifest) == 5


@pytest.mark.parametrize("values", SCENARIOS, ids=SCENARIO_IDS)
def test_helm4_upgrades_a_release_helm3_installed(
    crds: list[str],
    kube_api: k8s.ApiClient,
    helms: dict[int, Helm],
    namespace: str,
    values: Path,
    tmp_path: Path,
) -> None:
    """Moving a release from Helm 3 to Helm 4: Helm 4 reads Helm 3's release record and
    upgrades the objects Helm 3 created."""
    extra = scenarios.prepare(kube_api, values, namespace, tmp_path)
    helms[3].upgrade_install(namespace, CHART_DIR, values, *extra, install=True)
    result = helms[4].upgrade_install(namespace, CHART_DIR, values, *extra)
    assert_no_pod_security_warnings(result)
    assert_release_stored(kube_api, helms[4], namespace)


def test_upgrade_through_every_scenario_and_back(
    crds: list[str], kube_api: k8s.ApiClient, helm: Helm, namespace: str, tmp_path: Path
) -> None:
    """One release upgraded from each scenario to the next, then back to the first: every
    change the API server allows, and every object stored. The checkpoint claim keeps the
    chart's default spec throughout (see the next test: a claim's spec cannot change)."""
    defaults = yaml.safe_load((CHART_DIR / "values.yaml").read_text())["stream"]["checkpoints"]
    keep_claim = tmp_path / "keep-claim-values.yaml"
    keep_claim.write_text(
        yaml.safe_dump({"stream": {"checkpoints": {k: defaults[k] for k in CLAIM_SPEC_VALUES}}})
    )
    extra = {path: scenarios.prepare(kube_api, path, namespace, tmp_path) for path in SCENARIOS}
    first, *rest = SCENARIOS
    helm.upgrade_install(namespace, CHART_DIR, first, *extra[first], keep_claim, install=True)
    for values in [*rest, first]:
        result = helm.upgrade_install(namespace, CHART_DIR, values, *extra[values], keep_claim)
        assert_no_pod_security_warnings(result)
        assert_release_stored(kube_api, helm, namespace)
    history = helm.run("history", RELEASE, "--namespace", namespace, "--output", "json").stdout
    statuses = [revision["status"] for revision in json.loads(history)]
    assert statuses == ["superseded"] * len(SCENARIOS) + ["deployed"], history


def test_checkpoint_claim_spec_cannot_change_on_upgrade(
    crds: list[str], kube_api: k8s.ApiClient, helm: Helm, namespace: str, tmp_path: Path
) -> None:
    """What a real cluster answers too: a PersistentVolumeClaim's spec is immutable (only a
    bound claim's size may grow), so moving the checkpoints to another access mode or storage
    class is a new claim (``stream.checkpoints.existingClaim``), not an upgrade."""
    full = CHART_DIR / "ci" / "full-values.yaml"
    scenarios.prepare(kube_api, full, namespace, tmp_path)
    helm.upgrade_install(
        namespace, CHART_DIR, CHART_DIR / "ci" / "minimal-values.yaml", install=True
    )
    with pytest.raises(HelmError) as refused:
        helm.upgrade_install(namespace, CHART_DIR, full)
    assert "PersistentVolumeClaim" in str(refused.value)
    assert "spec is immutable after creation" in str(refused.value)


@pytest.mark.parametrize("ref_name", sorted(PREVIOUS_CHARTS))
@pytest.mark.parametrize("values", SCENARIOS, ids=SCENARIO_IDS)
def test_upgrade_from_a_previous_chart(
    crds: list[str],
    kube_api: k8s.ApiClient,
    helm: Helm,
    namespace: str,
    values: Path,
    ref_name: str,
    tmp_path: Path,
) -> None:
    """The chart as committed at PREVIOUS_CHARTS[ref_name], installed with that commit's own
    scenario values, upgrades to this chart with this scenario's values."""
    extra = scenarios.prepare(kube_api, values, namespace, tmp_path)
    old_chart = chart_at(PREVIOUS_CHARTS[ref_name], tmp_path)
    old_values = old_chart / "ci" / values.name
    if not old_values.is_file():
        old_values = old_chart / "ci" / "minimal-values.yaml"
    helm.upgrade_install(namespace, old_chart, old_values, install=True)
    result = helm.upgrade_install(namespace, CHART_DIR, values, *extra)
    assert_no_pod_security_warnings(result)
    manifest = assert_release_stored(kube_api, helm, namespace)
    assert admit_workload_pods(kube_api, namespace, manifest) == 5


def wait_for_new_pod(
    api: k8s.ApiClient, namespace: str, name: str, old_uid: str | None, helm_test: Any
) -> str:
    core = k8s.CoreV1Api(api)
    deadline = time.monotonic() + TEST_POD_DEADLINE_SECONDS
    while time.monotonic() < deadline:
        try:
            pod = core.read_namespaced_pod(name, namespace)
            if pod.metadata.uid != old_uid and pod.metadata.deletion_timestamp is None:
                return str(pod.metadata.uid)
        except k8s.ApiException as error:
            if error.status != 404:
                raise
        if helm_test.poll() is not None:
            pytest.fail(f"helm test exited before creating its pod:\n{helm_test.stdout.read()}")
        time.sleep(0.2)
    pytest.fail(f"helm test created no pod {name} within {TEST_POD_DEADLINE_SECONDS:.0f} s")


def run_helm_test(
    api: k8s.ApiClient, helm: Helm, namespace: str, pod: str, old_uid: str | None, verdict: PodState
) -> tuple[int, str, str]:
    """``helm test`` while the test pod's status is written as a kubelet would end it."""
    helm_test = helm.popen("test", RELEASE, "--namespace", namespace, "--timeout", "5m")
    try:
        uid = wait_for_new_pod(api, namespace, pod, old_uid, helm_test)
        status.set_pod_state(api, namespace, pod, verdict)
        output, _ = helm_test.communicate(timeout=120)
    finally:
        if helm_test.poll() is None:
            helm_test.kill()
            helm_test.communicate()
    return helm_test.returncode, output, uid


@HELM_MAJORS
def test_helm_test_pod_is_admitted_and_its_verdict_reported(
    crds: list[str], kube_api: k8s.ApiClient, helms: dict[int, Helm], namespace: str, major: int
) -> None:
    helm = helms[major]
    helm.upgrade_install(namespace, CHART_DIR, install=True)
    pod = f"{RELEASE}-test-api"

    code, output, uid = run_helm_test(kube_api, helm, namespace, pod, None, PodState.SUCCEEDED)
    assert code == 0, output
    assert "Succeeded" in output, output

    # before-hook-creation: the next run replaces the pod; a failing check fails `helm test`.
    code, output, _ = run_helm_test(kube_api, helm, namespace, pod, uid, PodState.FAILED)
    assert code != 0, output
    assert pod in output, output
