"""The SparkSession the job runs in, configured from settings."""

from __future__ import annotations

from pyspark.sql import SparkSession

from cryptopulse_stream.settings import StreamSettings


def build_session(settings: StreamSettings, app_name: str = "cryptopulse-stream") -> SparkSession:
    builder = (
        SparkSession.builder.appName(app_name)
        .master(settings.stream_spark_master)
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", str(settings.stream_shuffle_partitions))
        .config("spark.driver.memory", settings.stream_driver_memory)
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.streaming.stopGracefullyOnShutdown", "true")
        # State is small (coins x open windows): RocksDB buys nothing here, HDFS-backed is fine.
        .config("spark.sql.streaming.minBatchesToRetain", "20")
    )
    if settings.stream_spark_jars:
        builder = builder.config("spark.jars", settings.stream_spark_jars)
    session: SparkSession = builder.getOrCreate()
    session.sparkContext.setLogLevel("WARN")
    return session
