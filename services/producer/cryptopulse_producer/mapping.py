"""Map CoinGecko ``/coins/markets`` rows to contract ticks, saying what was wrong with bad rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pydantic import ValidationError

from cryptopulse_common.contract import Tick, format_timestamp


@dataclass(frozen=True)
class RejectedRow:
    coin_id: str
    reason: str


def _describe(error: ValidationError) -> str:
    parts = []
    for item in error.errors():
        where = ".".join(str(loc) for loc in item["loc"]) or "row"
        parts.append(f"{where}: {item['msg']}")
    return "; ".join(parts)


def tick_from_market_row(row: object, observed_at: datetime) -> Tick | RejectedRow:
    """One ``/coins/markets`` row as a tick, or the reason it cannot be one."""
    if not isinstance(row, dict):
        return RejectedRow("?", f"row is {type(row).__name__}, not an object")
    coin_id = str(row.get("id", "?"))
    if row.get("last_updated") is None:
        return RejectedRow(coin_id, "last_updated: missing")
    try:
        return Tick.model_validate(
            {**row, "observed_at": format_timestamp(observed_at)}, strict=False
        )
    except ValidationError as error:
        return RejectedRow(coin_id, _describe(error))
