"""What each dashboard draws: panels as data (title, description, unit, thresholds, queries).

:mod:`cryptopulse_monitoring.grafana` turns these into Grafana dashboard JSON with the
grafana-foundation-sdk. Every query is scoped with ``$namespace`` and ``$instance`` (panels of
recorded series with ``$namespace`` only: a recording rule aggregates the whole release) and
rates over ``$__rate_interval``; every target names its series with a legend.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from grafana_foundation_sdk.models import units

from cryptopulse_api.settings import ApiSettings
from cryptopulse_common import metric_catalog as m
from cryptopulse_monitoring import rules as r
from cryptopulse_monitoring import thresholds as t
from cryptopulse_monitoring.promql import (
    PANEL,
    RELEASE,
    Regex,
    by,
    mean,
    quantile,
    rate,
    sel,
)
from cryptopulse_producer.settings import ProducerSettings
from cryptopulse_stream.settings import StreamSettings


def _default(settings: type[ApiSettings | ProducerSettings | StreamSettings], name: str) -> float:
    value = settings.model_fields[name].default
    assert isinstance(value, int | float), name
    return float(value)


TRIGGER_SECONDS: Final = _default(StreamSettings, "stream_trigger_seconds")
MAX_CONNECTIONS: Final = _default(ApiSettings, "api_max_connections")
MAX_COINS: Final = _default(ApiSettings, "api_max_coins")
MAX_BUFFERED: Final = _default(ProducerSettings, "producer_buffer_max_records")
DRIVER_MEMORY_BYTES: Final = 1024.0**3  # stream.driver.memory in the chart's values: 1g


@dataclass(frozen=True)
class Target:
    expr: str
    legend: str


@dataclass(frozen=True)
class Thresholds:
    """Grafana's absolute thresholds: ``base`` below the first step, then each (value, colour)."""

    base: str
    steps: tuple[tuple[float, str], ...]


def high_is_bad(warning: float, critical: float) -> Thresholds:
    return Thresholds("green", ((warning, "orange"), (critical, "red")))


def low_is_bad(healthy_from: float) -> Thresholds:
    return Thresholds("red", ((healthy_from, "green"),))


ANY_AT_ALL: Final = 0.001  # a rate above this is "something is flowing"
INGEST_REFUSED: Final = Regex("|".join(r.INGEST_OK_STATUSES), negate=True)


@dataclass(frozen=True)
class Panel:
    """A time series panel; ``thresholds`` are drawn as dashed lines."""

    title: str
    description: str
    unit: str
    targets: tuple[Target, ...]
    thresholds: Thresholds
    axis_label: str = ""
    width: int = 12
    height: int = 8


@dataclass(frozen=True)
class Row:
    title: str
    panels: tuple[Panel, ...]


@dataclass(frozen=True)
class Dashboard:
    uid: str
    title: str
    description: str
    # The metric whose series list the namespaces and instances this dashboard offers.
    namespace_source: str
    instance_source: str
    rows: tuple[Row, ...] = field(default_factory=tuple)

    @property
    def file_name(self) -> str:
        return f"{self.uid}.json"

    def panels(self) -> list[Panel]:
        return [panel for row in self.rows for panel in row.panels]


def _t(expr: str, legend: str) -> Target:
    return Target(expr, legend)


def _sum_rate(metric: m.MetricSpec | str, **labels: str) -> str:
    return f"sum({rate(sel(metric, **labels))})"


def _per_minute(expr: str) -> str:
    return f"60 * {expr}"


def _share(metric: m.MetricSpec, label: str) -> str:
    """Each value of ``label``'s share of the metric's rate (0-1)."""
    return (
        f"{by(label, rate(sel(metric)))}\n/ ignoring ({label}) group_left\nsum({rate(sel(metric))})"
    )


def _quantiles(histogram: m.MetricSpec, group: tuple[str, ...] = ()) -> tuple[Target, ...]:
    prefix = "".join(f"{{{{{label}}}}} " for label in group)
    return tuple(
        _t(quantile(q, histogram, group=group), f"{prefix}p{round(q * 100)}") for q in r.QUANTILES
    )


