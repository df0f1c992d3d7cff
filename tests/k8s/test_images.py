"""The Dockerfiles: multi-stage, pinned bases, non-root, no build tools in the final stage.

hadolint (scripts/check-k8s.sh) lints them; these are the house rules it does not know.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.k8s.tools import REPO_ROOT

DOCKERFILES = sorted(REPO_ROOT.glob("services/*/Dockerfile"))
BUILD_TOOLS = re.compile(
    r"\b(pip install|npm (ci|install)|gcc|g\+\+|build-essential|python3(\.\d+)?-(venv|pip|dev)|"
    r"maven|mvn |wget|curl)\b"
)


@dataclass
class Stage:
    base: str
    lines: list[str] = field(default_factory=list)


def stages(path: Path) -> tuple[dict[str, str], list[Stage]]:
    args: dict[str, str] = {}
    found: list[Stage] = []
    text = re.sub(r"\\\n", " ", path.read_text())
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("ARG ") and not found and "=" in line:
            name, value = line[4:].split("=", 1)
            args[name] = value
        elif line.startswith("FROM "):
            base = line.split()[1]
            found.append(Stage(re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], base)))
        elif found:
            found[-1].lines.append(line)
    return args, found


def test_there_is_one_dockerfile_per_image() -> None:
    assert [p.parent.name for p in DOCKERFILES] == ["api", "dashboard", "producer", "stream"]


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: p.parent.name)
def test_dockerfile_follows_the_house_rules(path: Path) -> None:
    _, found = stages(path)
    assert len(found) >= 2, "multi-stage: build in one stage, ship another"
    for stage in found:
        if stage.base in {s.base for s in found[:-1]} and ":" not in stage.base:
            continue
        assert re.search(r":\d+\.\d+(\.\d+)?", stage.base), f"{stage.base}: pin an exact version"
        assert not stage.base.endswith(":latest"), stage.base
    final = found[-1]
    users = [line.split()[1] for line in final.lines if line.startswith("USER ")]
    assert users, "the final stage sets its USER"
    uid = users[-1].split(":")[0]
    assert uid.isdigit(), f"USER {users[-1]}: numeric, so runAsNonRoot can verify it"
    assert int(uid) != 0, "the final stage runs as non-root"
    for line in final.lines:
        if line.startswith("RUN "):
            tools = BUILD_TOOLS.search(line)
            assert not tools, f"build tool in the final stage: {line}"


def test_python_images_install_the_lock_then_the_project_without_dependencies() -> None:
    for name in ("producer", "api", "stream"):
        text = (REPO_ROOT / f"services/{name}/Dockerfile").read_text()
        assert "requirements.lock" in text, name
        assert re.search(r"pip install --no-deps", text), name
        assert text.index("requirements.lock") < text.index("pip install --no-deps"), name


def test_entry_points_are_the_services_mains() -> None:
    producer = (REPO_ROOT / "services/producer/Dockerfile").read_text()
    assert 'ENTRYPOINT ["python", "-m", "cryptopulse_producer.main"]' in producer
    api = (REPO_ROOT / "services/api/Dockerfile").read_text()
    assert 'ENTRYPOINT ["python", "-m", "cryptopulse_api.main"]' in api
    assert "API_HOST=0.0.0.0" in api
    stream = (REPO_ROOT / "services/stream/Dockerfile").read_text()
    assert "/opt/cryptopulse/stream_main.py" in stream


def test_the_python_build_context_is_an_allow_list() -> None:
    ignore = (REPO_ROOT / ".dockerignore").read_text().splitlines()
    assert ignore[ignore.index("*") :][0] == "*"
    allowed = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    assert allowed == {
        "pyproject.toml",
        "requirements.lock",
        "services/common",
        "services/producer",
        "services/stream",
        "services/api",
        "local",
    }
    dashboard = (REPO_ROOT / "services/dashboard/.dockerignore").read_text().splitlines()
    assert "node_modules" in dashboard
