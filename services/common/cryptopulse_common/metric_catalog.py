"""Every Prometheus metric cryptopulse exports, named once: name, type, unit, labels, meaning.

Each stage registers its metrics from these specs (``cryptopulse_producer.metrics``,
``cryptopulse_stream.metrics``, ``cryptopulse_api.metrics``); the Grafana dashboards and the
alerting rules (``monitoring/``) build their PromQL from them; the metrics tables of README.md
and docs/ are generated from them (``python -m cryptopulse_monitoring``). The ``# HELP`` text is
composed here, so every metric states its unit and its labels.

Naming follows Prometheus's conventions (https://prometheus.io/docs/practices/naming/): a
``cryptopulse_<stage>_`` prefix, base units (seconds), counters ending in ``_total``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
)

from cryptopulse_common.rules import AGGREGATE_REJECT_REASONS, TICK_REJECT_REASONS

# No ``<name>_created`` series next to every counter and histogram: in the text format Prometheus
# scrapes they are separate gauges of a Unix time that no query here reads, doubling the series.
disable_created_metrics()  # type: ignore[no-untyped-call]  # untyped in prometheus_client

MetricType = Literal["counter", "gauge", "histogram"]
Stage = Literal["producer", "stream", "api"]
STAGES: Final[tuple[Stage, ...]] = ("producer", "stream", "api")

# The stream job's two queries: the ``query`` label of its metrics and part of Spark's own
# metric names (``spark.streaming.<queryName>``).
AGGREGATES_QUERY: Final = "window_aggregates"
DEAD_LETTERS_QUERY: Final = "dead_letters"

# ``spark.metrics.namespace``: the prefix of every metric Spark's PrometheusServlet serves. Spark
# defaults it to the application id, which changes on every restart (``spark-3f2a...``): every
# restart would start new series and break every query. Fixed, the names are stable.
SPARK_METRICS_NAMESPACE: Final = "cryptopulse"


@dataclass(frozen=True)
class Label:
    name: str
    meaning: str


@dataclass(frozen=True)
class MetricSpec:
    """One metric family as Prometheus sees it.

    ``name`` is the exposed family name (a counter's includes ``_total``; a histogram's series
    add ``_bucket``, ``_count`` and ``_sum``). ``unit`` is what one unit of the value counts
    ("seconds", "ticks"); ``meaning`` one or two sentences ending with a full stop.
    """

    name: str
    type: MetricType
    stage: Stage
    unit: str
    meaning: str
    labels: tuple[Label, ...] = ()

    @property
    def label_names(self) -> tuple[str, ...]:
        return tuple(label.name for label in self.labels)

    @property
    def help(self) -> str:
        """The ``# HELP`` text: the meaning, then the unit and every label."""
        labels = "; ".join(f"{label.name} = {label.meaning}" for label in self.labels)
        return f"{self.meaning} Unit: {self.unit}. Labels: {labels or 'none'}."

    @property
    def bucket(self) -> str:
        return self._part("_bucket")

    @property
    def count(self) -> str:
        return self._part("_count")

    @property
    def sum(self) -> str:
        return self._part("_sum")

    def _part(self, suffix: str) -> str:
        if self.type != "histogram":
            raise ValueError(f"{self.name} is a {self.type}, not a histogram")
        return self.name + suffix

    def __str__(self) -> str:
        return self.name


def _spec(
    name: str, type_: MetricType, stage: Stage, unit: str, meaning: str, *labels: Label
) -> MetricSpec:
    return MetricSpec(name, type_, stage, unit, meaning, labels)


_QUERY = Label("query", f"the streaming query ({AGGREGATES_QUERY} or {DEAD_LETTERS_QUERY})")
# The contract's reason codes (cryptopulse_common.rules, docs/contract.md): why a record was
# refused, the first rule it breaks.
_TICK_REASON = Label(
    "reason",
    "the tick contract's reason code (docs/contract.md): " + ", ".join(TICK_REJECT_REASONS),
)
_AGGREGATE_REASON = Label(
    "reason",
    "the aggregate contract's reason code of the record's first error (docs/contract.md): "
    + ", ".join(AGGREGATE_REJECT_REASONS),
)

