"""A seeded simulated market: correlated geometric Brownian motion per coin.

Each coin follows ``dS = mu S dt + sigma S dW`` with an annualised volatility close to the coin's
real one; the shocks share one market factor (correlation ``rho``), as crypto prices do. The 24h
statistics (change, high, low, volume) come from the simulated path itself: on start the model
generates the preceding 24 hours, so every tick carries them from the first poll.
"""

from __future__ import annotations

import math
import random
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from cryptopulse_common.contract import Tick, format_timestamp

SECONDS_PER_YEAR = 365.25 * 24 * 3600
DAY = timedelta(hours=24)


@dataclass(frozen=True)
class CoinProfile:
    id: str
    symbol: str
    name: str
    price: float
    circulating_supply: float
    annual_volatility: float
    daily_turnover: float  # 24h volume as a fraction of market cap


PROFILES: dict[str, CoinProfile] = {
    p.id: p
    for p in (
        CoinProfile("bitcoin", "btc", "Bitcoin", 97_000.0, 19.8e6, 0.55, 0.03),
        CoinProfile("ethereum", "eth", "Ethereum", 3_400.0, 120.5e6, 0.70, 0.05),
        CoinProfile("binancecoin", "bnb", "BNB", 650.0, 144e6, 0.55, 0.02),
        CoinProfile("solana", "sol", "Solana", 190.0, 480e6, 0.90, 0.06),
        CoinProfile("cardano", "ada", "Cardano", 0.95, 35.5e9, 0.85, 0.04),
        CoinProfile("ripple", "xrp", "XRP", 2.30, 57e9, 0.90, 0.05),
        CoinProfile("polkadot", "dot", "Polkadot", 7.5, 1.5e9, 0.90, 0.04),
        CoinProfile("dogecoin", "doge", "Dogecoin", 0.38, 147e9, 1.00, 0.07),
        CoinProfile("avalanche-2", "avax", "Avalanche", 40.0, 410e6, 0.95, 0.04),
        CoinProfile("chainlink", "link", "Chainlink", 22.0, 630e6, 0.90, 0.04),
    )
}


def profile_for(coin_id: str, index: int, rng: random.Random) -> CoinProfile:
    known = PROFILES.get(coin_id)
    if known is not None:
        return known
    return CoinProfile(
        id=coin_id,
        symbol=f"c{index}",
        name=f"Coin {index}",
        price=round(10 ** rng.uniform(-2, 3), 4),
        circulating_supply=10 ** rng.uniform(7, 10),
        annual_volatility=rng.uniform(0.5, 1.2),
        daily_turnover=rng.uniform(0.02, 0.08),
    )


def coin_ids_for(count: int, listed: list[str]) -> list[str]:
    """``count`` coin ids: the listed ones first, then synthetic ``sim-coin-N`` ids."""
    ids = list(listed[:count]) if count else list(listed)
    ids += [f"sim-coin-{n}" for n in range(len(ids) + 1, count + 1)]
    return ids


HISTORY_BUCKET = timedelta(minutes=1)


@dataclass
class _Bucket:
    start: datetime
    first: float
    high: float
    low: float


@dataclass
class _CoinState:
    """Current price plus one-minute buckets of the last 24 hours (for the 24h statistics).

    The extremes of the closed buckets (all but the newest) are kept up to date as buckets close
    and expire, so a poll costs O(1) per coin instead of a scan of 1440 buckets.
    """

    profile: CoinProfile
    price: float
    history: deque[_Bucket] = field(default_factory=deque)
    closed_high: float = -math.inf
    closed_low: float = math.inf

    def record(self, moment: datetime) -> None:
        last = self.history[-1] if self.history else None
        if last is not None and moment - last.start < HISTORY_BUCKET:
            last.high = max(last.high, self.price)
            last.low = min(last.low, self.price)
        else:
            if last is not None:  # the newest bucket closes
                self.closed_high = max(self.closed_high, last.high)
                self.closed_low = min(self.closed_low, last.low)
            self.history.append(_Bucket(moment, self.price, self.price, self.price))
        cutoff = moment - DAY
        stale = False
        while self.history and self.history[0].start < cutoff:
            gone = self.history.popleft()
            stale = stale or gone.high >= self.closed_high or gone.low <= self.closed_low
        if stale:
            closed = list(self.history)[:-1]
            self.closed_high = max((bucket.high for bucket in closed), default=-math.inf)
            self.closed_low = min((bucket.low for bucket in closed), default=math.inf)

    @property
    def high(self) -> float:
        return max(self.closed_high, self.history[-1].high)

    @property
    def low(self) -> float:
        return min(self.closed_low, self.history[-1].low)