# --- overview ----------------------------------------------------------------------------------
TICKS_FLOW: Final = Panel(
    "Ticks fetched and published",
    "Per second: ticks the market source returned that match the contract, ticks Kafka "
    "acknowledged, and source rows rejected. Published below fetched for long means Kafka "
    "does not acknowledge (buffered ticks grow in the producer dashboard).",
    units.RecordsPerSecond,
    (
        _t(_sum_rate(m.PRODUCER_TICKS_FETCHED), "fetched"),
        _t(_sum_rate(m.PRODUCER_TICKS_SENT), "published"),
        _t(_sum_rate(m.PRODUCER_ROWS_REJECTED), "rejected rows"),
    ),
    low_is_bad(ANY_AT_ALL),
)
RATE_LIMITS: Final = Panel(
    "CoinGecko rate limits and retry waits",
    "Share of the requests to the source answered 429 Too Many Requests, and share of the "
    "time the producer spent waiting before a retry (Retry-After or back-off). Thresholds: the "
    f"CryptopulseRateLimited alert fires above {t.RATE_LIMITED_RATIO:.0%} for 15 minutes.",
    units.PercentUnit,
    (
        _t(
            f"{_sum_rate(m.PRODUCER_FETCHES, outcome='rate_limited')}\n/\n"
            f"{_sum_rate(m.PRODUCER_FETCHES)}",
            "requests answered 429",
        ),
        _t(_sum_rate(m.PRODUCER_RETRY_WAIT), "time waiting to retry"),
    ),
    high_is_bad(t.RATE_LIMITED_RATIO / 2, t.RATE_LIMITED_RATIO),
)
KAFKA_LAG: Final = Panel(
    "Stream job: Kafka lag",
    "Records on the ticks topic each query has not read yet (end offsets minus the offsets of "
    "its last micro-batch, all partitions). Growing while batches take longer than the "
    "trigger: the job falls behind (CryptopulseStreamFallingBehind).",
    units.Short,
    (_t(by("query", sel(m.STREAM_KAFKA_LAG)), "{{query}}"),),
    high_is_bad(t.KAFKA_LAG_WARNING_RECORDS, 10 * t.KAFKA_LAG_WARNING_RECORDS),
    axis_label="records",
)
BATCH_VS_TRIGGER: Final = Panel(
    "Stream job: batch duration against the trigger",
    "Mean micro-batch wall time per query against its processing-time trigger: a batch longer "
    "than the trigger starts the next one late. Thresholds at the default trigger "
    f"(STREAM_TRIGGER_SECONDS = {TRIGGER_SECONDS:g} s) and twice it.",
    units.Seconds,
    (
        _t(mean(m.STREAM_BATCH_DURATION, group=("query",)), "{{query}} mean batch"),
        _t(by("query", sel(m.STREAM_TRIGGER_INTERVAL), "max"), "{{query}} trigger"),
    ),
    high_is_bad(TRIGGER_SECONDS, 2 * TRIGGER_SECONDS),
)
ROW_RATES: Final = Panel(
    "Stream job: input and processed rows per second",
    "Spark's inputRowsPerSecond and processedRowsPerSecond of each query's last micro-batch: "
    "processed below input for long means the job cannot keep up.",
    units.RowsPerSecond,
    (
        _t(by("query", sel(m.STREAM_INPUT_ROWS_PER_SECOND)), "{{query}} input"),
        _t(by("query", sel(m.STREAM_PROCESSED_ROWS_PER_SECOND)), "{{query}} processed"),
    ),
    low_is_bad(ANY_AT_ALL),
)
WATERMARK: Final = Panel(
    "Stream job: watermark lag",
    "Wall-clock time minus the event-time watermark. A healthy job shows about the window plus "
    "the watermark delay (STREAM_WATERMARK_SECONDS); growing steadily: the event time stopped "
    "advancing (no ticks, or ticks with old timestamps).",
    units.Seconds,
    (_t(f"max({sel(m.STREAM_WATERMARK_LAG)})", "watermark lag"),),
    high_is_bad(t.WATERMARK_LAG_WARNING_SECONDS, 2 * t.WATERMARK_LAG_WARNING_SECONDS),
)
LATE_AND_MALFORMED: Final = Panel(
    "Stream job: late and malformed records by reason",
    "Per minute: ticks dropped for arriving behind the watermark, and messages sent to the "
    "dead-letter topic by the contract rule they break. Any at all is worth a look: the "
    "simulator and CoinGecko produce neither.",
    units.RecordsPerMinute,
    (
        _t(_per_minute(_sum_rate(m.STREAM_LATE_ROWS_DROPPED)), "late (behind the watermark)"),
        _t(
            _per_minute(by("reason", rate(sel(m.STREAM_MALFORMED_RECORDS)))),
            "malformed: {{reason}}",
        ),
    ),
    high_is_bad(1, 60),
)
INGEST_RATE: Final = Panel(
    "API: ingest rate",
    "Per second: batches POST /ingest accepted and the aggregate records they carried.",
    units.RequestsPerSecond,
    (
        _t(_sum_rate(m.INGEST_REQUESTS, status="accepted"), "batches accepted"),
        _t(_sum_rate(m.INGEST_RECORDS), "records accepted"),
    ),
    low_is_bad(ANY_AT_ALL),
)
INGEST_ERRORS: Final = Panel(
    "API: ingest errors by status",
    "Share of POST /ingest requests refused, by status (unauthorized 401, too_large 413, "
    "invalid 422). The CryptopulseIngestErrors alert fires above "
    f"{t.INGEST_ERROR_RATIO:.0%} for 5 minutes.",
    units.PercentUnit,
    (
        _t(
            f"{by('status', rate(sel(m.INGEST_REQUESTS, status=INGEST_REFUSED)))}\n"
            f"/ ignoring (status) group_left\nsum({rate(sel(m.INGEST_REQUESTS))})",
            "{{status}}",
        ),
    ),
    high_is_bad(t.INGEST_ERROR_RATIO / 5, t.INGEST_ERROR_RATIO),
)
CONNECTIONS: Final = Panel(
    "API: WebSocket connections",
    "Open WebSocket connections per API instance. Thresholds at 80 % and 100 % of the "
    f"default per-instance limit (API_MAX_CONNECTIONS = {MAX_CONNECTIONS:g}).",
    units.Short,
    (_t(by("instance", sel(m.WS_CONNECTIONS)), "{{instance}}"),),
    high_is_bad(0.8 * MAX_CONNECTIONS, MAX_CONNECTIONS),
    axis_label="connections",
)
BROADCAST: Final = Panel(
    "API: broadcast latency p50 / p95 / p99",
    "From /ingest receipt to the frame written to a client's socket, over every client and "
    f"update. Thresholds: the benchmark target ({t.BROADCAST_P99_WARNING_SECONDS:g} s for "
    "10,000 clients) and the CryptopulseBroadcastLatencyHigh alert "
    f"({t.BROADCAST_P99_SECONDS:g} s for 10 minutes).",
    units.Seconds,
    _quantiles(m.WS_BROADCAST_LATENCY),
    high_is_bad(t.BROADCAST_P99_WARNING_SECONDS, t.BROADCAST_P99_SECONDS),
)
DROPS: Final = Panel(
    "API: slow clients dropped per minute by reason",
    "send_timeout: a socket that stopped draining; queue_overflow: a client that stayed behind "
    "the updates for API_WS_MAX_LAG_SECONDS; send_error: a failed write. The "
    "CryptopulseSlowClientDropsSpiking alert fires above "
    f"{t.SLOW_CLIENT_DROPS_PER_MINUTE:g} a minute for 5 minutes.",
    units.CountsPerMinute,
    (_t(_per_minute(by("reason", rate(sel(m.WS_SLOW_CLIENTS_DROPPED)))), "{{reason}}"),),
    high_is_bad(1, t.SLOW_CLIENT_DROPS_PER_MINUTE),
)
CONFLATED: Final = Panel(
    "API: messages conflated",
    "Per second: queued updates replaced by the newest market state for clients that lag "
    "(they get the latest prices, not every stale update). Steady conflation means clients "
    "on slow links; the thresholds mark where it becomes most updates.",
    units.MessagesPerSecond,
    (_t(_sum_rate(m.WS_MESSAGES_CONFLATED), "conflated"),),
    high_is_bad(1, 100),
)

