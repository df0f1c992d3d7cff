"""Entry file of the stream image: what the SparkApplication's ``mainApplicationFile`` names.

On Kubernetes ``spark-submit`` (started by the Spark operator) chooses the master
(``k8s://https://...``), the executors and the whole Spark configuration before this file runs.
The job's own session builder sets a master for local runs (``STREAM_SPARK_MASTER``), so the
session spark-submit configured is created first and its master handed to the job: the job's
builder then returns that session and only applies its runtime SQL options to it.
"""

from __future__ import annotations

from pyspark.sql import SparkSession

from cryptopulse_stream.main import main
from cryptopulse_stream.settings import StreamSettings


def run() -> int:
    spark = SparkSession.builder.getOrCreate()
    settings = StreamSettings(stream_spark_master=spark.sparkContext.master)
    return main(settings)


if __name__ == "__main__":
    raise SystemExit(run())
