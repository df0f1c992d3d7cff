"""The Prometheus recording and alerting rules, as a rules file (``groups:``).

The same document is a Prometheus rule file (``promtool check rules``) and the ``spec`` of the
chart's PrometheusRule (``monitoring.coreos.com/v1``). Its expressions carry the placeholders
``$namespace`` and ``$release_pods`` (:mod:`cryptopulse_monitoring.promql`), which the chart
replaces with the release's namespace and pod-name pattern, so two releases in two namespaces
alert separately.

Alerts follow the Prometheus Operator runbook conventions: ``severity`` (warning, critical),
``summary``, ``description``; ``runbook`` is the operator's first steps, in prose.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final, Literal

import yaml

from cryptopulse_common import metric_catalog as m
from cryptopulse_monitoring import thresholds as t
from cryptopulse_monitoring.promql import RELEASE, RELEASE_PODS, Regex, Scope, by, rate, sel

WINDOW: Final = "5m"
Severity = Literal["warning", "critical"]
Component = Literal["producer", "stream", "api", "kubernetes"]

# Statuses of POST /ingest that are not errors; everything else (today invalid, too_large,
# unauthorized) counts as one.
INGEST_OK_STATUSES: Final = ("accepted", "duplicate")
QUANTILES: Final = (0.5, 0.95, 0.99)


@dataclass(frozen=True)
class Recording:
    record: str
    expr: str
    labels: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"record": self.record, "expr": self.expr}
        if self.labels:
            out["labels"] = dict(self.labels)
        return out


@dataclass(frozen=True)
class Alert:
    alert: str
    expr: str
    for_: str
    severity: Severity
    component: Component
    summary: str
    description: str
    runbook: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "alert": self.alert,
            "expr": self.expr,
            "for": self.for_,
            "labels": {"severity": self.severity, "component": self.component},
            "annotations": {
                "summary": self.summary,
                "description": self.description,
                "runbook": self.runbook,
            },
        }


def _ns(expr: str) -> str:
    return by("namespace", expr)


# --- recording rules: what the alerts watch, also drawn by the overview dashboard ---------------
PUBLISH_AGE: Final = "namespace:cryptopulse_producer_last_publish_age_seconds:min"
RATE_LIMITED: Final = "namespace:cryptopulse_producer_fetches_rate_limited:ratio_rate5m"
BATCH_MEAN: Final = "namespace_query:cryptopulse_stream_batch_duration_seconds:mean_rate5m"
KAFKA_LAG: Final = "namespace_query:cryptopulse_stream_kafka_lag_records:sum"
PROGRESS_AGE: Final = "namespace:cryptopulse_stream_last_progress_age_seconds:min"
MALFORMED: Final = "namespace:cryptopulse_stream_malformed_records:ratio_rate5m"
LATE: Final = "namespace:cryptopulse_stream_late_rows_dropped:ratio_rate5m"
INGEST_ERRORS: Final = "namespace:cryptopulse_ingest_requests_errors:ratio_rate5m"
BROADCAST_QUANTILE: Final = (
    "namespace_quantile:cryptopulse_ws_broadcast_latency_seconds:histogram_quantile"
)
DROPS: Final = "namespace:cryptopulse_ws_slow_clients_dropped:rate5m"
FRAMES: Final = "namespace:cryptopulse_ws_broadcast_latency_seconds_count:rate5m"
CONNECTIONS: Final = "namespace:cryptopulse_ws_connections:sum"


def _ratio(part: str, whole: str) -> str:
    return f"{_ns(rate(part, WINDOW))}\n/\n{_ns(rate(whole, WINDOW))}"


def recording_rules() -> list[Recording]:
    q = m.AGGREGATES_QUERY
    by_query = ("namespace", "query")
    rules = [
        Recording(
            PUBLISH_AGE,
            f"time() - {by('namespace', sel(m.PRODUCER_LAST_PUBLISH, RELEASE), 'max')}",
        ),
        Recording(
            RATE_LIMITED,
            _ratio(
                sel(m.PRODUCER_FETCHES, RELEASE, outcome="rate_limited"),
                sel(m.PRODUCER_FETCHES, RELEASE),
            ),
        ),
        Recording(
            BATCH_MEAN,
            f"{by(by_query, rate(sel(m.STREAM_BATCH_DURATION.sum, RELEASE), WINDOW))}\n/\n"
            f"{by(by_query, rate(sel(m.STREAM_BATCH_DURATION.count, RELEASE), WINDOW))}",
        ),
        Recording(KAFKA_LAG, by(by_query, sel(m.STREAM_KAFKA_LAG, RELEASE))),
        Recording(
            PROGRESS_AGE,
            f"time() - {by('namespace', sel(m.STREAM_LAST_PROGRESS, RELEASE), 'max')}",
        ),
        Recording(
            MALFORMED,
            _ratio(
                sel(m.STREAM_MALFORMED_RECORDS, RELEASE),
                sel(m.STREAM_INPUT_ROWS, RELEASE, query=m.DEAD_LETTERS_QUERY),
            ),
        ),
        Recording(
            LATE,
            _ratio(
                sel(m.STREAM_LATE_ROWS_DROPPED, RELEASE),
                sel(m.STREAM_INPUT_ROWS, RELEASE, query=q),
            ),
        ),
        Recording(
            INGEST_ERRORS,
            _ratio(
                sel(
                    m.INGEST_REQUESTS,
                    RELEASE,
                    status=Regex("|".join(INGEST_OK_STATUSES), negate=True),
                ),
                sel(m.INGEST_REQUESTS, RELEASE),
            ),
        ),
    ]
    buckets = rate(sel(m.WS_BROADCAST_LATENCY.bucket, RELEASE), WINDOW)
    for quantile in QUANTILES:
        rules.append(
            Recording(
                BROADCAST_QUANTILE,
                f"histogram_quantile({quantile:g}, {by(('namespace', 'le'), buckets)})",
                {"quantile": f"{quantile:g}"},
            )
        )
    rules += [
        Recording(DROPS, _ns(rate(sel(m.WS_SLOW_CLIENTS_DROPPED, RELEASE), WINDOW))),
        Recording(FRAMES, _ns(rate(sel(m.WS_BROADCAST_LATENCY.count, RELEASE), WINDOW))),
        Recording(CONNECTIONS, _ns(sel(m.WS_CONNECTIONS, RELEASE))),
    ]
    return rules


# --- alerts ------------------------------------------------------------------------------------
def silent_after(scope: Scope) -> str:
    """Seconds without a publish after which the producer is silent: three poll intervals,
    never less than the floor a scrape interval's staleness needs (thresholds.py)."""
    polls = by("namespace", sel(m.PRODUCER_POLL_INTERVAL, scope), "max")
    return f"clamp_min({t.PRODUCER_SILENT_POLLS} * {polls}, {t.PRODUCER_SILENT_MIN_SECONDS:g})"


