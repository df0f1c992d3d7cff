"""Producer settings (environment variables and ``cryptopulse producer`` flags)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from cryptopulse_common.contract import DEFAULT_COIN_IDS
from cryptopulse_common.ports import PRODUCER_METRICS_PORT
from cryptopulse_common.settings import CommonSettings

SourceName = Literal["simulate", "coingecko"]


class ProducerSettings(CommonSettings):
    producer_source: SourceName = Field(
        default="simulate",
        description="Market source: simulate (embedded, seeded) or coingecko (live API).",
    )
    producer_coins: str = Field(
        default=",".join(DEFAULT_COIN_IDS),
        description="CoinGecko coin ids to publish, comma separated.",
    )
    producer_interval_seconds: float = Field(
        default=1.0, gt=0, description="Seconds between polls of the source."
    )
    producer_max_polls: int = Field(
        default=0, ge=0, description="Stop after this many polls (0 = run until stopped)."
    )
    producer_connect_attempts: int = Field(
        default=5, ge=1, description="Attempts to reach Kafka at start before giving up."
    )
    producer_connect_backoff_seconds: float = Field(
        default=2.0, ge=0, description="Wait before connect attempt N is N times this."
    )
    producer_metrics_port: int = Field(
        default=PRODUCER_METRICS_PORT, description="Port of the producer's /health and /metrics."
    )
    simulate_seed: int = Field(default=42, description="Seed of the simulated market.")
    simulate_coin_count: int = Field(
        default=0, ge=0, description="Simulate this many coins (0 = the producer_coins list)."
    )
    coingecko_base_url: str = Field(
        default="https://api.coingecko.com/api/v3", description="CoinGecko API base URL."
    )
    coingecko_vs_currency: str = Field(default="usd", description="Quote currency.")
    coingecko_timeout_seconds: float = Field(default=10.0, gt=0, description="HTTP timeout.")

    @property
    def coin_ids(self) -> list[str]:
        return [coin.strip() for coin in self.producer_coins.split(",") if coin.strip()]