# Alert signals: the recorded series the alerts compare with their thresholds.
SIGNAL_PUBLISH: Final = Panel(
    "Signal: seconds since the producer's last publish",
    "namespace:cryptopulse_producer_last_publish_age_seconds:min against the boundary where "
    f"CryptopulseProducerSilent fires: {t.PRODUCER_SILENT_POLLS} poll intervals, at least "
    f"{t.PRODUCER_SILENT_MIN_SECONDS:g} s. Whole release: $instance does not apply to recorded "
    "series.",
    units.Seconds,
    (
        _t(sel(r.PUBLISH_AGE, RELEASE), "since last publish"),
        _t(r.silent_after(PANEL), "alert boundary"),
    ),
    high_is_bad(t.PRODUCER_SILENT_MIN_SECONDS / 2, t.PRODUCER_SILENT_MIN_SECONDS),
)
SIGNAL_RATIOS: Final = Panel(
    "Signal: error ratios",
    "The recorded ratios four alerts watch (5-minute rates): CoinGecko 429s, dead-lettered "
    "messages, ticks behind the watermark, refused /ingest requests. Whole release.",
    units.PercentUnit,
    (
        _t(sel(r.RATE_LIMITED, RELEASE), "rate-limited requests"),
        _t(sel(r.MALFORMED, RELEASE), "malformed messages"),
        _t(sel(r.LATE, RELEASE), "late ticks"),
        _t(sel(r.INGEST_ERRORS, RELEASE), "refused /ingest requests"),
    ),
    high_is_bad(0.01, min(t.MALFORMED_RATIO, t.LATE_RATIO, t.INGEST_ERROR_RATIO)),
)
SIGNAL_STREAM: Final = Panel(
    "Signal: stream progress and batch duration",
    "Seconds since any query reported progress (CryptopulseStreamStalled fires above "
    f"{t.STREAM_STALLED_SECONDS:g} s) and each query's 5-minute mean batch duration "
    "(CryptopulseStreamFallingBehind compares it with the trigger). Whole release.",
    units.Seconds,
    (
        _t(sel(r.PROGRESS_AGE, RELEASE), "since last progress"),
        _t(sel(r.BATCH_MEAN, RELEASE), "{{query}} mean batch"),
    ),
    high_is_bad(t.STREAM_STALLED_SECONDS / 2, t.STREAM_STALLED_SECONDS),
)
SIGNAL_BROADCAST: Final = Panel(
    "Signal: broadcast latency quantiles",
    "The recorded 5-minute quantiles of the broadcast latency (CryptopulseBroadcastLatencyHigh "
    "watches the 0.99 one). Whole release.",
    units.Seconds,
    (_t(sel(r.BROADCAST_QUANTILE, RELEASE), "quantile {{quantile}}"),),
    high_is_bad(t.BROADCAST_P99_WARNING_SECONDS, t.BROADCAST_P99_SECONDS),
)

