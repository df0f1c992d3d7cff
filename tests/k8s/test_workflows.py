"""The GitHub workflows, which cannot run here (no Docker, no cluster, no GitHub OIDC), read as
data: the kind workflow installs every ci/ scenario and upgrades, the release workflow builds,
signs, scans and publishes what the chart's defaults point at, and every action is pinned by
commit SHA. actionlint (scripts/check-k8s.sh) checks their syntax and shell."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.k8s.conftest import SCENARIOS
from tests.k8s.render import render
from tests.k8s.schemas import Validator, all_errors
from tests.k8s.tools import CHART_DIR, REPO_ROOT

WORKFLOWS = REPO_ROOT / ".github" / "workflows"
SETUP_SCENARIO = REPO_ROOT / "k8s" / "ci" / "setup-scenario.sh"
SHA_PIN = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
SCENARIO_NAMES = sorted(path.name.removesuffix("-values.yaml") for path in SCENARIOS)


def workflow(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((WORKFLOWS / name).read_text())
    return loaded


def steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = job["steps"]
    return found


def index_of(job: dict[str, Any], predicate: Any, what: str) -> int:
    for index, step in enumerate(steps(job)):
        if predicate(step):
            return index
    raise AssertionError(f"no step that {what}")


def runs(text: str) -> Any:
    return lambda step: text in step.get("run", "")


def uses(action: str) -> Any:
    return lambda step: step.get("uses", "").startswith(action + "@")


def scenario_values(scenario: str) -> list[Path]:
    result = subprocess.run(
        ["bash", str(SETUP_SCENARIO), "--values", scenario],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return [REPO_ROOT / line for line in result.stdout.split()]


def test_the_kind_matrix_installs_every_ci_scenario() -> None:
    matrix = workflow("kind-e2e.yml")["jobs"]["install"]["strategy"]["matrix"]
    assert sorted(matrix["scenario"]) == SCENARIO_NAMES


@pytest.mark.parametrize("scenario", SCENARIO_NAMES)
def test_each_scenario_as_kind_installs_it_renders_and_validates(
    scenario: str, validator: Validator
) -> None:
    """The exact --values list the workflow passes (scenario, kind values, stubs)."""
    files = scenario_values(scenario)
    assert files[0] == CHART_DIR / "ci" / f"{scenario}-values.yaml"
    assert all(path.is_file() for path in files), files
    objects = render(files, ["api.image.tag=ci", "stream.image.tag=ci"])
    errors = list(all_errors(validator, objects))
    assert not errors, errors
    images = [
        c["image"]
        for o in objects
        if o["kind"] == "Deployment"
        for c in o["spec"]["template"]["spec"]["containers"]
    ]
    # kind loads the images under their bare names: no registry, no digest, never pulled.
    assert all(re.fullmatch(r"cryptopulse-[a-z]+:[\w.-]+", image) for image in images), images


def test_every_kind_stub_file_belongs_to_a_scenario() -> None:
    stubs = sorted(p.name for p in (REPO_ROOT / "k8s" / "ci").glob("*-kind-values.yaml"))
    assert all(name.removesuffix("-kind-values.yaml") in SCENARIO_NAMES for name in stubs)


def test_setup_scenario_refuses_a_scenario_it_does_not_know() -> None:
    result = subprocess.run(
        ["bash", str(SETUP_SCENARIO), "no-such-scenario", "cryptopulse"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 64
    assert "unknown scenario" in result.stderr


def test_the_upgrade_job_diffs_then_upgrades_from_the_previous_version_then_tests() -> None:
    job = workflow("kind-e2e.yml")["jobs"]["upgrade"]
    previous = index_of(job, runs("git worktree add ../previous"), "checks the previous out")
    install_previous = index_of(
        job, lambda s: s.get("working-directory") == "../previous", "installs the previous"
    )
    diff = index_of(job, runs("helm diff upgrade"), "runs helm diff")
    upgrade = index_of(job, runs('helm upgrade "$RELEASE"'), "upgrades")
    test = index_of(job, runs("helm test"), "runs helm test")
    e2e = index_of(job, runs("pytest k8s/e2e"), "runs k8s/e2e")
    assert previous < install_previous < diff < upgrade < test < e2e
    assert "--wait" in steps(job)[install_previous]["run"]
    assert "--wait" in steps(job)[upgrade]["run"]
    assert "git describe --tags" in steps(job)[previous]["run"]


@pytest.mark.parametrize("job_name", ["install", "upgrade"])
def test_kind_jobs_install_wait_test_and_check_end_to_end(job_name: str) -> None:
    job = workflow("kind-e2e.yml")["jobs"][job_name]
    text = "\n".join(step.get("run", "") for step in steps(job))
    for needed in ("--wait", "helm test", "pytest k8s/e2e", "k8s/install-prerequisites.sh"):
        assert needed in text, (job_name, needed)


def test_runner_disk_is_freed_before_any_image_is_built() -> None:
    for name in ("kind-e2e.yml", "release.yml"):
        for job_name, job in workflow(name)["jobs"].items():
            builds = [
                i
                for i, step in enumerate(steps(job))
                if "k8s-build-images.sh" in step.get("run", "")
                or step.get("uses", "").startswith("docker/build-push-action@")
            ]
            if not builds:
                continue
            free = index_of(job, uses("jlumbroso/free-disk-space"), f"frees disk in {job_name}")
            assert free < min(builds), (name, job_name)


def test_every_action_is_pinned_by_commit_sha() -> None:
    files = sorted(WORKFLOWS.glob("*.yml"))
    assert files
    for path in files:
        for job_name, job in yaml.safe_load(path.read_text())["jobs"].items():
            for step in steps(job):
                if "uses" in step:
                    assert SHA_PIN.match(step["uses"]), (path.name, job_name, step["uses"])
        for line in path.read_text().splitlines():
            if "uses:" in line:
                assert re.search(r"@[0-9a-f]{40} # v\d", line), (path.name, line)


def test_the_release_builds_signs_scans_and_publishes_every_image_and_the_chart() -> None:
    release = workflow("release.yml")
    assert release[True]["push"]["tags"] == ["v*"]  # YAML reads the key "on" as True
    images = release["jobs"]["images"]
    assert images["permissions"] == {
        "contents": "read",
        "packages": "write",
        "id-token": "write",
    }
    skaffold = yaml.safe_load((REPO_ROOT / "skaffold.yaml").read_text())
    artifacts = {
        a["image"]: (a["context"], str(Path(a["context"]) / a["docker"]["dockerfile"]))
        for a in skaffold["build"]["artifacts"]
    }
    matrix = {
        i["image"]: (i["context"], str(Path(i["dockerfile"])))
        for i in images["strategy"]["matrix"]["include"]
    }
    assert matrix == artifacts
    build = steps(images)[index_of(images, uses("docker/build-push-action"), "builds")]["with"]
    assert build["platforms"] == "linux/amd64,linux/arm64"
    assert build["push"] is True
    assert build["sbom"] is True
    assert build["provenance"] == "mode=max"
    sign = index_of(images, runs("cosign sign --yes"), "signs")
    assert "@${{ steps.build.outputs.digest }}" in steps(images)[sign]["env"]["IMAGE"]
    scan = steps(images)[index_of(images, uses("aquasecurity/trivy-action"), "scans")]["with"]
    assert scan["vuln-type"] == "os"
    assert scan["exit-code"] == "1"
    chart = release["jobs"]["chart"]
    assert chart["needs"] == "images"
    text = "\n".join(step.get("run", "") for step in steps(chart))
    assert 'helm push "$FILE" "oci://$REPOSITORY"' in text
    assert "cosign sign --yes" in text


def test_the_chart_defaults_point_at_the_released_images() -> None:
    values = (CHART_DIR / "values.yaml").read_text()
    # The release's `sed` rewrites exactly this line for the owner's registry.
    lines = [line for line in values.splitlines() if re.match(r"^  imageRegistry: ", line)]
    assert lines == ['  imageRegistry: "ghcr.io/cryptopulse"']
    chart = yaml.safe_load((CHART_DIR / "Chart.yaml").read_text())
    objects = render()
    images = {
        c["image"]
        for o in objects
        if o["kind"] == "Deployment"
        for c in o["spec"]["template"]["spec"]["containers"]
    }
    assert images == {
        f"ghcr.io/cryptopulse/cryptopulse-{name}:{chart['appVersion']}"
        for name in ("producer", "api", "dashboard")
    }


@pytest.mark.parametrize("job_name", ["install", "upgrade"])
def test_kind_runs_the_doctor_after_the_e2e_check_and_prints_its_report_on_failure(
    job_name: str,
) -> None:
    job = workflow("kind-e2e.yml")["jobs"][job_name]
    e2e = index_of(job, runs("pytest k8s/e2e"), "runs k8s/e2e")
    doctor = index_of(job, runs("cryptopulse doctor --kube --json"), "runs the doctor")
    assert e2e < doctor
    script = steps(job)[doctor]["run"]
    assert '--namespace "$NAMESPACE"' in script
    assert '--release "$RELEASE"' in script
    assert "cat doctor-report.json" in script  # the report, when it failed
    assert 'exit "$code"' in script  # and the step fails with it


def test_kind_runs_the_release_its_node_image_was_built_for() -> None:
    """A kindest/node image is built for one kind release and only kind's digest guarantees that
    build (kind's release notes); helm/kind-action installs its own default kind (v0.26.0 in
    v1.12.0), whose `kind load` cannot reach the containerd 2.x of a v1.35 node image
    (kubernetes-sigs/kind#3853). So every kind-action step names the kind version, the node
    image by digest, and a kubectl of the node's minor version; the docs give the same."""
    kind_workflow = workflow("kind-e2e.yml")
    env = kind_workflow["env"]
    assert re.fullmatch(r"v\d+\.\d+\.\d+", env["KIND_VERSION"])
    node_image = r"kindest/node:v(\d+\.\d+)\.\d+@sha256:[0-9a-f]{64}"
    image = re.fullmatch(node_image, env["KIND_NODE_IMAGE"])
    assert image, env["KIND_NODE_IMAGE"]
    assert re.fullmatch(rf"v{re.escape(image[1])}\.\d+", env["KUBECTL_VERSION"])
    for job_name, job in kind_workflow["jobs"].items():
        for step in steps(job):
            if step.get("uses", "").startswith("helm/kind-action@"):
                assert step["with"]["version"] == "${{ env.KIND_VERSION }}", job_name
                assert step["with"]["node_image"] == "${{ env.KIND_NODE_IMAGE }}", job_name
                assert step["with"]["kubectl_version"] == "${{ env.KUBECTL_VERSION }}", job_name
    docs = (REPO_ROOT / "docs" / "kubernetes.md").read_text()
    assert f"--image {env['KIND_NODE_IMAGE']}" in docs
    assert f"kind {env['KIND_VERSION']}" in docs