# --- producer ----------------------------------------------------------------------------------
PRODUCER_FETCHES: Final = _spec(
    "cryptopulse_producer_fetches_total",
    "counter",
    "producer",
    "requests",
    "Requests to the market source (one per HTTP request for coingecko, one per poll for "
    "simulate and replay).",
    Label(
        "outcome",
        "ok, rate_limited, server_error, client_error, timeout, connection_error or bad_body",
    ),
)
PRODUCER_FETCH_DURATION: Final = _spec(
    "cryptopulse_producer_fetch_duration_seconds",
    "histogram",
    "producer",
    "seconds",
    "Duration of one request to the market source (waits between retries excluded).",
)
PRODUCER_RATE_LIMITED: Final = _spec(
    "cryptopulse_producer_rate_limited_total",
    "counter",
    "producer",
    "responses",
    "Answers 429 Too Many Requests from CoinGecko.",
)
PRODUCER_RETRY_WAIT: Final = _spec(
    "cryptopulse_producer_retry_wait_seconds_total",
    "counter",
    "producer",
    "seconds",
    "Time spent waiting before retrying a rate-limited or failed request.",
)
PRODUCER_POLL_INTERVAL: Final = _spec(
    "cryptopulse_producer_poll_interval_seconds",
    "gauge",
    "producer",
    "seconds",
    "Configured time between two polls of the market source (PRODUCER_INTERVAL_SECONDS).",
)
PRODUCER_TICKS_FETCHED: Final = _spec(
    "cryptopulse_producer_ticks_fetched_total",
    "counter",
    "producer",
    "ticks",
    "Ticks the market source returned that match the contract (rejected rows excluded).",
)
PRODUCER_ROWS_REJECTED: Final = _spec(
    "cryptopulse_producer_rows_rejected_total",
    "counter",
    "producer",
    "rows",
    "Source rows skipped because they break the contract.",
    _TICK_REASON,
)
PRODUCER_TICKS_SENT: Final = _spec(
    "cryptopulse_producer_ticks_sent_total",
    "counter",
    "producer",
    "ticks",
    "Ticks acknowledged by Kafka (acks=all).",
)
PRODUCER_SEND_ERRORS: Final = _spec(
    "cryptopulse_producer_send_errors_total",
    "counter",
    "producer",
    "deliveries",
    "Failed deliveries reported by the Kafka client (retriable ones are resent).",
)
PRODUCER_TICKS_DROPPED: Final = _spec(
    "cryptopulse_producer_ticks_dropped_total",
    "counter",
    "producer",
    "ticks",
    "Ticks given up on.",
    Label("reason", "buffer_full, not_retriable or shutdown"),
)
PRODUCER_CLIENT_RESTARTS: Final = _spec(
    "cryptopulse_producer_kafka_client_restarts_total",
    "counter",
    "producer",
    "restarts",
    "Kafka clients replaced because they reported nothing within their delivery timeout.",
)
PRODUCER_LAST_PUBLISH: Final = _spec(
    "cryptopulse_producer_last_publish_timestamp_seconds",
    "gauge",
    "producer",
    "seconds since the Unix epoch",
    "Time of the last tick acknowledged by Kafka (0 = none yet).",
)
PRODUCER_BUFFERED: Final = _spec(
    "cryptopulse_producer_buffered_records",
    "gauge",
    "producer",
    "ticks",
    "Ticks sent or waiting to be resent but not yet acknowledged by Kafka (read at scrape time).",
)

