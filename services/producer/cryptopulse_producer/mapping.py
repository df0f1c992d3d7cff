"""Map ``/coins/markets`` responses to contract ticks, saying what was wrong with bad ones.

This is where a source's data is validated against the shared contract: a row becomes a
:class:`~cryptopulse_common.contract.Tick` only through ``Tick.model_validate``; anything else
becomes a :class:`RejectedRow` with the reason, and a body that is not a list of rows is refused
as a whole.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import orjson
from pydantic import ValidationError

from cryptopulse_common.contract import Tick, format_timestamp

# Fields a row must carry to be a tick at all (the contract checks the rest).
REQUIRED_FIELDS = ("id", "symbol", "name", "current_price", "last_updated")


@dataclass(frozen=True)
class RejectedRow:
    coin_id: str
    reason: str


@dataclass
class MappedBody:
    """One ``/coins/markets`` response: its good ticks, its bad rows, or why it is unusable."""

    ticks: list[Tick] = field(default_factory=list)
    rejected: list[RejectedRow] = field(default_factory=list)
    error: str | None = None


def _describe(error: ValidationError) -> str:
    parts = []
    for item in error.errors():
        where = ".".join(str(loc) for loc in item["loc"]) or "row"
        parts.append(f"{where}: {item['msg']}")
    return "; ".join(parts)


def _excerpt(body: object, limit: int = 200) -> str:
    text = orjson.dumps(body, default=str).decode()
    return text if len(text) <= limit else text[:limit] + "…"


def tick_from_market_row(row: object, observed_at: datetime) -> Tick | RejectedRow:
    """One ``/coins/markets`` row as a tick, or the reason it cannot be one."""
    if not isinstance(row, dict):
        return RejectedRow("?", f"row is {type(row).__name__}, not an object")
    coin_id = str(row.get("id", "?"))
    missing = [name for name in REQUIRED_FIELDS if row.get(name) is None]
    if missing:
        return RejectedRow(coin_id, "missing " + ", ".join(missing))
    try:
        # Strict: the documented JSON types only. An integral price (70187) is still a number,
        # but "70187", true or 123 as a timestamp are wrong types and refused, not coerced.
        return Tick.model_validate(
            {**row, "observed_at": format_timestamp(observed_at)}, strict=True
        )
    except ValidationError as error:
        return RejectedRow(coin_id, _describe(error))


def ticks_from_markets_body(body: object, observed_at: datetime) -> MappedBody:
    """A whole response: a JSON list of rows; anything else is refused with what it was."""
    if not isinstance(body, list):
        kind = "an object" if isinstance(body, dict) else type(body).__name__
        return MappedBody(error=f"body is {kind}, not a list of coins: {_excerpt(body)}")
    mapped = MappedBody()
    for row in body:
        result = tick_from_market_row(row, observed_at)
        if isinstance(result, RejectedRow):
            mapped.rejected.append(result)
        else:
            mapped.ticks.append(result)
    return mapped
