"""What every accepted tick and aggregate satisfies, checked without the models' own code: the
invariants the property tests hold every boundary to."""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta

from cryptopulse_common.contract import (
    BLANK_TEXT,
    DEFAULT_MAX_CLOCK_SKEW_SECONDS,
    MAX_TEXT_LENGTH,
    Aggregate,
    Tick,
    number_bounds,
    parse_timestamp,
)


def assert_sound_tick(tick: Tick) -> None:
    """What every accepted tick satisfies, checked without the models' own code."""
    for name, bounds in number_bounds(Tick).items():
        value = getattr(tick, name)
        if value is not None:
            assert math.isfinite(value), name
            assert bounds.admits(value), (name, value)
    for text in (tick.id, tick.symbol, tick.name):
        assert 0 < len(text) <= MAX_TEXT_LENGTH
        assert not re.fullmatch(BLANK_TEXT, text)
    lead = parse_timestamp(tick.last_updated) - parse_timestamp(tick.observed_at)
    assert lead <= timedelta(seconds=DEFAULT_MAX_CLOCK_SKEW_SECONDS)


def assert_sound_aggregate(record: Aggregate, now: datetime) -> None:
    for name, bounds in number_bounds(Aggregate).items():
        value = getattr(record, name)
        if value is not None:
            assert math.isfinite(value), name
            assert bounds.admits(value), (name, value)
    assert record.low <= min(record.open, record.close, record.price)
    assert max(record.open, record.close, record.price) <= record.high
    start, end = parse_timestamp(record.window_start), parse_timestamp(record.window_end)
    assert start < end
    assert start <= parse_timestamp(record.timestamp) < end
    assert parse_timestamp(record.timestamp) <= now + timedelta(seconds=60)
    assert (record.change_24h is None) == (record.volatility is None) == (record.trend is None)
    assert record.samples >= 1
