"""Fixtures of the chart checks: the CRD-aware validator and the rendered ci/ scenarios."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.k8s.render import KUBE_VERSION, render
from tests.k8s.schemas import Validator
from tests.k8s.tools import CHART_DIR, ToolMissingError, helm_binary

SCENARIOS = sorted((CHART_DIR / "ci").glob("*-values.yaml"))


@pytest.fixture(scope="session")
def helm() -> str:
    try:
        return helm_binary()
    except ToolMissingError as error:
        pytest.fail(str(error), pytrace=False)


@pytest.fixture(scope="session")
def validator() -> Validator:
    try:
        return Validator.create(KUBE_VERSION)
    except (ToolMissingError, FileNotFoundError) as error:
        pytest.fail(str(error), pytrace=False)


_rendered: dict[Path, list[dict[str, Any]]] = {}


@pytest.fixture(params=SCENARIOS, ids=[path.name for path in SCENARIOS])
def scenario(request: pytest.FixtureRequest, helm: str) -> tuple[str, list[dict[str, Any]]]:
    """(scenario file name, every object it renders), rendered once per session."""
    path: Path = request.param
    if path not in _rendered:
        _rendered[path] = render([path])
    return path.name, _rendered[path]
