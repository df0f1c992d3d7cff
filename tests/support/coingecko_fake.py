"""A local CoinGecko: ``GET /api/v3/coins/markets`` as CoinGecko documents it, on real uvicorn.

It answers from a small deterministic market of its own (not the producer's simulator, so the
producer's mapping is checked against an independent source), with the documented row shape,
parameters (``vs_currency`` required; ``ids``; ``per_page`` 1-250; ``page``;
``price_change_percentage``), ordering (market cap, descending), pagination and keys (demo key in
``x-cg-demo-api-key`` on the public root, pro key in ``x-cg-pro-api-key`` on the pro root; the
query-string forms too). Tests script failures with :meth:`FakeCoinGecko.script`: each scripted
:class:`Reply` answers one request, in order; then the normal answers resume. Every request is
kept in :attr:`FakeCoinGecko.requests` for assertions.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import orjson
from fastapi import FastAPI, Request, Response

from tests.support.servers import running_server

API_PREFIX = "/api/v3"
MAX_PER_PAGE = 250
Plan = Literal["demo", "pro"]
KEY_HEADERS: dict[Plan, str] = {"demo": "x-cg-demo-api-key", "pro": "x-cg-pro-api-key"}
KEY_PARAMS: dict[Plan, str] = {"demo": "x_cg_demo_api_key", "pro": "x_cg_pro_api_key"}
PRICE_CHANGE_WINDOWS = ("1h", "24h", "7d", "14d", "30d", "200d", "1y")
VS_CURRENCIES = ("usd", "eur", "gbp", "jpy", "btc", "eth")

# The documented fields of one /coins/markets row, in CoinGecko's order.
DOCUMENTED_ROW_FIELDS = (
    "id",
    "symbol",
    "name",
    "image",
    "current_price",
    "market_cap",
    "market_cap_rank",
    "fully_diluted_valuation",
    "total_volume",
    "high_24h",
    "low_24h",
    "price_change_24h",
    "price_change_percentage_24h",
    "market_cap_change_24h",
    "market_cap_change_percentage_24h",
    "circulating_supply",
    "total_supply",
    "max_supply",
    "ath",
    "ath_change_percentage",
    "ath_date",
    "atl",
    "atl_change_percentage",
    "atl_date",
    "roi",
    "last_updated",
)


@dataclass(frozen=True)
class Coin:
    id: str
    symbol: str
    name: str
    price: float
    supply: float
    max_supply: float | None = None


COINS: tuple[Coin, ...] = (
    Coin("bitcoin", "btc", "Bitcoin", 97_123.45, 19_800_000, 21_000_000),
    Coin("ethereum", "eth", "Ethereum", 3_412.7, 120_500_000),
    Coin("binancecoin", "bnb", "BNB", 652.1, 144_000_000, 200_000_000),
    Coin("solana", "sol", "Solana", 189.42, 480_000_000),
    Coin("ripple", "xrp", "XRP", 2.31, 57_000_000_000, 100_000_000_000),
    Coin("cardano", "ada", "Cardano", 0.951, 35_500_000_000, 45_000_000_000),
    Coin("dogecoin", "doge", "Dogecoin", 0.3812, 147_000_000_000),
    Coin("avalanche-2", "avax", "Avalanche", 40.12, 410_000_000, 720_000_000),
    Coin("chainlink", "link", "Chainlink", 22.05, 630_000_000, 1_000_000_000),
    Coin("polkadot", "dot", "Polkadot", 7.49, 1_500_000_000),
)


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def documented_row(coin: Coin, rank: int, tick: int, now: datetime) -> dict[str, Any]:
    """One row as in CoinGecko's documented example, its price moved a little per request."""
    price = round(coin.price * (1 + 0.0005 * ((tick % 7) - 3)), 6)
    market_cap = round(price * coin.supply)
    change = round(price - coin.price * 0.99, 6)
    return {
        "id": coin.id,
        "symbol": coin.symbol,
        "name": coin.name,
        "image": f"https://coin-images.coingecko.com/coins/images/{rank}/large/{coin.id}.png",
        "current_price": price,
        "market_cap": market_cap,
        "market_cap_rank": rank,
        "fully_diluted_valuation": round(price * (coin.max_supply or coin.supply)),
        "total_volume": round(market_cap * 0.04),
        "high_24h": round(price * 1.02, 6),
        "low_24h": round(price * 0.97, 6),
        "price_change_24h": change,
        "price_change_percentage_24h": round(change / (coin.price * 0.99) * 100, 5),
        "market_cap_change_24h": round(change * coin.supply, 2),
        "market_cap_change_percentage_24h": round(change / (coin.price * 0.99) * 100, 5),
        "circulating_supply": coin.supply,
        "total_supply": coin.max_supply or coin.supply,
        "max_supply": coin.max_supply,
        "ath": round(coin.price * 1.15, 6),
        "ath_change_percentage": round((price / (coin.price * 1.15) - 1) * 100, 5),
        "ath_date": "2025-12-17T15:20:12.446Z",
        "atl": round(coin.price * 0.001, 8),
        "atl_change_percentage": round((price / (coin.price * 0.001) - 1) * 100, 3),
        "atl_date": "2015-10-20T00:00:00.000Z",
        "roi": None,
        "last_updated": stamp(now),
    }


