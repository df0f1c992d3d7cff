"""``cryptopulse producer``: poll the market source, publish ticks, log one line per poll.

Start-up order: ``/health``, ``/livez`` and ``/metrics`` first (so probes get an answer while
Kafka is being reached), then Kafka (logged attempts, ``PRODUCER_CONNECT_ATTEMPTS`` of them, exit 1
when it never answers; 0 = until stopped, as on Kubernetes), the topic (created
when missing), the source, and the poll loop. SIGTERM or SIGINT ends the loop, cuts short any wait
(a 429's Retry-After included), and flushes buffered ticks to Kafka before exit.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

from prometheus_client import CollectorRegistry

from cryptopulse_common.contract import TICKS_TOPIC, Tick
from cryptopulse_common.display import format_change, format_price
from cryptopulse_common.logs import configure, event
from cryptopulse_common.ops_server import OpsServer
from cryptopulse_producer.kafka_client import (
    ConnectInterruptedError,
    connect_producer,
    producer_config,
)
from cryptopulse_producer.metrics import ProducerMetrics
from cryptopulse_producer.publisher import OutgoingRecord, PublishReport, TickPublisher
from cryptopulse_producer.settings import ProducerSettings
from cryptopulse_producer.sources import (
    MarketSource,
    PollInterruptedError,
    PollResult,
    build_source,
)
from cryptopulse_producer.topics import ensure_topic

log = logging.getLogger("cryptopulse.producer")

DROP_LOG_EVERY_SECONDS = 10.0


def summary_line(ticks: list[Tick], limit: int = 3) -> str:
    """``✓ BTC $97,123.45 (+1.23%)`` for the first few coins, as the original producer printed;
    a tiny price keeps its significant digits (``$0.00000001234``) and an unknown change reads
    ``(—)``, never ``+0.00%``."""
    parts = []
    for tick in ticks[:limit]:
        change = format_change(tick.price_change_percentage_24h)
        parts.append(f"✓ {tick.symbol.upper()} ${format_price(tick.current_price)} ({change})")
    more = f" +{len(ticks) - limit} more" if len(ticks) > limit else ""
    return " ".join(parts) + more


class Producer:
    """One producer process: a market source polled into a :class:`TickPublisher`.

    ``/health`` is 503 until a Kafka broker has answered (the pod stays un-Ready however long
    Kafka takes to come up: readiness on Kafka acks), then 200 while Kafka has acknowledged a
    tick within the last ``settings.health_max_silence_seconds`` (counted from the connection
    until the first one), else 503 with the reason: it says whether ticks are reaching Kafka,
    whatever the cause (broker away, source failing or rate-limited for long).
    """

    def __init__(
        self,
        settings: ProducerSettings,
        stop: threading.Event,
        registry: CollectorRegistry | None = None,
        on_delivered: Callable[[OutgoingRecord], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.stop = stop
        self.metrics = ProducerMetrics(registry or CollectorRegistry())
        self.metrics.poll_interval.set(settings.producer_interval_seconds)
        self._on_delivered = on_delivered
        self._clock = clock
        self._started_at = clock()
        self._publisher: TickPublisher | None = None
        self._connected_at: float | None = None
        self._source_name: str = settings.producer_source
        self._kafka_outage = False
        self._drops_unlogged = 0
        self._drops_logged_at = -DROP_LOG_EVERY_SECONDS

    def health(self) -> tuple[bool, dict[str, Any]]:
        now = self._clock()
        publisher = self._publisher
        connected_at = self._connected_at
        last_ack = publisher.last_ack_at if publisher else None
        limit = self.settings.health_max_silence_seconds
        details: dict[str, Any] = {
            "source": self._source_name,
            "last_publish_age_seconds": None if last_ack is None else round(now - last_ack, 3),
            "buffered": publisher.buffered if publisher else 0,
            "max_silence_seconds": limit,
        }
        if publisher is None or connected_at is None:
            details["reason"] = (
                f"not connected to Kafka yet ({self.settings.kafka_bootstrap_servers}, "
                f"waiting {now - self._started_at:.0f} s)"
            )
            return False, details
        silence = now - (last_ack if last_ack is not None else connected_at)
        healthy = silence <= limit
        if not healthy:
            details["reason"] = (
                f"no tick acknowledged by Kafka for {silence:.0f} s (limit {limit:.0f} s)"
                + (
                    f"; last Kafka error: {publisher.last_error}"
                    if publisher and publisher.last_error
                    else ""
                )
            )
        return healthy, details

    def run(self) -> int:
        ops = self._serve_ops()
        try:
            publisher = self._connect()
            if publisher is None:
                return 0
            try:
                ensure_topic(self.settings, TICKS_TOPIC)
                source = build_source(self.settings, self.metrics, self.stop)
                self._source_name = source.name
                try:
                    polls = self._loop(source, publisher)
                finally:
                    source.close()
            finally:
                self._close(publisher)
        finally:
            ops.stop()
        event(log, "producer finished", polls=polls)
        return 0

    def _serve_ops(self) -> OpsServer:
        settings = self.settings
        try:
            ops = OpsServer(
                settings.producer_metrics_host,
                settings.producer_metrics_port,
                self.metrics.registry,
                self.health,
            ).start()
        except OSError as error:
            raise RuntimeError(
                f"cannot serve /health and /metrics on {settings.producer_metrics_host}:"
                f"{settings.producer_metrics_port} ({error.strerror}); set PRODUCER_METRICS_PORT"
            ) from error
        event(log, "serving /health and /metrics", port=ops.port)
        return ops

    def _connect(self) -> TickPublisher | None:
        """A publisher on a connected client; None if told to stop before Kafka answered."""
        settings = self.settings
        config = producer_config(settings)
        bootstrap = config.pop("bootstrap_servers")
        try:
            producer = connect_producer(
                bootstrap,
                attempts=settings.producer_connect_attempts,
                backoff_seconds=settings.producer_connect_backoff_seconds,
                backoff_max_seconds=settings.producer_connect_backoff_max_seconds,
                wait=self.stop.wait,
                **config,
            )
        except ConnectInterruptedError:
            event(log, "stopped before Kafka answered; nothing was published")
            return None
        self._connected_at = self._clock()
        self._publisher = TickPublisher(
            producer,
            self.metrics,
            max_buffered=settings.producer_buffer_max_records,
            clock=self._clock,
            on_delivered=self._on_delivered,
            reconnect=lambda: connect_producer(bootstrap, attempts=1, **config),
            stall_after_seconds=settings.kafka_stall_seconds,
        )
        return self._publisher

    def _close(self, publisher: TickPublisher) -> None:
        """Flush what is buffered and say whether every tick sent was acknowledged."""
        lost = publisher.close(self.settings.producer_flush_timeout_seconds)
        if lost:
            event(
                log,
                f"producer stopped; {lost} ticks were never acknowledged by Kafka "
                f"({publisher.last_error})",
                logging.WARNING,
                acknowledged=publisher.acknowledged,
            )
        else:
            event(
                log,
                "producer stopped; every tick sent was acknowledged by Kafka",
                acknowledged=publisher.acknowledged,
            )

    def _loop(self, source: MarketSource, publisher: TickPublisher) -> int:
        settings = self.settings
        polls = 0
        while not self.stop.is_set():
            started = time.monotonic()
            try:
                result = source.poll()
            except PollInterruptedError:
                break
            except Exception as error:  # the loop never dies on a failed poll
                result = PollResult(errors=[f"{type(error).__name__}: {error}"])
            if result.finished:
                event(log, f"{source.name} source has nothing more to publish; stopping")
                break
            report = publisher.publish(result.ticks)
            self._report(source, result, report, publisher)
            polls += 1
            if settings.producer_max_polls and polls >= settings.producer_max_polls:
                break
            delay = (
                result.next_poll_in
                if result.next_poll_in is not None
                else settings.producer_interval_seconds
            )
            self.stop.wait(max(0.0, started + delay - time.monotonic()))
        return polls

    def _report_drops(self, dropped: int, buffered: int) -> None:
        """Drops while the buffer is full: said when they start, then every 10 s with a count."""
        now = time.monotonic()
        self._drops_unlogged += dropped
        if not self._drops_unlogged:
            return
        if dropped and now - self._drops_logged_at < DROP_LOG_EVERY_SECONDS:
            return
        event(
            log,
            f"Kafka buffer full ({buffered} ticks unacknowledged); dropped "
            f"{self._drops_unlogged} new ticks",
            logging.WARNING,
        )
        self._drops_unlogged, self._drops_logged_at = 0, now

    def _report(
        self,
        source: MarketSource,
        result: PollResult,
        report: PublishReport,
        publisher: TickPublisher,
    ) -> None:
        """One line per poll, plus a line per bad row, per error and per Kafka state change."""
        for row in result.rejected:
            event(
                log,
                f"skipping bad {source.name} row: {row.detail}",
                logging.WARNING,
                coin=row.coin_id,
                reason=row.reason,
            )
            self.metrics.rows_rejected.labels(row.reason).inc()
        self.metrics.ticks_fetched.inc(len(result.ticks))
        for error in result.errors:
            event(log, f"✗ {error}", logging.WARNING, source=source.name)
        if result.ticks or not result.errors:
            event(
                log,
                summary_line(result.ticks) or "no ticks",
                ticks=len(result.ticks),
                rejected=len(result.rejected),
                buffered=publisher.buffered,
                source=source.name,
            )
        self._report_drops(report.dropped, publisher.buffered)
        outage = publisher.in_outage
        if outage and not self._kafka_outage:
            event(
                log,
                f"Kafka did not acknowledge ticks in time ({publisher.last_error}); "
                f"keeping {publisher.buffered} ticks to resend until it does",
                logging.WARNING,
            )
        elif self._kafka_outage and not outage:
            event(log, f"Kafka is acknowledging again; {publisher.buffered} ticks still buffered")
        self._kafka_outage = outage


def run(
    settings: ProducerSettings,
    stop: threading.Event,
    registry: CollectorRegistry | None = None,
    on_delivered: Callable[[OutgoingRecord], None] | None = None,
) -> int:
    return Producer(settings, stop, registry, on_delivered).run()


def main(settings: ProducerSettings | None = None) -> int:
    settings = settings or ProducerSettings()
    configure("producer", settings.log_level, settings.log_format)
    stop = threading.Event()

    def _on_signal(signum: int, _frame: FrameType | None) -> None:
        event(log, f"received {signal.Signals(signum).name}; flushing and stopping")
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    return run(settings, stop)


if __name__ == "__main__":
    raise SystemExit(main())
