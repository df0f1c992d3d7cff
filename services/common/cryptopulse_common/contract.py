"""The wire contract shared by every stage: topic names, the tick, the aggregate, the dead letter,
and every rule a record must pass, with the reason it is refused for.

Every field and topic name is spelled here once; the producer, the Spark job, the API server and
the tests import them. The Spark schema of a tick is derived from :class:`Tick` (see
``cryptopulse_stream.schema``), so adding a field here is the only change needed on the wire.

The rules are the models' own constraints and validators, built from the bounds, reasons and
field types of ``cryptopulse_common.rules`` (re-exported here: import everything from the
contract); the Spark job applies the same bounds in its dead-letter classification
(``cryptopulse_stream.transforms``), reading them from here. ``docs/contract.md`` lists every
rule with the reason code and the metric it produces.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Final, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails

from cryptopulse_common.rules import (
    AGGREGATE_REJECT_REASONS as AGGREGATE_REJECT_REASONS,
)
from cryptopulse_common.rules import (
    AMOUNT_BOUNDS as AMOUNT_BOUNDS,
)
from cryptopulse_common.rules import (
    BLANK_TEXT as BLANK_TEXT,
)
from cryptopulse_common.rules import (
    CHANGE_BOUNDS as CHANGE_BOUNDS,
)
from cryptopulse_common.rules import (
    CLOCK_CONTEXT as CLOCK_CONTEXT,
)
from cryptopulse_common.rules import (
    DEFAULT_CLOCK_BOUND as DEFAULT_CLOCK_BOUND,
)
from cryptopulse_common.rules import (
    DEFAULT_MAX_CLOCK_SKEW_SECONDS as DEFAULT_MAX_CLOCK_SKEW_SECONDS,
)
from cryptopulse_common.rules import (
    FINITE as FINITE,
)
from cryptopulse_common.rules import (
    MAX_MAGNITUDE as MAX_MAGNITUDE,
)
from cryptopulse_common.rules import (
    MAX_TEXT_LENGTH as MAX_TEXT_LENGTH,
)
from cryptopulse_common.rules import (
    MIN_CHANGE_PERCENT as MIN_CHANGE_PERCENT,
)
from cryptopulse_common.rules import (
    PRICE_BOUNDS as PRICE_BOUNDS,
)
from cryptopulse_common.rules import (
    REASON_DESCRIPTIONS as REASON_DESCRIPTIONS,
)
from cryptopulse_common.rules import (
    REJECT_REASONS as REJECT_REASONS,
)
from cryptopulse_common.rules import (
    TICK_REJECT_REASONS as TICK_REJECT_REASONS,
)
from cryptopulse_common.rules import (
    Amount as Amount,
)
from cryptopulse_common.rules import (
    Bounds as Bounds,
)
from cryptopulse_common.rules import (
    ChangePercent as ChangePercent,
)
from cryptopulse_common.rules import (
    ClockBound as ClockBound,
)
from cryptopulse_common.rules import (
    Price as Price,
)
from cryptopulse_common.rules import (
    Refusal as Refusal,
)
from cryptopulse_common.rules import (
    RejectReason as RejectReason,
)
from cryptopulse_common.rules import (
    Text as Text,
)
from cryptopulse_common.rules import (
    field_error as field_error,
)
from cryptopulse_common.rules import (
    format_timestamp as format_timestamp,
)
from cryptopulse_common.rules import (
    not_blank as not_blank,
)
from cryptopulse_common.rules import (
    number_bounds as number_bounds,
)
from cryptopulse_common.rules import (
    parse_timestamp as parse_timestamp,
)
from cryptopulse_common.rules import (
    raise_field_errors as raise_field_errors,
)
from cryptopulse_common.rules import (
    reason_for as reason_for,
)
from cryptopulse_common.rules import (
    refusals as refusals,
)
from cryptopulse_common.rules import (
    refused as refused,
)
from cryptopulse_common.rules import (
    timestamp_or_refuse as timestamp_or_refuse,
)

TICKS_TOPIC: Final = "crypto_market_data"
AGGREGATES_TOPIC: Final = "crypto_market_aggregates"
DEAD_LETTER_TOPIC: Final = "crypto_market_dead_letter"
ALL_TOPICS: Final = (TICKS_TOPIC, AGGREGATES_TOPIC, DEAD_LETTER_TOPIC)

# Topic configuration the pipeline relies on, for whoever creates the topic (the local broker, the
# producer, the chart's KafkaTopic). LogAppendTime: the broker stamps each tick when it appends
# it, so the record timestamp is a clock no producer controls and the same on every replay; the
# stream job bounds a tick's observed_at by it (rule "observed_time_ahead").
TOPIC_CONFIGS: Final[dict[str, dict[str, str]]] = {
    TICKS_TOPIC: {"message.timestamp.type": "LogAppendTime"},
}

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


class Tick(BaseModel):
    """One coin's market state as CoinGecko ``/coins/markets`` reports it, plus our envelope.

    ``observed_at`` is the event time: when the producer saw the row (one clock for every coin of a
    poll). ``last_updated`` is the source's own time of its last update, kept as a field: it may
    lag (CoinGecko updates illiquid coins less often) but may not lead ``observed_at`` by more
    than the clock-skew tolerance (reason ``source_time_ahead``). Both are ISO 8601 strings.
    """

    model_config = ConfigDict(extra="ignore", frozen=True, **FINITE)

    schema_version: int = Field(default=TICK_SCHEMA_VERSION, alias="schema")
    id: Text
    symbol: Text
    name: Text
    current_price: Price
    market_cap: Amount | None = None
    total_volume: Amount | None = None
    price_change_percentage_24h: ChangePercent | None = None
    high_24h: Price | None = None
    low_24h: Price | None = None
    observed_at: str
    last_updated: str

    @field_validator("schema_version", mode="before")
    @classmethod
    def _null_is_absent(cls, value: object) -> object:
        # "schema": null reads as no schema at all, as the stream job reads it.
        return TICK_SCHEMA_VERSION if value is None else value

    @field_validator("schema_version")
    @classmethod
    def _known_version(cls, value: int) -> int:
        if value != TICK_SCHEMA_VERSION:
            raise refused(
                "unknown_schema_version",
                f"schema version {value} is not {TICK_SCHEMA_VERSION}, the one this build reads",
            )
        return value

    @field_validator("observed_at")
    @classmethod
    def _iso_observed_at(cls, value: str) -> str:
        timestamp_or_refuse(value)
        return value

    @field_validator("last_updated")
    @classmethod
    def _source_time_not_ahead(cls, value: str, info: ValidationInfo) -> str:
        source = timestamp_or_refuse(value)
        observed = info.data.get("observed_at")
        if observed is not None:
            lead = (source - parse_timestamp(observed)).total_seconds()
            limit = ClockBound.of(info).max_skew_seconds
            if lead > limit:
                raise refused(
                    "source_time_ahead",
                    f"{lead:.0f} s ahead of observed_at (tolerance {limit:g} s)",
                )
        return value

    def wire(self) -> dict[str, object]:
        """The JSON object published to Kafka (``schema`` key, not the Python attribute name)."""
        return self.model_dump(by_alias=True)


# Wire names of tick fields that other stages refer to.
TICK_SCHEMA_FIELD: Final = "schema"
TICK_ID_FIELD: Final = "id"
TICK_PRICE_FIELD: Final = "current_price"
TICK_CHANGE_FIELD: Final = "price_change_percentage_24h"
# The event time of a tick, its windows and the watermark: the producer's observation.
TICK_EVENT_TIME_FIELD: Final = "observed_at"
# The source's own time: kept, bounded by the event time, never the event time itself.
TICK_SOURCE_TIME_FIELD: Final = "last_updated"
TICK_TIMESTAMP_FIELDS: Final = (TICK_EVENT_TIME_FIELD, TICK_SOURCE_TIME_FIELD)
# Tick fields a row must carry (and carry non-empty) to be a tick at all.
TICK_REQUIRED_FIELDS: Final = tuple(
    (info.alias or name) for name, info in Tick.model_fields.items() if info.is_required()
)


class Aggregate(BaseModel):
    """One coin over one event-time window, as the Spark job emits it and the dashboard reads it.

    ``coin``, ``coin_id``, ``price``, ``change_24h``, ``volume_24h``, ``volatility``, ``trend``
    and ``timestamp`` keep the field names of the original dashboard. ``change_24h`` is null
    when the source does not know it, and then ``volatility`` and ``trend`` are null too: unknown
    is never shown as known.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, **FINITE)

    coin: Text = Field(description="Ticker symbol, upper case (BTC).")
    coin_id: Text = Field(description="CoinGecko id (bitcoin).")
    name: str = Field(default="", max_length=MAX_TEXT_LENGTH)
    price: Price = Field(description="Latest price in the window (its close).")
    open: Price
    high: Price
    low: Price
    close: Price
    mean_price: Price
    samples: int = Field(ge=1)
    change_24h: ChangePercent | None = Field(
        description="The source's 24 h change in percent; null when it does not know it."
    )
    volume_24h: Amount | None = None
    market_cap: Amount | None = None
    volatility: VolatilityLabel | None = Field(description="Band of |change_24h|; null with it.")
    trend: TrendLabel | None = Field(description="Band of change_24h; null with it.")
    window_start: str
    window_end: str
    timestamp: str = Field(description="Event time (observed_at) of the newest tick in the window.")
    last_updated: str | None = Field(
        default=None,
        description="The source's newest last_updated among the window's ticks (it may lag "
        "timestamp: the source updates that coin less often).",
    )
    window_open: bool = Field(
        default=True,
        description="False once the watermark has passed window_end: the record is final.",
    )

    @field_validator("window_start", "window_end", "timestamp", "last_updated")
    @classmethod
    def _isotimestamp_or_refuse(cls, value: str | None) -> str | None:
        if value is not None:
            timestamp_or_refuse(value)
        return value

    @model_validator(mode="after")
    def _consistent(self, info: ValidationInfo) -> Self:
        errors: list[InitErrorDetails] = []
        for field in ("open", "close", "price", "mean_price"):
            value = getattr(self, field)
            # A mean of equal prices can differ from them in the last bit: allow that much.
            slack = 1e-9 * self.high if field == "mean_price" else 0.0
            if not self.low - slack <= value <= self.high + slack:
                errors.append(
                    field_error(
                        "inconsistent",
                        field,
                        value,
                        f"{field} {value!r} is outside [low {self.low!r}, high {self.high!r}]",
                    )
                )
        for label in ("volatility", "trend"):
            value = getattr(self, label)
            if (value is None) != (self.change_24h is None):
                message = (
                    f"{label} {value!r} for an unknown (null) change_24h"
                    if value is not None
                    else f"{label} is null but change_24h is {self.change_24h!r}"
                )
                errors.append(field_error("inconsistent", label, value, message))
        start, end = (
            parse_timestamp(self.window_start),
            parse_timestamp(self.window_end),
        )
        moment = parse_timestamp(self.timestamp)
        if start >= end:
            errors.append(
                field_error("inconsistent", "window_end", self.window_end, "not after window_start")
            )
        elif not start <= moment < end:
            errors.append(
                field_error(
                    "inconsistent",
                    "timestamp",
                    self.timestamp,
                    f"outside its window [{self.window_start}, {self.window_end})",
                )
            )
        bound = ClockBound.of(info)
        if bound.now is not None:
            limit = bound.now + timedelta(seconds=bound.max_skew_seconds)
            for field, value in (("window_start", start), ("timestamp", moment)):
                if value > limit:
                    ahead = (value - bound.now).total_seconds()
                    errors.append(
                        field_error(
                            "window_ahead",
                            field,
                            getattr(self, field),
                            f"{ahead:.0f} s ahead of the API's clock "
                            f"(tolerance {bound.max_skew_seconds:g} s)",
                        )
                    )
        raise_field_errors(errors, type(self).__name__)
        return self


