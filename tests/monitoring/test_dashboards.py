"""The dashboards as an operator gets them: every panel titled, described, with a unit and
thresholds, named series, and queries scoped by ``$namespace``/``$instance``; and Grafana's own
SDK reads each one back."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from grafana_foundation_sdk.cog.plugins import register_default_plugins
from grafana_foundation_sdk.models import units
from grafana_foundation_sdk.models.dashboard import Dashboard as DashboardModel

from cryptopulse_common.metric_catalog import CATALOG
from cryptopulse_monitoring import rules
from tests.monitoring.dashboards import (
    LEGEND_LABEL,
    Query,
    chart_path,
    dashboards,
    file_names,
    panels,
    queries,
    variables,
)

GRAFANA_UNITS = {value for value in vars(units).values() if isinstance(value, str)}
RECORDED = {r.record for r in rules.recording_rules()}
ALL_PANELS = [(name, panel) for name, dash in dashboards().items() for panel in panels(dash)]


def panel_id(item: tuple[str, dict[str, Any]]) -> str:
    return f"{item[0]}: {item[1]['title']}"


def query_id(query: Query) -> str:
    return f"{query.dashboard}: {query.panel} {query.ref_id}"


def test_the_overview_and_a_drill_down_per_stage() -> None:
    assert file_names() == [
        "cryptopulse-api.json",
        "cryptopulse-pipeline.json",
        "cryptopulse-producer.json",
        "cryptopulse-stream.json",
    ]
    uids = [dashboard["uid"] for dashboard in dashboards().values()]
    assert len(set(uids)) == len(uids)


@pytest.mark.parametrize("name", file_names())
def test_grafanas_sdk_reads_the_dashboard_back(name: str) -> None:
    register_default_plugins()
    model = DashboardModel.from_json(json.loads(chart_path(name).read_text()))
    assert model.uid == dashboards()[name]["uid"]
    assert model.panels


@pytest.mark.parametrize("name", file_names())
def test_namespace_and_instance_variables_serve_several_releases(name: str) -> None:
    found = variables(dashboards()[name])
    assert found["datasource"]["type"] == "datasource"
    assert found["datasource"]["query"] == "prometheus"
    namespace, instance = found["namespace"], found["instance"]
    assert namespace["type"] == instance["type"] == "query"
    assert re.fullmatch(r"label_values\([a-z_]+, namespace\)", namespace["query"])
    assert instance["query"].startswith("label_values(")
    assert 'namespace="$namespace"' in instance["query"]
    assert instance["multi"]
    assert instance["includeAll"]
    assert instance["allValue"] == ".+"


@pytest.mark.parametrize("item", ALL_PANELS, ids=panel_id)
def test_every_panel_has_a_description_a_unit_and_thresholds(
    item: tuple[str, dict[str, Any]],
) -> None:
    _, panel = item
    assert len(panel["description"]) > 40
    defaults = panel["fieldConfig"]["defaults"]
    assert defaults["unit"] in GRAFANA_UNITS
    steps = defaults["thresholds"]["steps"]
    assert steps[0]["value"] is None
    assert len(steps) >= 2
    values = [step["value"] for step in steps[1:]]
    assert values == sorted(values)
    assert all(value > 0 for value in values)
    assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
    assert panel["targets"]
    assert panel["id"] > 0


@pytest.mark.parametrize("query", queries(), ids=query_id)
def test_every_query_is_scoped_and_names_its_series(query: Query) -> None:
    assert query.legend.strip(), "every series is drawn with a legend"
    assert 'namespace="$namespace"' in query.expr
    selectors = re.findall(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\}", query.expr)
    assert selectors
    for metric, matchers in selectors:
        assert 'namespace="$namespace"' in matchers, metric
        if metric not in RECORDED:  # recorded series aggregate the whole release
            assert 'instance=~"$instance"' in matchers, metric
    for window in re.findall(r"\[([^\]]+)\]", query.expr):
        assert window == "$__rate_interval"
    # rate() drops the metric name: `sum by (__name__)` over it is the bug this replaced.
    assert "__name__" not in query.expr


def test_every_panel_of_one_dashboard_draws_distinct_names() -> None:
    """Within a panel, two targets never draw with the same fixed legend."""
    for name, panel in ALL_PANELS:
        fixed = [
            target["legendFormat"]
            for target in panel["targets"]
            if not LEGEND_LABEL.search(target["legendFormat"])
        ]
        assert len(fixed) == len(set(fixed)), f"{name}: {panel['title']}"


def test_the_issues_overview_panels_are_all_there() -> None:
    overview = " | ".join(
        f"{panel['title']} {' '.join(t['expr'] for t in panel['targets'])}"
        for panel in panels(dashboards()["cryptopulse-pipeline.json"])
    ).lower()
    for wanted in (
        "ticks fetched and published",
        "rate limits and retry waits",
        "kafka lag",
        "batch duration against the trigger",
        "input and processed rows",
        "watermark lag",
        "late and malformed records by reason",
        "ingest rate",
        "ingest errors by status",
        "websocket connections",
        "p50 / p95 / p99",
        "slow clients dropped per minute by reason",
        "messages conflated",
    ):
        assert wanted in overview, wanted


def test_every_metric_of_the_catalog_is_drawn_somewhere() -> None:
    exprs = " ".join(query.expr for query in queries())
    recorded = rules.render_rules()
    missing = [spec.name for spec in CATALOG if spec.name not in exprs + recorded]
    assert not missing
