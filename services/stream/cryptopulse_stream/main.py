"""``cryptopulse stream``: wire the Kafka source, the window transforms and the /ingest sink."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType
from typing import Any

from cryptopulse_common.contract import TICKS_TOPIC
from cryptopulse_common.logs import configure, event
from cryptopulse_stream.session import build_session
from cryptopulse_stream.settings import StreamSettings
from cryptopulse_stream.sink import IngestSink
from cryptopulse_stream.transforms import parse_ticks, window_aggregates

log = logging.getLogger("cryptopulse.stream")


def start_query(settings: StreamSettings, spark: Any, sink: IngestSink) -> Any:
    raw = (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", settings.kafka_bootstrap_servers)
        .option("subscribe", TICKS_TOPIC)
        .option("startingOffsets", settings.stream_starting_offsets)
        .option("failOnDataLoss", "false")
        .load()
    )
    aggregates = window_aggregates(
        parse_ticks(raw),
        settings.stream_window_seconds,
        settings.stream_slide_seconds,
        settings.stream_watermark,
    )
    query = (
        aggregates.writeStream.outputMode("update")
        .foreachBatch(sink)
        .option("checkpointLocation", settings.stream_checkpoint_dir)
        .trigger(processingTime=f"{settings.stream_trigger_seconds} seconds")
        .queryName("cryptopulse_window_aggregates")
        .start()
    )
    return query


def main(settings: StreamSettings | None = None) -> int:
    settings = settings or StreamSettings()
    configure("stream", settings.log_level, settings.log_format)
    sink = IngestSink(
        settings.stream_ingest_url,
        checkpoint_dir=settings.stream_checkpoint_dir,
        token=settings.stream_ingest_token,
        timeout=settings.stream_ingest_timeout_seconds,
        attempts=settings.stream_ingest_attempts,
    )
    spark = build_session(settings)
    query = start_query(settings, spark, sink)
    event(
        log,
        "stream query started",
        query_id=str(query.id),
        topic=TICKS_TOPIC,
        window_seconds=settings.stream_window_seconds,
        checkpoint=settings.stream_checkpoint_dir,
    )

    stop = threading.Event()

    def _on_signal(signum: int, _frame: FrameType | None) -> None:
        # Only flag it here: calling into the JVM from a signal handler races the call the main
        # thread is blocked in.
        event(log, f"received {signal.Signals(signum).name}; stopping the query")
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    try:
        while not stop.is_set() and query.isActive:
            query.awaitTermination(1)
    except Exception as error:  # the query failed: StreamingQueryException
        event(log, f"stream query failed: {error}", logging.ERROR)
        return 1
    finally:
        if query.isActive:
            query.stop()
        sink.close()
        spark.stop()
    event(log, "stream query stopped")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
