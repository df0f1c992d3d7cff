"""The chart's service accounts can do what their pods need and nothing more, as the RBAC
authorizer answers SubjectAccessReviews after a real ``helm install``.

What each account needs, from the sources of the code that uses it:
- ``<fullname>`` (producer, API, dashboard): nothing. They never call the Kubernetes API, and
  their pods do not mount a token (``automountServiceAccountToken: false``).
- ``<fullname>-stream`` (the Spark driver; the operator's own account runs spark-submit): Spark's
  Kubernetes scheduler backend (``resource-managers/kubernetes/core``,
  ``KubernetesClusterSchedulerBackend``, ``ExecutorPodsAllocator``,
  ``ExecutorPodsWatchSnapshotSource``, ``ExecutorPodsPollingSnapshotSource``,
  ``ExecutorPodsLifecycleManager``): it reads its own driver pod, creates, labels (patch),
  watches, lists and deletes executor pods (one by one and by label), creates and deletes by
  label the executors' ConfigMap, deletes by label the driver's Service and on-demand
  PersistentVolumeClaims on stop, and lists/creates claims when it reuses them. Spark's docs and
  the Spark operator chart's ``spark`` Role grant this verb set on pods, services, configmaps
  and persistentvolumeclaims in the job's namespace only.

"Nothing more" is checked over the whole API (every verb on every resource and subresource the
server serves, in the namespace and cluster-wide), not only over a sample: a Role widened by one
rule (``watch`` on secrets hands out every Secret) shows there.
"""

from __future__ import annotations

import pytest
from kubernetes import client as k8s

from tests.k8s.tools import CHART_DIR
from tests.kube import scenarios
from tests.kube.helm import RELEASE, Helm
from tests.support.kube.objects import Access, allowed, api_surface, create_namespace, review

pytestmark = pytest.mark.kube

APP_ACCOUNT = RELEASE  # the chart's full name for release "cryptopulse"
STREAM_ACCOUNT = f"{RELEASE}-stream"

STREAM_NEEDS = [
    Access("get", "pods"),
    Access("list", "pods"),
    Access("watch", "pods"),
    Access("create", "pods"),
    Access("patch", "pods"),
    Access("delete", "pods"),
    Access("deletecollection", "pods"),
    Access("create", "configmaps"),
    Access("delete", "configmaps"),
    Access("deletecollection", "configmaps"),
    Access("delete", "services"),
    Access("deletecollection", "services"),
    Access("list", "persistentvolumeclaims"),
    Access("create", "persistentvolumeclaims"),
    Access("delete", "persistentvolumeclaims"),
    Access("deletecollection", "persistentvolumeclaims"),
]

# A sample of what no pod of ours needs: secrets, exec, tokens, RBAC itself, the custom
# resources the operators own, cluster-scoped objects, and anything in another namespace.
STREAM_REFUSED = [
    Access("get", "secrets"),
    Access("list", "secrets"),
    Access("create", "pods", subresource="exec"),
    Access("create", "pods", subresource="attach"),
    Access("create", "serviceaccounts", subresource="token"),
    Access("create", "rolebindings", "rbac.authorization.k8s.io"),
    Access("escalate", "roles", "rbac.authorization.k8s.io"),
    Access("create", "deployments", "apps"),
    Access("patch", "sparkapplications", "sparkoperator.k8s.io"),
    Access("get", "kafkas", "kafka.strimzi.io"),
    Access("delete", "kafkatopics", "kafka.strimzi.io"),
    Access("list", "nodes", namespace=""),
    Access("list", "pods", namespace=""),  # every namespace at once
    Access("create", "pods", namespace="kube-system"),
    Access("get", "configmaps", namespace="kube-system"),
]