# --- stream job --------------------------------------------------------------------------------
STREAM_BATCH_DURATION: Final = _spec(
    "cryptopulse_stream_batch_duration_seconds",
    "histogram",
    "stream",
    "seconds",
    "Wall time of each micro-batch.",
    _QUERY,
)
STREAM_TRIGGER_INTERVAL: Final = _spec(
    "cryptopulse_stream_trigger_interval_seconds",
    "gauge",
    "stream",
    "seconds",
    "Configured processing-time trigger: a micro-batch starts at most this often; batches "
    "that take longer fall behind.",
    _QUERY,
)
STREAM_INPUT_ROWS: Final = _spec(
    "cryptopulse_stream_input_rows_total",
    "counter",
    "stream",
    "rows",
    "Rows read from Kafka.",
    _QUERY,
)
STREAM_INPUT_ROWS_PER_SECOND: Final = _spec(
    "cryptopulse_stream_input_rows_per_second",
    "gauge",
    "stream",
    "rows per second",
    "Arrival rate of rows in the last micro-batch (Spark's inputRowsPerSecond).",
    _QUERY,
)
STREAM_PROCESSED_ROWS_PER_SECOND: Final = _spec(
    "cryptopulse_stream_processed_rows_per_second",
    "gauge",
    "stream",
    "rows per second",
    "Processing rate of the last micro-batch (Spark's processedRowsPerSecond).",
    _QUERY,
)
STREAM_KAFKA_LAG: Final = _spec(
    "cryptopulse_stream_kafka_lag_records",
    "gauge",
    "stream",
    "records",
    "Records on the ticks topic the query has not read yet: the partitions' end offsets minus "
    "the offsets of the query's last micro-batch, summed over partitions (looked up every "
    "STREAM_LAG_INTERVAL_SECONDS).",
    _QUERY,
)
STREAM_STATE_ROWS: Final = _spec(
    "cryptopulse_stream_state_rows",
    "gauge",
    "stream",
    "rows",
    "Rows held in the windowing state (coins x open windows).",
)
STREAM_LATE_ROWS_DROPPED: Final = _spec(
    "cryptopulse_stream_late_rows_dropped_total",
    "counter",
    "stream",
    "rows",
    "Ticks dropped because they arrived behind the event-time watermark.",
)
STREAM_WATERMARK_LAG: Final = _spec(
    "cryptopulse_stream_watermark_lag_seconds",
    "gauge",
    "stream",
    "seconds",
    "Wall-clock time minus the event-time watermark at the last micro-batch.",
)
STREAM_MALFORMED_RECORDS: Final = _spec(
    "cryptopulse_stream_malformed_records_total",
    "counter",
    "stream",
    "messages",
    "Tick messages refused and sent to the dead-letter topic.",
    _TICK_REASON,
)
STREAM_RECORDS_REFUSED: Final = _spec(
    "cryptopulse_stream_records_refused_total",
    "counter",
    "stream",
    "records",
    "Aggregate records the contract check or /ingest (422) refused, sent to the dead-letter "
    "topic instead.",
    _AGGREGATE_REASON,
)
STREAM_SINK_RETRIES: Final = _spec(
    "cryptopulse_stream_sink_retries_total",
    "counter",
    "stream",
    "requests",
    "POSTs to /ingest retried because it was unavailable (no connection, 5xx, 408, 429, 401, "
    "403, 404).",
)
STREAM_SINK_ERRORS: Final = _spec(
    "cryptopulse_stream_sink_errors_total",
    "counter",
    "stream",
    "batches",
    "Batches abandoned because the job stopped while /ingest was unavailable (Spark replays "
    "them from the checkpoint on restart).",
)
STREAM_SINK_WAITING: Final = _spec(
    "cryptopulse_stream_sink_waiting_seconds",
    "gauge",
    "stream",
    "seconds",
    "How long the current POST has waited for an unavailable /ingest, 0 while it answers (read "
    "at scrape time).",
)
STREAM_RECORDS_POSTED: Final = _spec(
    "cryptopulse_stream_records_posted_total",
    "counter",
    "stream",
    "records",
    "Aggregate records accepted by /ingest.",
)
STREAM_LAST_PROGRESS: Final = _spec(
    "cryptopulse_stream_last_progress_timestamp_seconds",
    "gauge",
    "stream",
    "seconds since the Unix epoch",
    "Time of the last progress report of any query (a micro-batch, or an idle trigger with no "
    "new data); the job's start until the first.",
)