OVERVIEW: Final = Dashboard(
    uid="cryptopulse-pipeline",
    title="cryptopulse / Pipeline overview",
    description="Producer -> Kafka -> stream job -> API -> clients, one release ($namespace). "
    "Drill-downs: cryptopulse / Producer, Stream job, API.",
    namespace_source=m.WS_CONNECTIONS.name,
    instance_source="up",
    rows=(
        Row("Producer", (TICKS_FLOW, RATE_LIMITS)),
        Row("Stream job", (KAFKA_LAG, BATCH_VS_TRIGGER, ROW_RATES, WATERMARK, LATE_AND_MALFORMED)),
        Row("API", (INGEST_RATE, INGEST_ERRORS, CONNECTIONS, BROADCAST, DROPS, CONFLATED)),
        Row(
            "Alert signals (recording rules, whole release)",
            (SIGNAL_PUBLISH, SIGNAL_RATIOS, SIGNAL_STREAM, SIGNAL_BROADCAST),
        ),
    ),
)

# --- producer drill-down -----------------------------------------------------------------------
PRODUCER: Final = Dashboard(
    uid="cryptopulse-producer",
    title="cryptopulse / Producer",
    description="The producer: requests to the market source, ticks to Kafka, delivery health.",
    namespace_source=m.PRODUCER_POLL_INTERVAL.name,
    instance_source=m.PRODUCER_POLL_INTERVAL.name,
    rows=(
        Row(
            "Market source",
            (
                Panel(
                    "Requests to the source by outcome",
                    "Share of the requests (one per HTTP request for coingecko, one per poll "
                    "for simulate and replay) by outcome. Anything but ok above the thresholds "
                    "is a source problem: rate_limited (plan), timeout, server_error, "
                    "bad_body.",
                    units.PercentUnit,
                    (_t(_share(m.PRODUCER_FETCHES, "outcome"), "{{outcome}}"),),
                    high_is_bad(t.RATE_LIMITED_RATIO / 2, t.RATE_LIMITED_RATIO),
                ),
                Panel(
                    "Request duration p50 / p95 / p99",
                    "Duration of one request to the source, waits between retries excluded.",
                    units.Seconds,
                    _quantiles(m.PRODUCER_FETCH_DURATION),
                    high_is_bad(1.0, 5.0),
                ),
                Panel(
                    "429 answers and time waiting to retry",
                    "Per minute: 429 Too Many Requests answers; and the share of the time spent "
                    "waiting before a retry (right: seconds waited per minute).",
                    units.CountsPerMinute,
                    (
                        _t(_per_minute(_sum_rate(m.PRODUCER_RATE_LIMITED)), "429 answers"),
                        _t(_per_minute(_sum_rate(m.PRODUCER_RETRY_WAIT)), "seconds waiting"),
                    ),
                    high_is_bad(1, 10),
                ),
                Panel(
                    "Rows rejected per minute by reason",
                    "Source rows skipped because they break the tick contract, by the "
                    "contract's reason (docs/contract.md; each is logged with its detail).",
                    units.RowsPerMinute,
                    (
                        _t(
                            _per_minute(by("reason", rate(sel(m.PRODUCER_ROWS_REJECTED)))),
                            "{{reason}}",
                        ),
                    ),
                    high_is_bad(1, 60),
                ),
            ),
        ),
        Row(
            "Kafka",
            (
                Panel(
                    "Ticks fetched, published and dropped",
                    "Per second: ticks from the source, ticks acknowledged by Kafka, and ticks "
                    "given up on by reason (buffer_full: Kafka away for long; not_retriable; "
                    "shutdown: unacknowledged at exit).",
                    units.RecordsPerSecond,
                    (
                        _t(_sum_rate(m.PRODUCER_TICKS_FETCHED), "fetched"),
                        _t(_sum_rate(m.PRODUCER_TICKS_SENT), "published"),
                        _t(
                            by("reason", rate(sel(m.PRODUCER_TICKS_DROPPED))),
                            "dropped: {{reason}}",
                        ),
                    ),
                    low_is_bad(ANY_AT_ALL),
                ),
                Panel(
                    "Buffered ticks",
                    "Ticks sent or waiting to be resent but not yet acknowledged. Thresholds at "
                    "half and all of the default buffer (PRODUCER_BUFFER_MAX_RECORDS = "
                    f"{MAX_BUFFERED:g}); a full buffer drops new ticks.",
                    units.Short,
                    (_t(by("instance", sel(m.PRODUCER_BUFFERED)), "{{instance}}"),),
                    high_is_bad(MAX_BUFFERED / 2, MAX_BUFFERED),
                    axis_label="ticks",
                ),
                Panel(
                    "Seconds since the last publish",
                    "Since the last tick Kafka acknowledged, per producer, against the "
                    "boundary of CryptopulseProducerSilent (3 poll intervals, at least "
                    f"{t.PRODUCER_SILENT_MIN_SECONDS:g} s).",
                    units.Seconds,
                    (
                        _t(
                            # > 0: before its first publish the gauge is 0 (not 1970).
                            f"time() - ({by('instance', sel(m.PRODUCER_LAST_PUBLISH), 'max')} > 0)",
                            "{{instance}}",
                        ),
                        _t(r.silent_after(PANEL), "alert boundary"),
                    ),
                    high_is_bad(t.PRODUCER_SILENT_MIN_SECONDS / 2, t.PRODUCER_SILENT_MIN_SECONDS),
                ),
                Panel(
                    "Delivery errors and client restarts per minute",
                    "Failed deliveries the Kafka client reported (retriable ones are resent) "
                    "and Kafka clients replaced after reporting nothing within their delivery "
                    "timeout.",
                    units.CountsPerMinute,
                    (
                        _t(_per_minute(_sum_rate(m.PRODUCER_SEND_ERRORS)), "send errors"),
                        _t(_per_minute(_sum_rate(m.PRODUCER_CLIENT_RESTARTS)), "client restarts"),
                    ),
                    high_is_bad(1, 10),
                ),
            ),
        ),
    ),
)

