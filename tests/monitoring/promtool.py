"""Debian's promtool (package ``prometheus``, installed by ``scripts/setup.sh dev``)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from cryptopulse_monitoring.promql import RELEASE_PODS, substitute
from cryptopulse_monitoring.rules import render_rules

# The labels a test's Prometheus (or promtool) sees in place of the chart's placeholders.
TEST_NAMESPACE = "cryptopulse-test"
TEST_RELEASE_PODS = "cryptopulse-.+"


def binary(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.fail(
            f"{name} is not installed: scripts/setup.sh dev installs Debian's prometheus "
            "package (prometheus and promtool)",
            pytrace=False,
        )
    return found


def promtool(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [binary("promtool"), *args], capture_output=True, text=True, timeout=120, cwd=cwd
    )


def scoped_rules(namespace: str = TEST_NAMESPACE) -> str:
    """The generated rules file with the chart's placeholders filled in for ``namespace``."""
    return substitute(render_rules(), {"$namespace": namespace, RELEASE_PODS: TEST_RELEASE_PODS})