# --- API server --------------------------------------------------------------------------------
WS_BROADCAST_LATENCY: Final = _spec(
    "cryptopulse_ws_broadcast_latency_seconds",
    "histogram",
    "api",
    "seconds",
    "From /ingest receipt (or Kafka poll) to the frame written to a client's socket, one "
    "observation per client and update.",
)
WS_SLOW_CLIENTS_DROPPED: Final = _spec(
    "cryptopulse_ws_slow_clients_dropped_total",
    "counter",
    "api",
    "clients",
    "WebSocket clients dropped for being too slow.",
    Label("reason", "send_timeout, queue_overflow or send_error"),
)
WS_CONNECTIONS: Final = _spec(
    "cryptopulse_ws_connections", "gauge", "api", "connections", "Open WebSocket connections."
)
WS_CONNECTIONS_REJECTED: Final = _spec(
    "cryptopulse_ws_connections_rejected_total",
    "counter",
    "api",
    "connections",
    "WebSocket connections refused.",
    Label("reason", "limit (closed 1008), origin (403) or draining (closed 1001)"),
)
WS_MESSAGES_CONFLATED: Final = _spec(
    "cryptopulse_ws_messages_conflated_total",
    "counter",
    "api",
    "messages",
    "Queued messages replaced by newer market state for a lagging client.",
)
WS_QUEUED_MESSAGES: Final = _spec(
    "cryptopulse_ws_queued_messages",
    "gauge",
    "api",
    "messages",
    "Messages waiting in the outbound queues of all WebSocket clients (read at scrape time).",
)
INGEST_REQUESTS: Final = _spec(
    "cryptopulse_ingest_requests_total",
    "counter",
    "api",
    "requests",
    "POST /ingest requests by outcome.",
    Label("status", "accepted, duplicate, invalid (422), too_large (413) or unauthorized (401)"),
)
INGEST_RECORDS: Final = _spec(
    "cryptopulse_ingest_records_total",
    "counter",
    "api",
    "records",
    "Aggregate records accepted by POST /ingest.",
)
INGEST_RECORDS_REFUSED: Final = _spec(
    "cryptopulse_ingest_records_refused_total",
    "counter",
    "api",
    "records",
    "Aggregate records refused by POST /ingest (422) or on the aggregates topic.",
    _AGGREGATE_REASON,
)
MARKET_COINS: Final = _spec(
    "cryptopulse_market_coins",
    "gauge",
    "api",
    "coins",
    "Coins the market state holds, at most API_MAX_COINS (read at scrape time).",
)
MARKET_COINS_FORGOTTEN: Final = _spec(
    "cryptopulse_market_coins_forgotten_total",
    "counter",
    "api",
    "coins",
    "Coins forgotten because their newest window fell API_COIN_IDLE_SECONDS behind the "
    "market's newest.",
)
MARKET_RECORDS_OVER_LIMIT: Final = _spec(
    "cryptopulse_market_records_over_coin_limit_total",
    "counter",
    "api",
    "records",
    "Records of a new coin neither kept nor broadcast because API_MAX_COINS coins are held.",
)
INGEST_DUPLICATES: Final = _spec(
    "cryptopulse_ingest_duplicates_total",
    "counter",
    "api",
    "batches",
    "Batches POSTed again (same source and batch_id): acknowledged, not broadcast again.",
)
FANOUT_KAFKA_MESSAGES: Final = _spec(
    "cryptopulse_fanout_kafka_messages_total",
    "counter",
    "api",
    "batches",
    "Batches read from the aggregates topic (API_FANOUT_FROM_KAFKA).",
    Label("status", "broadcast, duplicate (POSTed to this replica first) or invalid"),
)
HTTP_REQUEST_DURATION: Final = _spec(
    "cryptopulse_http_request_duration_seconds",
    "histogram",
    "api",
    "seconds",
    "HTTP request latency until the response is written.",
    Label("method", "the HTTP method"),
    Label("route", "the route served, or other"),
)

