"""The Spark Kafka source jars matching the installed pyspark, from Maven Central."""

from __future__ import annotations

from pathlib import Path

from cryptopulse_local.maven import Artifact, resolve_jars

# What the Kafka source needs beyond pyspark's own jars (the same four the Spark image bakes in).
SPARK_KAFKA_ARTIFACT_IDS = [
    "spark-sql-kafka-0-10_2.13",
    "spark-token-provider-kafka-0-10_2.13",
    "kafka-clients",
    "commons-pool2",
]


def installed_spark_version() -> str:
    import pyspark

    version: str = pyspark.__version__
    return version


def spark_jar_set(spark_version: str | None = None) -> str:
    """The cache folder name of the Kafka source jars for ``spark_version`` (the installed one)."""
    return f"spark-sql-kafka-{spark_version or installed_spark_version()}"


def spark_kafka_jars(cache_dir: Path, spark_version: str | None = None) -> list[Path]:
    version = spark_version or installed_spark_version()
    return resolve_jars(
        spark_jar_set(version),
        [Artifact("org.apache.spark", "spark-sql-kafka-0-10_2.13", version)],
        cache_dir,
        include_artifact_ids=SPARK_KAFKA_ARTIFACT_IDS,
    )
