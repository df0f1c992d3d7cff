"""The test control plane is a real one: version, authentication, RBAC and Pod Security admission
answer as a cluster's would."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from kubernetes import client as k8s

from tests.support.kube import controlplane, objects
from tests.support.kube.controlplane import (
    INSTALL_SCRIPT,
    PORT_IN_USE,
    REPO_ROOT,
    STOP_TIMEOUT_SECONDS,
    ControlPlane,
    running_control_plane,
)

pytestmark = pytest.mark.kube

# A pod the "restricted" standard refuses (no runAsNonRoot, no seccomp profile, capabilities
# not dropped, privilege escalation not disabled) and "baseline" admits.
UNHARDENED_POD = {
    "metadata": {"name": "unhardened"},
    "spec": {"containers": [{"name": "app", "image": "registry.example.com/app:1"}]},
}


# A test run that starts a control plane and is then killed: no fixture teardown runs.
KILLED_RUN = """
import json, sys, time
from pathlib import Path
from tests.support.kube.controlplane import running_control_plane
with running_control_plane(Path(sys.argv[1])) as plane:
    print(json.dumps(plane.pids), flush=True)
    time.sleep(3600)
"""
EXIT_DEADLINE_SECONDS = STOP_TIMEOUT_SECONDS * 3  # a deadline for the kernel's signal to work


def running(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie waiting for init to reap it is not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def script_version(name: str) -> str:
    match = re.search(rf"^{name}=(\S+)$", INSTALL_SCRIPT.read_text(), re.MULTILINE)
    assert match, f"{name} is not set in {INSTALL_SCRIPT}"
    return match.group(1)


def test_server_reports_the_version_it_was_built_as(control_plane: ControlPlane) -> None:
    """Helm compares the chart's kubeVersion with this: an unstamped build says v0.0.0."""
    with httpx.Client(verify=control_plane.tls()) as http:
        version = http.get(
            f"{control_plane.url}/version",
            headers={"Authorization": f"Bearer {control_plane.credentials.admin_token}"},
        ).json()
    expected = script_version("KUBE_VERSION")
    assert version["gitVersion"] == expected
    assert (version["major"], version["minor"]) == ("1", expected.split(".")[1])


def test_requests_without_valid_credentials_are_refused(control_plane: ControlPlane) -> None:
    with httpx.Client(verify=control_plane.tls()) as http:
        anonymous = http.get(f"{control_plane.url}/api/v1/namespaces")
        forged = http.get(
            f"{control_plane.url}/api/v1/namespaces", headers={"Authorization": "Bearer forged"}
        )
    assert (anonymous.status_code, forged.status_code) == (401, 401)


def test_a_service_account_token_authenticates_and_rbac_decides(
    kube_api: k8s.ApiClient, control_plane: ControlPlane, namespace: str
) -> None:
    """A token the API server signs (TokenRequest) authenticates its account; with no binding,
    RBAC refuses it (403, not 401)."""
    token = (
        k8s.CoreV1Api(kube_api)
        .create_namespaced_service_account_token(
            "default", namespace, {"spec": {"expirationSeconds": 600}}
        )
        .status.token
    )
    with httpx.Client(verify=control_plane.tls()) as http:
        answer = http.get(
            f"{control_plane.url}/api/v1/namespaces/{namespace}/pods",
            headers={"Authorization": f"Bearer {token}"},
        )
    assert answer.status_code == 403, answer.text
    assert f"system:serviceaccount:{namespace}:default" in answer.json()["message"]


def test_pod_security_admission_enforces_restricted_namespaces(
    kube_api: k8s.ApiClient, namespace: str
) -> None:
    core = k8s.CoreV1Api(kube_api)
    with pytest.raises(k8s.ApiException) as refused:
        core.create_namespaced_pod(namespace, UNHARDENED_POD)
    assert refused.value.status == 403
    assert 'violates PodSecurity "restricted:latest"' in json.loads(refused.value.body)["message"]

    # The same pod where no level is enforced is admitted: the refusal above was PodSecurity's.
    open_namespace = f"{namespace[:50]}-open"
    objects.create_namespace(kube_api, open_namespace, pod_security=None)
    created = core.create_namespaced_pod(open_namespace, UNHARDENED_POD)
    assert created.metadata.uid


def test_rbac_answers_subject_access_reviews(kube_api: k8s.ApiClient, namespace: str) -> None:
    allowed, _ = objects.review(kube_api, namespace, "default", objects.Access("list", "pods"))
    assert not allowed
    # What every authenticated account may do (RBAC's bootstrap system:basic-user role).
    allowed, reason = objects.review(
        kube_api,
        namespace,
        "default",
        objects.Access("create", "selfsubjectaccessreviews", "authorization.k8s.io", namespace=""),
    )
    assert allowed, reason


def test_a_killed_test_run_leaves_no_control_plane_running(tmp_path: Path) -> None:
    """pytest killed by a CI timeout or ``kill -9`` tears nothing down; etcd and kube-apiserver
    must not outlive it (they would hold ports and memory on a shared machine for good)."""
    run = subprocess.Popen(
        [sys.executable, "-c", KILLED_RUN, str(tmp_path / "plane")],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    pids: dict[str, int] = {}
    try:
        assert run.stdout is not None
        line = run.stdout.readline()
        if not line:
            pytest.fail(f"the control plane did not start: {run.communicate()[1]}")
        pids = json.loads(line)
        assert all(running(pid) for pid in pids.values()), pids
        run.kill()
        run.wait()
        deadline = time.monotonic() + EXIT_DEADLINE_SECONDS
        while any(running(pid) for pid in pids.values()) and time.monotonic() < deadline:
            time.sleep(0.2)
        left = {name: pid for name, pid in pids.items() if running(pid)}
        assert not left, f"still running after their parent was killed: {left}"
    finally:
        run.kill()
        run.communicate()
        for pid in pids.values():
            if running(pid):
                os.kill(pid, signal.SIGKILL)


def test_a_port_taken_after_it_was_chosen_is_chosen_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A free port is only free when chosen: on a shared machine another process can listen on
    it (or connect from it) before etcd binds it. Here this test takes etcd's first port."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        first = iter([taken.getsockname()[1]])
        choose = controlplane.free_port
        monkeypatch.setattr(controlplane, "free_port", lambda: next(first, None) or choose())
        with running_control_plane(tmp_path / "plane") as plane:
            with httpx.Client(verify=plane.tls()) as http:
                ready = http.get(
                    f"{plane.url}/readyz",
                    headers={"Authorization": f"Bearer {plane.credentials.admin_token}"},
                )
            assert ready.status_code == 200
    assert PORT_IN_USE in (tmp_path / "plane" / "etcd.log").read_text()
