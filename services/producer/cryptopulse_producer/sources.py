"""The market sources the producer can poll, behind one small interface."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from cryptopulse_common.contract import Tick
from cryptopulse_producer.mapping import RejectedRow
from cryptopulse_producer.metrics import ProducerMetrics
from cryptopulse_producer.settings import ProducerSettings


@dataclass
class PollResult:
    ticks: list[Tick] = field(default_factory=list)
    rejected: list[RejectedRow] = field(default_factory=list)
    # What went wrong with parts of the poll that produced nothing (a failed page, a bad body).
    errors: list[str] = field(default_factory=list)
    # Seconds until the source wants to be polled again (None = the configured interval).
    next_poll_in: float | None = None
    # The source has nothing more to give (the end of a recording): the producer stops.
    finished: bool = False


class PollInterruptedError(Exception):
    """The producer is stopping: a wait inside a poll was cut short."""


class MarketSource(Protocol):
    name: str

    def poll(self) -> PollResult: ...

    def close(self) -> None: ...


# Waits inside a source return True when the producer is stopping (``threading.Event.wait``).
Waiter = Callable[[float], bool]


class SimulatedSource:
    name = "simulate"

    def __init__(self, settings: ProducerSettings, metrics: ProducerMetrics) -> None:
        from cryptopulse_producer.simulate import SimulatedMarket, coin_ids_for

        ids = coin_ids_for(settings.simulate_coin_count, settings.coin_ids)
        self._market = SimulatedMarket(ids, seed=settings.simulate_seed)
        self._metrics = metrics

    def poll(self) -> PollResult:
        started = time.perf_counter()
        ticks = self._market.poll()
        self._metrics.fetch_duration.observe(time.perf_counter() - started)
        self._metrics.fetches.labels("ok").inc()
        return PollResult(ticks=ticks)

    def close(self) -> None:
        return None


def build_source(
    settings: ProducerSettings, metrics: ProducerMetrics, stop: threading.Event
) -> MarketSource:
    """The source ``settings.producer_source`` names; its waits end early once ``stop`` is set."""
    if settings.producer_source == "simulate":
        return SimulatedSource(settings, metrics)
    if settings.producer_source == "replay":
        from cryptopulse_producer.replay import ReplaySource

        return ReplaySource.from_settings(settings, metrics)
    from cryptopulse_producer.coingecko import CoinGeckoSource

    return CoinGeckoSource.from_settings(settings, metrics, wait=stop.wait)
