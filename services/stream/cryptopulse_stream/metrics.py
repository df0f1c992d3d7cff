"""The stream job's Prometheus metrics, fed by a StreamingQueryListener and by the sinks."""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry
from pyspark.sql.streaming.listener import StreamingQueryListener

from cryptopulse_common import metric_catalog as catalog
from cryptopulse_common.contract import AGGREGATE_REJECT_REASONS, TICK_REJECT_REASONS
from cryptopulse_common.metric_catalog import counter, gauge, histogram


class StreamMetrics:
    """The stream job's metrics, registered from :mod:`cryptopulse_common.metric_catalog`."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.batch_duration = histogram(
            catalog.STREAM_BATCH_DURATION, registry, (0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60)
        )
        self.trigger_interval = gauge(catalog.STREAM_TRIGGER_INTERVAL, registry)
        self.input_rows = counter(catalog.STREAM_INPUT_ROWS, registry)
        self.input_rows_per_second = gauge(catalog.STREAM_INPUT_ROWS_PER_SECOND, registry)
        self.processed_rows_per_second = gauge(catalog.STREAM_PROCESSED_ROWS_PER_SECOND, registry)
        self.kafka_lag = gauge(catalog.STREAM_KAFKA_LAG, registry)
        self.state_rows = gauge(catalog.STREAM_STATE_ROWS, registry)
        self.late_rows_dropped = counter(catalog.STREAM_LATE_ROWS_DROPPED, registry)
        self.watermark_lag = gauge(catalog.STREAM_WATERMARK_LAG, registry)
        self.malformed_records = counter(catalog.STREAM_MALFORMED_RECORDS, registry)
        for reason in TICK_REJECT_REASONS:
            self.malformed_records.labels(reason)
        self.records_refused = counter(catalog.STREAM_RECORDS_REFUSED, registry)
        for reason in AGGREGATE_REJECT_REASONS:
            self.records_refused.labels(reason)
        self.sink_retries = counter(catalog.STREAM_SINK_RETRIES, registry)
        self.sink_errors = counter(catalog.STREAM_SINK_ERRORS, registry)
        # Set by the sink with set_function.
        self.sink_waiting = gauge(catalog.STREAM_SINK_WAITING, registry)
        self.records_posted = counter(catalog.STREAM_RECORDS_POSTED, registry)
        self.last_progress_time = gauge(catalog.STREAM_LAST_PROGRESS, registry)


class ProgressListener(StreamingQueryListener):
    """Exports each query's progress to Prometheus and remembers when progress last happened."""

    def __init__(self, metrics: StreamMetrics) -> None:
        self._metrics = metrics
        self._lock = threading.Lock()
        self.last_progress_monotonic: float | None = None
        self.failed: str | None = None
        # Per query: partition -> the offset its last micro-batch read up to (Kafka sources).
        self._read_offsets: dict[str, dict[int, int]] = {}

    def onQueryStarted(self, event: Any) -> None:  # noqa: N802 (Spark API name)
        return None

    def onQueryIdle(self, event: Any) -> None:  # noqa: N802 (Spark API name)
        # Idle: triggered, found no new data. The job is alive; nothing is behind.
        self._metrics.last_progress_time.set(time.time())
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
        read = kafka_offsets(progress.sources or [])
        with self._lock:
            self.last_progress_monotonic = time.monotonic()
            if read:
                self._read_offsets[query] = read

    def read_offsets(self) -> dict[str, dict[int, int]]:
        """Per query, the offset of each partition its last micro-batch read up to."""
        with self._lock:
            return {query: dict(offsets) for query, offsets in self._read_offsets.items()}


def kafka_offsets(sources: Any) -> dict[int, int]:
    """Partition -> end offset of a progress's Kafka sources (``{"topic": {"0": 42}}`` JSON);
    empty for sources that are not Kafka topics."""
    offsets: dict[int, int] = {}
    for source in sources:
        try:
            parsed = json.loads(source.endOffset or "null")
        except ValueError:
            continue
        if not isinstance(parsed, dict):
            continue
        for partitions in parsed.values():
            if isinstance(partitions, dict):
                for partition, offset in partitions.items():
                    if str(partition).isdigit() and isinstance(offset, int):
                        offsets[int(partition)] = offset
    return offsets


def _finite(value: float) -> float:
    return value if value == value and value not in (float("inf"), float("-inf")) else 0.0
