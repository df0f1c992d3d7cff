"""The SparkSession the job runs in, configured from settings."""

from __future__ import annotations

from pyspark.sql import SparkSession

from cryptopulse_common.metric_catalog import SPARK_METRICS_NAMESPACE
from cryptopulse_stream.settings import StreamSettings

DRIVER_JAVA_OPTIONS = "-Xss16m"


def build_session(settings: StreamSettings, app_name: str = "cryptopulse-stream") -> SparkSession:
    builder = SparkSession.builder.appName(app_name)
    if settings.stream_spark_master:
        builder = builder.master(settings.stream_spark_master)
    builder = (
        builder.config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", str(settings.stream_shuffle_partitions))
        .config("spark.driver.memory", settings.stream_driver_memory)
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.streaming.stopGracefullyOnShutdown", "true")
        .config("spark.sql.streaming.minBatchesToRetain", "20")
        .config("spark.ui.enabled", "true" if settings.stream_spark_ui else "false")
        .config("spark.ui.port", str(settings.stream_spark_ui_port))
        # Fixed, so a restarted job keeps its metric names (the default is the application id).
        .config("spark.metrics.namespace", SPARK_METRICS_NAMESPACE)
        # Spark's own metrics in Prometheus format at <ui>/metrics/prometheus (and executors').
        .config("spark.ui.prometheus.enabled", "true")
        .config(
            "spark.metrics.conf.*.sink.prometheusServlet.class",
            "org.apache.spark.metrics.sink.PrometheusServlet",
        )
        .config("spark.metrics.conf.*.sink.prometheusServlet.path", "/metrics/prometheus")
        .config("spark.sql.streaming.metricsEnabled", "true")
        # A query stopped inside a Python foreachBatch gets the Python traceback back, and
        # Spark matches it against a regular expression that recurses once per character: with
        # the default 1 MB thread stack that ends in a StackOverflowError on the query thread.
        .config("spark.driver.extraJavaOptions", DRIVER_JAVA_OPTIONS)
    )
    if settings.stream_state_store == "rocksdb":
        builder = builder.config(
            "spark.sql.streaming.stateStore.providerClass",
            "org.apache.spark.sql.execution.streaming.state.RocksDBStateStoreProvider",
        )
    if settings.stream_spark_jars:
        builder = builder.config("spark.jars", settings.stream_spark_jars)
    session: SparkSession = builder.getOrCreate()
    session.sparkContext.setLogLevel("WARN")
    return session
