"""Hypothesis strategies for what sources send: CoinGecko rows and /ingest records with
non-finite, extreme, null, skewed-time and huge values, as public bug reports show them.

Where the values come from:
- bare ``NaN`` in price JSON: polygon-io/issues#226 (``"a": NaN`` in aggregates),
  0xramm/Indian-Stock-Market-API#6 (``"last_price": NaN``), santiment/sanbase2#2888 (some
  CryptoCompare prices NaN);
- ``Infinity`` and ``"NaN"`` strings accepted by lax float parsing: pydantic/pydantic#3994 and
  fastapi#4589, pydantic/pydantic#7007 (inf serialised as null);
- a null 24 h change from CoinGecko: coral-xyz/backpack#729, cypherstack/stack_wallet#573;
- timestamps ahead of the clock: laminardb/laminardb#388 (a +2 h ``createdAt`` froze the
  watermark), KAFKA-14991 / apache/kafka#13709 (microseconds sent as milliseconds);
- tiny prices shown as 0.00: MetaMask/metamask-mobile#24326, solana-labs/solana#21276.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import strategies as st

from cryptopulse_common.contract import (
    MAX_MAGNITUDE,
    MAX_TEXT_LENGTH,
    format_timestamp,
    trend_label,
    volatility_label,
)

# Numbers at and around every bound, the non-finite ones, and ordinary ones.
SPECIAL_NUMBERS: tuple[float, ...] = (
    math.nan,
    math.inf,
    -math.inf,
    0.0,
    -0.0,
    -1.0,
    5e-324,
    1.234e-8,
    1.0,
    97_123.45,
    MAX_MAGNITUDE,
    MAX_MAGNITUDE * 1.0000001,
    1e300,
    -100.0,
    -100.0001,
)

numbers = st.one_of(
    st.sampled_from(SPECIAL_NUMBERS),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**20), max_value=10**20),
)
optional_numbers = st.one_of(st.none(), numbers)
prices = st.floats(min_value=1e-12, max_value=1e7)
amounts = st.one_of(st.none(), st.floats(min_value=0, max_value=1e15))
changes = st.one_of(st.none(), st.floats(min_value=-99.9, max_value=500))

BLANKS = ("", " ", "\t", " \n ", "\x0b\x0c\r")
sound_texts = st.sampled_from(("bitcoin", "btc", "Bitcoin", "avalanche-2", "\u00a0x", "🪙coin"))
absurd_texts = st.one_of(
    st.sampled_from(BLANKS),
    st.just("x" * MAX_TEXT_LENGTH),
    st.just("y" * (MAX_TEXT_LENGTH + 1)),
    st.just("🪙" * (MAX_TEXT_LENGTH + 1)),
    st.text(min_size=1, max_size=12),
)

BASE = datetime(2026, 5, 1, 12, 0, 5, tzinfo=UTC)
# How far a source time sits from the observation: lagging (CoinGecko updates illiquid coins
# less often), slightly ahead (clock skew within tolerance), then beyond the tolerance: a
# second, a day, a century ahead.
SOUND_OFFSETS = (timedelta(0), timedelta(minutes=-2), timedelta(hours=-30), timedelta(seconds=59))
ABSURD_OFFSETS = (timedelta(seconds=61), timedelta(days=1), timedelta(days=365 * 73))


def _spelled(moment: datetime, style: str) -> str:
    if style == "ms_z":
        return format_timestamp(moment)
    if style == "offset":
        return moment.astimezone(UTC).replace(tzinfo=None).isoformat() + "+00:00"
    if style == "seconds_z":
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    return moment.strftime("%Y-%m-%dT%H:%M:%S")  # no zone


@st.composite
def sound_timestamps(draw: st.DrawFn, around: datetime) -> str:
    moment = around + draw(st.sampled_from(SOUND_OFFSETS))
    return _spelled(moment, draw(st.sampled_from(("ms_z", "offset", "seconds_z"))))


@st.composite
def absurd_timestamps(draw: st.DrawFn, around: datetime) -> str:
    """Ahead beyond the tolerance, without a zone, or not a timestamp at all."""
    choice = draw(st.sampled_from(("ahead", "no_zone", "garbage")))
    if choice == "ahead":
        moment = around + draw(st.sampled_from(ABSURD_OFFSETS))
        return _spelled(moment, draw(st.sampled_from(("ms_z", "offset", "seconds_z"))))
    if choice == "no_zone":
        return _spelled(around, "no_zone")
    return draw(st.sampled_from(("yesterday", "", "2026-13-45T00:00:00Z", "1714564805000")))


NUMBER_FIELDS = (
    "current_price",
    "market_cap",
    "total_volume",
    "price_change_percentage_24h",
    "high_24h",
    "low_24h",
)
TEXT_FIELDS = ("id", "symbol", "name")


def row_strategy() -> st.SearchStrategy[dict[str, Any]]:
    """A ``/coins/markets`` row as a source might send it: a sound row with up to three fields
    spoiled (absurd numbers, blank or huge text, skewed or broken times, missing, null)."""

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        price = draw(prices)
        row: dict[str, Any] = {
            "id": draw(sound_texts),
            "symbol": draw(sound_texts),
            "name": draw(sound_texts),
            "current_price": price,
            "market_cap": draw(amounts),
            "total_volume": draw(amounts),
            "price_change_percentage_24h": draw(changes),
            "high_24h": draw(st.one_of(st.none(), st.just(price * 1.02))),
            "low_24h": draw(st.one_of(st.none(), st.just(price * 0.97))),
            "last_updated": draw(sound_timestamps(BASE)),
        }
        if draw(st.booleans()):
            row["schema"] = 1
        spoiled = draw(st.sets(st.sampled_from((*sorted(row), "schema")), max_size=3))
        for name in spoiled:
            how = draw(st.sampled_from(("absurd", "absurd", "null", "missing")))
            if how == "missing":
                row.pop(name, None)
            elif how == "null":
                row[name] = None
            elif name in NUMBER_FIELDS:
                row[name] = draw(numbers)
            elif name in TEXT_FIELDS:
                row[name] = draw(absurd_texts)
            elif name == "schema":
                row[name] = 7
            else:
                row[name] = draw(absurd_timestamps(BASE))
        return row

    return build()


def source_json(value: Any) -> bytes:
    """JSON as a lax source writes it: NaN and Infinity as bare tokens (not RFC 8259)."""
    return json.dumps(value, allow_nan=True).encode()


def aggregate_strategy() -> st.SearchStrategy[dict[str, Any]]:
    """An /ingest record: a sound window of one coin near now, with up to three fields spoiled
    (absurd numbers, prices outside [low, high], a label without a change, a window in 2099)."""

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        now = datetime.now(UTC).replace(microsecond=0)
        start = now - timedelta(seconds=draw(st.integers(min_value=30, max_value=600)))
        price = draw(prices)
        low, high = price * 0.99, price * 1.01
        change = draw(changes)
        record: dict[str, Any] = {
            "coin": "BTC",
            "coin_id": draw(sound_texts),
            "name": "Bitcoin",
            "price": price,
            "open": low,
            "high": high,
            "low": low,
            "close": price,
            "mean_price": price,
            "samples": draw(st.integers(min_value=1, max_value=100)),
            "change_24h": change,
            "volume_24h": draw(amounts),
            "market_cap": draw(amounts),
            "volatility": None if change is None else volatility_label(change),
            "trend": None if change is None else trend_label(change),
            "window_start": format_timestamp(start),
            "window_end": format_timestamp(start + timedelta(seconds=30)),
            "timestamp": format_timestamp(start + timedelta(seconds=10)),
        }
        spoiled = draw(st.sets(st.sampled_from(sorted(record)), max_size=3))
        for name in spoiled:
            how = draw(st.sampled_from(("absurd", "absurd", "null", "missing")))
            if how == "missing":
                record.pop(name)
            elif how == "null":
                record[name] = None
            elif name in ("coin", "coin_id", "name"):
                record[name] = draw(absurd_texts)
            elif name in ("volatility", "trend"):
                record[name] = draw(st.sampled_from((None, "Stable", "Extreme", "Calm")))
            elif name == "samples":
                record[name] = draw(st.sampled_from((0, -1, 1.5)))
            elif name in ("window_start", "window_end", "timestamp"):
                ahead = draw(st.sampled_from(ABSURD_OFFSETS))
                record[name] = draw(
                    st.sampled_from(
                        (format_timestamp(start + ahead), "soon", format_timestamp(start))
                    )
                )
            else:
                record[name] = draw(numbers)
        return record

    return build()
