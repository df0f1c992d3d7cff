"""Working with the test control plane through the official Python client (``kubernetes``):
clients, restricted namespaces, CRDs, and SubjectAccessReviews.

Everything here goes through the real API server: validation, defaulting, admission and RBAC
answer as on a cluster.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes import dynamic

# The Pod Security Standard the chart's namespaces are labelled with (README: "restricted").
POD_SECURITY_LEVEL = "restricted"
POD_SECURITY_MODES = ("enforce", "audit", "warn")
CRD_ESTABLISHED_DEADLINE_SECONDS = 60.0  # a deadline: the API server's CRD controller is async
# Verbs RBAC checks that discovery does not list (Kubernetes' "Referring to resources" and
# "Privilege escalation prevention" docs): granting a role, editing one beyond one's own
# rights, acting as another user or account.
UNLISTED_VERBS = ("bind", "escalate", "impersonate")
REVIEW_THREADS = 4


def body(obj: dict[str, Any]) -> Any:
    """A request body written as a plain dict. The client sends one as it is
    (``ApiClient.sanitize_for_serialization``); the type stubs (kubernetes-stubs) only know the
    model classes (``V1Pod``...), so this is the one place a dict body is let through."""
    return obj


def api_client(kubeconfig: Path) -> k8s.ApiClient:
    """An ``ApiClient`` for the kubeconfig's current context (the admin token)."""
    return k8s_config.new_client_from_config(config_file=str(kubeconfig))


def pod_security_labels(level: str = POD_SECURITY_LEVEL) -> dict[str, str]:
    """The namespace labels that make the PodSecurity admission plugin enforce ``level``
    (https://kubernetes.io/docs/concepts/security/pod-security-admission/)."""
    labels = {f"pod-security.kubernetes.io/{mode}": level for mode in POD_SECURITY_MODES}
    labels |= {
        f"pod-security.kubernetes.io/{mode}-version": "latest" for mode in POD_SECURITY_MODES
    }
    return labels


def create_namespace(
    api: k8s.ApiClient, name: str, pod_security: str | None = POD_SECURITY_LEVEL
) -> dict[str, Any]:
    """Create namespace ``name`` (labelled for ``pod_security`` enforcement unless None) and its
    ``default`` ServiceAccount, as kube-controller-manager's serviceaccount controller would:
    the ServiceAccount admission plugin refuses a pod whose account does not exist."""
    core = k8s.CoreV1Api(api)
    labels = pod_security_labels(pod_security) if pod_security else {}
    namespace = core.create_namespace(body({"metadata": {"name": name, "labels": labels}}))
    core.create_namespaced_service_account(name, body({"metadata": {"name": "default"}}))
    result: dict[str, Any] = api.sanitize_for_serialization(namespace)
    return result


def crd_files(crds_dir: Path) -> list[Path]:
    """Every CRD file under ``crds_dir`` (``../shared/crds``: Strimzi, Spark operator,
    Prometheus operator), sorted; raises FileNotFoundError when there are none."""
    files = sorted(path for path in crds_dir.rglob("*.yaml") if path.is_file())
    if not files:
        raise FileNotFoundError(
            f"no CRD files under {crds_dir}: shared/crds must sit beside the repository, "
            "or set CRYPTOPULSE_CRDS_DIR"
        )
    return files


def install_crds(api: k8s.ApiClient, files: Iterable[Path]) -> list[str]:
    """Create every CustomResourceDefinition in ``files`` and wait until each is Established
    (its names accepted and its API served); returns their names.

    Raises RuntimeError naming a CRD that is not Established by the deadline.
    """
    extensions = k8s.ApiextensionsV1Api(api)
    names = []
    for path in files:
        for document in yaml.safe_load_all(path.read_text()):
            if document and document.get("kind") == "CustomResourceDefinition":
                extensions.create_custom_resource_definition(document)
                names.append(document["metadata"]["name"])
    deadline = time.monotonic() + CRD_ESTABLISHED_DEADLINE_SECONDS
    for name in names:
        while not _established(extensions.read_custom_resource_definition(name)):
            if time.monotonic() > deadline:
                raise RuntimeError(f"CRD {name} not Established after the deadline")
            time.sleep(0.2)
    return names


