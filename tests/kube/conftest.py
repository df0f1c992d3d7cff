"""Fixtures of the ``kube`` tests: one real control plane (etcd + kube-apiserver) per session,
the operators' CRDs installed in it, helm pointed at it, and restricted namespaces.

The binaries come from ``scripts/install-control-plane.sh`` (``make test`` runs it first); a
missing binary fails the tests with that command, it never skips them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from kubernetes import client as k8s

from tests.k8s.tools import ToolMissingError, crds_dir
from tests.kube.helm import Helm, installed_helms
from tests.support.kube import objects
from tests.support.kube.controlplane import (
    ControlPlane,
    ControlPlaneError,
    installed_binaries,
    running_control_plane,
)

_started: list[ControlPlane] = []


@pytest.fixture(scope="session")
def control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    try:
        binaries = installed_binaries()
        with running_control_plane(tmp_path_factory.mktemp("kube"), binaries) as plane:
            _started.append(plane)
            yield plane
    except ControlPlaneError as error:
        pytest.fail(str(error), pytrace=False)


@pytest.fixture(scope="session")
def kube_api(control_plane: ControlPlane) -> Iterator[k8s.ApiClient]:
    api = objects.api_client(control_plane.kubeconfig)
    try:
        yield api
    finally:
        api.close()


@pytest.fixture(scope="session")
def crds(kube_api: k8s.ApiClient) -> list[str]:
    """The names of the CRDs installed from ``../shared/crds`` (``CRYPTOPULSE_CRDS_DIR``)."""
    try:
        files = objects.crd_files(crds_dir())
    except FileNotFoundError as error:
        pytest.fail(str(error), pytrace=False)
    return objects.install_crds(kube_api, files)


@pytest.fixture(scope="session")
def helm(control_plane: ControlPlane, tmp_path_factory: pytest.TempPathFactory) -> Helm:
    try:
        return Helm.create(control_plane.kubeconfig, tmp_path_factory.mktemp("helm-home"))
    except ToolMissingError as error:
        pytest.fail(str(error), pytrace=False)


@pytest.fixture(scope="session")
def helms(control_plane: ControlPlane, tmp_path_factory: pytest.TempPathFactory) -> dict[int, Helm]:
    """Helm 3 and Helm 4 as scripts/check-k8s.sh installs them, by major version (the chart
    supports both: a release installed by one is upgraded by the other)."""
    try:
        binaries = installed_helms()
    except ToolMissingError as error:
        pytest.fail(str(error), pytrace=False)
    return {
        major: Helm.create(
            control_plane.kubeconfig, tmp_path_factory.mktemp(f"helm{major}-home"), binary
        )
        for major, binary in binaries.items()
    }


_names: set[str] = set()


def namespace_name(request: pytest.FixtureRequest) -> str:
    """A DNS-1123 label from the test's name, unique within the session."""
    base = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:50].strip("-")
    name, n = base, 1
    while name in _names:
        n += 1
        name = f"{base[:46]}-{n}"
    _names.add(name)
    return name


@pytest.fixture
def namespace(kube_api: k8s.ApiClient, request: pytest.FixtureRequest) -> str:
    """A fresh namespace labelled for Pod Security "restricted" enforcement, with its
    ``default`` ServiceAccount. Never deleted: the session's etcd is thrown away (and without
    kube-controller-manager a deleted namespace would stay Terminating)."""
    name = namespace_name(request)
    objects.create_namespace(kube_api, name)
    return name


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for plane in _started:
        terminalreporter.write_line(
            f"kube: etcd + kube-apiserver ready in {plane.startup_seconds:.1f} s ({plane.url})"
        )