def _r(record: str, **labels: str) -> str:
    return sel(record, RELEASE, **labels)


def _pods(metric: str, **labels: str) -> str:
    """A kube-state-metrics pod series of the release, one per pod."""
    matchers = "".join(f', {name}="{value}"' for name, value in labels.items())
    return (
        f'max by (namespace, pod) ({metric}{{namespace="$namespace", pod=~"{RELEASE_PODS}"'
        f"{matchers}}})"
    )


def alerts() -> list[Alert]:
    silent = t.PRODUCER_SILENT_POLLS
    return [
        Alert(
            "CryptopulseProducerSilent",
            f"{_r(PUBLISH_AGE)}\n  > on (namespace) {silent_after(RELEASE)}\n"
            f"or absent({sel(m.PRODUCER_LAST_PUBLISH, RELEASE)})",
            "2m",
            "critical",
            "producer",
            "cryptopulse producer in {{ $labels.namespace }} has published nothing for "
            f"{silent} polls (at least {t.PRODUCER_SILENT_MIN_SECONDS:g} s)",
            "No tick was acknowledged by Kafka for more than "
            f"{silent} poll intervals and {t.PRODUCER_SILENT_MIN_SECONDS:g} s (or the producer "
            "exports no metrics at all): the dashboard shows prices that are getting old.",
            "Open the producer drill-down dashboard. fetches_total by outcome says whether the "
            "source answers (rate_limited, timeout, server_error: a CoinGecko problem, see "
            "CryptopulseRateLimited); send_errors_total, buffered_records and "
            "kafka_client_restarts_total say whether Kafka acknowledges (broker down, topic "
            "missing, credentials). kubectl logs -n {{ $labels.namespace }} -l "
            "app.kubernetes.io/component=producer shows one line per poll with the reason of "
            "every failure. The producer retries both on its own; a restart renews its clients "
            "if they are wedged.",
        ),
        Alert(
            "CryptopulseRateLimited",
            f"{_r(RATE_LIMITED)} > {t.RATE_LIMITED_RATIO:g}",
            "15m",
            "warning",
            "producer",
            "CoinGecko rate-limits {{ $value | humanizePercentage }} of the producer's requests "
            "in {{ $labels.namespace }}",
            "More than "
            f"{t.RATE_LIMITED_RATIO:.0%} of the requests to CoinGecko were answered 429 for "
            "15 minutes: ticks arrive late or not at all.",
            "The producer honours Retry-After, so this is a plan problem, not a bug: poll less "
            "often (producer.intervalSeconds), poll fewer coins, or use a key with a higher "
            "limit (secrets: coingecko-api-key, producer.coingeckoPlan). retry_wait_seconds_total "
            "shows the time lost waiting. Several releases sharing one key share its limit.",
        ),
        Alert(
            "CryptopulseStreamFallingBehind",
            f"(\n  {_r(BATCH_MEAN)}\n  > on (namespace, query) "
            f"{by(('namespace', 'query'), sel(m.STREAM_TRIGGER_INTERVAL, RELEASE), 'max')}\n)\n"
            f"and on (namespace, query)\n(deriv({_r(KAFKA_LAG)}[10m]) > 0)",
            "10m",
            "warning",
            "stream",
            "cryptopulse stream query {{ $labels.query }} in {{ $labels.namespace }} is "
            "falling behind",
            "Its micro-batches take longer than its trigger interval and its Kafka lag keeps "
            "growing: aggregates reach the clients later and later.",
            "Open the stream drill-down dashboard: batch duration against the trigger, Kafka "
            "lag, input against processed rows per second. More ticks than the job can take: "
            "raise the topic's partitions and stream.executor.instances (or cores), or "
            "STREAM_MAX_OFFSETS_PER_TRIGGER to bound each batch. Batches slow with a normal "
            "input: a slow /ingest (sink_retries_total) or a starved executor (CPU limits, "
            "JVM heap in the Spark panel). STREAM_DEAD_LETTERS=false halves the reads if "
            "malformed records are not a concern.",
        ),
        Alert(
            "CryptopulseStreamStalled",
            f"{_r(PROGRESS_AGE)} > {t.STREAM_STALLED_SECONDS:g}\n"
            f"or absent({sel(m.STREAM_LAST_PROGRESS, RELEASE)})",
            "2m",
            "critical",
            "stream",
            "cryptopulse stream job in {{ $labels.namespace }} reports no progress",
            f"No streaming query reported progress for more than {t.STREAM_STALLED_SECONDS:g} "
            "s (not even an idle trigger), or the driver exports no metrics: no aggregate "
            "reaches the API.",
            "kubectl get sparkapplication -n {{ $labels.namespace }} shows the job's state; "
            "kubectl logs -n {{ $labels.namespace }} -l app.kubernetes.io/component=stream,"
            "spark-role=driver shows the query's error (a failed query stops the driver, and "
            "the operator restarts it from its checkpoint). A driver that is up but stalled is "
            "restarted by its liveness probe after STREAM_HEALTH_STALL_SECONDS. If it restarts "
            "in a loop, read the first error after start: a Kafka it cannot reach, a corrupt "
            "checkpoint on the stream.checkpoints claim, or an out-of-memory executor.",
        ),
        Alert(
            "CryptopulseMalformedRecordsSpike",
            f"{_r(MALFORMED)} > {t.MALFORMED_RATIO:g}",
            "10m",
            "warning",
            "stream",
            "{{ $value | humanizePercentage }} of the ticks topic is malformed in "
            "{{ $labels.namespace }}",
            f"More than {t.MALFORMED_RATIO:.0%} of the messages on the ticks topic went to the "
            "dead-letter topic for 10 minutes.",
            "malformed_records_total by reason names the rule the messages break. Read a few "
            "from the dead-letter topic (each carries its reason and the raw message) to find "
            "the writer: another producer on the topic, a producer of another version "
            "(unknown schema version), or a source whose rows changed shape.",
        ),
        Alert(
            "CryptopulseLateRecordsSpike",
            f"{_r(LATE)} > {t.LATE_RATIO:g}",
            "10m",
            "warning",
            "stream",
            "{{ $value | humanizePercentage }} of the ticks arrive behind the watermark in "
            "{{ $labels.namespace }}",
            f"More than {t.LATE_RATIO:.0%} of the ticks were dropped for arriving behind the "
            "event-time watermark for 10 minutes: their windows were already closed.",
            "Ticks this late come from a producer whose clock or source timestamps lag (compare "
            "last_updated with the time it was published), or from a backlog replayed after an "
            "outage. A lasting cause needs a longer STREAM_WATERMARK_SECONDS (windows close "
            "later by as much).",
        ),
        Alert(
            "CryptopulseIngestErrors",
            f"{_r(INGEST_ERRORS)} > {t.INGEST_ERROR_RATIO:g}",
            "5m",
            "warning",
            "api",
            "{{ $value | humanizePercentage }} of POST /ingest fail in {{ $labels.namespace }}",
            f"More than {t.INGEST_ERROR_RATIO:.0%} of the batches POSTed to /ingest were "
            "refused for 5 minutes.",
            "ingest_requests_total by status says why: unauthorized (the stream job's "
            "STREAM_INGEST_TOKEN and the API's API_INGEST_TOKEN differ: both come from the "
            "release's Secret, so a rotated secret needs both restarted), too_large (raise "
            "API_INGEST_MAX_BYTES or lower the batch size), invalid (a stream job of another "
            "version than the API). The API logs every refusal with its reason.",
        ),
        Alert(
            "CryptopulseStreamSinkWaiting",
            f"{by('namespace', sel(m.STREAM_SINK_WAITING, RELEASE), 'max')} "
            f"> {t.SINK_WAITING_SECONDS:g}",
            "5m",
            "warning",
            "stream",
            "cryptopulse stream job in {{ $labels.namespace }} has waited "
            "{{ $value | humanizeDuration }} for /ingest",
            f"The stream job's sink has waited more than {t.SINK_WAITING_SECONDS:g} s for an "
            "unavailable /ingest (no connection, 5xx, 408, 429, 401, 403 or 404), for 5 "
            "minutes. It holds the batch and retries, so nothing is lost, but no update reaches "
            "the clients.",
            "Check that the API is ready (kubectl get pods -l "
            "app.kubernetes.io/component=api) and reachable from the driver (networkPolicy); "
            "the driver's /health details carry the API's last answer. 401 or 403 is a token "
            "mismatch (STREAM_INGEST_TOKEN against API_INGEST_TOKEN, both from the release's "
            "Secret: restart both after a rotation). sink_retries_total rising while the wait "
            "stays near 0 is a slow API, not an unavailable one.",
        ),
        Alert(
            "CryptopulseBroadcastLatencyHigh",
            f"{_r(BROADCAST_QUANTILE, quantile='0.99')} > {t.BROADCAST_P99_SECONDS:g}",
            "10m",
            "warning",
            "api",
            "WebSocket broadcast p99 is {{ $value | humanizeDuration }} in {{ $labels.namespace }}",
            f"99 % of the updates take longer than {t.BROADCAST_P99_SECONDS:g} s from /ingest "
            "to the clients' sockets, for 10 minutes.",
            "Compare with ws_connections: more clients than one replica serves (raise "
            "api.replicaCount or enable api.autoscaling), or CPU throttling (the API's CPU "
            "limit). Many conflated messages with few drops point at clients on slow "
            "networks, which the server isolates; a high p99 with few clients is a starved "
            "server.",
        ),
        Alert(
            "CryptopulseSlowClientDropsSpiking",
            f"60 * {_r(DROPS)} > {t.SLOW_CLIENT_DROPS_PER_MINUTE:g}",
            "5m",
            "warning",
            "api",
            "{{ $value | humanize }} slow WebSocket clients dropped per minute in "
            "{{ $labels.namespace }}",
            f"More than {t.SLOW_CLIENT_DROPS_PER_MINUTE:g} clients a minute are dropped for "
            "being too slow, for 5 minutes.",
            "slow_clients_dropped_total by reason: send_timeout (sockets that stopped "
            "draining: the network between the clients and the API, an ingress buffering "
            "WebSocket frames), queue_overflow (clients that fall behind the update rate: "
            "large batches for slow links). If every client is dropped, suspect the ingress "
            "or the API's own CPU before the clients.",
        ),
        Alert(
            "CryptopulseNoUpdatesToClients",
            # An API that is down has no clients to count: like the producer's and the stream
            # job's, its alert also fires when it exports nothing at all.
            f"{_r(CONNECTIONS)} > 0\nand on (namespace)\n{_r(FRAMES)} == 0\n"
            f"or absent({sel(m.WS_CONNECTIONS, RELEASE)})",
            "5m",
            "critical",
            "api",
            "No update reached any WebSocket client in {{ $labels.namespace }}",
            "Clients are connected but no update frame was written to any of them for 5 "
            "minutes, or the API exports no metrics at all: every dashboard shows stale prices "
            "or none.",
            "No API metrics at all: the API is down or unreachable from Prometheus (kubectl "
            "get pods -n {{ $labels.namespace }} -l app.kubernetes.io/component=api, its "
            "ServiceMonitor). Otherwise follow the pipeline upstream: "
            "ingest_requests_total{status=accepted} (is the "
            "stream job posting? see CryptopulseStreamStalled and CryptopulseStreamSinkWaiting),"
            " then the stream job's input rows (is the producer publishing? see "
            "CryptopulseProducerSilent). Batches accepted but no frames written means the "
            "API's fan-out is stuck: restart the API pods one at a time.",
        ),
        Alert(
            "CryptopulsePodNotReady",
            # kube-state-metrics exports kube_pod_status_ready only from a pod's Ready
            # condition, which a pod not yet scheduled lacks: Pending is caught by its phase.
            f"{_pods('kube_pod_status_phase', phase='Pending')} == 1\n"
            "or\n(\n"
            f"  {_pods('kube_pod_status_ready', condition='false')} == 1\n"
            "  and on (namespace, pod)\n"
            f"  {_pods('kube_pod_status_phase', phase='Running')} == 1\n)",
            "10m",
            "warning",
            "kubernetes",
            "cryptopulse pod {{ $labels.namespace }}/{{ $labels.pod }} is not ready",
            "A pod of the release has been Pending or Running but not Ready for 10 minutes "
            "(kube-state-metrics).",
            "kubectl describe pod shows the failing probe or the scheduling problem. The API "
            "is unready while draining or before it serves; the producer while Kafka does not "
            "acknowledge; the stream driver until its queries run. Pending: not enough CPU or "
            "memory on the nodes, or a PersistentVolumeClaim that does not bind (Kafka, "
            "checkpoints).",
        ),
    ]