# The chart's stream Role, as the Spark operator chart's `spark` Role (v2.5.2,
# templates/spark/rbac.yaml) grants it: these verbs on these resources, in the namespace.
SPARK_ROLE_VERBS = (
    "get",
    "list",
    "watch",
    "create",
    "update",
    "patch",
    "delete",
    "deletecollection",
)
SPARK_ROLE_RESOURCES = ("pods", "configmaps", "persistentvolumeclaims", "services")
STREAM_GRANTED = {Access(v, r) for v in SPARK_ROLE_VERBS for r in SPARK_ROLE_RESOURCES}
# What every authenticated subject may do: RBAC's bootstrap ClusterRole system:basic-user
# (plugin/pkg/auth/authorizer/rbac/bootstrappolicy/policy.go), bound to system:authenticated.
BASIC_USER = {
    Access("create", "selfsubjectaccessreviews", "authorization.k8s.io", namespace=""),
    Access("create", "selfsubjectrulesreviews", "authorization.k8s.io", namespace=""),
    Access("create", "selfsubjectreviews", "authentication.k8s.io", namespace=""),
}

APP_REFUSED = [
    Access("get", "pods"),
    Access("list", "pods"),
    Access("get", "configmaps"),
    Access("get", "secrets"),
    Access("list", "services"),
    Access("create", "pods"),
    Access("get", "sparkapplications", "sparkoperator.k8s.io"),
    Access("get", "kafkas", "kafka.strimzi.io"),
    Access("list", "namespaces", namespace=""),
]


@pytest.fixture(scope="module", params=["minimal", "full"])
def release(
    request: pytest.FixtureRequest,
    crds: list[str],
    kube_api: k8s.ApiClient,
    helm: Helm,
    tmp_path_factory: pytest.TempPathFactory,
) -> str:
    """The namespace of a release of the ``ci/<param>-values.yaml`` scenario (once per module)."""
    namespace = f"rbac-{request.param}"
    values = CHART_DIR / "ci" / f"{request.param}-values.yaml"
    create_namespace(kube_api, namespace)
    extra = scenarios.prepare(kube_api, values, namespace, tmp_path_factory.mktemp("rbac"))
    helm.upgrade_install(namespace, CHART_DIR, values, *extra, install=True)
    return namespace


def test_the_chart_creates_exactly_the_accounts_checked_here(
    kube_api: k8s.ApiClient, release: str
) -> None:
    accounts = k8s.CoreV1Api(kube_api).list_namespaced_service_account(
        release, label_selector=f"app.kubernetes.io/instance={RELEASE}"
    )
    assert {a.metadata.name for a in accounts.items} == {APP_ACCOUNT, STREAM_ACCOUNT}


@pytest.mark.parametrize("access", STREAM_NEEDS, ids=str)
def test_stream_account_can_do_what_the_spark_driver_needs(
    kube_api: k8s.ApiClient, release: str, access: Access
) -> None:
    allowed, reason = review(kube_api, release, STREAM_ACCOUNT, access)
    assert allowed, f"{STREAM_ACCOUNT} may not {access}: {reason}"


@pytest.mark.parametrize("access", STREAM_REFUSED, ids=str)
def test_stream_account_is_refused_the_rest(
    kube_api: k8s.ApiClient, release: str, access: Access
) -> None:
    allowed, reason = review(kube_api, release, STREAM_ACCOUNT, access)
    assert not allowed, f"{STREAM_ACCOUNT} may {access}: {reason}"


@pytest.mark.parametrize("access", APP_REFUSED, ids=str)
def test_app_account_is_refused_everything(
    kube_api: k8s.ApiClient, release: str, access: Access
) -> None:
    allowed, reason = review(kube_api, release, APP_ACCOUNT, access)
    assert not allowed, f"{APP_ACCOUNT} may {access}: {reason}"


def test_accounts_can_do_nothing_beyond_their_grants(kube_api: k8s.ApiClient, release: str) -> None:
    """Every verb on every resource the API server serves, asked for both accounts: the stream
    account may do exactly its Role's grants (and what every account may), the app account
    only what every account may."""
    surface = api_surface(kube_api)
    assert set(surface) >= STREAM_GRANTED | BASIC_USER, "discovery missed a granted resource"
    stream = allowed(kube_api, release, STREAM_ACCOUNT, surface)
    app = allowed(kube_api, release, APP_ACCOUNT, surface)
    assert app == BASIC_USER, sorted(map(str, app ^ BASIC_USER))
    assert stream == STREAM_GRANTED | BASIC_USER, sorted(
        map(str, stream ^ (STREAM_GRANTED | BASIC_USER))
    )
