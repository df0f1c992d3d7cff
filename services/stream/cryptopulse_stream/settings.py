"""Stream job settings (environment variables and ``cryptopulse stream`` flags)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from cryptopulse_common.ports import API_PORT, LOCALHOST, SPARK_UI_PORT, STREAM_METRICS_PORT
from cryptopulse_common.settings import CommonSettings


class StreamSettings(CommonSettings):
    stream_ingest_url: str = Field(
        default=f"http://{LOCALHOST}:{API_PORT}/ingest", description="The API's /ingest URL."
    )
    stream_ingest_token: str = Field(
        default="", description="Bearer token sent to /ingest (empty = none)."
    )
    stream_ingest_timeout_seconds: float = Field(default=30.0, gt=0, description="POST timeout.")
    stream_ingest_backoff_seconds: float = Field(
        default=1.0,
        gt=0,
        description="First wait before POSTing again to an unavailable /ingest (then doubling, "
        "with jitter); the sink retries until it answers or the job stops, never dropping.",
    )
    stream_ingest_backoff_max_seconds: float = Field(
        default=30.0, gt=0, description="Longest wait between two POSTs to an unavailable /ingest."
    )
    stream_window_seconds: int = Field(default=30, gt=0, description="Event-time window length.")
    stream_slide_seconds: int = Field(
        default=0, ge=0, description="Window slide (0 = tumbling windows)."
    )
    stream_watermark_seconds: int = Field(
        default=60, ge=0, description="How late (event time) a tick may arrive and still count."
    )
    stream_trigger_seconds: float = Field(
        default=2.0, gt=0, description="Micro-batch trigger interval."
    )
    stream_checkpoint_dir: str = Field(
        default=".cryptopulse/checkpoints/stream", description="Checkpoint location."
    )
    stream_starting_offsets: str = Field(
        default="earliest",
        description="Where a new checkpoint starts reading: earliest, latest or Spark's offsets "
        'JSON ({"crypto_market_data":{"0":42}}); `cryptopulse reset-watermark` leaves the '
        "old checkpoint's offsets for the next start instead.",
    )
    stream_max_offsets_per_trigger: int = Field(
        default=0, ge=0, description="Cap on Kafka rows per micro-batch (0 = no cap)."
    )
    stream_dead_letters: bool = Field(
        default=True,
        description="Run the dead-letter query (malformed messages -> the dead-letter topic).",
    )
    stream_dead_letter_trigger_seconds: float = Field(
        default=10.0,
        gt=0,
        description="Micro-batch interval of the dead-letter query: each batch has a fixed cost "
        "(planning, offset and commit logs), and dead letters need no low latency.",
    )
    stream_publish_aggregates: bool = Field(
        default=True, description="Also publish each batch to the aggregates topic."
    )
    stream_state_store: Literal["hdfs", "rocksdb"] = Field(
        default="hdfs", description="State store provider for the windowing state."
    )
    stream_health_stall_seconds: float = Field(
        default=120.0, gt=0, description="/health fails when no progress was reported this long."
    )
    stream_start_timeout_seconds: float = Field(
        default=600.0,
        gt=0,
        description='/health answers 200 ("starting") this long while the SparkSession and '
        "the queries start, then 503 if they have not.",
    )
    stream_pid_file: str = Field(
        default="",
        description="Write the job's process id here (empty = nowhere); `python -m "
        "cryptopulse_stream.stop` signals that process (the driver pod's preStop hook).",
    )
    stream_stop_grace_seconds: float = Field(
        default=10.0,
        ge=0,
        description="On SIGTERM, wait this long for a running micro-batch to finish before "
        "stopping the query (Spark replays an interrupted batch from the checkpoint).",
    )
    stream_stop_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        description="On SIGTERM, exit this long after stream_stop_grace_seconds even if the "
        "queries or Spark have not stopped (closing a Kafka client can wait forever for a "
        "broker that is gone); Spark replays the unfinished batch from the checkpoint.",
    )
    stream_spark_ui: bool = Field(
        default=False,
        description="Run the Spark UI (and its PrometheusServlet at /metrics/prometheus).",
    )
    stream_spark_ui_port: int = Field(
        default=SPARK_UI_PORT,
        ge=0,
        description="Port of the Spark UI (spark.ui.port; Spark tries the next ports when busy).",
    )
    stream_lag_interval_seconds: float = Field(
        default=5.0,
        gt=0,
        description="Seconds between two lookups of the topic's end offsets for "
        "cryptopulse_stream_kafka_lag_records.",
    )
    stream_spark_master: str = Field(
        default="local[2]",
        description="Spark master URL (empty = leave it to spark-submit, as on Kubernetes).",
    )
    stream_shuffle_partitions: int = Field(
        default=2, ge=1, description="spark.sql.shuffle.partitions (small on small machines)."
    )
    stream_driver_memory: str = Field(default="1g", description="spark.driver.memory.")
    stream_spark_jars: str = Field(
        default="",
        description="Comma-separated extra jars (the Kafka source); empty when the image has them.",
    )
    stream_metrics_port: int = Field(
        default=STREAM_METRICS_PORT, description="Port of the driver's /health and /metrics."
    )
