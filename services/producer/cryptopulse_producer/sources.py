"""The market sources the producer can poll, behind one small interface."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from cryptopulse_common.contract import Tick
from cryptopulse_producer.mapping import RejectedRow
from cryptopulse_producer.settings import ProducerSettings


@dataclass
class PollResult:
    ticks: list[Tick] = field(default_factory=list)
    rejected: list[RejectedRow] = field(default_factory=list)


class MarketSource(Protocol):
    name: str

    def poll(self) -> PollResult: ...

    def close(self) -> None: ...


class SimulatedSource:
    name = "simulate"

    def __init__(self, settings: ProducerSettings) -> None:
        from cryptopulse_producer.simulate import SimulatedMarket, coin_ids_for

        ids = coin_ids_for(settings.simulate_coin_count, settings.coin_ids)
        self._market = SimulatedMarket(ids, seed=settings.simulate_seed)

    def poll(self) -> PollResult:
        return PollResult(ticks=self._market.poll())

    def close(self) -> None:
        return None


def build_source(settings: ProducerSettings) -> MarketSource:
    if settings.producer_source == "simulate":
        return SimulatedSource(settings)
    from cryptopulse_producer.coingecko import CoinGeckoSource

    return CoinGeckoSource(
        settings.coin_ids,
        base_url=settings.coingecko_base_url,
        vs_currency=settings.coingecko_vs_currency,
        timeout=settings.coingecko_timeout_seconds,
    )
