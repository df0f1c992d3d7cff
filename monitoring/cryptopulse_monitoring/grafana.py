"""Grafana dashboard JSON from :mod:`cryptopulse_monitoring.panels`, built with Grafana's own
grafana-foundation-sdk (the builders and types Grafana generates from its dashboard schema).

The dashboards are classic (schema v1) JSON for Grafana 11/12, loaded by the kube-prometheus-stack
sidecar from the chart's ConfigMap. Each has a ``datasource`` variable (any Prometheus), a
``namespace`` variable (one release) and a multi-value ``instance`` variable (All = ``.+``).
"""

from __future__ import annotations

import json
from typing import Final

from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard as dashboard_builders
from grafana_foundation_sdk.builders import prometheus, timeseries
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as model

from cryptopulse_monitoring.panels import Dashboard, Panel, Thresholds
from cryptopulse_monitoring.promql import INSTANCE, NAMESPACE

DATASOURCE: Final = model.DataSourceRef(type_val="prometheus", uid="${datasource}")
INSTANCE_ALL: Final = ".+"
SCHEMA_TAGS: Final = ["cryptopulse"]


def _thresholds(spec: Thresholds) -> dashboard_builders.ThresholdsConfig:
    steps = [model.Threshold(value=None, color=spec.base)]
    steps += [model.Threshold(value=value, color=color) for value, color in spec.steps]
    return dashboard_builders.ThresholdsConfig().mode(model.ThresholdsMode.ABSOLUTE).steps(steps)


def _panel(spec: Panel) -> timeseries.Panel:
    panel = (
        timeseries.Panel()
        .title(spec.title)
        .description(spec.description)
        .datasource(DATASOURCE)
        .unit(spec.unit)
        .min(0)
        .height(spec.height)
        .span(spec.width)
        .thresholds(_thresholds(spec.thresholds))
        .thresholds_style(
            common_builders.GraphThresholdsStyleConfig().mode(
                common.GraphThresholdsStyleMode.DASHED
            )
        )
        .legend(
            common_builders.VizLegendOptions()
            .show_legend(True)
            .display_mode(common.LegendDisplayMode.LIST)
            .placement(common.LegendPlacement.BOTTOM)
        )
        .tooltip(
            common_builders.VizTooltipOptions()
            .mode(common.TooltipDisplayMode.MULTI)
            .sort(common.SortOrder.DESCENDING)
        )
    )
    if spec.axis_label:
        panel = panel.axis_label(spec.axis_label)
    for index, target in enumerate(spec.targets):
        panel = panel.with_target(
            prometheus.Dataquery()
            .expr(target.expr)
            .legend_format(target.legend)
            .ref_id(chr(ord("A") + index))
            .datasource(DATASOURCE)
            .range()
        )
    return panel


def _variables(spec: Dashboard) -> list[cogbuilder.Builder[model.VariableModel]]:
    namespace_name = NAMESPACE.removeprefix("$")
    instance_name = INSTANCE.removeprefix("$")
    source = spec.instance_source
    selector = (
        f'{source[:-1]}, namespace="{NAMESPACE}"}}'
        if source.endswith("}")
        else f'{source}{{namespace="{NAMESPACE}"}}'
    )
    return [
        dashboard_builders.DatasourceVariable("datasource").label("Data source").type("prometheus"),
        dashboard_builders.QueryVariable(namespace_name)
        .label("Namespace")
        .description("The namespace of the cryptopulse release to show.")
        .datasource(DATASOURCE)
        .query(f"label_values({spec.namespace_source}, namespace)")
        .refresh(model.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(model.VariableSort.ALPHABETICAL_ASC),
        dashboard_builders.QueryVariable(instance_name)
        .label("Instance")
        .description("Scrape targets (pod:port) to include; All = every one of the release.")
        .datasource(DATASOURCE)
        .query(f"label_values({selector}, instance)")
        .refresh(model.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(model.VariableSort.ALPHABETICAL_ASC)
        .multi(True)
        .include_all(True)
        .all_value(INSTANCE_ALL)
        .current(model.VariableOption(selected=True, text=["All"], value=["$__all"])),
    ]


def build(spec: Dashboard) -> model.Dashboard:
    builder = (
        dashboard_builders.Dashboard(spec.title)
        .uid(spec.uid)
        .description(spec.description)
        .tags(SCHEMA_TAGS)
        .editable()
        .time("now-1h", "now")
        .refresh("30s")
        .timezone("browser")
        .tooltip(model.DashboardCursorSync.CROSSHAIR)
        .variables(_variables(spec))
    )
    for row in spec.rows:
        builder = builder.with_row(dashboard_builders.Row(row.title))
        for panel in row.panels:
            builder = builder.with_panel(_panel(panel))
    built = builder.build()
    for number, built_panel in enumerate(built.panels or [], start=1):
        built_panel.id_val = number  # unique, in reading order (Grafana keys panel state on them)
    return built


def render(spec: Dashboard) -> str:
    """The dashboard's JSON as written into the chart (sorted keys, two-space indent)."""
    text = JSONEncoder(sort_keys=True, indent=2).encode(build(spec))
    # Round-trip through json to normalise the encoder's output (and prove it is JSON).
    return json.dumps(json.loads(text), indent=2, sort_keys=True) + "\n"
