from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from cryptopulse_common.contract import (
    AGGREGATE_REJECT_REASONS,
    DEFAULT_COIN_IDS,
    REASON_DESCRIPTIONS,
    REJECT_REASONS,
    TICK_REJECT_REASONS,
    TICK_SCHEMA_VERSION,
    TICKS_TOPIC,
    TOPIC_CONFIGS,
    Aggregate,
    ClockBound,
    DeadLetter,
    IngestRequest,
    Tick,
    format_timestamp,
    parse_timestamp,
    reason_for,
    refusals,
    trend_label,
    volatility_label,
)
from cryptopulse_common.display import format_change, format_price

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


# --- The rules, each with the reason it produces ------------------------------------------
# Inputs from public bug reports of systems like ours (see tests/support/strategies.py).
NAN_TICK = (
    b'{"schema":1,"id":"bitcoin","symbol":"btc","name":"Bitcoin","current_price":NaN,'
    b'"last_updated":"2026-05-01T12:00:05Z","observed_at":"2026-05-01T12:00:05Z"}'
)


@pytest.mark.parametrize(
    ("change", "reason", "where"),
    [
        ({"current_price": "NaN"}, "non_finite_number", "current_price"),  # pydantic#3994
        ({"current_price": float("inf")}, "non_finite_number", "current_price"),
        ({"market_cap": float("-inf")}, "non_finite_number", "market_cap"),
        ({"current_price": 0}, "out_of_range", "current_price"),
        ({"current_price": 1e19}, "out_of_range", "current_price"),
        ({"total_volume": -5.0}, "out_of_range", "total_volume"),
        ({"price_change_percentage_24h": -100.5}, "out_of_range", "price_change_percentage_24h"),
        ({"high_24h": 0.0}, "out_of_range", "high_24h"),
        ({"id": ""}, "missing_field", "id"),
        ({"id": " \t"}, "missing_field", "id"),
        ({"symbol": "x" * 201}, "out_of_range", "symbol"),
        ({"schema": 7}, "unknown_schema_version", "schema"),
        ({"last_updated": "yesterday"}, "bad_timestamp", "last_updated"),
        ({"observed_at": "2026-08-10T14:25:21"}, "bad_timestamp", "observed_at"),
        # One tick a day ahead of its observation (laminardb/laminardb#388: a +2 h createdAt).
        ({"last_updated": "2026-08-11T14:25:20.000Z"}, "source_time_ahead", "last_updated"),
        ({"current_price": [1.0]}, "wrong_type", "current_price"),
    ],
)
def test_tick_rules_refuse_with_the_reason(
    change: dict[str, object], reason: str, where: str
) -> None:
    with pytest.raises(ValidationError) as info:
        Tick.model_validate({**TICK, **change})
    (refusal,) = refusals(info.value)
    assert (refusal.reason, refusal.location) == (reason, where)
    assert reason in TICK_REJECT_REASONS


def test_the_issues_nan_tick_is_refused_as_non_finite() -> None:
    with pytest.raises(ValidationError) as info:
        Tick.model_validate_json(NAN_TICK)
    assert [(r.location, r.reason) for r in refusals(info.value)] == [
        ("current_price", "non_finite_number")
    ]


def test_a_source_time_lagging_or_slightly_ahead_is_kept() -> None:
    lagging = Tick.model_validate({**TICK, "last_updated": "2026-08-10T14:23:21.512Z"})
    assert lagging.last_updated == "2026-08-10T14:23:21.512Z"  # two minutes behind: kept
    Tick.model_validate({**TICK, "last_updated": "2026-08-10T14:26:20.000Z"})  # 58.5 s ahead
    tight = ClockBound(max_skew_seconds=1.0).context()
    with pytest.raises(ValidationError, match="ahead of observed_at"):
        Tick.model_validate({**TICK, "last_updated": "2026-08-10T14:25:25.000Z"}, context=tight)


def test_null_schema_reads_as_the_current_version() -> None:
    assert Tick.model_validate({**TICK, "schema": None}).schema_version == TICK_SCHEMA_VERSION


