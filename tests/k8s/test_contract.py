"""One name for one thing: what the chart and images spell must match the Python services."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic_settings import BaseSettings

from cryptopulse_api.settings import ApiSettings
from cryptopulse_common import ports
from cryptopulse_common.contract import ALL_TOPICS, DEFAULT_COIN_IDS, TOPIC_CONFIGS
from cryptopulse_local.spark_jars import SPARK_KAFKA_ARTIFACT_IDS
from cryptopulse_monitoring.promql import RELEASE_PODS, substitute
from cryptopulse_monitoring.rules import render_rules
from cryptopulse_producer.settings import ProducerSettings
from cryptopulse_stream.settings import StreamSettings
from tests.k8s.render import NAMESPACE, RELEASE, by_kind, one, render
from tests.k8s.tools import CHART_DIR, REPO_ROOT

# Settings the chart already sets that the services are gaining (see docs/kubernetes.md,
# "Settings the chart sets"): Kafka client authentication. Remove a name once its field exists
# in CommonSettings, so that from then on a rename is caught here.
# Settings the chart may set before any service reads them (none: keep it that way).
PENDING_SETTINGS: set[str] = set()
RULES_ON = ["metrics.prometheusRule.enabled=true"]
SETTINGS: dict[str, type[BaseSettings]] = {
    "producer": ProducerSettings,
    "api": ApiSettings,
    "stream": StreamSettings,
}
EVERYTHING_ON = [
    "kafka.listener.tls=true",
    "kafka.listener.authentication=scram-sha-512",
    "kafka.user.create=true",
    "api.replicaCount=2",
    "producer.source=coingecko",
    "producer.coins=bitcoin",
    "producer.coingeckoBaseUrl=https://pro-api.coingecko.com/api/v3",
]


@pytest.fixture(scope="module")
def objects(helm: str) -> list[dict[str, Any]]:
    return render(set_values=EVERYTHING_ON)


def env_names(objects: list[dict[str, Any]], component: str) -> set[str]:
    config = one(objects, "ConfigMap", f"-{component}")["data"]
    names = set(config)
    if component == "stream":
        names |= {e["name"] for e in one(objects, "SparkApplication")["spec"]["driver"]["env"]}
    else:
        spec = one(objects, "Deployment", f"-{component}")["spec"]["template"]["spec"]
        names |= {e["name"] for e in spec["containers"][0]["env"]}
    return names


@pytest.mark.parametrize("component", sorted(SETTINGS))
def test_every_variable_the_chart_sets_is_a_setting_of_that_service(
    objects: list[dict[str, Any]], component: str
) -> None:
    fields = {name.upper() for name in SETTINGS[component].model_fields}
    unknown = env_names(objects, component) - fields - PENDING_SETTINGS
    assert not unknown, f"{component}: the chart sets {sorted(unknown)}, no such setting"


def test_every_listener_binds_all_interfaces(objects: list[dict[str, Any]]) -> None:
    """A server on 127.0.0.1 answers neither the kubelet's probes nor other pods."""
    hosts = {
        name: value
        for component in SETTINGS
        for name, value in one(objects, "ConfigMap", f"-{component}")["data"].items()
        if name.endswith("_HOST")
    }
    fields = {name.upper() for cls in SETTINGS.values() for name in cls.model_fields}
    assert {name for name in fields if name.endswith("_HOST")} <= set(hosts)
    assert set(hosts.values()) == {"0.0.0.0"}


def test_the_dashboard_variables_are_the_ones_its_entrypoint_reads(
    objects: list[dict[str, Any]],
) -> None:
    entrypoint = (REPO_ROOT / "services/dashboard/nginx/entrypoint.sh").read_text()
    read = set(re.findall(r"\$\{(DASHBOARD_[A-Z_]+)", entrypoint))
    assert set(one(objects, "ConfigMap", "-dashboard")["data"]) == read


def test_the_topics_are_the_contracts(objects: list[dict[str, Any]]) -> None:
    topics = {t["spec"]["topicName"]: t["spec"] for t in by_kind(objects, "KafkaTopic")}
    assert set(topics) == set(ALL_TOPICS)
    for name, configs in TOPIC_CONFIGS.items():  # LogAppendTime on the ticks topic
        for key, value in configs.items():
            assert topics[name]["config"][key] == value, (name, key)


