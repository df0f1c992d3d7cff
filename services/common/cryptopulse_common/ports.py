"""Every port a cryptopulse process listens on by default, named once."""

from __future__ import annotations

from typing import Final

API_PORT: Final = 8000
PRODUCER_METRICS_PORT: Final = 8001
STREAM_METRICS_PORT: Final = 8002
# The stream driver's Spark UI, which serves Spark's PrometheusServlet at /metrics/prometheus.
SPARK_UI_PORT: Final = 4040
KAFKA_PORT: Final = 9092
KAFKA_CONTROLLER_PORT: Final = 9093
LOCALHOST: Final = "127.0.0.1"
