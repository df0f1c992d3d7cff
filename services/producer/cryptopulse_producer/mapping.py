"""Map ``/coins/markets`` responses to contract ticks, saying what was wrong with bad ones.

This is where a source's data is validated against the shared contract: a row becomes a
:class:`~cryptopulse_common.contract.Tick` only through ``Tick.model_validate``; anything else
becomes a :class:`RejectedRow` with the contract's reason, and a body that is not a list of rows
is refused as a whole. One bad row never costs the others: a body with a bare ``NaN`` (not JSON,
but what some price APIs send) is read with Python's lenient parser so only that row is refused.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

import orjson
from pydantic import ValidationError

from cryptopulse_common.contract import (
    DEFAULT_MAX_CLOCK_SKEW_SECONDS,
    MAX_TEXT_LENGTH,
    TICK_EVENT_TIME_FIELD,
    TICK_REQUIRED_FIELDS,
    ClockBound,
    RejectReason,
    Tick,
    format_timestamp,
    refusals,
)

# Fields a row must carry to be a tick at all (the producer adds observed_at itself).
REQUIRED_FIELDS = tuple(name for name in TICK_REQUIRED_FIELDS if name != TICK_EVENT_TIME_FIELD)


@dataclass(frozen=True)
class RejectedRow:
    coin_id: str
    reason: RejectReason
    detail: str


@dataclass
class MappedBody:
    """One ``/coins/markets`` response: its good ticks, its bad rows, or why it is unusable."""

    ticks: list[Tick] = field(default_factory=list)
    rejected: list[RejectedRow] = field(default_factory=list)
    error: str | None = None


def _huge_int(text: str) -> int | float:
    # An integer too large for a double (10**400) is read as one, which overflows to inf: the
    # contract then refuses it as non-finite rather than as a wrong type.
    return int(text) if len(text) <= 18 else float(text)


def loads_market_json(data: bytes | str) -> object:
    """A source's JSON body: strict JSON (orjson) first, then Python's reader, which also takes
    the ``NaN``, ``Infinity`` and ``1e999`` that price APIs are known to send (polygon-io/issues
    #226), so the contract can refuse that one row instead of the parser refusing the body.

    Raises ValueError when the text is not JSON even by the lenient reading.
    """
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data, parse_int=_huge_int)


def _excerpt(body: object, limit: int = 200) -> str:
    text = orjson.dumps(body, default=str).decode()
    return text if len(text) <= limit else text[:limit] + "…"


def tick_from_market_row(
    row: object,
    observed_at: datetime,
    max_skew_seconds: float = DEFAULT_MAX_CLOCK_SKEW_SECONDS,
) -> Tick | RejectedRow:
    """One ``/coins/markets`` row as a tick, or the reason it cannot be one (never raises)."""
    if not isinstance(row, dict):
        return RejectedRow("?", "not_json", f"row is {type(row).__name__}, not an object")
    coin_id = str(row.get("id", "?"))[:MAX_TEXT_LENGTH]
    missing = [name for name in REQUIRED_FIELDS if row.get(name) is None]
    if missing:
        return RejectedRow(coin_id, "missing_field", "missing " + ", ".join(missing))
    try:
        # Strict: the documented JSON types only. An integral price (70187) is still a number,
        # but "70187", true or 123 as a timestamp are wrong types and refused, not coerced.
        return Tick.model_validate(
            {**row, TICK_EVENT_TIME_FIELD: format_timestamp(observed_at)},
            strict=True,
            context=ClockBound(max_skew_seconds=max_skew_seconds).context(),
        )
    except ValidationError as error:
        found = refusals(error)
        return RejectedRow(coin_id, found[0].reason, "; ".join(r.describe() for r in found))


def ticks_from_markets_body(
    body: object,
    observed_at: datetime,
    max_skew_seconds: float = DEFAULT_MAX_CLOCK_SKEW_SECONDS,
) -> MappedBody:
    """A whole response: a JSON list of rows; anything else is refused with what it was."""
    if not isinstance(body, list):
        kind = "an object" if isinstance(body, dict) else type(body).__name__
        return MappedBody(error=f"body is {kind}, not a list of coins: {_excerpt(body)}")
    mapped = MappedBody()
    for row in body:
        result = tick_from_market_row(row, observed_at, max_skew_seconds)
        if isinstance(result, RejectedRow):
            mapped.rejected.append(result)
        else:
            mapped.ticks.append(result)
    return mapped
