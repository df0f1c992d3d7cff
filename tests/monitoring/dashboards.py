"""Read the chart's dashboards as Grafana would: panels, their queries and legends, variables.

Tests read the checked-in JSON (what the chart ships), not the Python that generates it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.k8s.tools import CHART_DIR

DASHBOARDS_DIR = CHART_DIR / "dashboards"
LEGEND_LABEL = re.compile(r"\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}")


@dataclass(frozen=True)
class Query:
    dashboard: str
    panel: str
    ref_id: str
    expr: str
    legend: str


def dashboards() -> dict[str, dict[str, Any]]:
    return {
        path.name: json.loads(path.read_text()) for path in sorted(DASHBOARDS_DIR.glob("*.json"))
    }


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel that draws something (rows are containers, not panels)."""
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            yield from panel.get("panels", [])
        else:
            yield panel


def queries() -> list[Query]:
    return [
        Query(name, panel["title"], target["refId"], target["expr"], target["legendFormat"])
        for name, dashboard in dashboards().items()
        for panel in panels(dashboard)
        for target in panel["targets"]
    ]


def legend_name(legend: str, labels: Mapping[str, str]) -> str:
    """The series name Grafana draws: ``{{label}}`` replaced by the series' label value (an
    absent label renders as nothing)."""
    return LEGEND_LABEL.sub(lambda match: labels.get(match[1], ""), legend)


def variables(dashboard: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {variable["name"]: variable for variable in dashboard["templating"]["list"]}


def file_names() -> list[str]:
    return sorted(path.name for path in DASHBOARDS_DIR.glob("*.json"))


def chart_path(name: str) -> Path:
    return DASHBOARDS_DIR / name
