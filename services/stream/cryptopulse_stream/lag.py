"""The stream job's Kafka consumer lag: records on the ticks topic its queries have not read.

Spark keeps the offsets it has read in its checkpoint, not in a consumer group, so no Kafka tool
(``kafka-consumer-groups.sh``, kafka-exporter) sees this lag, and Spark's own progress reports
``latestOffset`` as of planning a batch (without ``maxOffsetsPerTrigger`` it equals the batch's
end offset: no lag, ever). So: the listener keeps the end offsets of each query's last
micro-batch, and :class:`KafkaLagMonitor` asks the broker for the partitions' end offsets every
``interval`` seconds and exports the difference as ``cryptopulse_stream_kafka_lag_records``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from prometheus_client import Gauge

from cryptopulse_common.logs import event

log = logging.getLogger("cryptopulse.stream")


class OffsetSource(Protocol):
    def read_offsets(self) -> dict[str, dict[int, int]]: ...


def lag_by_query(
    end_offsets: Mapping[int, int], read_offsets: Mapping[str, Mapping[int, int]]
) -> dict[str, int]:
    """Per query: the sum over the partitions it has read of (end offset - offset read).

    A partition the query has not reported yet is left out (its start is unknown here); a
    negative difference (the broker answered before the batch's offsets were reported) is 0.
    """
    return {
        query: sum(
            max(0, end - read[partition])
            for partition, end in end_offsets.items()
            if partition in read
        )
        for query, read in read_offsets.items()
    }


class KafkaLagMonitor:
    """A daemon thread exporting each query's lag every ``interval`` seconds until ``stop``.

    ``connect`` returns a kafka-python ``KafkaConsumer`` (no group, nothing committed); a
    failed lookup is logged once per outage and retried with a fresh consumer: the gauge keeps
    its last value meanwhile.
    """

    def __init__(
        self,
        connect: Callable[[], Any],
        topic: str,
        offsets: OffsetSource,
        gauge: Gauge,
        interval: float,
    ) -> None:
        self._connect = connect
        self._topic = topic
        self._offsets = offsets
        self._gauge = gauge
        self._interval = interval
        self._stop = threading.Event()
        self._consumer: Any = None
        self._failing = False
        self._thread = threading.Thread(target=self._run, name="kafka-lag", daemon=True)

    def start(self) -> KafkaLagMonitor:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the thread (if started) and close the consumer."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2)  # a daemon: never hold the driver's shutdown up
        self._close()

    def update(self) -> dict[str, int]:
        """One lookup: export and return the lag of every query that has reported offsets."""
        read = self._offsets.read_offsets()
        if not read:
            return {}
        if self._consumer is None:
            self._consumer = self._connect()
        from kafka import TopicPartition

        partitions = self._consumer.partitions_for_topic(self._topic) or set()
        answer = self._consumer.end_offsets(
            [TopicPartition(self._topic, partition) for partition in sorted(partitions)]
        )
        ends = {tp.partition: int(offset) for tp, offset in answer.items()}
        lags = lag_by_query(ends, read)
        for query, lag in lags.items():
            self._gauge.labels(query).set(lag)
        return lags

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.update()
            except Exception as error:  # the broker away, a timeout: retry with a new client
                self._close()
                if not self._failing:
                    event(
                        log,
                        f"cannot look up the Kafka lag of the queries ({type(error).__name__}: "
                        f"{error}); retrying every {self._interval:g} s",
                        logging.WARNING,
                    )
                self._failing = True
                continue
            if self._failing:
                event(log, "Kafka lag lookups work again")
            self._failing = False

    def _close(self) -> None:
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            try:
                consumer.close()
            except Exception as error:  # closing a broken client must not kill the thread
                log.debug("closing the lag consumer failed: %s", error)
