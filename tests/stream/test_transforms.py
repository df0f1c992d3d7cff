"""The stream job's transforms on a real local SparkSession."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from pydantic import ValidationError
from pyspark.sql import Row
from pyspark.testing import assertDataFrameEqual

from cryptopulse_common.contract import (
    Aggregate,
    DeadLetter,
    Tick,
    refusals,
    trend_label,
    volatility_label,
)
from cryptopulse_stream.transforms import (
    AGGREGATE_COLUMNS,
    classify_ticks,
    dead_letters,
    parse_ticks,
    window_aggregates,
)
from tests.support.spellings import ACCEPTED_TIMESTAMPS, REFUSED_TIMESTAMPS

pytestmark = pytest.mark.spark


def tick(
    coin: str, price: float, at: str, change: float | None = 1.0, **extra: Any
) -> dict[str, Any]:
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


def test_spark_reads_exactly_the_timestamps_the_contract_reads(spark: Any) -> None:
    """Spark's to_timestamp reads ``2026-5-1T12:00:05Z``, ``+2026-...``, a leading space and a
    trailing newline, which the producer refuses; it refuses week dates and ``+23:59``, which
    Python reads. Each spelling of tests/support/timestamps.json, as the source time and as the
    event time, gets the producer's verdict."""
    latest = "9999-12-31T23:59:59Z"
    spellings = [(text, None) for text in ACCEPTED_TIMESTAMPS] + [
        (text, "bad_timestamp") for text in REFUSED_TIMESTAMPS
    ]
    messages = [tick("bitcoin", 1.0, latest, last_updated=text) for text, _ in spellings] + [
        tick("bitcoin", 1.0, text, last_updated="1970-01-01T00:00:00Z") for text, _ in spellings
    ]
    classified = classify_ticks(kafka_rows(spark, messages)).select("reason")
    got = [row.reason for row in classified.collect()]
    want = [reason for _, reason in spellings] * 2
    wrong = [
        (message["observed_at"], message["last_updated"], have)
        for message, have, expected in zip(messages, got, want, strict=True)
        if have != expected
    ]
    assert not wrong


def test_spark_calls_blank_exactly_the_ids_the_contract_calls_blank(spark: Any) -> None:
    """Java's ``$`` also matches before a final line terminator, and Java's line terminators
    include U+0085, U+2028 and U+2029: an id of one of them was dead-lettered as blank by the
    stream job while the producer and the API (Python's ``re``) accept it. Each text gets the
    producer's verdict."""
    texts = [" \t", "\n", "\r\n", " \u000b\f", "\u0085", "\u2028", "\u2029", " \u2028"]
    texts += ["\u00a0", "\u200b", "\u3000", "a\n", "\u2028a", "btc"]
    want = []
    for text in texts:
        try:
            Tick.model_validate(tick(text, 1.0, "2026-08-10T14:25:20Z"))
            want.append(None)
        except ValidationError as error:
            want.append(refusals(error)[0].reason)
    messages = [tick(text, 1.0, "2026-08-10T14:25:20Z") for text in texts]
    got = [row.reason for row in classify_ticks(kafka_rows(spark, messages)).collect()]
    assert list(zip(texts, got, strict=True)) == list(zip(texts, want, strict=True))


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
            "not an RFC 3339 timestamp (2026-05-01T12:00:05.123Z, a zone Z or +hh:mm)",
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


def test_a_message_that_is_not_exactly_one_json_object_is_not_json(spark: Any) -> None:
    """Written to the ticks topic by hand (kcat): Spark's JSON reader reads the first object of
    a message and ignores what follows, so ``{tick}garbage`` was aggregated and the second tick
    of ``{tick}\\n{tick}`` (a batch of JSON lines as one message) silently lost; an empty
    message, a tombstone, ``null``, ``42``, ``"x"`` and ``[{tick}]`` were dead-lettered as
    ``missing_field`` or ``wrong_type``, where the contract (and the producer, for a row that
    is no object) says ``not_json``. JSON whitespace after the object is fine, and so is a
    ``}`` inside a string."""
    good = orjson.dumps(tick("bitcoin", 1.0, "2026-08-10T14:25:20Z"))
    braces = orjson.dumps(tick("bitcoin", 1.0, "2026-08-10T14:25:20Z") | {"name": "a}{b} ,0]"})
    cases: list[tuple[bytes | None, str | None]] = [
        (b"", "not_json"),
        (None, "not_json"),
        (b"\n", "not_json"),
        (b"null", "not_json"),
        (b"42", "not_json"),
        (b'"bitcoin"', "not_json"),
        (b"[" + good + b"]", "not_json"),
        (good + b"garbage", "not_json"),
        (good + good, "not_json"),
        (good + b"\n" + good, "not_json"),
        (good + b"," + good, "not_json"),
        (good + b"]", "not_json"),
        (good + b" // a comment", "not_json"),
        (good + b" \t\r\n", None),
        (b" " + good, None),
        (braces, None),
        (good, None),
    ]
    raw = spark.createDataFrame([Row(value=value) for value, _ in cases], "value binary")
    rows = classify_ticks(raw).collect()
    got = [(value, row.reason) for (value, _), row in zip(cases, rows, strict=True)]
    assert got == cases
    for row in rows:
        assert (row.detail is None) if row.reason is None else (row.detail == "not a JSON object")


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