def _established(crd: Any) -> bool:
    conditions = (crd.status.conditions if crd.status else None) or []
    return any(c.type == "Established" and c.status == "True" for c in conditions)


@dataclass(frozen=True)
class Access:
    """One question for a SubjectAccessReview: may the subject ``verb`` the ``resource``?"""

    verb: str
    resource: str
    group: str = ""
    subresource: str = ""
    namespace: str | None = None  # None: the subject's own namespace; "" : cluster scope

    def __str__(self) -> str:
        resource = f"{self.resource}/{self.subresource}" if self.subresource else self.resource
        group = f".{self.group}" if self.group else ""
        where = f" in {self.namespace}" if self.namespace else ""
        return f"{self.verb} {resource}{group}{where}"


def service_account_user(namespace: str, name: str) -> tuple[str, list[str]]:
    """The user name and groups the API server's service-account authenticator gives a token
    of ``namespace/name`` (k8s.io/apiserver/pkg/authentication/serviceaccount)."""
    user = f"system:serviceaccount:{namespace}:{name}"
    groups = [
        "system:serviceaccounts",
        f"system:serviceaccounts:{namespace}",
        "system:authenticated",
    ]
    return user, groups


def review(api: k8s.ApiClient, namespace: str, account: str, access: Access) -> tuple[bool, str]:
    """Ask the API server (``SubjectAccessReview``, answered by the RBAC authorizer) whether
    service account ``namespace/account`` may do ``access``; returns (allowed, reason)."""
    user, groups = service_account_user(namespace, account)
    attributes: dict[str, str] = {"verb": access.verb, "resource": access.resource}
    if access.group:
        attributes["group"] = access.group
    if access.subresource:
        attributes["subresource"] = access.subresource
    scope = namespace if access.namespace is None else access.namespace
    if scope:
        attributes["namespace"] = scope
    answer = k8s.AuthorizationV1Api(api).create_subject_access_review(
        body(
            {
                "apiVersion": "authorization.k8s.io/v1",
                "kind": "SubjectAccessReview",
                "spec": {"user": user, "groups": groups, "resourceAttributes": attributes},
            }
        )
    )
    status = answer.status
    if status is None:
        raise RuntimeError(
            f"the API server answered a SubjectAccessReview without a status: {answer}"
        )
    return bool(status.allowed), status.reason or status.evaluation_error or ""


def api_surface(api: k8s.ApiClient) -> list[Access]:
    """Every verb on every resource and subresource the API server serves, from its discovery
    documents (built-in kinds and installed CRDs): each namespaced one in the subject's own
    namespace (``namespace=None``), and each one at cluster scope (``namespace=""``: the
    cluster-scoped kinds, and the namespaced ones across all namespaces). Each resource also
    gets :data:`UNLISTED_VERBS`. Hundreds of questions; :func:`allowed` asks them all."""
    surface: set[Access] = set()
    # kubernetes.dynamic has no type annotations (the stubs do not cover it).
    discovery = dynamic.DynamicClient(api)  # type: ignore[no-untyped-call]
    for resource in discovery.resources.search():
        if not getattr(resource, "verbs", None):
            continue  # a resource list, not a resource
        parts = [("", [*resource.verbs, *UNLISTED_VERBS])]
        parts += [(name, sub.verbs or []) for name, sub in resource.subresources.items()]
        scopes: list[str | None] = [None, ""] if resource.namespaced else [""]
        for subresource, verbs in parts:
            for verb in verbs:
                for scope in scopes:
                    surface.add(Access(verb, resource.name, resource.group, subresource, scope))
    return sorted(surface, key=str)


def allowed(
    api: k8s.ApiClient, namespace: str, account: str, accesses: Iterable[Access]
) -> set[Access]:
    """The ``accesses`` that service account ``namespace/account`` may do, each asked with a
    SubjectAccessReview (a few at a time)."""
    questions = list(accesses)
    with ThreadPoolExecutor(REVIEW_THREADS) as pool:
        answers = pool.map(lambda access: review(api, namespace, account, access)[0], questions)
        return {access for access, yes in zip(questions, answers, strict=True) if yes}
