"""Fan-out across API replicas through the aggregates topic.

The stream job publishes every batch ``/ingest`` accepted to the aggregates topic too (the same
JSON body, the accepted records only, keyed by batch id); a replica checks it against the same
contract, with its own clock, and skips a batch that breaks it. Every replica reads the whole
topic, from its end at start and without a consumer group (no partition is shared out: each
replica needs every batch), and broadcasts each batch it has not broadcast yet: the replica the
POST reached broadcasts it once, from whichever of the two came first. Clients see every update
whichever replica they are connected to, and see it once.

kafka-python blocks, so the consumer runs in a thread and hands each batch to the event loop with
``call_soon_threadsafe``; the JSON is validated in the thread, off the loop.
"""

from __future__ import annotations

import logging
import threading
import time
from asyncio import AbstractEventLoop
from collections.abc import Callable
from typing import Any

from kafka import KafkaConsumer, TopicPartition
from pydantic import ValidationError

from cryptopulse_api.metrics import ApiMetrics
from cryptopulse_common.contract import AGGREGATES_TOPIC, ClockBound, IngestRequest
from cryptopulse_common.logs import event

log = logging.getLogger("cryptopulse.api.fanout")

POLL_TIMEOUT_MS = 500
BOOTSTRAP_TIMEOUT_MS = 5_000  # kafka-python waits 30 s by default before it says anything
PARTITION_CHECK_SECONDS = 30.0
RETRY_SECONDS = 2.0

# Called on the event loop with each batch and the time.perf_counter() it was read at.
Deliver = Callable[[IngestRequest, float], None]


class KafkaFanout:
    def __init__(
        self,
        client_config: dict[str, Any],
        loop: AbstractEventLoop,
        deliver: Deliver,
        metrics: ApiMetrics,
        clock: Callable[[], ClockBound],
        topic: str = AGGREGATES_TOPIC,
    ) -> None:
        self._client_config = client_config  # kafka_python_config(): servers, TLS, SASL
        self._loop = loop
        self._deliver = deliver
        self._metrics = metrics
        self._clock = clock
        self._topic = topic
        self._stop = threading.Event()
        # Set once every partition is assigned and positioned at its end: from then on no batch
        # published to the topic is missed (readiness waits for it).
        self.positioned = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kafka-fanout", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Blocking (at most a poll or a bootstrap attempt): call it off the event loop."""
        self._stop.set()
        self._thread.join(BOOTSTRAP_TIMEOUT_MS / 1000 + 2)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                consumer = KafkaConsumer(
                    **self._client_config,
                    group_id=None,
                    enable_auto_commit=False,
                    bootstrap_timeout_ms=BOOTSTRAP_TIMEOUT_MS,
                    client_id="cryptopulse-api-fanout",
                )
            except Exception as exc:
                if self._stop.is_set():
                    return
                event(
                    log,
                    f"cannot reach Kafka at {self._client_config['bootstrap_servers']} for the "
                    f"replica fan-out ({type(exc).__name__}: {exc}); "
                    f"retrying in {RETRY_SECONDS:.0f} s",
                    logging.WARNING,
                )
                self._stop.wait(RETRY_SECONDS)
                continue
            try:
                self._consume(consumer)
            except Exception as exc:
                self.positioned.clear()
                event(
                    log,
                    f"replica fan-out consumer failed ({type(exc).__name__}: {exc}); "
                    f"reconnecting in {RETRY_SECONDS:.0f} s; this replica's clients miss the "
                    "batches other replicas receive meanwhile (each next update has the latest)",
                    logging.ERROR,
                )
                self._stop.wait(RETRY_SECONDS)
            finally:
                consumer.close(autocommit=False)

    def _assign(self, consumer: KafkaConsumer, known: set[int]) -> set[int]:
        """Assign every partition of the topic; new ones are read from their start."""
        partitions = set(consumer.partitions_for_topic(self._topic))
        if partitions == known:
            return known
        consumer.assign([TopicPartition(self._topic, p) for p in sorted(partitions)])
        fresh = [TopicPartition(self._topic, p) for p in sorted(partitions - known)]
        if known:
            consumer.seek_to_beginning(*fresh)
        else:
            consumer.seek_to_end(*fresh)
        for tp in fresh:
            consumer.position(tp)  # resolve the offset now, not lazily at the first poll
        event(
            log,
            f"replica fan-out reads {self._topic}",
            partitions=",".join(map(str, sorted(partitions))),
        )
        return partitions

    def _consume(self, consumer: KafkaConsumer) -> None:
        known: set[int] = set()
        while not known and not self._stop.is_set():
            known = self._assign(consumer, known)
            if not known:
                event(
                    log,
                    f"topic {self._topic} has no partitions yet; retrying in {RETRY_SECONDS:.0f} s",
                    logging.WARNING,
                )
                self._stop.wait(RETRY_SECONDS)
        if not known:
            return
        self.positioned.set()
        checked = time.monotonic()
        while not self._stop.is_set():
            if time.monotonic() - checked > PARTITION_CHECK_SECONDS:
                known = self._assign(consumer, known)
                checked = time.monotonic()
            polled = consumer.poll(timeout_ms=POLL_TIMEOUT_MS)
            received_at = time.perf_counter()
            for records in polled.values():
                for record in records:
                    self._hand_over(record.value, received_at)

    def _hand_over(self, value: bytes, received_at: float) -> None:
        try:
            batch = IngestRequest.model_validate_json(value, context=self._clock().context())
        except ValidationError as error:
            self._metrics.kafka_messages.labels("invalid").inc()
            self._metrics.count_refused(error)
            first = error.errors(include_url=False)[0]
            event(
                log,
                f"skipping an invalid batch on {self._topic}",
                logging.WARNING,
                error=f"{list(first['loc'])}: {first['msg']}",
            )
            return
        self._loop.call_soon_threadsafe(self._deliver, batch, received_at)