class SimulatedMarket:
    """Call :meth:`poll` to advance the market to ``now`` and get one tick per coin."""

    def __init__(
        self,
        coin_ids: list[str],
        seed: int = 42,
        correlation: float = 0.6,
        drift: float = 0.0,
        start: datetime | None = None,
        history_step: timedelta = timedelta(minutes=5),
    ) -> None:
        self._rng = random.Random(seed)
        self._rho = correlation
        self._mu = drift
        now = start or datetime.now(UTC)
        self._coins = [
            _CoinState(profile_for(coin_id, i + 1, self._rng), 0.0)
            for i, coin_id in enumerate(coin_ids)
        ]
        for coin in self._coins:
            coin.price = coin.profile.price
        self._now = now - DAY
        steps = int(DAY / history_step)
        for _ in range(steps):
            self._step(self._now + history_step)
        self._now = now

    @property
    def coin_count(self) -> int:
        return len(self._coins)

    def _step(self, to: datetime) -> None:
        dt = max((to - self._now).total_seconds(), 0.0) / SECONDS_PER_YEAR
        market_shock = self._rng.gauss(0.0, 1.0)
        idio_weight = math.sqrt(1.0 - self._rho**2)
        for coin in self._coins:
            sigma = coin.profile.annual_volatility
            shock = self._rho * market_shock + idio_weight * self._rng.gauss(0.0, 1.0)
            coin.price *= math.exp((self._mu - 0.5 * sigma**2) * dt + sigma * math.sqrt(dt) * shock)
            coin.record(to)
        self._now = to

    def _advance(self, now: datetime | None) -> datetime:
        moment = now or datetime.now(UTC)
        if moment <= self._now:
            moment = self._now + timedelta(milliseconds=1)
        self._step(moment)
        return moment

    def _quotes(self, moment: datetime) -> list[_Quote]:
        jitter = 1.0 + 0.1 * math.sin(moment.timestamp() / 3600.0)
        quotes = []
        for coin in self._coins:
            opening = coin.history[0].first
            market_cap = coin.price * coin.profile.circulating_supply
            quotes.append(
                _Quote(
                    profile=coin.profile,
                    price=_round_price(coin.price),
                    opening=opening,
                    market_cap=round(market_cap),
                    total_volume=round(market_cap * coin.profile.daily_turnover * jitter),
                    change_pct=round((coin.price / opening - 1.0) * 100.0, 5),
                    high=_round_price(coin.high),
                    low=_round_price(coin.low),
                )
            )
        return quotes

    def poll(self, now: datetime | None = None) -> list[Tick]:
        """Advance to ``now`` and return one contract tick per coin (the fast path)."""
        moment = self._advance(now)
        stamp = format_timestamp(moment)
        return [
            Tick(
                id=quote.profile.id,
                symbol=quote.profile.symbol,
                name=quote.profile.name,
                current_price=quote.price,
                market_cap=quote.market_cap,
                total_volume=quote.total_volume,
                price_change_percentage_24h=quote.change_pct,
                high_24h=quote.high,
                low_24h=quote.low,
                last_updated=stamp,
                observed_at=stamp,
            )
            for quote in self._quotes(moment)
        ]

    def poll_rows(self, now: datetime | None = None) -> list[dict[str, object]]:
        """Advance to ``now`` and return the market as CoinGecko's ``/coins/markets`` rows.

        Every documented field is present (ranked by market cap, as CoinGecko orders them), with
        ``price_change_percentage_24h_in_currency`` as when ``price_change_percentage=24h`` is
        asked for; the simulator has no all-time history, so ``ath``/``atl`` are its 24h extremes.
        """
        moment = self._advance(now)
        stamp = format_timestamp(moment)
        quotes = sorted(self._quotes(moment), key=lambda quote: -quote.market_cap)
        rows: list[dict[str, object]] = []
        for rank, quote in enumerate(quotes, start=1):
            profile = quote.profile
            cap_open = quote.opening * profile.circulating_supply
            rows.append(
                {
                    "id": profile.id,
                    "symbol": profile.symbol,
                    "name": profile.name,
                    "image": f"https://coin-images.coingecko.com/coins/images/{rank}/large/"
                    f"{profile.id}.png",
                    "current_price": quote.price,
                    "market_cap": quote.market_cap,
                    "market_cap_rank": rank,
                    "fully_diluted_valuation": quote.market_cap,
                    "total_volume": quote.total_volume,
                    "high_24h": quote.high,
                    "low_24h": quote.low,
                    "price_change_24h": round(quote.price - quote.opening, 8),
                    "price_change_percentage_24h": quote.change_pct,
                    "market_cap_change_24h": round(quote.market_cap - cap_open, 2),
                    "market_cap_change_percentage_24h": quote.change_pct,
                    "circulating_supply": profile.circulating_supply,
                    "total_supply": profile.circulating_supply,
                    "max_supply": None,
                    "ath": quote.high,
                    "ath_change_percentage": round((quote.price / quote.high - 1.0) * 100, 5),
                    "ath_date": stamp,
                    "atl": quote.low,
                    "atl_change_percentage": round((quote.price / quote.low - 1.0) * 100, 5),
                    "atl_date": stamp,
                    "roi": None,
                    "last_updated": stamp,
                    "price_change_percentage_24h_in_currency": quote.change_pct,
                }
            )
        return rows


@dataclass(frozen=True)
class _Quote:
    profile: CoinProfile
    price: float
    opening: float
    market_cap: int
    total_volume: int
    change_pct: float
    high: float
    low: float


def _round_price(price: float) -> float:
    """Round like CoinGecko: about 6 significant digits, never to zero."""
    if price <= 0:
        return price
    digits = max(2, 6 - math.floor(math.log10(price)) - 1)
    return round(price, digits)
