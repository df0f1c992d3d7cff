"""Property tests of the contract's rules at the boundaries that run without a cluster: the
producer's mapping of source rows and the API's models of /ingest bodies. Every input is either
accepted with finite, bounded, consistent values or refused with a reason; nothing raises.

The Spark classification is held to the same rules in ``tests/stream/test_classification_
properties.py`` and the real /ingest in ``tests/api/test_ingest_properties.py``.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from hypothesis import event, example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from cryptopulse_common.contract import (
    AGGREGATE_REJECT_REASONS,
    TICK_REJECT_REASONS,
    Aggregate,
    ClockBound,
    IngestRequest,
    Tick,
    refusals,
)
from cryptopulse_producer.mapping import RejectedRow, loads_market_json, tick_from_market_row
from tests.support.soundness import assert_sound_aggregate, assert_sound_tick
from tests.support.strategies import BASE, aggregate_strategy, row_strategy, source_json

ISSUE_AGGREGATE: dict[str, Any] = {
    "coin": "BTC",
    "coin_id": "bitcoin",
    "price": 2.0,
    "open": 1.0,
    "high": 3.0,
    "low": 1.0,
    "close": 2.0,
    "mean_price": 2.0,
    "samples": 3,
    "change_24h": 1.0,
    "volatility": "Stable",
    "trend": "Stable",
    "window_start": "2026-05-01T12:00:00.000Z",
    "window_end": "2026-05-01T12:00:30.000Z",
    "timestamp": "2026-05-01T12:00:05.000Z",
}


# The issue's inputs, always tried: a NaN price, a source time a day ahead, a new listing with
# no 24 h change and a price of 1.234e-08 (accepted: tiny is not wrong).
ISSUE_ROW = {
    "id": "bitcoin",
    "symbol": "btc",
    "name": "Bitcoin",
    "current_price": 97_000.0,
    "last_updated": "2026-05-01T12:00:05Z",
}


@settings(max_examples=400, deadline=None)
@given(row_strategy())
@example({**ISSUE_ROW, "current_price": math.nan})
@example({**ISSUE_ROW, "last_updated": "2026-05-02T12:00:05Z"})
@example({**ISSUE_ROW, "current_price": 1.234e-8, "price_change_percentage_24h": None})
@example({**ISSUE_ROW, "current_price": "NaN"})
def test_every_source_row_becomes_a_sound_tick_or_a_reason(row: dict[str, Any]) -> None:
    parsed = loads_market_json(source_json([row]))
    assert isinstance(parsed, list)
    result = tick_from_market_row(parsed[0], BASE)
    if isinstance(result, RejectedRow):
        event(f"refused: {result.reason}")
        assert result.reason in TICK_REJECT_REASONS
        assert result.detail
    else:
        event("accepted")
        assert_sound_tick(result)
        # What the producer publishes reads back as the same tick (the wire round trip).
        assert Tick.model_validate_json(source_json(result.wire())) == result


@settings(max_examples=400, deadline=None)
@given(st.lists(aggregate_strategy(), min_size=1, max_size=3))
@example([{**ISSUE_AGGREGATE, "price": math.inf}])
@example([{**ISSUE_AGGREGATE, "window_start": "2099-01-01T00:00:00.000Z"}])
@example([ISSUE_AGGREGATE, {**ISSUE_AGGREGATE, "change_24h": None}])
def test_every_ingest_body_is_sound_or_refused_with_reasons(records: list[dict[str, Any]]) -> None:
    now = datetime.now(UTC)
    body = source_json({"data": records, "batch_id": "b", "source": "property"})
    clock = ClockBound(now=now).context()
    try:
        request = IngestRequest.model_validate_json(body, context=clock)
    except ValidationError as error:
        found = refusals(error)
        event(f"refused: {found[0].reason}")
        assert found
        assert {refusal.reason for refusal in found} <= set(AGGREGATE_REJECT_REASONS)
        assert all(refusal.location.startswith("data.") for refusal in found)
    else:
        event("accepted")
        for record in request.data:
            assert_sound_aggregate(record, now)


@settings(max_examples=300, deadline=None)
@given(aggregate_strategy())
def test_the_sinks_check_and_the_api_differ_only_by_the_apis_clock(record: dict[str, Any]) -> None:
    """The stream job's sink checks records without a clock; what it passes, /ingest refuses
    only for being ahead of the API's clock (rule window_ahead)."""
    try:
        Aggregate.model_validate(record)
    except ValidationError:
        return
    try:
        Aggregate.model_validate(record, context=ClockBound(now=datetime.now(UTC)).context())
    except ValidationError as error:
        reasons = {refusal.reason for refusal in refusals(error)}
    else:
        reasons = set()
    assert reasons <= {"window_ahead"}
