"""The CoinGecko ``/coins/markets`` client: the production market source."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import httpx

from cryptopulse_common.logs import event
from cryptopulse_producer.mapping import RejectedRow, tick_from_market_row
from cryptopulse_producer.sources import PollResult

log = logging.getLogger(__name__)

MAX_IDS_PER_CALL = 250


class CoinGeckoError(RuntimeError):
    pass


class CoinGeckoSource:
    name = "coingecko"

    def __init__(
        self,
        coin_ids: list[str],
        base_url: str,
        vs_currency: str = "usd",
        timeout: float = 10.0,
        client: httpx.Client | None = None,
    ) -> None:
        self._coin_ids = coin_ids
        self._vs_currency = vs_currency
        self._client = client or httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout)

    def _fetch_page(self, ids: list[str]) -> object:
        response = self._client.get(
            "/coins/markets",
            params={
                "vs_currency": self._vs_currency,
                "ids": ",".join(ids),
                "per_page": str(len(ids)),
                "page": "1",
                "price_change_percentage": "24h",
            },
        )
        if response.status_code != 200:
            raise CoinGeckoError(
                f"CoinGecko answered {response.status_code}: {response.text[:200]}"
            )
        return response.json()

    def poll(self) -> PollResult:
        observed_at = datetime.now(UTC)
        result = PollResult()
        for start in range(0, len(self._coin_ids), MAX_IDS_PER_CALL):
            body = self._fetch_page(self._coin_ids[start : start + MAX_IDS_PER_CALL])
            if not isinstance(body, list):
                raise CoinGeckoError(f"CoinGecko body is {type(body).__name__}, not a list")
            for row in body:
                mapped = tick_from_market_row(row, observed_at)
                if isinstance(mapped, RejectedRow):
                    event(
                        log,
                        "skipping bad CoinGecko row",
                        logging.WARNING,
                        coin=mapped.coin_id,
                        reason=mapped.reason,
                    )
                    result.rejected.append(mapped)
                else:
                    result.ticks.append(mapped)
        return result

    def close(self) -> None:
        self._client.close()
