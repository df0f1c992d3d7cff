"""The ``foreachBatch`` sinks: aggregates to ``/ingest`` (and the aggregates topic), and
malformed messages to the dead-letter topic.

foreachBatch is at-least-once: after a failure Spark replays the batch with the same id and the
same data. Every POST carries ``batch_id = <query id>:<batch id>``, deterministic across restarts
from the same checkpoint, so the API drops a batch it already broadcast. A batch the API does not
accept after every attempt raises, which fails the query and lets Spark retry it from the
checkpoint: nothing is swallowed.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import orjson

from cryptopulse_common.contract import (
    AGGREGATES_TOPIC,
    DEAD_LETTER_TOPIC,
    parse_timestamp,
)
from cryptopulse_common.logs import event
from cryptopulse_stream.metrics import StreamMetrics, reason_label

log = logging.getLogger("cryptopulse.stream.sink")


class IngestError(RuntimeError):
    pass


def checkpoint_query_id(checkpoint_dir: str) -> str | None:
    """The query id Spark keeps in the checkpoint: the same after every restart from it."""
    try:
        first = (Path(checkpoint_dir) / "metadata").read_text().splitlines()[0]
        return str(json.loads(first)["id"])
    except (OSError, ValueError, KeyError, IndexError):
        return None


def batch_watermark_ms(checkpoint_dir: str, batch_id: int) -> int | None:
    """The event-time watermark Spark uses for ``batch_id``, from its offset log entry.

    The entry is written before the batch runs, so a replayed batch reads the same value.
    """
    try:
        lines = (Path(checkpoint_dir) / "offsets" / str(batch_id)).read_text().splitlines()
        return int(json.loads(lines[1])["batchWatermarkMs"])
    except (OSError, ValueError, KeyError, IndexError):
        return None


def mark_open_windows(
    records: list[dict[str, Any]], watermark_ms: int | None, watermark_delay_seconds: float
) -> None:
    """Set ``window_open``: false once the watermark after this batch has passed window_end.

    The watermark after the batch is the larger of the batch's own watermark and the newest
    event time in it minus the delay, as Spark computes it for the next batch.
    """
    newest = max((parse_timestamp(r["timestamp"]).timestamp() for r in records), default=0.0)
    after = max((watermark_ms or 0) / 1000.0, newest - watermark_delay_seconds)
    for record in records:
        record["window_open"] = parse_timestamp(record["window_end"]).timestamp() > after


class IngestSink:
    """POSTs each batch's aggregates to ``/ingest`` and publishes them to the aggregates topic."""

    def __init__(
        self,
        url: str,
        checkpoint_dir: str,
        metrics: StreamMetrics,
        watermark_delay_seconds: float,
        token: str = "",
        timeout: float = 30.0,
        attempts: int = 5,
        backoff_seconds: float = 1.0,
        source: str = "stream",
        kafka_producer: Any = None,
        client: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._url = url
        self._checkpoint_dir = checkpoint_dir
        self._metrics = metrics
        self._delay = watermark_delay_seconds
        self._attempts = attempts
        self._backoff = backoff_seconds
        self._sleep = sleep
        self._kafka = kafka_producer
        self.source = source
        headers = {"content-type": "application/json"}
        if token:
            headers["authorization"] = f"Bearer {token}"
        self._client = client or httpx.Client(timeout=timeout, headers=headers)
        self._query_id: str | None = None

    @property
    def query_id(self) -> str:
        """Read lazily: Spark writes the checkpoint metadata before the first batch runs."""
        if self._query_id is None:
            self._query_id = checkpoint_query_id(self._checkpoint_dir)
            if self._query_id is None:
                raise IngestError(f"no query id in checkpoint {self._checkpoint_dir}/metadata")
        return self._query_id

    def post(self, records: list[dict[str, Any]], batch_id: str) -> None:
        body = orjson.dumps({"data": records, "batch_id": batch_id, "source": self.source})
        if self._kafka is not None:
            # The API replicas and any other consumer read every batch from the topic.
            self._kafka.send(AGGREGATES_TOPIC, key=batch_id.encode(), value=body)
            self._kafka.flush(timeout=30)
        event(log, f"posting {len(records)} records -> {self._url}", batch_id=batch_id)
        last_error = ""
        for attempt in range(1, self._attempts + 1):
            try:
                response = self._client.post(self._url, content=body)
            except httpx.HTTPError as exc:
                last_error = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code < 300:
                    self._metrics.records_posted.inc(len(records))
                    event(
                        log,
                        f"ingest response status={response.status_code}",
                        batch_id=batch_id,
                        attempt=attempt,
                    )
                    return
                last_error = f"HTTP {response.status_code}: {response.text[:300]}"
                if 400 <= response.status_code < 500 and response.status_code not in (408, 429):
                    break  # the API refused this body; sending the same bytes again won't help
            if attempt < self._attempts:
                wait = self._backoff * 2 ** (attempt - 1)
                self._metrics.sink_retries.inc()
                event(
                    log,
                    f"ingest attempt {attempt}/{self._attempts} failed ({last_error}); "
                    f"retrying in {wait:.1f} s",
                    logging.WARNING,
                    batch_id=batch_id,
                )
                self._sleep(wait)
        self._metrics.sink_errors.inc()
        raise IngestError(f"/ingest did not accept batch {batch_id}: {last_error}")

    def __call__(self, batch: Any, batch_id: int) -> None:
        records = [row.asDict() for row in batch.collect()]
        if not records:
            return
        watermark = batch_watermark_ms(self._checkpoint_dir, batch_id)
        mark_open_windows(records, watermark, self._delay)
        self.post(records, f"{self.query_id}:{batch_id}")

    def close(self) -> None:
        self._client.close()


class DeadLetterSink:
    """Writes malformed messages, with the reason, to the dead-letter topic and counts them."""

    def __init__(self, kafka_options: dict[str, str], metrics: StreamMetrics) -> None:
        self._kafka_options = kafka_options
        self._metrics = metrics

    def __call__(self, batch: Any, batch_id: int) -> None:
        from pyspark.sql import functions as F

        batch.persist()
        try:
            counts = batch.groupBy("reason").count().collect()
            if not counts:
                return
            (
                batch.select(
                    F.col("topic").cast("string").alias("key"),
                    F.to_json(F.struct(*batch.columns)).alias("value"),
                )
                .write.format("kafka")
                .options(**self._kafka_options)
                .option("topic", DEAD_LETTER_TOPIC)
                .save()
            )
            for row in counts:
                self._metrics.malformed_records.labels(reason_label(row["reason"])).inc(
                    row["count"]
                )
                event(
                    log,
                    f"sent {row['count']} malformed messages to {DEAD_LETTER_TOPIC}",
                    logging.WARNING,
                    reason=row["reason"],
                    batch=batch_id,
                )
        finally:
            batch.unpersist()
