"""The wire contract shared by every stage: topic names, the tick record, the aggregate record.

Every field and topic name is spelled here once; the producer, the Spark job, the API server and
the tests import them. The Spark schema of a tick is derived from :class:`Tick` (see
``cryptopulse_stream.schema``), so adding a field here is the only change needed on the wire.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

TICKS_TOPIC: Final = "crypto_market_data"
AGGREGATES_TOPIC: Final = "crypto_market_aggregates"
DEAD_LETTER_TOPIC: Final = "crypto_market_dead_letter"
ALL_TOPICS: Final = (TICKS_TOPIC, AGGREGATES_TOPIC, DEAD_LETTER_TOPIC)

TICK_SCHEMA_VERSION: Final = 1

# The ten coins the simulated market trades by default (CoinGecko ids).
DEFAULT_COIN_IDS: Final = (
    "bitcoin",
    "ethereum",
    "binancecoin",
    "solana",
    "cardano",
    "ripple",
    "polkadot",
    "dogecoin",
    "avalanche-2",
    "chainlink",
)

# WebSocket message types.
SNAPSHOT_MESSAGE: Final = "snapshot"
MARKET_UPDATE_MESSAGE: Final = "market_update"
LEGACY_UPDATE_MESSAGE: Final = "aqi_update"

VolatilityLabel = Literal["Stable", "Moving", "Volatile", "High Volatility", "Extreme"]
TrendLabel = Literal["Surging", "Rising", "Stable", "Falling", "Crashing"]

# |change_24h| <= bound -> label; above the last bound -> "Extreme".
VOLATILITY_BANDS: Final[tuple[tuple[float, VolatilityLabel], ...]] = (
    (2.0, "Stable"),
    (5.0, "Moving"),
    (10.0, "Volatile"),
    (20.0, "High Volatility"),
)
VOLATILITY_ABOVE_BANDS: Final[VolatilityLabel] = "Extreme"
# change_24h > bound -> label, checked in order; below every bound -> "Crashing".
TREND_BANDS: Final[tuple[tuple[float, TrendLabel], ...]] = (
    (5.0, "Surging"),
    (2.0, "Rising"),
    (-2.0, "Stable"),
    (-5.0, "Falling"),
)
TREND_BELOW_BANDS: Final[TrendLabel] = "Crashing"


def volatility_label(change_24h: float) -> VolatilityLabel:
    magnitude = abs(change_24h)
    for bound, label in VOLATILITY_BANDS:
        if magnitude <= bound:
            return label
    return VOLATILITY_ABOVE_BANDS


def trend_label(change_24h: float) -> TrendLabel:
    for bound, label in TREND_BANDS:
        if change_24h > bound:
            return label
    return TREND_BELOW_BANDS


def format_timestamp(moment: datetime) -> str:
    """ISO 8601 in UTC with milliseconds and a ``Z``, as CoinGecko writes ``last_updated``."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_timestamp(text: str) -> datetime:
    """Parse ISO 8601 with or without fractional seconds; a zone is required."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"timestamp {text!r} has no time zone")
    return moment


class Tick(BaseModel):
    """One coin's market state as CoinGecko ``/coins/markets`` reports it, plus our envelope.

    ``last_updated`` is the event time (the source's own timestamp); ``observed_at`` is when the
    producer saw it. Both are ISO 8601 strings on the wire.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    schema_version: int = Field(default=TICK_SCHEMA_VERSION, alias="schema")
    id: str = Field(min_length=1)
    symbol: str = Field(min_length=1)
    name: str = Field(min_length=1)
    current_price: float = Field(gt=0)
    market_cap: float | None = None
    total_volume: float | None = None
    price_change_percentage_24h: float | None = None
    high_24h: float | None = None
    low_24h: float | None = None
    last_updated: str
    observed_at: str

    @field_validator("last_updated", "observed_at")
    @classmethod
    def _iso_timestamp(cls, value: str) -> str:
        parse_timestamp(value)
        return value

    def wire(self) -> dict[str, object]:
        """The JSON object published to Kafka (``schema`` key, not the Python attribute name)."""
        return self.model_dump(by_alias=True)


# Wire names of tick fields that other stages refer to.
TICK_SCHEMA_FIELD: Final = "schema"
TICK_ID_FIELD: Final = "id"
TICK_EVENT_TIME_FIELD: Final = "last_updated"
TICK_PRICE_FIELD: Final = "current_price"


class Aggregate(BaseModel):
    """One coin over one event-time window, as the Spark job emits it and the dashboard reads it.

    ``coin``, ``coin_id``, ``price``, ``change_24h``, ``volume_24h``, ``volatility``, ``trend``
    and ``timestamp`` keep the field names of the original dashboard.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    coin: str = Field(min_length=1, description="Ticker symbol, upper case (BTC).")
    coin_id: str = Field(min_length=1, description="CoinGecko id (bitcoin).")
    name: str = ""
    price: float = Field(gt=0, description="Latest price in the window (its close).")
    open: float = Field(gt=0)
    high: float = Field(gt=0)
    low: float = Field(gt=0)
    close: float = Field(gt=0)
    mean_price: float = Field(gt=0)
    samples: int = Field(ge=1)
    change_24h: float
    volume_24h: float | None = None
    market_cap: float | None = None
    volatility: VolatilityLabel
    trend: TrendLabel
    window_start: str
    window_end: str
    timestamp: str = Field(description="Event time of the newest tick in the window.")
    window_open: bool = Field(
        default=True,
        description="False once the watermark has passed window_end: the record is final.",
    )

    @field_validator("window_start", "window_end", "timestamp")
    @classmethod
    def _iso_timestamp(cls, value: str) -> str:
        parse_timestamp(value)
        return value


# Aggregate fields the stream job's sink adds after the Spark transform (it knows the watermark).
AGGREGATE_SINK_FIELDS: Final = ("window_open",)


class IngestRequest(BaseModel):
    """Body of ``POST /ingest``, and the value of each message on ``AGGREGATES_TOPIC``
    (one message per batch, keyed by ``batch_id``)."""

    model_config = ConfigDict(extra="forbid")

    data: list[Aggregate]
    batch_id: str | None = Field(default=None, max_length=200)
    source: str | None = Field(default=None, max_length=200)