def test_non_finite_and_out_of_range_numbers_are_dead_lettered(spark: Any) -> None:
    """The issue's first input (a bare NaN price) and its siblings: each refused with the
    reason, never aggregated (before, a NaN passed ``current_price <= 0`` and became a null
    price that the API refused, failing the query for good)."""
    good = tick("bitcoin", 1.0, "2026-08-10T14:25:20Z")
    nan_tick = (
        b'{"schema":1,"id":"bitcoin","symbol":"btc","name":"Bitcoin","current_price":NaN,'
        b'"last_updated":"2026-05-01T12:00:05Z","observed_at":"2026-05-01T12:00:05Z"}'
    )
    cases = [
        (nan_tick, "non_finite_number"),
        (orjson.dumps({**good, "current_price": "Infinity"}), "non_finite_number"),
        (
            orjson.dumps(good).replace(b'"market_cap":1000.0', b'"market_cap":-Infinity'),
            "non_finite_number",
        ),
        (
            orjson.dumps(good).replace(b'"current_price":1.0', b'"current_price":1e999'),
            "non_finite_number",
        ),
        ({**good, "current_price": 1e19}, "out_of_range"),
        ({**good, "total_volume": -3.0}, "out_of_range"),
        ({**good, "price_change_percentage_24h": -100.5}, "out_of_range"),
        ({**good, "symbol": "s" * 201}, "out_of_range"),
    ]
    classified = classify_ticks(kafka_rows(spark, [value for value, _ in cases])).collect()
    assert [row.reason for row in classified] == [reason for _, reason in cases]
    assert parse_ticks(kafka_rows(spark, [value for value, _ in cases])).count() == 0
    letters = dead_letters(kafka_rows(spark, [nan_tick])).collect()
    assert [DeadLetter.model_validate(row.asDict()).reason for row in letters] == [
        "non_finite_number"
    ]
    assert letters[0].value == nan_tick.decode()


def test_time_from_the_future_is_dead_lettered_with_the_reason(spark: Any) -> None:
    """The issue's second input: last_updated a day ahead of observed_at; and a producer whose
    clock is a day ahead, caught against the Kafka record timestamp (the broker's append time)."""
    appended = datetime(2026, 8, 10, 14, 25, 21, tzinfo=UTC)
    rows = [
        Row(value=orjson.dumps(tick("bitcoin", 1.0, "2026-08-10T14:25:20Z")), timestamp=appended),
        Row(
            value=orjson.dumps(
                tick("bitcoin", 2.0, "2026-08-10T14:25:20Z", last_updated="2026-08-11T14:25:20Z")
            ),
            timestamp=appended,
        ),
        Row(value=orjson.dumps(tick("bitcoin", 3.0, "2026-08-11T14:25:20Z")), timestamp=appended),
        Row(value=orjson.dumps(tick("bitcoin", 4.0, "2026-08-10T14:26:10Z")), timestamp=appended),
    ]
    raw = spark.createDataFrame(rows, "value binary, timestamp timestamp")
    classified = classify_ticks(raw).collect()
    assert [row.reason for row in classified] == [
        None,
        "source_time_ahead",
        "observed_time_ahead",
        None,  # 49 s ahead of the broker: within the clock-skew tolerance
    ]
    assert "86400 s ahead of observed_at" in classified[1].detail
    assert "86399 s ahead of the Kafka record timestamp" in classified[2].detail
    tighter = classify_ticks(raw, max_skew_seconds=10).collect()
    assert tighter[3].reason == "observed_time_ahead"


def test_a_coin_whose_source_lags_two_minutes_is_aggregated_in_the_current_window(
    spark: Any,
) -> None:
    """The issue's third input: event time is the observation, so a coin CoinGecko updates less
    often falls in the same windows as the others; its own last_updated is kept."""
    raw = kafka_rows(
        spark,
        [
            tick("bitcoin", 100.0, "2026-08-10T14:25:20Z"),
            tick("illiquid", 5.0, "2026-08-10T14:25:20Z", last_updated="2026-08-10T14:23:20Z"),
            tick("illiquid", 5.5, "2026-08-10T14:25:21Z", last_updated="2026-08-10T14:23:21Z"),
        ],
    )
    rows = {r.coin_id: r for r in window_aggregates(parse_ticks(raw), window_seconds=30).collect()}
    assert rows["illiquid"].window_start == rows["bitcoin"].window_start
    assert rows["illiquid"].samples == 2
    assert rows["illiquid"].timestamp == "2026-08-10T14:25:21.000Z"
    assert rows["illiquid"].last_updated == "2026-08-10T14:23:21.000Z"


def test_an_unknown_change_stays_unknown_with_no_labels(spark: Any) -> None:
    """The issue's fourth input: price_change_percentage_24h null reached the screen as
    +0.00 %, "Stable", "Stable"; a tiny price keeps its value."""
    raw = kafka_rows(
        spark,
        [tick("new-listing", 1.234e-8, "2026-08-10T14:25:20Z", change=None)],
    )
    (row,) = window_aggregates(parse_ticks(raw), window_seconds=30).collect()
    assert (row.change_24h, row.volatility, row.trend) == (None, None, None)
    assert row.price == 1.234e-8
    Aggregate.model_validate(row.asDict())