def _spoil(rows: list[dict[str, Any]]) -> list[Any]:
    rows[0] = {k: v for k, v in rows[0].items() if k != "current_price"}  # missing price
    rows[1] = {k: v for k, v in rows[1].items() if k != "id"}  # missing id
    rows[2] = {**rows[2], "current_price": "3412.7"}  # a string, not a number
    rows[3] = {**rows[3], "last_updated": 1754835920}  # a number, not ISO 8601
    rows[4] = {**rows[4], "current_price": -1}  # impossible
    return [*rows, "bitcoin", None]


@dataclass(frozen=True)
class Reply:
    """One scripted answer. ``body=None`` means the normal market rows (after ``rows``)."""

    status: int = 200
    body: object = None
    raw: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay_seconds: float = 0.0
    rows: Callable[[list[dict[str, Any]]], list[Any]] | None = None

    @classmethod
    def rate_limited(cls, retry_after: str | None = None, reset: str | None = None) -> Reply:
        headers = {"x-ratelimit-limit": "30", "x-ratelimit-remaining": "0"}
        if retry_after is not None:
            headers["retry-after"] = retry_after
        if reset is not None:
            headers["x-ratelimit-reset"] = reset
        body = {
            "status": {
                "error_code": 429,
                "error_message": "You've exceeded the Rate Limit. Please visit "
                "https://www.coingecko.com/en/api/pricing to subscribe to our API plans for "
                "higher rate limits.",
            }
        }
        return cls(status=429, body=body, headers=headers)

    @classmethod
    def server_error(cls, status: int = 500) -> Reply:
        return cls(status=status, body={"error": "Internal Server Error"})

    @classmethod
    def slow(cls, seconds: float) -> Reply:
        return cls(delay_seconds=seconds)

    @classmethod
    def malformed_json(cls) -> Reply:
        return cls(raw=b'[{"id": "bitcoin", "current_price": 97123.4')

    @classmethod
    def spoiled(cls) -> Reply:
        """The normal rows, five of them broken as a faulty upstream breaks them, plus two
        entries that are not rows at all: seven rejections, the other rows intact."""
        return cls(rows=_spoil)

    @classmethod
    def with_rows(cls, change: Callable[[list[dict[str, Any]]], list[Any]]) -> Reply:
        return cls(rows=change)


@dataclass(frozen=True)
class SeenRequest:
    path: str
    params: dict[str, str]
    headers: dict[str, str]


