"""The stream job's Prometheus metrics, fed by a StreamingQueryListener and by the sinks."""

from __future__ import annotations

import threading
import time
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from pyspark.sql.streaming.listener import StreamingQueryListener

from cryptopulse_common.contract import AGGREGATE_REJECT_REASONS, TICK_REJECT_REASONS


class StreamMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.batch_duration = Histogram(
            "cryptopulse_stream_batch_duration_seconds",
            "Wall time of each micro-batch, by query.",
            ["query"],
            buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
            registry=registry,
        )
        self.input_rows = Counter(
            "cryptopulse_stream_input_rows_total",
            "Rows read from Kafka, by query.",
            ["query"],
            registry=registry,
        )
        self.input_rows_per_second = Gauge(
            "cryptopulse_stream_input_rows_per_second",
            "Arrival rate of rows in the last micro-batch, by query.",
            ["query"],
            registry=registry,
        )
        self.processed_rows_per_second = Gauge(
            "cryptopulse_stream_processed_rows_per_second",
            "Processing rate of the last micro-batch, by query.",
            ["query"],
            registry=registry,
        )
        self.state_rows = Gauge(
            "cryptopulse_stream_state_rows",
            "Rows held in the windowing state (coins x open windows).",
            registry=registry,
        )
        self.late_rows_dropped = Counter(
            "cryptopulse_stream_late_rows_dropped_total",
            "Ticks dropped because they arrived behind the watermark.",
            registry=registry,
        )
        self.watermark_lag = Gauge(
            "cryptopulse_stream_watermark_lag_seconds",
            "Wall-clock time minus the event-time watermark.",
            registry=registry,
        )
        self.malformed_records = Counter(
            "cryptopulse_stream_malformed_records_total",
            "Tick messages refused and sent to the dead-letter topic, by reason "
            "(docs/contract.md).",
            ["reason"],
            registry=registry,
        )
        for reason in TICK_REJECT_REASONS:
            self.malformed_records.labels(reason)
        self.records_refused = Counter(
            "cryptopulse_stream_records_refused_total",
            "Aggregate records the contract check or /ingest (422) refused, sent to the "
            "dead-letter topic instead, by reason.",
            ["reason"],
            registry=registry,
        )
        for reason in AGGREGATE_REJECT_REASONS:
            self.records_refused.labels(reason)
        self.sink_retries = Counter(
            "cryptopulse_stream_sink_retries_total",
            "POSTs to /ingest retried because it was unavailable (no connection, 5xx, 408, 429, "
            "401, 403, 404).",
            registry=registry,
        )
        self.sink_errors = Counter(
            "cryptopulse_stream_sink_errors_total",
            "Batches abandoned because the job stopped while /ingest was unavailable (Spark "
            "replays them from the checkpoint on restart).",
            registry=registry,
        )
        # Set by the sink with set_function.
        self.sink_waiting = Gauge(
            "cryptopulse_stream_sink_waiting_seconds",
            "How long the current POST has waited for an unavailable /ingest (0 while it answers).",
            registry=registry,
        )
        self.records_posted = Counter(
            "cryptopulse_stream_records_posted_total",
            "Aggregate records accepted by /ingest.",
            registry=registry,
        )
        self.last_progress_time = Gauge(
            "cryptopulse_stream_last_progress_timestamp_seconds",
            "Unix time of the last micro-batch progress report.",
            registry=registry,
        )


class ProgressListener(StreamingQueryListener):
    """Exports each query's progress to Prometheus and remembers when progress last happened."""

    def __init__(self, metrics: StreamMetrics) -> None:
        self._metrics = metrics
        self._lock = threading.Lock()
        self.last_progress_monotonic: float | None = None
        self.failed: str | None = None

    def onQueryStarted(self, event: Any) -> None:  # noqa: N802 (Spark API name)
        return None

    def onQueryIdle(self, event: Any) -> None:  # noqa: N802 (Spark API name)
        with self._lock:
            self.last_progress_monotonic = time.monotonic()

    def onQueryTerminated(self, event: Any) -> None:  # noqa: N802 (Spark API name)
        if event.exception:
            with self._lock:
                self.failed = str(event.exception)[:500]

    def onQueryProgress(self, event: Any) -> None:  # noqa: N802 (Spark API name)
        self.record(event.progress)

    def record(self, progress: Any) -> None:
        query = progress.name or "unnamed"
        metrics = self._metrics
        metrics.batch_duration.labels(query).observe(progress.batchDuration / 1000.0)
        metrics.input_rows.labels(query).inc(progress.numInputRows)
        metrics.input_rows_per_second.labels(query).set(_finite(progress.inputRowsPerSecond))
        metrics.processed_rows_per_second.labels(query).set(
            _finite(progress.processedRowsPerSecond)
        )
        operators = progress.stateOperators or []
        if operators:
            metrics.state_rows.set(sum(op.numRowsTotal for op in operators))
            metrics.late_rows_dropped.inc(sum(op.numRowsDroppedByWatermark for op in operators))
        watermark = (progress.eventTime or {}).get("watermark")
        if watermark:
            moment = datetime.fromisoformat(watermark.replace("Z", "+00:00"))
            if moment.timestamp() > 0:
                metrics.watermark_lag.set(time.time() - moment.timestamp())
        metrics.last_progress_time.set(time.time())
        with self._lock:
            self.last_progress_monotonic = time.monotonic()


def _finite(value: float) -> float:
    return value if value == value and value not in (float("inf"), float("-inf")) else 0.0
