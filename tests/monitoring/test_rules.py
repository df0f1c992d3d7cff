"""The alerting and recording rules, checked and unit-tested by promtool on synthetic series.

Every alert has at least one scenario where it must fire (with exactly the labels and
annotations Prometheus would send) and one where it must stay quiet; ``promtool test rules``
evaluates them all against the generated rules file, scoped to a test namespace as the chart
scopes it to the release's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from cryptopulse_common import metric_catalog as m
from cryptopulse_monitoring.rules import BROADCAST_QUANTILE, alerts, render_rules
from tests.monitoring.promtool import TEST_NAMESPACE, promtool, scoped_rules

NS = TEST_NAMESPACE


def s(metric: m.MetricSpec | str, **labels: str) -> str:
    """A series as a scrape of the release would label it."""
    all_labels = {"namespace": NS, "instance": "10.0.0.7:8000", "job": "cryptopulse", **labels}
    inner = ", ".join(f'{key}="{value}"' for key, value in all_labels.items())
    return f"{metric}{{{inner}}}"


def ksm(metric: str, pod: str, **labels: str) -> str:
    """A kube-state-metrics series of a pod in the test namespace."""
    return s(metric, instance="10.0.0.9:8080", job="kube-state-metrics", pod=pod, **labels)


@dataclass(frozen=True)
class Case:
    """One scenario: input series (minute samples), when to look, and whether the alert fires.

    ``labels`` are the alert's labels besides namespace, severity and component; ``value`` is
    ``$value`` as the summary renders it.
    """

    alert: str
    scenario: str
    series: dict[str, str]
    eval_time: str
    fires: bool
    labels: dict[str, str] = field(default_factory=dict)
    value: str = ""


AGG = m.AGGREGATES_QUERY
DEAD = m.DEAD_LETTERS_QUERY
LATENCY = m.WS_BROADCAST_LATENCY.bucket
UNRELATED = {s(m.WS_CONNECTIONS): "1x40"}

CASES = [
    # Producer: publishes every minute, or stops after 10 minutes, or exports nothing.
    Case(
        "CryptopulseProducerSilent",
        "publishing",
        {s(m.PRODUCER_LAST_PUBLISH): "0+60x40", s(m.PRODUCER_POLL_INTERVAL): "30x40"},
        "30m",
        fires=False,
    ),
    Case(
        "CryptopulseProducerSilent",
        "no publish since minute 10 (3 polls of 30 s = 90 s)",
        {s(m.PRODUCER_LAST_PUBLISH): "0+60x10 600x30", s(m.PRODUCER_POLL_INTERVAL): "30x40"},
        "20m",
        fires=True,
    ),
    Case(
        "CryptopulseProducerSilent",
        "silent for less than 3 polls of 5 minutes",
        {s(m.PRODUCER_LAST_PUBLISH): "0+600x2 1200x30", s(m.PRODUCER_POLL_INTERVAL): "300x40"},
        "30m",
        fires=False,
    ),
    Case(
        "CryptopulseProducerSilent",
        "1 s polls seen 30 s late through the scrapes (the floor, not 3 polls)",
        {s(m.PRODUCER_LAST_PUBLISH): "-30+60x40", s(m.PRODUCER_POLL_INTERVAL): "1x40"},
        "30m",
        fires=False,
    ),
    Case(
        "CryptopulseProducerSilent",
        "1 s polls, nothing published since minute 10",
        {s(m.PRODUCER_LAST_PUBLISH): "0+60x10 600x30", s(m.PRODUCER_POLL_INTERVAL): "1x40"},
        "20m",
        fires=True,
    ),
    Case("CryptopulseProducerSilent", "no producer metrics at all", UNRELATED, "5m", fires=True),
    # CoinGecko answering 429 to half the requests, or to one in thirty.
    Case(
        "CryptopulseRateLimited",
        "half the requests rate-limited",
        {
            s(m.PRODUCER_FETCHES, outcome="rate_limited"): "0+30x40",
            s(m.PRODUCER_FETCHES, outcome="ok"): "0+30x40",
        },
        "25m",
        fires=True,
        value="50%",
    ),
    Case(
        "CryptopulseRateLimited",
        "one request in thirty rate-limited",
        {
            s(m.PRODUCER_FETCHES, outcome="rate_limited"): "0+1x40",
            s(m.PRODUCER_FETCHES, outcome="ok"): "0+29x40",
        },
        "25m",
        fires=False,
    ),
    # Stream: 5 s batches for a 2 s trigger, with the lag growing or not; fast batches.
    Case(
        "CryptopulseStreamFallingBehind",
        "batches longer than the trigger and the lag growing",
        {
            s(m.STREAM_BATCH_DURATION.sum, query=AGG): "0+300x40",
            s(m.STREAM_BATCH_DURATION.count, query=AGG): "0+60x40",
            s(m.STREAM_TRIGGER_INTERVAL, query=AGG): "2x40",
            s(m.STREAM_KAFKA_LAG, query=AGG): "0+100x40",
        },
        "25m",
        fires=True,
        labels={"query": AGG},
    ),
    Case(
        "CryptopulseStreamFallingBehind",
        "batches longer than the trigger but the lag steady",
        {
            s(m.STREAM_BATCH_DURATION.sum, query=AGG): "0+300x40",
            s(m.STREAM_BATCH_DURATION.count, query=AGG): "0+60x40",
            s(m.STREAM_TRIGGER_INTERVAL, query=AGG): "2x40",
            s(m.STREAM_KAFKA_LAG, query=AGG): "500x40",
        },
        "25m",
        fires=False,
    ),
    Case(
        "CryptopulseStreamFallingBehind",
        "the lag growing but batches within the trigger",
        {
            s(m.STREAM_BATCH_DURATION.sum, query=AGG): "0+60x40",
            s(m.STREAM_BATCH_DURATION.count, query=AGG): "0+60x40",
            s(m.STREAM_TRIGGER_INTERVAL, query=AGG): "2x40",
            s(m.STREAM_KAFKA_LAG, query=AGG): "0+100x40",
        },
        "25m",
        fires=False,
    ),
    Case(
        "CryptopulseStreamStalled",
        "progress every minute",
        {s(m.STREAM_LAST_PROGRESS): "0+60x40"},
        "30m",
        fires=False,
    ),
    Case(
        "CryptopulseStreamStalled",
        "no progress since minute 10",
        {s(m.STREAM_LAST_PROGRESS): "0+60x10 600x30"},
        "20m",
        fires=True,
    ),
    Case("CryptopulseStreamStalled", "no stream metrics at all", UNRELATED, "5m", fires=True),
    Case(
        "CryptopulseMalformedRecordsSpike",
        "a tenth of the topic malformed",
        {
            s(m.STREAM_MALFORMED_RECORDS, reason="missing id"): "0+60x40",
            s(m.STREAM_INPUT_ROWS, query=DEAD): "0+600x40",
        },
        "25m",
        fires=True,
        value="10%",
    ),
    Case(
        "CryptopulseMalformedRecordsSpike",
        "nothing malformed",
        {
            s(m.STREAM_MALFORMED_RECORDS, reason="missing id"): "0x40",
            s(m.STREAM_INPUT_ROWS, query=DEAD): "0+600x40",
        },
        "25m",
        fires=False,
    ),
    Case(
        "CryptopulseLateRecordsSpike",
        "a tenth of the ticks behind the watermark",
        {
            s(m.STREAM_LATE_ROWS_DROPPED): "0+60x40",
            s(m.STREAM_INPUT_ROWS, query=AGG): "0+600x40",
        },
        "25m",
        fires=True,
        value="10%",
    ),
    Case(
        "CryptopulseLateRecordsSpike",
        "one tick in a thousand behind the watermark",
        {
            s(m.STREAM_LATE_ROWS_DROPPED): "0+1x40",
            s(m.STREAM_INPUT_ROWS, query=AGG): "0+1000x40",
        },
        "25m",
        fires=False,
    ),
    Case(
        "CryptopulseIngestErrors",
        "half the POSTs unauthorized",
        {
            s(m.INGEST_REQUESTS, status="unauthorized"): "0+30x40",
            s(m.INGEST_REQUESTS, status="accepted"): "0+30x40",
        },
        "20m",
        fires=True,
        value="50%",
    ),
    Case(
        "CryptopulseIngestErrors",
        "half the POSTs duplicates (retries are not errors)",
        {
            s(m.INGEST_REQUESTS, status="duplicate"): "0+30x40",
            s(m.INGEST_REQUESTS, status="accepted"): "0+30x40",
            s(m.INGEST_REQUESTS, status="invalid"): "0x40",
        },
        "20m",
        fires=False,
    ),
    Case(
        "CryptopulseStreamSinkWaiting",
        "/ingest unavailable for 20 minutes",
        {s(m.STREAM_SINK_WAITING): "0+60x40", s(m.STREAM_SINK_RETRIES): "0+5x40"},
        "20m",
        fires=True,
        value="20m 0s",
    ),
    Case(
        "CryptopulseStreamSinkWaiting",
        "retries that end well",
        {s(m.STREAM_SINK_WAITING): "0 5 0 30 0 0 10 0x33", s(m.STREAM_SINK_RETRIES): "0+5x40"},
        "20m",
        fires=False,
    ),
    Case(
        "CryptopulseBroadcastLatencyHigh",
        "every update between 1 and 2.5 s",
        {
            s(LATENCY, le="0.25"): "0x40",
            s(LATENCY, le="1.0"): "0x40",
            s(LATENCY, le="2.5"): "0+60x40",
            s(LATENCY, le="+Inf"): "0+60x40",
        },
        "25m",
        fires=True,
        labels={"quantile": "0.99"},
        value="2.485s",
    ),
    Case(
        "CryptopulseBroadcastLatencyHigh",
        "every update under 250 ms",
        {
            s(LATENCY, le="0.25"): "0+60x40",
            s(LATENCY, le="1.0"): "0+60x40",
            s(LATENCY, le="2.5"): "0+60x40",
            s(LATENCY, le="+Inf"): "0+60x40",
        },
        "25m",
        fires=False,
    ),
    Case(
        "CryptopulseSlowClientDropsSpiking",
        "20 clients dropped a minute",
        {s(m.WS_SLOW_CLIENTS_DROPPED, reason="send_timeout"): "0+20x40"},
        "20m",
        fires=True,
        value="20",
    ),
    Case(
        "CryptopulseSlowClientDropsSpiking",
        "5 clients dropped a minute",
        {s(m.WS_SLOW_CLIENTS_DROPPED, reason="queue_overflow"): "0+5x40"},
        "20m",
        fires=False,
    ),
    Case(
        "CryptopulseNoUpdatesToClients",
        "clients connected, no frame written",
        {s(m.WS_CONNECTIONS): "5x40", s(m.WS_BROADCAST_LATENCY.count): "100x40"},
        "20m",
        fires=True,
    ),
    Case(
        "CryptopulseNoUpdatesToClients",
        "clients connected and updated",
        {s(m.WS_CONNECTIONS): "5x40", s(m.WS_BROADCAST_LATENCY.count): "0+100x40"},
        "20m",
        fires=False,
    ),
    Case(
        "CryptopulseNoUpdatesToClients",
        # No client can connect to an API that is down: it exports nothing at all.
        "the API exports no metrics (down), the rest of the pipeline does",
        {s(m.PRODUCER_POLL_INTERVAL): "30x40", s(m.STREAM_SINK_WAITING): "0+60x40"},
        "20m",
        fires=True,
    ),
    Case(
        "CryptopulseNoUpdatesToClients",
        "no client connected",
        {s(m.WS_CONNECTIONS): "0x40", s(m.WS_BROADCAST_LATENCY.count): "100x40"},
        "20m",
        fires=False,
    ),
    Case(
        "CryptopulsePodNotReady",
        "a running API pod unready",
        {
            ksm("kube_pod_status_ready", "cryptopulse-api-7d9f-x2", condition="false"): "1x40",
            ksm("kube_pod_status_phase", "cryptopulse-api-7d9f-x2", phase="Running"): "1x40",
        },
        "20m",
        fires=True,
        labels={"pod": "cryptopulse-api-7d9f-x2"},
    ),
    Case(
        "CryptopulsePodNotReady",
        # kube-state-metrics exports kube_pod_status_ready only from a pod's Ready condition,
        # which a pod the scheduler cannot place (CPU, memory, an unbound claim) does not have
        # yet: its phase is the only sign.
        "an API pod Pending, unschedulable (no Ready condition)",
        {
            ksm("kube_pod_status_phase", "cryptopulse-api-7d9f-x3", phase="Pending"): "1x40",
            ksm("kube_pod_status_phase", "cryptopulse-api-7d9f-x3", phase="Running"): "0x40",
            ksm("kube_pod_status_scheduled", "cryptopulse-api-7d9f-x3", condition="false"): "1x40",
        },
        "20m",
        fires=True,
        labels={"pod": "cryptopulse-api-7d9f-x3"},
    ),
    Case(
        "CryptopulsePodNotReady",
        "a completed helm test pod, and another release's unready pod",
        {
            ksm("kube_pod_status_ready", "cryptopulse-test-api", condition="false"): "1x40",
            ksm("kube_pod_status_phase", "cryptopulse-test-api", phase="Succeeded"): "1x40",
            ksm("kube_pod_status_phase", "cryptopulse-test-api", phase="Running"): "0x40",
            ksm("kube_pod_status_ready", "othershop-api-1", condition="false"): "1x40",
            ksm("kube_pod_status_phase", "othershop-api-1", phase="Running"): "1x40",
        },
        "20m",
        fires=False,
    ),
]


def expected_alert(case: Case) -> dict[str, object]:
    (alert,) = [a for a in alerts() if a.alert == case.alert]
    labels = {
        "namespace": NS,
        "severity": alert.severity,
        "component": alert.component,
        **case.labels,
    }

    def render(text: str) -> str:
        text = re.sub(r"\{\{ \$value[^}]*\}\}", case.value, text)
        return re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda match: labels[match[1]], text)

    return {
        "exp_labels": labels,
        "exp_annotations": {
            "summary": render(alert.summary),
            "description": render(alert.description),
            "runbook": render(alert.runbook),
        },
    }


def unit_tests() -> dict[str, object]:
    return {
        "rule_files": ["rules.yaml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "name": f"{case.alert}: {case.scenario}",
                "interval": "1m",
                "input_series": [
                    {"series": series, "values": values} for series, values in case.series.items()
                ],
                "alert_rule_test": [
                    {
                        "eval_time": case.eval_time,
                        "alertname": case.alert,
                        "exp_alerts": [expected_alert(case)] if case.fires else [],
                    }
                ],
            }
            for case in CASES
        ],
    }


def test_the_generated_rules_pass_promtool_check(tmp_path: Path) -> None:
    raw = tmp_path / "raw.rules.yaml"
    raw.write_text(render_rules())
    scoped = tmp_path / "scoped.rules.yaml"
    scoped.write_text(scoped_rules())
    result = promtool("check", "rules", str(raw), str(scoped))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_alert_fires_when_it_should_and_stays_quiet_otherwise(tmp_path: Path) -> None:
    (tmp_path / "rules.yaml").write_text(scoped_rules())
    tests = tmp_path / "tests.yaml"
    tests.write_text(yaml.safe_dump(unit_tests(), sort_keys=False, width=1000))
    result = promtool("test", "rules", str(tests), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_promtool_would_catch_an_alert_that_does_not_fire(tmp_path: Path) -> None:
    """The harness itself: a firing case run against a rule that never fires fails."""
    broken = scoped_rules().replace("> 0.25", "> 25")  # CryptopulseRateLimited, unreachable
    (tmp_path / "rules.yaml").write_text(broken)
    document = unit_tests()
    document["tests"] = [
        test
        for test in document["tests"]  # type: ignore[attr-defined]
        if test["name"] == "CryptopulseRateLimited: half the requests rate-limited"
    ]
    (tmp_path / "tests.yaml").write_text(yaml.safe_dump(document, sort_keys=False, width=1000))
    result = promtool("test", "rules", "tests.yaml", cwd=tmp_path)
    assert result.returncode != 0
    assert "CryptopulseRateLimited" in result.stdout + result.stderr


@pytest.mark.parametrize("alert", [a.alert for a in alerts()])
def test_every_alert_has_a_firing_and_a_quiet_case(alert: str) -> None:
    outcomes = {case.fires for case in CASES if case.alert == alert}
    assert outcomes == {True, False}, f"{alert}: cases that fire and stay quiet: {outcomes}"


def test_every_alert_carries_severity_component_and_runbook() -> None:
    document = yaml.safe_load(render_rules())
    rules = [rule for group in document["groups"] for rule in group["rules"]]
    alerting = [rule for rule in rules if "alert" in rule]
    assert len(alerting) == len(alerts()) >= 12
    for rule in alerting:
        assert rule["labels"]["severity"] in {"warning", "critical"}, rule["alert"]
        assert rule["labels"]["component"], rule["alert"]
        for annotation in ("summary", "description", "runbook"):
            assert len(rule["annotations"][annotation]) > 20, (rule["alert"], annotation)
        assert re.fullmatch(r"\d+m", rule["for"]), rule["alert"]
    records = [rule["record"] for rule in rules if "record" in rule]
    # Prometheus's level:metric:operations convention for recorded series.
    assert all(re.fullmatch(r"[a-z_]+:[a-z0-9_]+:[a-z0-9_]+", name) for name in records)
    assert records.count(BROADCAST_QUANTILE) == 3