# --- stream drill-down -------------------------------------------------------------------------
SPARK_HEAP: Final = m.spark_driver_gauge("ExecutorMetrics_JVMHeapMemory")
SPARK_STATE_BYTES: Final = m.spark_streaming_gauge(m.AGGREGATES_QUERY, "states_usedBytes")

STREAM: Final = Dashboard(
    uid="cryptopulse-stream",
    title="cryptopulse / Stream job",
    description="The Spark Structured Streaming job: micro-batches, Kafka lag, event time, "
    "dead letters, the /ingest sink, and Spark's own driver metrics.",
    namespace_source=m.STREAM_TRIGGER_INTERVAL.name,
    instance_source=f'{{__name__=~"{m.STREAM_TRIGGER_INTERVAL.name}|{SPARK_HEAP}"}}',
    rows=(
        Row(
            "Micro-batches",
            (
                Panel(
                    "Batch duration p50 / p95 / p99 and trigger",
                    "Wall time of the micro-batches of each query against its trigger interval.",
                    units.Seconds,
                    (
                        *_quantiles(m.STREAM_BATCH_DURATION, ("query",)),
                        _t(by("query", sel(m.STREAM_TRIGGER_INTERVAL), "max"), "{{query}} trigger"),
                    ),
                    high_is_bad(TRIGGER_SECONDS, 2 * TRIGGER_SECONDS),
                ),
                KAFKA_LAG,
                Panel(
                    "Rows read per second",
                    "Rows each query read from Kafka (both queries read every tick).",
                    units.RowsPerSecond,
                    (_t(by("query", rate(sel(m.STREAM_INPUT_ROWS))), "{{query}}"),),
                    low_is_bad(ANY_AT_ALL),
                ),
                ROW_RATES,
                Panel(
                    "Seconds since the last progress",
                    "Since any query last reported progress (a batch, or an idle trigger). "
                    "Thresholds: the driver's liveness limit (STREAM_HEALTH_STALL_SECONDS, "
                    f"120 s) and CryptopulseStreamStalled ({t.STREAM_STALLED_SECONDS:g} s).",
                    units.Seconds,
                    (
                        _t(
                            f"time() - {by('instance', sel(m.STREAM_LAST_PROGRESS), 'max')}",
                            "{{instance}}",
                        ),
                    ),
                    high_is_bad(120, t.STREAM_STALLED_SECONDS),
                ),
                Panel(
                    "Windowing state rows",
                    "Rows in the windowing state: coins times open windows. It grows with the "
                    "coins and the watermark delay, and drives the state store's memory.",
                    units.Short,
                    (_t(by("instance", sel(m.STREAM_STATE_ROWS)), "{{instance}}"),),
                    high_is_bad(10_000, 100_000),
                    axis_label="rows",
                ),
            ),
        ),
        Row(
            "Event time and data quality",
            (
                WATERMARK,
                LATE_AND_MALFORMED,
            ),
        ),
        Row(
            "Sink (/ingest) and Spark",
            (
                Panel(
                    "Records posted to /ingest",
                    "Aggregate records /ingest accepted, per second.",
                    units.RecordsPerSecond,
                    (_t(_sum_rate(m.STREAM_RECORDS_POSTED), "records posted"),),
                    low_is_bad(ANY_AT_ALL),
                ),
                Panel(
                    "Sink retries and abandoned batches per minute",
                    "POSTs to /ingest retried because it was unavailable, and batches "
                    "abandoned because the job stopped while it was (Spark replays them from "
                    "the checkpoint on restart).",
                    units.CountsPerMinute,
                    (
                        _t(_per_minute(_sum_rate(m.STREAM_SINK_RETRIES)), "retries"),
                        _t(_per_minute(_sum_rate(m.STREAM_SINK_ERRORS)), "abandoned batches"),
                    ),
                    high_is_bad(1, 10),
                ),
                Panel(
                    "Sink waiting for /ingest",
                    "How long the current POST has waited for an unavailable /ingest (0 while "
                    "it answers): the sink holds the batch and retries, so nothing is lost, "
                    "but no update reaches the clients (CryptopulseStreamSinkWaiting).",
                    units.Seconds,
                    (_t(by("instance", sel(m.STREAM_SINK_WAITING), "max"), "{{instance}}"),),
                    high_is_bad(t.SINK_WAITING_SECONDS / 4, t.SINK_WAITING_SECONDS),
                ),
                Panel(
                    "Aggregates refused per minute by reason",
                    "Aggregate records the contract check or /ingest (422) refused, sent to "
                    "the dead-letter topic instead, by the contract's reason "
                    "(docs/contract.md). A healthy job refuses none.",
                    units.CountsPerMinute,
                    (
                        _t(
                            _per_minute(by("reason", rate(sel(m.STREAM_RECORDS_REFUSED)))),
                            "{{reason}}",
                        ),
                    ),
                    high_is_bad(ANY_AT_ALL, 1),
                ),
                Panel(
                    "Spark driver: JVM heap and state store",
                    "From Spark's PrometheusServlet (STREAM_SPARK_UI=true; metrics namespace "
                    f"fixed to {m.SPARK_METRICS_NAMESPACE}): the driver's JVM heap and the "
                    "memory of the windowing state store. Thresholds at 75 % and 90 % of the "
                    "chart's default driver memory (1 GiB).",
                    units.BytesIEC,
                    (
                        _t(by("instance", sel(SPARK_HEAP), "max"), "{{instance}} JVM heap"),
                        _t(
                            by("instance", sel(SPARK_STATE_BYTES), "max"),
                            "{{instance}} state store",
                        ),
                    ),
                    high_is_bad(0.75 * DRIVER_MEMORY_BYTES, 0.9 * DRIVER_MEMORY_BYTES),
                ),
            ),
        ),
    ),
)