class FakeCoinGecko:
    def __init__(
        self,
        key: str | None = None,
        plan: Plan = "demo",
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.key = key
        self.plan = plan
        self.clock = clock  # CoinGecko's clock: each row's last_updated
        self.requests: list[SeenRequest] = []
        self.served_rows: list[dict[str, Any]] = []  # every row of every 200 answer
        self._script: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._ticks = 0
        self.app = self._build_app()

    def script(self, *replies: Reply) -> None:
        with self._lock:
            self._script.extend(replies)

    def clear(self) -> None:
        """Drop the scripted replies not answered yet: normal answers from now on."""
        with self._lock:
            self._script.clear()

    @property
    def scripted_left(self) -> int:
        with self._lock:
            return len(self._script)

    def market_requests(self) -> list[SeenRequest]:
        with self._lock:
            return [seen for seen in self.requests if seen.path.endswith("/coins/markets")]

    def _record(self, request: Request) -> None:
        with self._lock:
            self.requests.append(
                SeenRequest(
                    request.url.path,
                    dict(request.query_params),
                    {name.lower(): value for name, value in request.headers.items()},
                )
            )

    def _next(self) -> tuple[Reply | None, int]:
        with self._lock:
            self._ticks += 1
            return (self._script.popleft() if self._script else None), self._ticks

    def _refusal(self, request: Request) -> Response | None:
        """CoinGecko's answers to a missing or misplaced key (error codes 10002/10010/10011)."""
        if self.key is None:
            return None
        other: Plan = "pro" if self.plan == "demo" else "demo"
        given = request.headers.get(KEY_HEADERS[self.plan]) or request.query_params.get(
            KEY_PARAMS[self.plan]
        )
        if given == self.key:
            return None
        if request.headers.get(KEY_HEADERS[other]) or request.query_params.get(KEY_PARAMS[other]):
            code, message = (
                (
                    10010,
                    "If you are using Pro API key, please change your root URL from "
                    "api.coingecko.com to pro-api.coingecko.com",
                )
                if other == "pro"
                else (
                    10011,
                    "If you are using Demo API key, please change your root URL from "
                    "pro-api.coingecko.com to api.coingecko.com",
                )
            )
        elif given:
            code, message = 10002, "Invalid API Key"
        else:
            code, message = 10002, "API Key Missing"
        body = {"status": {"error_code": code, "error_message": message}}
        return _json(401, body)

    def _markets(self, params: dict[str, str], tick: int) -> tuple[int, object]:
        vs_currency = params.get("vs_currency")
        if not vs_currency:
            return 400, {"error": "Missing parameter vs_currency"}
        if vs_currency.lower() not in VS_CURRENCIES:
            return 400, {"error": "invalid vs_currency"}
        try:
            per_page = int(params.get("per_page", "100"))
            page = int(params.get("page", "1"))
        except ValueError:
            return 400, {"error": "invalid per_page or page"}
        if not 1 <= per_page <= MAX_PER_PAGE or page < 1:
            return 400, {"error": f"per_page must be 1 to {MAX_PER_PAGE}, page at least 1"}
        windows = [w for w in params.get("price_change_percentage", "").split(",") if w]
        if any(window not in PRICE_CHANGE_WINDOWS for window in windows):
            return 400, {"error": "invalid price_change_percentage"}
        coins = list(COINS)
        if params.get("ids"):
            wanted = {coin_id.strip() for coin_id in params["ids"].split(",")}
            coins = [coin for coin in coins if coin.id in wanted]
        now = self.clock()
        rows = [documented_row(coin, rank, tick, now) for rank, coin in enumerate(coins, 1)]
        rows.sort(key=lambda row: -row["market_cap"])
        for rank, row in enumerate(rows, 1):
            row["market_cap_rank"] = rank
            for window in windows:
                row[f"price_change_percentage_{window}_in_currency"] = row[
                    "price_change_percentage_24h"
                ]
        return 200, rows[(page - 1) * per_page : page * per_page]

    def _build_app(self) -> FastAPI:
        app = FastAPI()

        @app.get(f"{API_PREFIX}/ping")
        async def ping() -> Response:
            return _json(200, {"gecko_says": "(V3) To the Moon!"})

        @app.get(f"{API_PREFIX}/coins/markets")
        async def markets(request: Request) -> Response:
            self._record(request)
            refusal = self._refusal(request)
            if refusal is not None:
                return refusal
            reply, tick = self._next()
            if reply is not None and reply.delay_seconds:
                await asyncio.sleep(reply.delay_seconds)
            if reply is not None and reply.raw is not None:
                return Response(reply.raw, reply.status, reply.headers, "application/json")
            if reply is not None and reply.status != 200:
                return _json(reply.status, reply.body, reply.headers)
            status, body = self._markets(dict(request.query_params), tick)
            if reply is not None and status == 200:
                if reply.body is not None:
                    body = reply.body
                elif reply.rows is not None:
                    assert isinstance(body, list)
                    body = reply.rows(body)
            if status == 200 and isinstance(body, list):
                with self._lock:
                    self.served_rows += [row for row in body if isinstance(row, dict)]
            return _json(status, body, reply.headers if reply else None)

        return app


def _json(status: int, body: object, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status, headers or {}, "application/json")


@contextmanager
def running_coingecko(fake: FakeCoinGecko) -> Iterator[str]:
    """Serve ``fake`` on a free port; yields its API root (``http://127.0.0.1:N/api/v3``)."""
    with running_server(fake.app) as url:
        yield url + API_PREFIX