def test_the_ports_are_the_ones_the_services_listen_on(objects: list[dict[str, Any]]) -> None:
    def port(component: str) -> int:
        spec = one(objects, "Deployment", f"-{component}")["spec"]["template"]["spec"]
        value: int = spec["containers"][0]["ports"][0]["containerPort"]
        return value

    assert port("api") == ports.API_PORT
    assert port("producer") == ports.PRODUCER_METRICS_PORT
    driver = one(objects, "SparkApplication")["spec"]["driver"]
    assert driver["ports"][0]["containerPort"] == ports.STREAM_METRICS_PORT
    assert one(objects, "ConfigMap", "-api")["data"]["API_PORT"] == str(ports.API_PORT)
    producer = one(objects, "ConfigMap", "-producer")["data"]
    assert producer["PRODUCER_METRICS_PORT"] == str(ports.PRODUCER_METRICS_PORT)
    stream = one(objects, "ConfigMap", "-stream")["data"]
    assert stream["STREAM_METRICS_PORT"] == str(ports.STREAM_METRICS_PORT)


def test_the_spark_image_and_chart_match_the_locked_pyspark() -> None:
    lock = (REPO_ROOT / "requirements.lock").read_text()
    pyspark = re.search(r"^pyspark==(\S+)$", lock, re.MULTILINE)
    assert pyspark
    version = pyspark.group(1)
    dockerfile = (REPO_ROOT / "services/stream/Dockerfile").read_text()
    assert f"spark:{version}-scala2.13-java17-python3-ubuntu" in dockerfile
    values = yaml.safe_load((CHART_DIR / "values.yaml").read_text())
    assert values["stream"]["sparkVersion"] == version
    jars = [
        line.split()
        for line in (REPO_ROOT / "services/stream/image/kafka-jars.txt").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    artifacts = {path.split("/")[-3]: path.split("/")[-2] for _, path in jars}
    assert set(artifacts) == set(SPARK_KAFKA_ARTIFACT_IDS)
    assert artifacts["spark-sql-kafka-0-10_2.13"] == version
    assert artifacts["spark-token-provider-kafka-0-10_2.13"] == version
    assert all(re.fullmatch(r"[0-9a-f]{64}", sha) for sha, _ in jars)


def test_the_kind_run_expects_every_default_coin() -> None:
    kind = yaml.safe_load((REPO_ROOT / "k8s/kind-values.yaml").read_text())
    assert kind["tests"]["expectCoins"] == list(DEFAULT_COIN_IDS)


def test_the_chart_ships_the_generated_dashboards_and_rules(helm: str) -> None:
    """The ConfigMap carries every generated dashboard byte for byte, and the PrometheusRule is
    the generated rules file scoped to the release, as the tests' promtool runs see it."""
    objects = render(set_values=["metrics.grafanaDashboards.enabled=true", *RULES_ON])
    config = one(objects, "ConfigMap", "-grafana-dashboards")["data"]
    shipped = {path.name: path.read_text() for path in (CHART_DIR / "dashboards").glob("*.json")}
    assert {name: json.loads(text) for name, text in config.items()} == {
        name: json.loads(text) for name, text in shipped.items()
    }
    rule = one(objects, "PrometheusRule")
    expected = yaml.safe_load(
        substitute(render_rules(), {"$namespace": NAMESPACE, RELEASE_PODS: f"{RELEASE}-.+"})
    )
    assert rule["spec"] == expected


def test_the_rendered_prometheusrule_passes_promtool(helm: str, tmp_path: Path) -> None:
    objects = render(values_files=[CHART_DIR / "ci" / "full-values.yaml"])
    spec = one(objects, "PrometheusRule")["spec"]
    rules_file = tmp_path / "rendered.rules.yaml"
    rules_file.write_text(yaml.safe_dump(spec))
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: scripts/setup.sh dev installs Debian's prometheus"
    result = subprocess.run(
        [promtool, "check", "rules", str(rules_file)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    exprs = [rule["expr"] for group in spec["groups"] for rule in group["rules"]]
    assert not [expr for expr in exprs if "$namespace" in expr or "$release_pods" in expr]


def test_the_spark_servlet_is_scraped_on_the_port_the_job_serves_it(helm: str) -> None:
    full = render(values_files=[CHART_DIR / "ci" / "full-values.yaml"])
    stream = one(full, "PodMonitor", "-stream")["spec"]["podMetricsEndpoints"]
    assert stream[1]["portNumber"] == ports.SPARK_UI_PORT
    assert stream[1]["path"] == "/metrics/prometheus"
    assert stream[0]["port"] == "metrics"


def test_the_chart_runs_the_kafka_version_the_tests_run() -> None:
    """`make test` runs its broker at KAFKA_VERSION: the Strimzi cluster runs the same, a
    version Strimzi 1.2.0 supports (4.2.x, 4.3.x) and deploys by default."""
    from cryptopulse_local.kafka_broker import KAFKA_VERSION

    kafka = one(render(), "Kafka")
    assert kafka["spec"]["kafka"]["version"] == KAFKA_VERSION
    assert re.fullmatch(r"4\.[23]\.\d+", KAFKA_VERSION)
