from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cryptopulse_common.contract import Tick
from cryptopulse_producer.main import summary_line
from cryptopulse_producer.mapping import (
    RejectedRow,
    loads_market_json,
    tick_from_market_row,
    ticks_from_markets_body,
)

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


def test_a_bare_nan_costs_only_its_own_row() -> None:
    """A body with ``"current_price": NaN`` is not JSON (polygon-io/issues#226 shows sources
    sending it); the other rows still become ticks and that row is refused as non-finite."""
    body = (
        b'[{"id":"bitcoin","symbol":"btc","name":"Bitcoin","current_price":NaN,'
        b'"last_updated":"2026-08-10T14:25:20.000Z"},'
        b'{"id":"ethereum","symbol":"eth","name":"Ethereum","current_price":3400.5,'
        b'"last_updated":"2026-08-10T14:25:20.000Z"},'
        b'{"id":"solana","symbol":"sol","name":"Solana","current_price":1e999,'
        b'"last_updated":"2026-08-10T14:25:20.000Z"},'
        b'{"id":"cardano","symbol":"ada","name":"Cardano","current_price":0.9,'
        b'"market_cap":-Infinity,"last_updated":"2026-08-10T14:25:20.000Z"}]'
    )
    mapped = ticks_from_markets_body(loads_market_json(body), OBSERVED)
    assert [tick.id for tick in mapped.ticks] == ["ethereum"]
    assert [(row.coin_id, row.reason) for row in mapped.rejected] == [
        ("bitcoin", "non_finite_number"),
        ("solana", "non_finite_number"),
        ("cardano", "non_finite_number"),
    ]
    assert "current_price" in mapped.rejected[0].detail
    with pytest.raises(ValueError, match="delimiter"):
        loads_market_json(b'[{"id": "bitcoin", "current_price": 97123.4')


def test_a_source_time_ahead_of_the_observation_is_refused_a_lagging_one_kept() -> None:
    ahead = tick_from_market_row({**ROW, "last_updated": "2026-08-11T14:25:20.000Z"}, OBSERVED)
    assert isinstance(ahead, RejectedRow)
    assert ahead.reason == "source_time_ahead"
    assert "ahead of observed_at" in ahead.detail
    lagging = tick_from_market_row({**ROW, "last_updated": "2026-08-10T14:23:21.000Z"}, OBSERVED)
    assert isinstance(lagging, Tick)
    assert lagging.observed_at == "2026-08-10T14:25:21.500Z"  # the event time
    tight = tick_from_market_row(
        {**ROW, "last_updated": "2026-08-10T14:25:30.000Z"}, OBSERVED, max_skew_seconds=5
    )
    assert isinstance(tight, RejectedRow)


def test_summary_line_keeps_tiny_prices_and_unknown_changes() -> None:
    """The issue's fourth input: a new listing at 1.234e-08 with no 24 h change."""
    listing = tick_from_market_row(
        {
            **ROW,
            "id": "new-listing",
            "symbol": "new",
            "current_price": 1.234e-8,
            "price_change_percentage_24h": None,
        },
        OBSERVED,
    )
    assert isinstance(listing, Tick)
    assert summary_line([listing]) == "✓ NEW $0.00000001234 (—)"
