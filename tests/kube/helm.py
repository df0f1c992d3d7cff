"""Running the real helm binary (the one scripts/check-k8s.sh installs, Helm 3 or 4) against the
test control plane, and the previous chart versions an upgrade starts from."""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.k8s.tools import CHART_DIR, REPO_ROOT, ToolMissingError, helm_binary, tools_dir

RELEASE = "cryptopulse"
SCENARIOS = sorted((CHART_DIR / "ci").glob("*-values.yaml"))
HELM_TIMEOUT_SECONDS = 300  # a deadline for one helm command on a loaded machine

# The chart versions an upgrade starts from: the chart as committed at each git ref (the chart
# has kept version 0.1.0 since its first commit, so a ref, not a version number, names it).
# "first" is the chart's first commit; "previous" is the chart on main when the kube tests were
# added. Move "previous" to the released commit whenever the chart's version is bumped.
PREVIOUS_CHARTS = {
    "first": "bdcfed990b048f2e3e7ede0dd4f47ad016573b3b",
    "previous": "4c68e0cf17bd9024c8622294894c83da56eaddd1",
}


class HelmError(RuntimeError):
    pass


def _version_key(path: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in path.parent.name.removeprefix("helm-v").split("."))


def installed_helms() -> dict[int, str]:
    """The helm CLIs scripts/check-k8s.sh installs, by major version: Helm 3 as
    ``<tools>/bin/helm``, Helm 4 as ``<tools>/helm-v4.x.y/helm`` (the newest there).

    Raises ToolMissingError naming what to run when one is missing.
    """
    helm4 = sorted(tools_dir().glob("helm-v4.*/helm"), key=_version_key)
    found = {3: tools_dir() / "bin" / "helm", 4: helm4[-1] if helm4 else None}
    for major, path in found.items():
        if path is None or not path.is_file():
            raise ToolMissingError(
                f"no Helm {major} in {tools_dir()}: run scripts/check-k8s.sh --install"
            )
    return {major: str(path) for major, path in found.items()}


@dataclass(frozen=True)
class Helm:
    """helm with KUBECONFIG pointing at the test control plane and its own cache/config dirs."""

    binary: str
    env: dict[str, str]

    @classmethod
    def create(cls, kubeconfig: Path, home: Path, binary: str | None = None) -> Helm:
        env = {
            **os.environ,
            "KUBECONFIG": str(kubeconfig),
            "HELM_CACHE_HOME": str(home / "cache"),
            "HELM_CONFIG_HOME": str(home / "config"),
            "HELM_DATA_HOME": str(home / "data"),
        }
        return cls(binary=binary or helm_binary(), env=env)

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [self.binary, *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=HELM_TIMEOUT_SECONDS,
            check=False,
        )
        if check and result.returncode != 0:
            raise HelmError(
                f"helm {' '.join(args)} failed ({result.returncode}):\n"
                f"{result.stderr}{result.stdout}"
            )
        return result

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [self.binary, *args],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def major_version(self) -> int:
        """3 or 4, from ``helm version --short`` (``v3.22.0+g...``)."""
        short = self.run("version", "--short").stdout.strip()
        return int(short.lstrip("v").split(".", 1)[0])

    def upgrade_install(
        self, namespace: str, chart: Path, *values: Path, install: bool = False
    ) -> subprocess.CompletedProcess[str]:
        """``helm install`` (or ``helm upgrade``) of ``chart`` as :data:`RELEASE` with the
        ``values`` files in order, without ``--wait``: nothing runs pods here. Returns the
        finished process (stderr carries the API server's warnings)."""
        args = ["install" if install else "upgrade", RELEASE, str(chart), "--namespace", namespace]
        for path in values:
            args += ["--values", str(path)]
        return self.run(*args)

    def manifest(self, namespace: str) -> list[dict[str, Any]]:
        """The release's objects as Helm recorded them (``helm get manifest``)."""
        text = self.run("get", "manifest", RELEASE, "--namespace", namespace).stdout
        return [doc for doc in yaml.safe_load_all(text) if doc]


def chart_at(ref: str, destination: Path) -> Path:
    """Extract ``charts/cryptopulse`` as committed at git ``ref`` into ``destination``.

    Raises HelmError when the repository lacks ``ref`` (a shallow clone: fetch its history).
    """
    result = subprocess.run(
        ["git", "-C", str(REPO_ROOT), "archive", "--format=tar", ref, "charts/cryptopulse"],
        capture_output=True,
        check=False,
        timeout=60,
    )
    if result.returncode != 0:
        raise HelmError(
            f"git archive {ref} failed: {result.stderr.decode(errors='replace').strip()} "
            "(the upgrade tests need the chart's history: a full clone, not a shallow one)"
        )
    with tarfile.open(fileobj=io.BytesIO(result.stdout)) as archive:
        archive.extractall(destination, filter="data")
    return destination / "charts" / "cryptopulse"
