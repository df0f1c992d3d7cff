"""Publish ticks to Kafka without losing the ones Kafka has not acknowledged yet.

Each tick goes out keyed by coin id (so a coin's ticks stay ordered in one partition), serialized
here with orjson, through a kafka-python producer with ``acks=all``, idempotence and compression.
kafka-python already retries a record until ``delivery_timeout_ms``; when the broker stays away
longer, the record's future fails and this publisher takes it back into its own buffer and resends
it on the next poll. The buffer (records handed to Kafka or waiting to be resent, not yet
acknowledged) is bounded: while it is full, new ticks are dropped and counted, so a long outage
costs the newest ticks, never an acknowledged one, and never unbounded memory.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import orjson

from cryptopulse_common.contract import TICKS_TOPIC, Tick
from cryptopulse_common.logs import event
from cryptopulse_producer.metrics import ProducerMetrics
from cryptopulse_producer.settings import ProducerSettings

log = logging.getLogger(__name__)

# send() waits this long at most for topic metadata, so an outage never stalls the poll loop.
MAX_BLOCK_MS = 2000
# Reconnect to a restarted broker within a few seconds (kafka-python's default backs off to 30 s).
RECONNECT_BACKOFF_MAX_MS = 2000


class BrokerUnavailableError(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class OutgoingRecord:
    key: bytes
    value: bytes


@dataclass(frozen=True)
class PublishReport:
    sent: int
    resent: int
    dropped: int


def producer_config(settings: ProducerSettings) -> dict[str, Any]:
    """kafka-python producer settings: durable (acks=all, idempotent), batched and compressed."""
    delivery_ms = int(settings.producer_delivery_timeout_seconds * 1000)
    return {
        "bootstrap_servers": settings.kafka_bootstrap_servers,
        "client_id": "cryptopulse-producer",
        "acks": "all",
        "enable_idempotence": True,
        "compression_type": None
        if settings.producer_compression == "none"
        else settings.producer_compression,
        "linger_ms": settings.producer_linger_ms,
        "delivery_timeout_ms": delivery_ms,
        # kafka-python requires delivery_timeout_ms >= request_timeout_ms + linger_ms.
        "request_timeout_ms": max(
            1000, min(30_000, (delivery_ms - settings.producer_linger_ms) // 2)
        ),
        "max_block_ms": MAX_BLOCK_MS,
        "reconnect_backoff_max_ms": RECONNECT_BACKOFF_MAX_MS,
        "bootstrap_timeout_ms": 5000,
    }


def connect_producer(
    bootstrap_servers: str, attempts: int = 5, backoff_seconds: float = 2.0, **config: Any
) -> Any:
    """A KafkaProducer, retrying a broker that is not up yet with logged, bounded attempts."""
    from kafka import KafkaProducer
    from kafka.errors import KafkaError, KafkaTimeoutError

    config = {"bootstrap_servers": bootstrap_servers, "bootstrap_timeout_ms": 5000, **config}
    for attempt in range(1, attempts + 1):
        try:
            return KafkaProducer(**config)
        except KafkaTimeoutError:
            # kafka-python 3 reports an unreachable bootstrap as a timeout (2.x raised
            # NoBrokersAvailable); say it the way operators know it.
            reason = "NoBrokersAvailable"
        except KafkaError as exc:
            reason = type(exc).__name__
        event(
            log,
            f"Attempt {attempt}/{attempts} failed: {reason}",
            logging.WARNING,
            bootstrap=bootstrap_servers,
        )
        if attempt < attempts:
            time.sleep(backoff_seconds * attempt)
    raise BrokerUnavailableError(
        f"no Kafka broker answered at {bootstrap_servers} after {attempts} attempts; "
        "start one with `cryptopulse kafka` or set KAFKA_BOOTSTRAP_SERVERS"
    )


SendOutcome = Literal["sent", "later", "dropped"]


class TickPublisher:
    def __init__(
        self,
        producer: Any,
        metrics: ProducerMetrics,
        *,
        topic: str = TICKS_TOPIC,
        max_buffered: int = 50_000,
        clock: Callable[[], float] = time.time,
        on_delivered: Callable[[OutgoingRecord], None] | None = None,
    ) -> None:
        self._producer = producer
        self._metrics = metrics
        self._topic = topic
        self._max_buffered = max_buffered
        self._clock = clock
        self._on_delivered = on_delivered
        self._lock = threading.Lock()
        self._in_flight = 0
        self._waiting: deque[OutgoingRecord] = deque()  # failed deliveries, resent next publish
        self.acknowledged = 0
        self.last_ack_at: float | None = None
        self.last_failure_at: float | None = None
        self.last_error: str | None = None
        metrics.buffered.set_function(lambda: self.buffered)

    @property
    def buffered(self) -> int:
        """Ticks handed to Kafka or waiting to be resent, not yet acknowledged."""
        with self._lock:
            return self._in_flight + len(self._waiting)

    @property
    def waiting(self) -> int:
        """Ticks whose delivery failed and that wait to be resent."""
        with self._lock:
            return len(self._waiting)

    @property
    def in_outage(self) -> bool:
        """A delivery failed and nothing was acknowledged since."""
        failed, acked = self.last_failure_at, self.last_ack_at
        return failed is not None and (acked is None or acked < failed)

    def publish(self, ticks: Sequence[Tick]) -> PublishReport:
        """Resend what failed before, then send ``ticks`` (their futures complete later)."""
        resent, can_send = self._resend_waiting()
        sent = dropped = 0
        for tick in ticks:
            if self.buffered >= self._max_buffered:
                dropped += 1
                continue
            record = OutgoingRecord(tick.id.encode(), orjson.dumps(tick.wire()))
            outcome = self._send(record) if can_send else "later"
            if outcome == "sent":
                sent += 1
            elif outcome == "later":
                can_send = False  # the client is not taking records now; keep the rest too
                with self._lock:
                    self._waiting.append(record)
        if dropped:
            self._metrics.ticks_dropped.labels("buffer_full").inc(dropped)
        return PublishReport(sent=sent, resent=resent, dropped=dropped)

    def _resend_waiting(self) -> tuple[int, bool]:
        resent = 0
        while True:
            with self._lock:
                if not self._waiting:
                    return resent, True
                record = self._waiting.popleft()
            outcome = self._send(record)
            if outcome == "later":
                with self._lock:
                    self._waiting.appendleft(record)
                return resent, False
            resent += outcome == "sent"

    def _send(self, record: OutgoingRecord) -> SendOutcome:
        from kafka.errors import KafkaError

        with self._lock:
            self._in_flight += 1
        try:
            future = self._producer.send(self._topic, key=record.key, value=record.value)
        except KafkaError as error:
            with self._lock:
                self._in_flight -= 1
            self.last_error = f"{type(error).__name__}: {error}"
            if error.retriable:  # metadata unavailable within max_block_ms: broker away
                return "later"
            self._drop_not_retriable(record, error)
            return "dropped"
        future.add_callback(self._acknowledged, record)
        future.add_errback(self._failed, record)
        return "sent"

    def _acknowledged(self, record: OutgoingRecord, _metadata: object) -> None:
        now = self._clock()
        with self._lock:
            self._in_flight -= 1
            self.acknowledged += 1
            self.last_ack_at = now
        self._metrics.ticks_sent.inc()
        self._metrics.last_publish.set(now)
        if self._on_delivered is not None:
            self._on_delivered(record)

    def _failed(self, record: OutgoingRecord, error: BaseException) -> None:
        self._metrics.send_errors.inc()
        self.last_error = f"{type(error).__name__}: {error}"
        self.last_failure_at = self._clock()
        retriable = bool(getattr(error, "retriable", False))
        with self._lock:
            self._in_flight -= 1
            if retriable:
                self._waiting.append(record)
        if not retriable:
            self._drop_not_retriable(record, error)

    def _drop_not_retriable(self, record: OutgoingRecord, error: BaseException) -> None:
        self._metrics.ticks_dropped.labels("not_retriable").inc()
        event(
            log,
            f"Kafka refused a tick for good ({type(error).__name__}: {error}); dropping it",
            logging.WARNING,
            key=record.key.decode(errors="replace"),
        )

    def flush(self, timeout: float) -> int:
        """Send everything buffered, waiting up to ``timeout`` s; returns the ticks still unsent."""
        from kafka.errors import KafkaTimeoutError

        deadline = time.monotonic() + timeout
        while True:
            self._resend_waiting()
            left = deadline - time.monotonic()
            if self.buffered == 0 or left <= 0:
                return self.buffered
            with contextlib.suppress(KafkaTimeoutError):  # a slice of the wait ran out
                self._producer.flush(timeout=min(left, 1.0))

    def close(self, timeout: float) -> int:
        """Flush for up to ``timeout`` s, close the client; returns (and counts) the ticks lost."""
        from kafka.errors import KafkaTimeoutError

        self.flush(timeout)
        try:
            self._producer.close(timeout=1.0)
        except KafkaTimeoutError:
            # kafka-python's close() flushes first and raises while records are still unsent
            # (broker away), leaving its I/O thread running; stop that thread ourselves.
            sender = getattr(self._producer, "_sender", None)
            if sender is not None:
                sender.force_close()
        lost = self.buffered
        if lost:
            self._metrics.ticks_dropped.labels("shutdown").inc(lost)
        return lost
