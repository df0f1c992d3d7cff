"""Entry file of the stream image: what the SparkApplication's ``mainApplicationFile`` names.

On Kubernetes ``spark-submit`` (started by the Spark operator) has already chosen the master
(``k8s://https://...``), the executors and the Spark configuration before this file runs, so
the job is told to leave the master alone (an empty ``STREAM_SPARK_MASTER``) whatever the
environment says: a ``local[...]`` master here would run everything inside the driver pod.
"""

from __future__ import annotations

from cryptopulse_stream.main import main
from cryptopulse_stream.settings import StreamSettings


def run() -> int:
    return main(StreamSettings(stream_spark_master=""))


if __name__ == "__main__":
    raise SystemExit(run())