def rules_document() -> dict[str, Any]:
    """The rules file: one group of recording rules, one of alerts."""
    return {
        "groups": [
            {"name": "cryptopulse.recording", "rules": [r.to_dict() for r in recording_rules()]},
            {"name": "cryptopulse.alerts", "rules": [a.to_dict() for a in alerts()]},
        ]
    }


class _Literal(str):
    """A string dumped in YAML's literal block style (multi-line PromQL stays readable)."""


def _literal(dumper: yaml.SafeDumper, value: _Literal) -> yaml.Node:
    return dumper.represent_scalar("tag:yaml.org,2002:str", str(value), style="|")


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(_Literal, _literal)


def _blocks(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _blocks(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_blocks(item) for item in value]
    if isinstance(value, str) and "\n" in value:
        return _Literal(value)
    return value


HEADER: Final = (
    "# Generated by `python -m cryptopulse_monitoring` from monitoring/cryptopulse_monitoring/"
    "rules.py: do not edit.\n"
    "# A Prometheus rules file and the spec of the chart's PrometheusRule; $namespace and\n"
    "# $release_pods are replaced by the chart (templates/monitoring/prometheusrule.yaml).\n"
)


def render_rules() -> str:
    return HEADER + yaml.dump(_blocks(rules_document()), Dumper=_Dumper, sort_keys=False, width=100)