CATALOG: Final[tuple[MetricSpec, ...]] = (
    PRODUCER_FETCHES,
    PRODUCER_FETCH_DURATION,
    PRODUCER_RATE_LIMITED,
    PRODUCER_RETRY_WAIT,
    PRODUCER_POLL_INTERVAL,
    PRODUCER_TICKS_FETCHED,
    PRODUCER_ROWS_REJECTED,
    PRODUCER_TICKS_SENT,
    PRODUCER_SEND_ERRORS,
    PRODUCER_TICKS_DROPPED,
    PRODUCER_CLIENT_RESTARTS,
    PRODUCER_LAST_PUBLISH,
    PRODUCER_BUFFERED,
    STREAM_BATCH_DURATION,
    STREAM_TRIGGER_INTERVAL,
    STREAM_INPUT_ROWS,
    STREAM_INPUT_ROWS_PER_SECOND,
    STREAM_PROCESSED_ROWS_PER_SECOND,
    STREAM_KAFKA_LAG,
    STREAM_STATE_ROWS,
    STREAM_LATE_ROWS_DROPPED,
    STREAM_WATERMARK_LAG,
    STREAM_MALFORMED_RECORDS,
    STREAM_RECORDS_REFUSED,
    STREAM_SINK_RETRIES,
    STREAM_SINK_ERRORS,
    STREAM_SINK_WAITING,
    STREAM_RECORDS_POSTED,
    STREAM_LAST_PROGRESS,
    WS_BROADCAST_LATENCY,
    WS_SLOW_CLIENTS_DROPPED,
    WS_CONNECTIONS,
    WS_CONNECTIONS_REJECTED,
    WS_MESSAGES_CONFLATED,
    WS_QUEUED_MESSAGES,
    INGEST_REQUESTS,
    INGEST_RECORDS,
    INGEST_RECORDS_REFUSED,
    INGEST_DUPLICATES,
    MARKET_COINS,
    MARKET_COINS_FORGOTTEN,
    MARKET_RECORDS_OVER_LIMIT,
    FANOUT_KAFKA_MESSAGES,
    HTTP_REQUEST_DURATION,
)


def stage_metrics(stage: Stage) -> tuple[MetricSpec, ...]:
    return tuple(spec for spec in CATALOG if spec.stage == stage)


def spark_driver_gauge(source_and_metric: str) -> str:
    """The name Spark's PrometheusServlet gives a driver gauge: ``ExecutorMetrics_JVMHeapMemory``
    is served as ``metrics_cryptopulse_driver_ExecutorMetrics_JVMHeapMemory_Value``
    (``metrics_<namespace>_driver_<source>_<name>_Value``, dots as underscores). Served only
    with STREAM_SPARK_UI=true."""
    return f"metrics_{SPARK_METRICS_NAMESPACE}_driver_{source_and_metric}_Value"


def spark_streaming_gauge(query: str, metric: str) -> str:
    """A streaming query's gauge from Spark's ``spark.streaming.<queryName>`` metrics source
    (``spark.sql.streaming.metricsEnabled``), e.g. ``states_usedBytes``."""
    return spark_driver_gauge(f"spark_streaming_{query}_{metric}")


# --- registration ------------------------------------------------------------------------------


def counter(spec: MetricSpec, registry: CollectorRegistry) -> Counter:
    _expect(spec, "counter")
    return Counter(spec.name, spec.help, spec.label_names, registry=registry)


def gauge(spec: MetricSpec, registry: CollectorRegistry) -> Gauge:
    _expect(spec, "gauge")
    return Gauge(spec.name, spec.help, spec.label_names, registry=registry)


def histogram(spec: MetricSpec, registry: CollectorRegistry, buckets: Sequence[float]) -> Histogram:
    _expect(spec, "histogram")
    return Histogram(spec.name, spec.help, spec.label_names, buckets=buckets, registry=registry)


def _expect(spec: MetricSpec, type_: MetricType) -> None:
    if spec.type != type_:
        raise TypeError(f"{spec.name} is a {spec.type} in the catalog, not a {type_}")
