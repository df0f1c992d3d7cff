"""``cryptopulse producer``: poll the market source, publish ticks, log one line per poll."""

from __future__ import annotations

import logging
import signal
import threading
import time
from types import FrameType

from cryptopulse_common.contract import Tick
from cryptopulse_common.logs import configure, event
from cryptopulse_producer.publisher import TickPublisher, connect_producer
from cryptopulse_producer.settings import ProducerSettings
from cryptopulse_producer.sources import build_source

log = logging.getLogger("cryptopulse.producer")


def summary_line(ticks: list[Tick], limit: int = 3) -> str:
    """``✓ BTC $97,123.45 (+1.23%)`` for the first few coins, as the original producer printed."""
    parts = []
    for tick in ticks[:limit]:
        change = tick.price_change_percentage_24h or 0.0
        parts.append(f"✓ {tick.symbol.upper()} ${tick.current_price:,.2f} ({change:+.2f}%)")
    more = f" +{len(ticks) - limit} more" if len(ticks) > limit else ""
    return " ".join(parts) + more


def run(settings: ProducerSettings, stop: threading.Event) -> int:
    source = build_source(settings)
    publisher = TickPublisher(
        connect_producer(
            settings.kafka_bootstrap_servers,
            attempts=settings.producer_connect_attempts,
            backoff_seconds=settings.producer_connect_backoff_seconds,
        )
    )
    polls = 0
    try:
        while not stop.is_set():
            started = time.monotonic()
            try:
                result = source.poll()
            except Exception as exc:  # the loop never dies on a failed poll
                event(log, f"poll failed: {exc}", logging.WARNING, source=source.name)
            else:
                publisher.publish(result.ticks)
                event(
                    log,
                    summary_line(result.ticks),
                    ticks=len(result.ticks),
                    rejected=len(result.rejected),
                    source=source.name,
                )
            polls += 1
            if settings.producer_max_polls and polls >= settings.producer_max_polls:
                break
            next_poll = started + settings.producer_interval_seconds
            stop.wait(max(0.0, next_poll - time.monotonic()))
    finally:
        publisher.flush(timeout=30)
        publisher.close()
        source.close()
        event(log, "producer stopped; all sent ticks flushed", polls=polls)
    return 0


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
