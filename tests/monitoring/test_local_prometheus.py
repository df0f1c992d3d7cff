"""docs/observability.md's recipe for a Prometheus next to ``make up``, run as written.

The rules file carries the chart's placeholders; loaded unscoped it matches nothing and its
``absent(...)`` alerts fire for ever, so the recipe scopes it and labels every target with the
namespace the dashboards select. The test runs the recipe's shell commands (all but starting
Prometheus) and checks what they write with promtool.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import yaml

from cryptopulse_common import ports
from cryptopulse_monitoring.__main__ import ROOT
from cryptopulse_monitoring.promql import PLACEHOLDERS
from tests.monitoring.promtool import promtool

DOC = ROOT / "docs" / "observability.md"
HEADING = "## A Prometheus next to `make up`"
RECIPE_DIR = "/tmp/cryptopulse-prometheus"


def recipe() -> str:
    section = DOC.read_text().split(HEADING, 1)[1].split("\n## ", 1)[0]
    (script,) = re.findall(r"```sh\n(.*?)```", section, re.S)
    return script


def run_recipe(directory: Path) -> None:
    script = recipe().replace(RECIPE_DIR, str(directory))
    # Everything up to starting the server, which the test replaces by promtool.
    body, start = script.rsplit("\nprometheus ", 1)
    assert start.startswith("--config.file=prometheus.yml")
    subprocess.run(["bash", "-euc", body], cwd=ROOT, check=True, timeout=60)


def test_the_local_recipe_writes_a_config_and_scoped_rules_promtool_accepts(
    tmp_path: Path,
) -> None:
    run_recipe(tmp_path)
    result = promtool("check", "config", "prometheus.yml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    rules = (tmp_path / "rules.yaml").read_text()
    assert not [p for p in PLACEHOLDERS if p in rules], "placeholders left in the rules"
    assert 'namespace="local"' in rules


def test_the_local_recipe_scrapes_every_stage_on_its_default_port_with_a_namespace(
    tmp_path: Path,
) -> None:
    run_recipe(tmp_path)
    config = yaml.safe_load((tmp_path / "prometheus.yml").read_text())
    targets = {
        (job.get("metrics_path", "/metrics"), target): static["labels"]
        for job in config["scrape_configs"]
        for static in job["static_configs"]
        for target in static["targets"]
    }
    expected = {
        ("/metrics", f"{ports.LOCALHOST}:{ports.API_PORT}"),
        ("/metrics", f"{ports.LOCALHOST}:{ports.PRODUCER_METRICS_PORT}"),
        ("/metrics", f"{ports.LOCALHOST}:{ports.STREAM_METRICS_PORT}"),
        ("/metrics/prometheus", f"{ports.LOCALHOST}:{ports.SPARK_UI_PORT}"),
    }
    assert set(targets) == expected
    assert all(labels == {"namespace": "local"} for labels in targets.values())