@pytest.mark.parametrize(
    ("change", "reason", "where"),
    [
        ({"price": float("inf")}, "non_finite_number", "price"),
        ({"mean_price": float("nan")}, "non_finite_number", "mean_price"),
        ({"low": 2.5}, "inconsistent", "open"),
        ({"close": 5.0}, "inconsistent", "close"),
        ({"price": 3.5}, "inconsistent", "price"),
        ({"volatility": None}, "inconsistent", "volatility"),
        ({"change_24h": None, "volatility": None}, "inconsistent", "trend"),
        ({"window_end": "2026-08-10T14:25:00.000Z"}, "inconsistent", "window_end"),
        ({"timestamp": "2026-08-10T14:26:00.000Z"}, "inconsistent", "timestamp"),
        ({"samples": 0}, "out_of_range", "samples"),
        ({"volume_24h": -1.0}, "out_of_range", "volume_24h"),
        ({"change_24h": -101.0}, "out_of_range", "change_24h"),
        ({"last_updated": "soon"}, "bad_timestamp", "last_updated"),
        ({"volatility": "Calm"}, "wrong_type", "volatility"),
    ],
)
def test_aggregate_rules_refuse_with_the_reason(
    change: dict[str, object], reason: str, where: str
) -> None:
    with pytest.raises(ValidationError) as info:
        Aggregate.model_validate({**_aggregate(), **change})
    assert (refusals(info.value)[0].reason, refusals(info.value)[0].location) == (reason, where)
    assert reason in AGGREGATE_REJECT_REASONS


def test_unknown_change_stays_unknown_with_its_labels() -> None:
    record = Aggregate.model_validate(
        {**_aggregate(), "change_24h": None, "volatility": None, "trend": None}
    )
    assert (record.change_24h, record.volatility, record.trend) == (None, None, None)
    assert record.model_dump()["change_24h"] is None


def test_a_window_ahead_of_the_apis_clock_is_refused_naming_the_field() -> None:
    """The issue's 2099 window: refused where the API's clock is given, and only there."""
    future = {
        **_aggregate(),
        "window_start": "2099-01-01T00:00:00.000Z",
        "window_end": "2099-01-01T00:00:30.000Z",
        "timestamp": "2099-01-01T00:00:10.000Z",
    }
    Aggregate.model_validate(future)  # the stream job's own check has no clock
    clock = ClockBound(now=datetime(2026, 8, 10, 14, 26, tzinfo=UTC)).context()
    with pytest.raises(ValidationError) as info:
        IngestRequest.model_validate({"data": [_aggregate(), future]}, context=clock)
    assert [(r.location, r.reason) for r in refusals(info.value)] == [
        ("data.1.window_start", "window_ahead"),
        ("data.1.timestamp", "window_ahead"),
    ]
    # Within the tolerance (a producer clock a little ahead) it passes.
    IngestRequest.model_validate({"data": [_aggregate()]}, context=clock)


def test_pydantic_error_types_map_to_reasons() -> None:
    assert reason_for("finite_number") == "non_finite_number"
    assert reason_for("missing") == "missing_field"
    assert reason_for("less_than_equal") == "out_of_range"
    assert reason_for("float_type") == "wrong_type"
    assert reason_for("window_ahead") == "window_ahead"
    assert set(TICK_REJECT_REASONS) | set(AGGREGATE_REJECT_REASONS) == set(REJECT_REASONS)
    assert set(REASON_DESCRIPTIONS) == set(REJECT_REASONS)


def test_dead_letters_carry_a_known_reason() -> None:
    letter = DeadLetter(reason="non_finite_number", detail="price", origin="tick", value="{}")
    assert DeadLetter.model_validate_json(letter.model_dump_json()) == letter
    with pytest.raises(ValidationError):
        DeadLetter(reason="bad vibes", detail="", origin="tick", value="")  # type: ignore[arg-type]


def test_the_ticks_topic_is_stamped_by_the_broker() -> None:
    assert TOPIC_CONFIGS[TICKS_TOPIC] == {"message.timestamp.type": "LogAppendTime"}


@pytest.mark.parametrize(
    ("price", "text"),
    [
        (97123.45, "97,123.45"),
        (1.0, "1.00"),
        (0.38123, "0.3812"),
        (0.0000213456, "0.00002135"),
        (1.234e-8, "0.00000001234"),  # the issue's new listing, once logged as $0.00
        (0.0, "0.00"),
        (float("nan"), "—"),
    ],
)
def test_prices_in_logs_keep_their_significant_digits(price: float, text: str) -> None:
    assert format_price(price) == text


def test_an_unknown_change_reads_as_unknown_in_logs() -> None:
    assert format_change(None) == "—"
    assert format_change(1.234) == "+1.23%"
