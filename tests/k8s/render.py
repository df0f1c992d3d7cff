"""Render the chart with the real helm binary."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from tests.k8s.tools import CHART_DIR, helm_binary

# The Kubernetes version every rendered object is validated against.
KUBE_VERSION = "1.35.0"
RELEASE = "cryptopulse"
NAMESPACE = "cryptopulse"


class RenderError(RuntimeError):
    pass


def helm(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [helm_binary(), *args], capture_output=True, text=True, timeout=120, check=False
    )
    if check and result.returncode != 0:
        raise RenderError(f"helm {' '.join(args)} failed:\n{result.stderr}{result.stdout}")
    return result


def template_args(
    values_files: Sequence[Path] = (), set_values: Sequence[str] = (), chart: Path = CHART_DIR
) -> list[str]:
    args = [
        "template",
        RELEASE,
        str(chart),
        "--namespace",
        NAMESPACE,
        "--kube-version",
        KUBE_VERSION,
    ]
    for path in values_files:
        args += ["--values", str(path)]
    for item in set_values:
        args += ["--set", item]
    return args


def render(
    values_files: Sequence[Path] = (), set_values: Sequence[str] = ()
) -> list[dict[str, Any]]:
    """Every object ``helm template`` renders, the ``helm test`` pod included."""
    output = helm(*template_args(values_files, set_values)).stdout
    return [doc for doc in yaml.safe_load_all(output) if doc]


def render_error(values_files: Sequence[Path] = (), set_values: Sequence[str] = ()) -> str:
    """The error of a render that must fail (an AssertionError if it succeeds)."""
    result = helm(*template_args(values_files, set_values), check=False)
    assert result.returncode != 0, f"helm template succeeded with {set_values}"
    return result.stderr


def by_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [obj for obj in objects if obj.get("kind") == kind]


def one(objects: list[dict[str, Any]], kind: str, name_suffix: str = "") -> dict[str, Any]:
    found = [obj for obj in by_kind(objects, kind) if obj["metadata"]["name"].endswith(name_suffix)]
    assert len(found) == 1, f"expected one {kind} named *{name_suffix}, found {len(found)}"
    return found[0]
