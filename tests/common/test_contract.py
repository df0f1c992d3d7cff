from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from cryptopulse_common.contract import (
    DEFAULT_COIN_IDS,
    TICK_SCHEMA_VERSION,
    TICKS_TOPIC,
    Aggregate,
    IngestRequest,
    Tick,
    format_timestamp,
    parse_timestamp,
    trend_label,
    volatility_label,
)

TICK = {
    "id": "bitcoin",
    "symbol": "btc",
    "name": "Bitcoin",
    "current_price": 97123.45,
    "market_cap": 1.9e12,
    "total_volume": 5.5e10,
    "price_change_percentage_24h": 1.23,
    "high_24h": 98000.0,
    "low_24h": 95000.0,
    "last_updated": "2026-08-10T14:25:20.000Z",
    "observed_at": "2026-08-10T14:25:21.512Z",
}


def test_topic_and_coins_are_the_documented_ones() -> None:
    assert TICKS_TOPIC == "crypto_market_data"
    assert len(DEFAULT_COIN_IDS) == 10
    assert {"bitcoin", "avalanche-2", "chainlink"} <= set(DEFAULT_COIN_IDS)


@pytest.mark.parametrize(
    ("change", "label"),
    [
        (0.0, "Stable"),
        (2.0, "Stable"),
        (-2.01, "Moving"),
        (5.0, "Moving"),
        (9.9, "Volatile"),
        (-10.0, "Volatile"),
        (20.0, "High Volatility"),
        (20.01, "Extreme"),
        (-55.0, "Extreme"),
    ],
)
def test_volatility_bands(change: float, label: str) -> None:
    assert volatility_label(change) == label


@pytest.mark.parametrize(
    ("change", "label"),
    [
        (5.01, "Surging"),
        (5.0, "Rising"),
        (2.01, "Rising"),
        (2.0, "Stable"),
        (-1.99, "Stable"),
        (-2.0, "Falling"),
        (-4.99, "Falling"),
        (-5.0, "Crashing"),
        (-30.0, "Crashing"),
    ],
)
def test_trend_bands(change: float, label: str) -> None:
    assert trend_label(change) == label


def test_timestamps_round_trip_with_milliseconds_and_zone() -> None:
    moment = datetime(2026, 8, 10, 14, 25, 20, 123000, tzinfo=UTC)
    assert format_timestamp(moment) == "2026-08-10T14:25:20.123Z"
    assert parse_timestamp("2026-08-10T14:25:20.123Z") == moment
    assert parse_timestamp("2026-08-10T14:25:20Z") == moment.replace(microsecond=0)
    assert parse_timestamp("2026-08-10T16:25:20+02:00") == moment.replace(microsecond=0)
    with pytest.raises(ValueError, match="no time zone"):
        parse_timestamp("2026-08-10T14:25:20")


def test_tick_wire_form_carries_the_schema_version() -> None:
    wire = Tick.model_validate(TICK).wire()
    assert wire["schema"] == TICK_SCHEMA_VERSION
    assert {key for key in wire if key != "schema"} == set(TICK)


@pytest.mark.parametrize(
    ("field", "value"),
    [("current_price", 0), ("current_price", "abc"), ("id", ""), ("last_updated", "yesterday")],
)
def test_tick_rejects_bad_fields(field: str, value: object) -> None:
    with pytest.raises(ValidationError) as info:
        Tick.model_validate({**TICK, field: value})
    assert field in str(info.value)


def _aggregate() -> dict[str, object]:
    return {
        "coin": "BTC",
        "coin_id": "bitcoin",
        "name": "Bitcoin",
        "price": 2.0,
        "open": 1.0,
        "high": 3.0,
        "low": 1.0,
        "close": 2.0,
        "mean_price": 2.0,
        "samples": 3,
        "change_24h": 1.0,
        "volume_24h": None,
        "market_cap": None,
        "volatility": "Stable",
        "trend": "Stable",
        "window_start": "2026-08-10T14:25:00.000Z",
        "window_end": "2026-08-10T14:25:30.000Z",
        "timestamp": "2026-08-10T14:25:20.000Z",
    }


def test_aggregate_keeps_the_original_dashboard_field_names() -> None:
    original = {
        "coin",
        "coin_id",
        "price",
        "change_24h",
        "volume_24h",
        "volatility",
        "trend",
        "timestamp",
    }
    assert original <= set(Aggregate.model_fields)


def test_ingest_request_forbids_unknown_fields_and_bad_labels() -> None:
    assert IngestRequest.model_validate({"data": [_aggregate()]}).data[0].coin == "BTC"
    with pytest.raises(ValidationError, match="extra"):
        IngestRequest.model_validate({"data": [{**_aggregate(), "surprise": 1}]})
    with pytest.raises(ValidationError, match="volatility"):
        IngestRequest.model_validate({"data": [{**_aggregate(), "volatility": "Calm"}]})
