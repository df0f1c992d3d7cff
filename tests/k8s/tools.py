"""Where the checks find their tools: the cache scripts/check-k8s.sh installs into, and the CRDs.

No test here is skipped for a missing tool: CI must install them, so a missing one fails with
what to run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
CHART_DIR = REPO_ROOT / "charts" / "cryptopulse"
INSTALL_HINT = "run scripts/check-k8s.sh once: it installs the tools into the cache"


def tools_dir() -> Path:
    default = Path.home() / ".cache" / "cryptopulse" / "tools"
    return Path(os.environ.get("CRYPTOPULSE_TOOLS_DIR", default))


def crds_dir() -> Path:
    """``../shared/crds`` beside the repository, unless ``CRYPTOPULSE_CRDS_DIR`` says otherwise;
    failing both, ``shared/crds`` beside the local repository this clone came from (as
    scripts/check-k8s.sh finds it for a throwaway clone)."""
    if "CRYPTOPULSE_CRDS_DIR" in os.environ:
        return Path(os.environ["CRYPTOPULSE_CRDS_DIR"])
    beside = REPO_ROOT.parent / "shared" / "crds"
    if beside.is_dir():
        return beside
    origin = subprocess.run(
        ["git", "-C", str(REPO_ROOT), "remote", "get-url", "origin"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    from_origin = Path(origin).parent / "shared" / "crds" if origin else beside
    return from_origin if from_origin.is_dir() else beside


class ToolMissingError(RuntimeError):
    pass


def helm_binary() -> str:
    candidates = [os.environ.get("CRYPTOPULSE_HELM", ""), str(tools_dir() / "bin" / "helm")]
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    on_path = shutil.which("helm")
    if on_path:
        return on_path
    raise ToolMissingError(f"helm is not in {tools_dir() / 'bin'} nor on PATH; {INSTALL_HINT}")


def use_tool_libraries() -> None:
    """Make kubernetes_validate and jsonschema importable from the tools virtualenv.

    The directory is appended to ``sys.path``: the project's own packages keep precedence.
    """
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    site = Path(
        os.environ.get(
            "CRYPTOPULSE_TOOLS_SITE_PACKAGES",
            tools_dir() / "venv" / "lib" / version / "site-packages",
        )
    )
    if str(site) not in sys.path and site.is_dir():
        sys.path.append(str(site))
    try:
        import jsonschema  # noqa: F401
        import kubernetes_validate  # noqa: F401
    except ImportError as error:
        raise ToolMissingError(
            f"cannot import {error.name} (looked in {site} for {version}); {INSTALL_HINT}"
        ) from error