# Aggregate fields the stream job's sink adds after the Spark transform (it knows the watermark).
AGGREGATE_SINK_FIELDS: Final = ("window_open",)


class IngestRequest(BaseModel):
    """Body of ``POST /ingest``, and the value of each message on ``AGGREGATES_TOPIC``
    (one message per batch, keyed by ``batch_id``).

    A record that breaks a rule makes the whole body a 422 whose ``detail`` names it
    (``loc: ["data", 3, "price"]``, ``type``: the pydantic type or the contract's reason).
    """

    model_config = ConfigDict(extra="forbid")

    data: list[Aggregate]
    batch_id: str | None = Field(default=None, max_length=200)
    source: str | None = Field(default=None, max_length=200)


# --- Dead letters ---------------------------------------------------------------------------
DeadLetterOrigin = Literal["tick", "aggregate"]


class DeadLetter(BaseModel):
    """A message on ``DEAD_LETTER_TOPIC``: what was refused, why, and where it came from.

    ``origin`` is ``tick`` for a message of the ticks topic the stream job refused (``topic``,
    ``partition`` and ``offset`` say which), ``aggregate`` for a record the API (or the sink's
    own check of the contract) refused; ``value`` is the message or record as it was.
    """

    model_config = ConfigDict(extra="forbid")

    reason: RejectReason
    detail: str
    origin: DeadLetterOrigin
    value: str
    topic: str | None = None
    partition: int | None = None
    offset: int | None = None
