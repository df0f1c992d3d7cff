"""Every metric each stage registers is in the catalog, with HELP text that says its unit and
labels; README.md and docs/ list them as the code does (the generated files are not stale)."""

from __future__ import annotations

import re

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from cryptopulse_api.metrics import ApiMetrics
from cryptopulse_common.metric_catalog import CATALOG, MetricSpec, Stage, stage_metrics
from cryptopulse_monitoring.__main__ import ROOT, stale_files
from cryptopulse_producer.metrics import ProducerMetrics
from cryptopulse_stream.metrics import StreamMetrics

STAGES: dict[Stage, type[ProducerMetrics | StreamMetrics | ApiMetrics]] = {
    "producer": ProducerMetrics,
    "stream": StreamMetrics,
    "api": ApiMetrics,
}


def exposed(stage: Stage) -> dict[str, tuple[str, str, set[str]]]:
    """family name -> (type, HELP, label names) as the stage's /metrics text says them."""
    registry = CollectorRegistry()
    STAGES[stage](registry)
    text = generate_latest(registry).decode()
    found: dict[str, tuple[str, str, set[str]]] = {}
    for family in text_string_to_metric_families(text):
        labels = {label for sample in family.samples for label in sample.labels if label != "le"}
        name = family.name + ("_total" if family.type == "counter" else "")
        found[name] = (family.type, family.documentation, labels)
    return found


@pytest.mark.parametrize("stage", list(STAGES))
def test_every_metric_a_stage_serves_is_in_the_catalog_and_the_reverse(stage: Stage) -> None:
    served = exposed(stage)
    catalog = {spec.name: spec for spec in stage_metrics(stage)}
    assert set(served) == set(catalog)
    for name, (type_, help_text, labels) in served.items():
        spec = catalog[name]
        assert type_ == spec.type, name
        assert help_text == spec.help, name
        assert labels <= set(spec.label_names), name


@pytest.mark.parametrize("spec", CATALOG, ids=lambda spec: spec.name)
def test_help_says_the_unit_and_every_label(spec: MetricSpec) -> None:
    assert spec.help.startswith(spec.meaning)
    assert f"Unit: {spec.unit}." in spec.help
    for label in spec.label_names:
        assert f"{label} = " in spec.help
    if not spec.labels:
        assert spec.help.endswith("Labels: none.")
    assert spec.meaning.endswith(".")
    assert spec.meaning[0].isupper()


@pytest.mark.parametrize("spec", CATALOG, ids=lambda spec: spec.name)
def test_names_follow_the_prometheus_conventions(spec: MetricSpec) -> None:
    assert re.fullmatch(r"cryptopulse_[a-z0-9_]+", spec.name)
    assert spec.name.endswith("_total") == (spec.type == "counter"), spec.name
    if spec.unit == "seconds":
        assert spec.name.endswith(("_seconds", "_seconds_total")), spec.name


def test_names_are_spelled_once() -> None:
    names = [spec.name for spec in CATALOG]
    assert len(names) == len(set(names))
    # Outside the catalog, no Python module of a service spells a metric name.
    spelled = []
    for path in sorted((ROOT / "services").glob("*/cryptopulse_*/*.py")):
        if path.name == "metric_catalog.py":
            continue
        for name in names:
            if f'"{name}"' in path.read_text():
                spelled.append(f"{path.relative_to(ROOT)}: {name}")
    assert not spelled


def test_the_generated_dashboards_rules_and_tables_are_up_to_date() -> None:
    stale = [str(path.relative_to(ROOT)) for path in stale_files()]
    assert not stale, f"run `python -m cryptopulse_monitoring`; stale: {stale}"


def test_the_readme_lists_every_metric_of_every_stage() -> None:
    readme = (ROOT / "README.md").read_text()
    for spec in CATALOG:
        assert f"| `{spec.name}` | {spec.type} | {spec.unit} |" in readme
