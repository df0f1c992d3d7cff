from __future__ import annotations

from datetime import UTC, datetime

from cryptopulse_common.contract import Tick
from cryptopulse_producer.main import summary_line
from cryptopulse_producer.mapping import RejectedRow, tick_from_market_row

OBSERVED = datetime(2026, 8, 10, 14, 25, 21, 500000, tzinfo=UTC)

# A row as CoinGecko documents /coins/markets (extra fields are ignored).
ROW = {
    "id": "bitcoin",
    "symbol": "btc",
    "name": "Bitcoin",
    "image": "https://assets.coingecko.com/coins/images/1/large/bitcoin.png",
    "current_price": 97123.45,
    "market_cap": 1923456789012,
    "market_cap_rank": 1,
    "total_volume": 45678901234,
    "high_24h": 98000.1,
    "low_24h": 95000.2,
    "price_change_24h": 1180.5,
    "price_change_percentage_24h": 1.23,
    "circulating_supply": 19800000.0,
    "ath": 108000.0,
    "roi": None,
    "last_updated": "2026-08-10T14:25:20.000Z",
}


def test_documented_row_maps_to_a_tick() -> None:
    tick = tick_from_market_row(ROW, OBSERVED)
    assert isinstance(tick, Tick)
    assert tick.id == "bitcoin"
    assert tick.current_price == 97123.45
    assert tick.last_updated == "2026-08-10T14:25:20.000Z"
    assert tick.observed_at == "2026-08-10T14:25:21.500Z"
    assert tick.market_cap == 1923456789012


def test_missing_price_is_rejected_with_the_reason() -> None:
    row = {key: value for key, value in ROW.items() if key != "current_price"}
    rejected = tick_from_market_row(row, OBSERVED)
    assert isinstance(rejected, RejectedRow)
    assert rejected.coin_id == "bitcoin"
    assert rejected.reason == "missing_field"
    assert "current_price" in rejected.detail


def test_wrong_types_and_non_objects_are_rejected() -> None:
    assert isinstance(tick_from_market_row({**ROW, "current_price": "lots"}, OBSERVED), RejectedRow)
    assert isinstance(tick_from_market_row({**ROW, "last_updated": None}, OBSERVED), RejectedRow)
    rejected = tick_from_market_row(["bitcoin"], OBSERVED)
    assert isinstance(rejected, RejectedRow)
    assert rejected.reason == "not_json"
    assert "not an object" in rejected.detail


def test_null_optional_fields_are_kept_as_null() -> None:
    tick = tick_from_market_row({**ROW, "market_cap": None, "high_24h": None}, OBSERVED)
    assert isinstance(tick, Tick)
    assert tick.market_cap is None
    assert tick.high_24h is None


def test_summary_line_reads_like_the_original_producer() -> None:
    tick = tick_from_market_row(ROW, OBSERVED)
    assert isinstance(tick, Tick)
    assert summary_line([tick]) == "✓ BTC $97,123.45 (+1.23%)"