# --- API drill-down ----------------------------------------------------------------------------
API: Final = Dashboard(
    uid="cryptopulse-api",
    title="cryptopulse / API",
    description="The API server: /ingest, the WebSocket fan-out, slow clients, HTTP latency.",
    namespace_source=m.WS_CONNECTIONS.name,
    instance_source=m.WS_CONNECTIONS.name,
    rows=(
        Row(
            "WebSocket fan-out",
            (
                Panel(
                    "Broadcast latency p50 / p95 / p99 by instance",
                    "From /ingest receipt (or the topic poll) to the frame written to a "
                    "client's socket, per API instance.",
                    units.Seconds,
                    _quantiles(m.WS_BROADCAST_LATENCY, ("instance",)),
                    high_is_bad(t.BROADCAST_P99_WARNING_SECONDS, t.BROADCAST_P99_SECONDS),
                ),
                CONNECTIONS,
                DROPS,
                Panel(
                    "Connections refused per minute by reason",
                    "limit: over API_MAX_CONNECTIONS (closed 1008); origin: not in "
                    "API_WS_ALLOWED_ORIGINS (403); draining: during shutdown (closed 1001).",
                    units.CountsPerMinute,
                    (
                        _t(
                            _per_minute(by("reason", rate(sel(m.WS_CONNECTIONS_REJECTED)))),
                            "{{reason}}",
                        ),
                    ),
                    high_is_bad(1, 60),
                ),
                CONFLATED,
                Panel(
                    "Messages queued for clients",
                    "Messages waiting in the outbound queues of all clients, per instance "
                    "(each client holds at most API_WS_QUEUE_SIZE).",
                    units.Short,
                    (_t(by("instance", sel(m.WS_QUEUED_MESSAGES)), "{{instance}}"),),
                    high_is_bad(1_000, 10_000),
                    axis_label="messages",
                ),
            ),
        ),
        Row(
            "/ingest and HTTP",
            (
                Panel(
                    "/ingest requests by status",
                    "POST /ingest per second by outcome: accepted, duplicate (a retried "
                    "batch, acknowledged and not broadcast again), and the refusals.",
                    units.RequestsPerSecond,
                    (_t(by("status", rate(sel(m.INGEST_REQUESTS))), "{{status}}"),),
                    low_is_bad(ANY_AT_ALL),
                ),
                INGEST_ERRORS,
                Panel(
                    "Records ingested and batches repeated",
                    "Per second: aggregate records accepted by POST /ingest, and batches POSTed "
                    "again (the sink's retries: acknowledged, not broadcast twice).",
                    units.CountsPerSecond,
                    (
                        _t(_sum_rate(m.INGEST_RECORDS), "records accepted"),
                        _t(_sum_rate(m.INGEST_DUPLICATES), "batches repeated"),
                    ),
                    low_is_bad(ANY_AT_ALL),
                ),
                Panel(
                    "Records refused per minute by reason",
                    "Aggregate records refused by POST /ingest (422) or on the aggregates "
                    "topic, by the contract's reason of their first error (docs/contract.md).",
                    units.CountsPerMinute,
                    (
                        _t(
                            _per_minute(by("reason", rate(sel(m.INGEST_RECORDS_REFUSED)))),
                            "{{reason}}",
                        ),
                    ),
                    high_is_bad(ANY_AT_ALL, 1),
                ),
                Panel(
                    "Market state: coins held",
                    "Coins each replica's market state holds (at most API_MAX_COINS; a new "
                    "coin past the limit is neither kept nor broadcast).",
                    units.Short,
                    (_t(by("instance", sel(m.MARKET_COINS), "max"), "{{instance}}"),),
                    high_is_bad(MAX_COINS * 0.8, MAX_COINS),
                    axis_label="coins",
                ),
                Panel(
                    "Market state: coins forgotten and records over the limit per minute",
                    "Coins forgotten because their newest window fell API_COIN_IDLE_SECONDS "
                    "behind the market's newest, and records of a new coin dropped because "
                    "API_MAX_COINS coins are held.",
                    units.CountsPerMinute,
                    (
                        _t(_per_minute(_sum_rate(m.MARKET_COINS_FORGOTTEN)), "coins forgotten"),
                        _t(
                            _per_minute(_sum_rate(m.MARKET_RECORDS_OVER_LIMIT)),
                            "records over the coin limit",
                        ),
                    ),
                    high_is_bad(ANY_AT_ALL, 1),
                ),
                Panel(
                    "Replica fan-out: batches read from Kafka by status",
                    "With several replicas (API_FANOUT_FROM_KAFKA): batches read from the "
                    "aggregates topic, by outcome; invalid ones are counted and skipped.",
                    units.RequestsPerSecond,
                    (_t(by("status", rate(sel(m.FANOUT_KAFKA_MESSAGES))), "{{status}}"),),
                    high_is_bad(ANY_AT_ALL, 1),
                ),
                Panel(
                    "HTTP request duration p99 by route",
                    "Until the response is written; the /ingest benchmark target is 20 ms.",
                    units.Seconds,
                    (
                        _t(
                            quantile(0.99, m.HTTP_REQUEST_DURATION, group=("method", "route")),
                            "{{method}} {{route}}",
                        ),
                    ),
                    high_is_bad(0.02, 0.25),
                ),
            ),
        ),
    ),
)

DASHBOARDS: Final = (OVERVIEW, PRODUCER, STREAM, API)
