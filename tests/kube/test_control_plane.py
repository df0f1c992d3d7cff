"""The test control plane is a real one: version, authentication, RBAC and Pod Security admission
answer as a cluster's would."""

from __future__ import annotations

import json
import re

import httpx
import pytest
from kubernetes import client as k8s

from tests.support.kube import objects
from tests.support.kube.controlplane import INSTALL_SCRIPT, ControlPlane

pytestmark = pytest.mark.kube

# A pod the "restricted" standard refuses (no runAsNonRoot, no seccomp profile, capabilities
# not dropped, privilege escalation not disabled) and "baseline" admits.
UNHARDENED_POD = {
    "metadata": {"name": "unhardened"},
    "spec": {"containers": [{"name": "app", "image": "registry.example.com/app:1"}]},
}


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
