"""The stream job's transforms on a real local SparkSession."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from pyspark.sql import Row
from pyspark.testing import assertDataFrameEqual

from cryptopulse_common.contract import Aggregate, trend_label, volatility_label
from cryptopulse_stream.transforms import (
    AGGREGATE_COLUMNS,
    classify_ticks,
    parse_ticks,
    window_aggregates,
)

pytestmark = pytest.mark.spark


def tick(coin: str, price: float, at: str, change: float = 1.0, **extra: Any) -> dict[str, Any]:
    return {
        "schema": 1,
        "id": coin,
        "symbol": coin[:3],
        "name": coin.title(),
        "current_price": price,
        "market_cap": price * 1000,
        "total_volume": price * 10,
        "price_change_percentage_24h": change,
        "high_24h": None,
        "low_24h": None,
        "last_updated": at,
        "observed_at": at,
        **extra,
    }


def kafka_rows(spark: Any, values: list[Any]) -> Any:
    encoded = [
        Row(value=value if isinstance(value, bytes) else orjson.dumps(value)) for value in values
    ]
    return spark.createDataFrame(encoded, "value binary")


def test_parse_keeps_well_formed_ticks_with_millisecond_event_time(spark: Any) -> None:
    raw = kafka_rows(
        spark,
        [
            tick("bitcoin", 100.0, "2026-08-10T14:25:20.123Z"),
            tick("ethereum", 10.0, "2026-08-10T14:25:20Z"),
            tick("solana", 5.0, "2026-08-10T16:25:20+02:00"),
        ],
    )
    rows = parse_ticks(raw).orderBy("id").select("id", "event_time").collect()
    stamps = {row.id: row.event_time.isoformat() for row in rows}
    assert stamps == {
        "bitcoin": "2026-08-10T14:25:20.123000",
        "ethereum": "2026-08-10T14:25:20",
        "solana": "2026-08-10T14:25:20",
    }


def test_malformed_messages_are_classified_with_the_reason(spark: Any) -> None:
    good = tick("bitcoin", 1.0, "2026-08-10T14:25:20Z")
    cases = [
        (b"not json at all", "not_json", "not a JSON object"),
        ({**good, "current_price": "cheap"}, "wrong_type", "do not match the tick schema"),
        ({**good, "schema": 99}, "unknown_schema_version", "schema version 99 is not 1"),
        ({key: v for key, v in good.items() if key != "id"}, "missing_field", "id"),
        (
            {key: v for key, v in good.items() if key != "current_price"},
            "missing_field",
            "current_price",
        ),
        ({**good, "current_price": -1.0}, "out_of_range", "current_price: -1.0 is outside (0,"),
        (
            {key: v for key, v in good.items() if key != "last_updated"},
            "missing_field",
            "last_updated",
        ),
        ({**good, "last_updated": "yesterday"}, "bad_timestamp", "last_updated: yesterday is"),
        (
            {**good, "last_updated": "2026-08-10T14:25:20"},
            "bad_timestamp",
            "not an ISO 8601 timestamp with a time zone",
        ),
        ({**good, "observed_at": "14:25"}, "bad_timestamp", "observed_at: 14:25"),
        ({**good, "id": " \t"}, "missing_field", "id: is blank"),
        (good, None, None),
        ({key: v for key, v in good.items() if key != "schema"}, None, None),
    ]
    rows = classify_ticks(kafka_rows(spark, [value for value, _, _ in cases])).collect()
    assert [row.reason for row in rows] == [reason for _, reason, _ in cases]
    for row, (_, _, words) in zip(rows, cases, strict=True):
        assert (row.detail is None) if words is None else (words in row.detail), row.detail
    assert parse_ticks(kafka_rows(spark, [value for value, _, _ in cases])).count() == 2


def test_window_aggregates_ohlc_and_labels(spark: Any) -> None:
    raw = kafka_rows(
        spark,
        [
            tick("bitcoin", 101.0, "2026-08-10T14:25:01.000Z", change=1.0),
            tick("bitcoin", 105.0, "2026-08-10T14:25:10.500Z", change=3.0),
            tick("bitcoin", 99.0, "2026-08-10T14:25:20.000Z", change=-2.5),
            tick("bitcoin", 102.0, "2026-08-10T14:25:29.999Z", change=-6.0),
            tick("bitcoin", 200.0, "2026-08-10T14:25:30.000Z", change=25.0),
            tick("ethereum", 10.0, "2026-08-10T14:25:05.000Z", change=12.0),
        ],
    )
    result = window_aggregates(parse_ticks(raw), window_seconds=30)
    assert result.columns == list(AGGREGATE_COLUMNS)
    expected = [
        Row(
            coin="BIT",
            coin_id="bitcoin",
            name="Bitcoin",
            price=102.0,
            open=101.0,
            high=105.0,
            low=99.0,
            close=102.0,
            mean_price=101.75,
            samples=4,
            change_24h=-6.0,
            volume_24h=1020.0,
            market_cap=102000.0,
            volatility="Volatile",
            trend="Crashing",
            window_start="2026-08-10T14:25:00.000Z",
            window_end="2026-08-10T14:25:30.000Z",
            timestamp="2026-08-10T14:25:29.999Z",
            last_updated="2026-08-10T14:25:29.999Z",
        ),
        Row(
            coin="BIT",
            coin_id="bitcoin",
            name="Bitcoin",
            price=200.0,
            open=200.0,
            high=200.0,
            low=200.0,
            close=200.0,
            mean_price=200.0,
            samples=1,
            change_24h=25.0,
            volume_24h=2000.0,
            market_cap=200000.0,
            volatility="Extreme",
            trend="Surging",
            window_start="2026-08-10T14:25:30.000Z",
            window_end="2026-08-10T14:26:00.000Z",
            timestamp="2026-08-10T14:25:30.000Z",
            last_updated="2026-08-10T14:25:30.000Z",
        ),
        Row(
            coin="ETH",
            coin_id="ethereum",
            name="Ethereum",
            price=10.0,
            open=10.0,
            high=10.0,
            low=10.0,
            close=10.0,
            mean_price=10.0,
            samples=1,
            change_24h=12.0,
            volume_24h=100.0,
            market_cap=10000.0,
            volatility="High Volatility",
            trend="Surging",
            window_start="2026-08-10T14:25:00.000Z",
            window_end="2026-08-10T14:25:30.000Z",
            timestamp="2026-08-10T14:25:05.000Z",
            last_updated="2026-08-10T14:25:05.000Z",
        ),
    ]
    assertDataFrameEqual(result, spark.createDataFrame(expected, result.schema))
    for row in result.collect():
        Aggregate.model_validate(row.asDict())


@pytest.mark.parametrize("change", [-25.0, -7.5, -3.0, -2.0, 0.0, 2.0, 2.5, 5.0, 5.5, 15.0, 21.0])
def test_spark_labels_match_the_contract(spark: Any, change: float) -> None:
    raw = kafka_rows(spark, [tick("bitcoin", 1.0, "2026-08-10T14:25:01Z", change=change)])
    row = window_aggregates(parse_ticks(raw), window_seconds=30).collect()[0]
    assert (row.volatility, row.trend) == (volatility_label(change), trend_label(change))


def test_sliding_windows_count_a_tick_in_each_window_it_falls_in(spark: Any) -> None:
    raw = kafka_rows(spark, [tick("bitcoin", 1.0, "2026-08-10T14:25:20Z")])
    result = window_aggregates(parse_ticks(raw), window_seconds=30, slide_seconds=10)
    starts = sorted(row.window_start for row in result.collect())
    assert starts == [
        "2026-08-10T14:25:00.000Z",
        "2026-08-10T14:25:10.000Z",
        "2026-08-10T14:25:20.000Z",
    ]
