"""The Spark classification and the producer's mapping apply the same rules: for every row a
source may send (``tests/support/strategies.py``), both accept it or both refuse it for the same
reason, and whatever Spark accepts aggregates into records the contract accepts."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from pyspark.sql import Row

from cryptopulse_common.contract import TICK_EVENT_TIME_FIELD, Tick, format_timestamp
from cryptopulse_producer.mapping import loads_market_json, tick_from_market_row
from cryptopulse_stream.dead_letters import check_records
from cryptopulse_stream.transforms import classify_ticks, parse_ticks, window_aggregates
from tests.support.strategies import BASE, row_strategy, source_json

pytestmark = pytest.mark.spark


@settings(
    max_examples=4,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.lists(row_strategy(), min_size=40, max_size=60))
def test_spark_refuses_exactly_what_the_producer_refuses_and_for_the_same_reason(
    spark: Any, rows: list[dict[str, Any]]
) -> None:
    messages: list[bytes] = []
    expected: list[str | None] = []
    for row in rows:
        parsed = loads_market_json(source_json([row]))
        assert isinstance(parsed, list)
        result = tick_from_market_row(parsed[0], BASE)
        expected.append(None if isinstance(result, Tick) else result.reason)
        # The message as the producer would have published it, spoilt fields and all.
        messages.append(source_json({**row, TICK_EVENT_TIME_FIELD: format_timestamp(BASE)}))
    raw = spark.createDataFrame([Row(value=m) for m in messages], "value binary")
    got = [row.reason for row in classify_ticks(raw).collect()]
    for verdict in got:
        event(f"spark: {verdict or 'accepted'}")
    disagreements = [
        (message.decode(), want, have)
        for message, want, have in zip(messages, expected, got, strict=True)
        if want != have
    ]
    assert not disagreements
    aggregates = [row.asDict() for row in window_aggregates(parse_ticks(raw), 30).collect()]
    valid, refused = check_records(aggregates)
    assert not refused, [item.detail for item in refused]
    assert len(valid) == len(aggregates)
