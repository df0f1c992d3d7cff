"""Publish ticks to Kafka without losing the ones Kafka has not acknowledged yet.

Each tick goes out keyed by coin id (so a coin's ticks stay ordered in one partition), serialized
here with orjson, through a kafka-python producer (``kafka_client.py``). kafka-python retries a
record until ``delivery_timeout_ms``; when the broker stays away longer, the record's future fails
and this publisher takes it back into its own buffer and resends it on the next poll. The buffer
(records handed to Kafka or waiting to be resent, not yet acknowledged) is bounded: while it is
full, new ticks are dropped and counted, so a long outage costs the newest ticks, never an
acknowledged one, and never unbounded memory.

A watchdog covers the client itself: kafka-python reports every record within the delivery
timeout, so records in flight with no report for longer mean its I/O thread is wedged (3.0.12
can loop forever waiting for a producer id after an outage). The publisher then replaces the
client; the old one's records fail and come back to the buffer to be resent.
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
from cryptopulse_producer.kafka_client import close_producer
from cryptopulse_producer.metrics import ProducerMetrics

log = logging.getLogger(__name__)

DROP_LOG_EVERY_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class OutgoingRecord:
    key: bytes
    value: bytes


@dataclass(frozen=True)
class PublishReport:
    sent: int
    resent: int
    dropped: int


SendOutcome = Literal["sent", "later", "dropped"]


def _describe(error: BaseException) -> str:
    text = str(error)  # kafka-python's errors already start with their class name
    name = type(error).__name__
    return text if text.startswith(name) else f"{name}: {text}"


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
        reconnect: Callable[[], Any] | None = None,
        stall_after_seconds: float = 180.0,
    ) -> None:
        self._producer = producer
        self._metrics = metrics
        self._topic = topic
        self._max_buffered = max_buffered
        self._clock = clock
        self._on_delivered = on_delivered
        self._reconnect = reconnect
        self._stall_after = stall_after_seconds
        self._lock = threading.Lock()
        self._in_flight = 0
        self._waiting: deque[OutgoingRecord] = deque()  # failed deliveries, resent next publish
        self._generation = 0  # which client a record was handed to
        self._progress_at = time.monotonic()  # last report from the client, or first send
        self._closing = False
        self._drops_unlogged = 0
        self._drop_logged_at = -DROP_LOG_EVERY_SECONDS
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
        self._replace_client_if_wedged()
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
            if self._in_flight == 0:
                self._progress_at = time.monotonic()
            self._in_flight += 1
            producer, generation = self._producer, self._generation
        try:
            future = producer.send(self._topic, key=record.key, value=record.value)
        except KafkaError as error:
            with self._lock:
                self._in_flight -= 1
            self.last_error = _describe(error)
            if error.retriable:  # metadata unavailable within max_block_ms: broker away
                return "later"
            self._drop_not_retriable(record, error)
            return "dropped"
        future.add_callback(self._acknowledged, record)
        future.add_errback(self._failed, record, generation)
        return "sent"

    def _acknowledged(self, record: OutgoingRecord, _metadata: object) -> None:
        now = self._clock()
        with self._lock:
            self._in_flight -= 1
            self._progress_at = time.monotonic()
            self.acknowledged += 1
            self.last_ack_at = now
        self._metrics.ticks_sent.inc()
        self._metrics.last_publish.set(now)
        if self._on_delivered is not None:
            self._on_delivered(record)

    def _failed(self, record: OutgoingRecord, generation: int, error: BaseException) -> None:
        with self._lock:
            self._in_flight -= 1
            self._progress_at = time.monotonic()
            # A replaced client's records come back whatever the error (it was force-closed);
            # so do any client's while the publisher closes (close() counts them).
            requeue = (
                self._closing
                or generation != self._generation
                or bool(getattr(error, "retriable", False))
            )
            if requeue:
                self._waiting.append(record)
        if self._closing:
            return
        self._metrics.send_errors.inc()
        self.last_error = _describe(error)
        self.last_failure_at = self._clock()
        if not requeue:
            self._drop_not_retriable(record, error)

    def _drop_not_retriable(self, record: OutgoingRecord, error: BaseException) -> None:
        """Count every such drop; log them at most every few seconds, with how many."""
        self._metrics.ticks_dropped.labels("not_retriable").inc()
        now = time.monotonic()
        with self._lock:
            self._drops_unlogged += 1
            if now - self._drop_logged_at < DROP_LOG_EVERY_SECONDS:
                return
            count, self._drops_unlogged, self._drop_logged_at = self._drops_unlogged, 0, now
        event(
            log,
            f"Kafka refused {count} ticks for good ({_describe(error)}); dropped them",
            logging.WARNING,
            last_key=record.key.decode(errors="replace"),
        )

    def _replace_client_if_wedged(self) -> None:
        if self._reconnect is None:
            return
        with self._lock:
            silent = time.monotonic() - self._progress_at
            in_flight = self._in_flight
        if not in_flight or silent <= self._stall_after:
            return
        event(
            log,
            f"the Kafka client reported nothing for {silent:.0f} s with {in_flight} ticks in "
            f"flight (it must within its delivery timeout); replacing it",
            logging.WARNING,
        )
        try:
            replacement = self._reconnect()
        except Exception as error:  # the broker may still be away: try again later
            event(log, f"could not replace the Kafka client: {error}", logging.WARNING)
            with self._lock:
                self._progress_at = time.monotonic()
            return
        with self._lock:
            old = self._producer
            self._producer = replacement
            self._generation += 1
            self._progress_at = time.monotonic()
        self._metrics.client_restarts.inc()
        close_producer(old, timeout=0)  # its records fail and come back to be resent

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
        self.flush(timeout)
        self._closing = True
        close_producer(self._producer, timeout=1.0)
        lost = self.buffered
        if lost:
            self._metrics.ticks_dropped.labels("shutdown").inc(lost)
        return lost
