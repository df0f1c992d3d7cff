"""``cryptopulse stream``: wire the Kafka source, the transforms and the sinks; nothing else.

Two queries read the ticks topic: ``window_aggregates`` (stateful, event-time windows ->
/ingest and the aggregates topic) and ``dead_letters`` (stateless, refused messages -> the
dead-letter topic). Each has its own checkpoint under ``STREAM_CHECKPOINT_DIR``; both classify
every message with the same rules (``transforms.classify_ticks``), so a tick is either
aggregated or dead-lettered.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from prometheus_client import CollectorRegistry

from cryptopulse_common.contract import TICKS_TOPIC
from cryptopulse_common.kafka_config import kafka_python_config, spark_kafka_options
from cryptopulse_common.logs import configure, event
from cryptopulse_common.metric_catalog import AGGREGATES_QUERY, DEAD_LETTERS_QUERY
from cryptopulse_common.ops_server import HealthCheck, OpsServer
from cryptopulse_stream.dead_letters import DeadLetterSink, KafkaDeadLetters
from cryptopulse_stream.lag import KafkaLagMonitor
from cryptopulse_stream.metrics import ProgressListener, StreamMetrics
from cryptopulse_stream.recovery import starting_offsets
from cryptopulse_stream.session import build_session
from cryptopulse_stream.settings import StreamSettings
from cryptopulse_stream.sink import IngestSink, IngestStoppedError
from cryptopulse_stream.transforms import dead_letters, parse_ticks, window_aggregates

log = logging.getLogger("cryptopulse.stream")


@dataclass
class RunningJob:
    aggregates: Any
    dead_letters: Any | None
    listener: ProgressListener
    sink: IngestSink

    @property
    def queries(self) -> list[Any]:
        return [q for q in (self.aggregates, self.dead_letters) if q is not None]

    def stop(self, grace_seconds: float) -> None:
        """Stop every query between two micro-batches when one finishes within the grace.

        Stopping interrupts a running batch; Spark would replay it from the checkpoint, so
        nothing is lost either way, but a clean stop skips the replay and the interrupted
        batch's error output.
        """
        deadline = time.monotonic() + grace_seconds
        for query in self.queries:
            while query.isActive and query.status["isTriggerActive"]:
                if time.monotonic() >= deadline:
                    break
                time.sleep(0.05)
            if query.isActive:
                query.stop()


def read_ticks(spark: Any, settings: StreamSettings, query: str) -> Any:
    offsets = starting_offsets(
        Path(settings.stream_checkpoint_dir), settings.stream_starting_offsets, query
    )
    reader = (
        spark.readStream.format("kafka")
        .options(**spark_kafka_options(settings))
        .option("subscribe", TICKS_TOPIC)
        .option("startingOffsets", offsets)
        .option("failOnDataLoss", "false")
    )
    if settings.stream_max_offsets_per_trigger:
        reader = reader.option("maxOffsetsPerTrigger", settings.stream_max_offsets_per_trigger)
    return reader.load()


def checkpoint(settings: StreamSettings, query: str) -> str:
    return str(Path(settings.stream_checkpoint_dir) / query)


def start_job(
    settings: StreamSettings,
    spark: Any,
    metrics: StreamMetrics,
    ingest_sink: IngestSink | None = None,
) -> RunningJob:
    listener = ProgressListener(metrics)
    spark.streams.addListener(listener)
    trigger = f"{settings.stream_trigger_seconds} seconds"
    metrics.trigger_interval.labels(AGGREGATES_QUERY).set(settings.stream_trigger_seconds)
    sink = ingest_sink or build_ingest_sink(settings, metrics)
    skew = settings.max_clock_skew_seconds
    aggregates = (
        window_aggregates(
            parse_ticks(read_ticks(spark, settings, AGGREGATES_QUERY), skew),
            settings.stream_window_seconds,
            settings.stream_slide_seconds,
            f"{settings.stream_watermark_seconds} seconds",
        )
        .writeStream.outputMode("update")
        .foreachBatch(sink)
        .option("checkpointLocation", checkpoint(settings, AGGREGATES_QUERY))
        .trigger(processingTime=trigger)
        .queryName(AGGREGATES_QUERY)
        .start()
    )
    malformed = None
    if settings.stream_dead_letters:
        metrics.trigger_interval.labels(DEAD_LETTERS_QUERY).set(
            settings.stream_dead_letter_trigger_seconds
        )
        malformed = (
            dead_letters(read_ticks(spark, settings, DEAD_LETTERS_QUERY), skew)
            .writeStream.foreachBatch(DeadLetterSink(spark_kafka_options(settings), metrics))
            .option("checkpointLocation", checkpoint(settings, DEAD_LETTERS_QUERY))
            .trigger(processingTime=f"{settings.stream_dead_letter_trigger_seconds} seconds")
            .queryName(DEAD_LETTERS_QUERY)
            .start()
        )
    return RunningJob(aggregates, malformed, listener, sink)


def build_ingest_sink(settings: StreamSettings, metrics: StreamMetrics) -> IngestSink:
    from kafka import KafkaProducer

    # Refused aggregates go to the dead-letter topic whatever STREAM_PUBLISH_AGGREGATES says.
    kafka_producer = KafkaProducer(
        **kafka_python_config(settings),
        acks="all",
        linger_ms=5,
        client_id="cryptopulse-stream",
    )
    return IngestSink(
        settings.stream_ingest_url,
        checkpoint_dir=checkpoint(settings, AGGREGATES_QUERY),
        metrics=metrics,
        watermark_delay_seconds=settings.stream_watermark_seconds,
        dead_letters=KafkaDeadLetters(kafka_producer),
        token=settings.stream_ingest_token,
        timeout=settings.stream_ingest_timeout_seconds,
        backoff_seconds=settings.stream_ingest_backoff_seconds,
        backoff_max_seconds=settings.stream_ingest_backoff_max_seconds,
        kafka_producer=kafka_producer if settings.stream_publish_aggregates else None,
    )


def lag_monitor(
    settings: StreamSettings, job: RunningJob, metrics: StreamMetrics
) -> KafkaLagMonitor:
    def connect() -> Any:
        from kafka import KafkaConsumer

        return KafkaConsumer(
            **kafka_python_config(settings),
            group_id=None,
            enable_auto_commit=False,
            client_id="cryptopulse-stream-lag",
            request_timeout_ms=int(max(settings.stream_lag_interval_seconds, 5.0) * 2000),
        )

    return KafkaLagMonitor(
        connect, TICKS_TOPIC, job.listener, metrics.kafka_lag, settings.stream_lag_interval_seconds
    )


def health_check(job: RunningJob, settings: StreamSettings, started: float) -> HealthCheck:
    """Healthy while both queries are active and progress was reported recently, or the sink is
    waiting for an unavailable /ingest (restarting the driver would not bring the API back; the
    wait and the API's last answer are in the details)."""

    def check() -> tuple[bool, dict[str, Any]]:
        active = all(query.isActive for query in job.queries)
        last = job.listener.last_progress_monotonic or started
        quiet = time.monotonic() - last
        waiting = job.sink.waiting_seconds()
        details: dict[str, Any] = {
            "queries_active": active,
            "seconds_since_progress": round(quiet, 1),
            "ingest": "unavailable" if waiting else "ok",
        }
        if waiting:
            details["ingest_waiting_seconds"] = round(waiting, 1)
            details["ingest_last_error"] = job.sink.last_error
        if job.listener.failed:
            details["error"] = job.listener.failed
        return active and (quiet < settings.stream_health_stall_seconds or waiting > 0), details

    return check


class DriverHealth:
    """The driver's ``/health``: "starting" until the queries run, then :func:`health_check`.

    It is served before the SparkSession is built. On Kubernetes the session asks for its
    executors while it starts, and they reach the driver through a headless Service that
    resolves only once the driver pod is Ready; so the driver must not depend on the session
    to answer its probes (SPARK-58113). "starting" is healthy (200) for
    ``stream_start_timeout_seconds``, then 503: a start that hangs ends in a restart.
    """

    def __init__(self, settings: StreamSettings, clock: Callable[[], float] = time.monotonic):
        self._settings = settings
        self._clock = clock
        self._started = clock()
        self._running: HealthCheck | None = None

    def running(self, check: HealthCheck) -> None:
        self._running = check

    def __call__(self) -> tuple[bool, dict[str, Any]]:
        if self._running is not None:
            return self._running()
        waited = self._clock() - self._started
        limit = self._settings.stream_start_timeout_seconds
        details: dict[str, Any] = {"status": "starting", "seconds_starting": round(waited, 1)}
        if waited >= limit:
            details["status"] = "unhealthy"
            details["reason"] = (
                f"the Spark session and queries have not started after {waited:.0f} s "
                f"(STREAM_START_TIMEOUT_SECONDS={limit:g})"
            )
            return False, details
        return True, details


def write_pid_file(path: str) -> None:
    """Record this process's id for ``cryptopulse_stream.stop`` (the preStop hook)."""
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(f"{os.getpid()}\n")


def remove_pid_file(path: str) -> None:
    if path:
        Path(path).unlink(missing_ok=True)


SessionFactory = Callable[[StreamSettings], Any]


def exit_after(seconds: float) -> threading.Timer:
    """Exit the process ``seconds`` from now unless it has ended by then.

    A stop can hang: Spark closes each Kafka source's admin client, which waits for its pending
    requests, forever when the broker is gone (as when a killed ``cryptopulse up`` takes the
    broker down with the job). Exiting is safe: Spark replays the unfinished batch from the
    checkpoint, and the API drops a batch it already has.
    """

    def give_up() -> None:
        event(
            log,
            f"the queries did not stop within {seconds:.0f} s of the signal; exiting now "
            "(Spark replays the unfinished batch from the checkpoint)",
            logging.ERROR,
        )
        os._exit(1)

    timer = threading.Timer(seconds, give_up)
    timer.daemon = True
    timer.start()
    return timer


def main(
    settings: StreamSettings | None = None, session_factory: SessionFactory = build_session
) -> int:
    settings = settings or StreamSettings()
    configure("stream", settings.log_level, settings.log_format)
    stop = threading.Event()

    def _on_signal(signum: int, _frame: FrameType | None) -> None:
        # Only flag it here: calling into the JVM from a signal handler races the call the
        # main thread is blocked in.
        event(log, f"received {signal.Signals(signum).name}; stopping the queries")
        if not stop.is_set():
            exit_after(settings.stream_stop_grace_seconds + settings.stream_stop_timeout_seconds)
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    write_pid_file(settings.stream_pid_file)

    if settings.stream_watermark_seconds < settings.max_clock_skew_seconds:
        event(
            log,
            f"STREAM_WATERMARK_SECONDS ({settings.stream_watermark_seconds}) is below "
            f"MAX_CLOCK_SKEW_SECONDS ({settings.max_clock_skew_seconds:g}): a tick as far ahead "
            "as the tolerance admits moves the watermark past on-time ticks of other coins, "
            "which are then dropped as late (docs/contract.md)",
            logging.WARNING,
        )
    registry = CollectorRegistry()
    metrics = StreamMetrics(registry)
    # Until the first progress report, a stall is counted from the start (as /health does).
    metrics.last_progress_time.set(time.time())
    health = DriverHealth(settings)
    # Up before the session: probes get "starting" while the session requests its executors.
    ops = OpsServer("0.0.0.0", settings.stream_metrics_port, registry, health).start()
    try:
        return _run(settings, session_factory, metrics, health, ops.port, stop)
    finally:
        ops.stop()
        remove_pid_file(settings.stream_pid_file)


# Spark's error when the windowing state was written by a build whose aggregation had other
# columns (before observed_at became the event time, the state had no newest source time).
_STATE_SCHEMA_ERRORS = (
    "STATE_STORE_VALUE_SCHEMA_NOT_COMPATIBLE",
    "STATE_STORE_KEY_SCHEMA_NOT_COMPATIBLE",
)


def failure_hint(error: str) -> str:
    if any(code in error for code in _STATE_SCHEMA_ERRORS):
        return (
            "; the windowing state in the checkpoint was written by an older build: stop the job "
            "and run `cryptopulse reset-watermark` (python -m cryptopulse_stream.recovery in the "
            "image), which starts a new checkpoint at the offsets the old one reached"
        )
    return ""


def _run(
    settings: StreamSettings,
    session_factory: SessionFactory,
    metrics: StreamMetrics,
    health: DriverHealth,
    health_port: int,
    stop: threading.Event,
) -> int:
    event(log, "starting the Spark session", health=f"http://127.0.0.1:{health_port}/health")
    spark = session_factory(settings)
    if stop.is_set():  # told to stop while the session started
        spark.stop()
        event(log, "stream queries stopped")
        return 0
    job = start_job(settings, spark, metrics)
    lag = lag_monitor(settings, job, metrics).start()
    health.running(health_check(job, settings, time.monotonic()))
    event(
        log,
        "stream queries started",
        query_id=str(job.aggregates.id),
        topic=TICKS_TOPIC,
        window_seconds=settings.stream_window_seconds,
        watermark_seconds=settings.stream_watermark_seconds,
        checkpoint=settings.stream_checkpoint_dir,
        health=f"http://127.0.0.1:{health_port}/health",
    )
    failed = False
    try:
        while not stop.is_set() and all(query.isActive for query in job.queries):
            job.aggregates.awaitTermination(1)
        if stop.is_set():
            # A POST waiting for an unavailable API gives up (Spark replays its batch on restart)
            # instead of holding the stop.
            job.sink.stopping.set()
        for query in job.queries:
            error = query.exception()
            if error is None:
                continue
            if stop.is_set() and IngestStoppedError.__name__ in str(error):
                # The stop cut short a wait for /ingest: the batch is replayed on restart.
                event(log, f"query {query.name} stopped while /ingest was unavailable")
                continue
            failed = True
            event(
                log, f"query {query.name} failed: {error}{failure_hint(str(error))}", logging.ERROR
            )
    except Exception as error:  # StreamingQueryException from awaitTermination
        failed = True
        event(log, f"stream query failed: {error}{failure_hint(str(error))}", logging.ERROR)
    finally:
        job.stop(settings.stream_stop_grace_seconds)
        lag.stop()
        job.sink.close()
        spark.stop()
    if failed:
        return 1
    event(log, "stream queries stopped")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
