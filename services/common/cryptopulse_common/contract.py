"""The wire contract shared by every stage: topic names, the tick, the aggregate, the dead letter,
and every rule a record must pass, with the reason it is refused for.

Every field and topic name is spelled here once; the producer, the Spark job, the API server and
the tests import them. The Spark schema of a tick is derived from :class:`Tick` (see
``cryptopulse_stream.schema``), so adding a field here is the only change needed on the wire.

The rules are the models' own constraints and validators; the Spark job applies the same
bounds in its dead-letter classification (``cryptopulse_stream.transforms``), reading them from
here. ``docs/contract.md`` lists every rule with the reason code and the metric it produces.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Final, Literal, Self, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

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


# --- Bounds ---------------------------------------------------------------------------------
# Every number on the wire is finite and at most this large in magnitude: a market cap of 1e18
# is a thousand times Bitcoin's in Vietnamese dong, and a window's sum of prices cannot overflow a
# double (1e18 x 1e290 ticks). ``1e999`` and ``10**400`` overflow a double: non-finite.
MAX_MAGNITUDE: Final = 1e18
# A price change cannot be below -100 % (the price would be negative).
MIN_CHANGE_PERCENT: Final = -100.0
# Ids, symbols and names (CoinGecko's longest ids are under 100 characters).
MAX_TEXT_LENGTH: Final = 200
# How far a timestamp may be ahead of the clock that bounds it (the source's last_updated ahead of
# the producer's observed_at, observed_at ahead of the broker's append time, an aggregate ahead of
# the API's clock): clock skew between two machines, not lateness. Overridden by the common
# setting MAX_CLOCK_SKEW_SECONDS.
DEFAULT_MAX_CLOCK_SKEW_SECONDS: Final = 60.0

# --- Reasons --------------------------------------------------------------------------------
# Why a record is refused, at every boundary: the producer's rows_rejected_total{reason}, the
# stream job's malformed_records_total{reason} and records_refused_total{reason}, the API's
# ingest_records_refused_total{reason}, and the ``reason`` of every dead letter.
RejectReason = Literal[
    "not_json",
    "wrong_type",
    "unknown_schema_version",
    "missing_field",
    "non_finite_number",
    "out_of_range",
    "bad_timestamp",
    "inconsistent",
    "source_time_ahead",
    "observed_time_ahead",
    "window_ahead",
    "too_large",
]
REJECT_REASONS: Final[tuple[RejectReason, ...]] = get_args(RejectReason)
# The reasons a tick can be refused for (producer mapping, stream classification) and an
# aggregate (the API, the stream job's sink): the label values each stage's counter starts with.
TICK_REJECT_REASONS: Final[tuple[RejectReason, ...]] = (
    "not_json",
    "wrong_type",
    "unknown_schema_version",
    "missing_field",
    "non_finite_number",
    "out_of_range",
    "bad_timestamp",
    "source_time_ahead",
    "observed_time_ahead",
)
AGGREGATE_REJECT_REASONS: Final[tuple[RejectReason, ...]] = (
    "not_json",
    "wrong_type",
    "missing_field",
    "non_finite_number",
    "out_of_range",
    "bad_timestamp",
    "inconsistent",
    "window_ahead",
    "too_large",
)
REASON_DESCRIPTIONS: Final[dict[RejectReason, str]] = {
    "not_json": "not a JSON object (or not JSON at all)",
    "wrong_type": "a field has the wrong JSON type, an unknown label, or is not in the contract",
    "unknown_schema_version": "a tick whose schema version this build does not read",
    "missing_field": "a required field is missing, null or empty",
    "non_finite_number": "a number is NaN, Infinity or -Infinity, or overflows a double (1e999)",
    "out_of_range": f"a number or text outside its bounds (price <= 0, |x| > {MAX_MAGNITUDE:g}, "
    f"change < {MIN_CHANGE_PERCENT:g} %, text over {MAX_TEXT_LENGTH} characters)",
    "bad_timestamp": "a timestamp that is not ISO 8601 with a time zone",
    "inconsistent": "fields that contradict each other (low above high, window_start not "
    "before window_end, timestamp outside its window, a label without a change)",
    "source_time_ahead": "a tick's last_updated ahead of its observed_at by more than the "
    "clock-skew tolerance",
    "observed_time_ahead": "a tick's observed_at ahead of the broker's append time by more than "
    "the clock-skew tolerance",
    "window_ahead": "an aggregate whose window or timestamp is ahead of the API's clock by more "
    "than the clock-skew tolerance",
    "too_large": "a record larger than the API's body limit on its own",
}

# pydantic error types (https://docs.pydantic.dev/latest/errors/validation_errors/) -> reason.
# The contract's own checks raise errors whose type is the reason itself.
_ERROR_TYPE_REASONS: Final[dict[str, RejectReason]] = {
    "missing": "missing_field",
    "string_too_short": "missing_field",
    "finite_number": "non_finite_number",
    "greater_than": "out_of_range",
    "greater_than_equal": "out_of_range",
    "less_than": "out_of_range",
    "less_than_equal": "out_of_range",
    "string_too_long": "out_of_range",
    "too_long": "out_of_range",
    "json_invalid": "not_json",
    "json_type": "not_json",
    "model_type": "not_json",
    "model_attributes_type": "not_json",
}


def reason_for(error_type: str) -> RejectReason:
    """The reason a pydantic error type stands for (``finite_number`` -> ``non_finite_number``);
    any other type error (``float_type``, ``literal_error``, ``extra_forbidden``...) is
    ``wrong_type``."""
    if error_type in REJECT_REASONS:
        return error_type  # one of the contract's own checks
    return _ERROR_TYPE_REASONS.get(error_type, "wrong_type")


@dataclass(frozen=True)
class Refusal:
    """One thing wrong with a record: where (``data.3.price``), the reason, and in words."""

    location: str
    reason: RejectReason
    message: str

    def describe(self) -> str:
        return f"{self.location}: {self.message}" if self.location else self.message


def refusals(error: ValidationError, strip: int = 0) -> list[Refusal]:
    """Every error of ``error`` as a :class:`Refusal`; ``strip`` drops leading location parts."""
    found = []
    for item in error.errors(include_url=False):
        location = ".".join(str(part) for part in item["loc"][strip:])
        found.append(Refusal(location, reason_for(item["type"]), item["msg"]))
    return found


# --- Timestamps -----------------------------------------------------------------------------


def format_timestamp(moment: datetime) -> str:
    """ISO 8601 in UTC with milliseconds and a ``Z``, as CoinGecko writes ``last_updated``."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_timestamp(text: str) -> datetime:
    """Parse ISO 8601 with or without fractional seconds; a zone is required.

    Raises ValueError for anything else (``yesterday``, a date without a zone).
    """
    moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"timestamp {text!r} has no time zone")
    return moment


def _timestamp(value: str) -> datetime:
    try:
        return parse_timestamp(value)
    except ValueError:
        raise _refused(
            "bad_timestamp", f"{value[:80]!r} is not an ISO 8601 timestamp with a time zone"
        ) from None


def _refused(reason: RejectReason, message: str) -> PydanticCustomError:
    """An error whose type is the contract's reason; ``message`` is final (no placeholders)."""
    return PydanticCustomError(reason, "{message}", {"message": message})


@dataclass(frozen=True)
class ClockBound:
    """Validation context of the clock-based rules: ``now`` and the clock-skew tolerance.

    Pass as ``Model.model_validate(data, context=ClockBound(...).context())``. Without it, an
    aggregate's window is not compared with any clock (the stream job's own check of its
    records), and a tick's source time is bounded by its observed_at with the default tolerance.
    """

    now: datetime | None = None
    max_skew_seconds: float = DEFAULT_MAX_CLOCK_SKEW_SECONDS

    def context(self) -> dict[str, ClockBound]:
        return {CLOCK_CONTEXT: self}

    @staticmethod
    def of(info: ValidationInfo) -> ClockBound:
        context = info.context
        if isinstance(context, dict) and isinstance(context.get(CLOCK_CONTEXT), ClockBound):
            bound: ClockBound = context[CLOCK_CONTEXT]
            return bound
        return DEFAULT_CLOCK_BOUND


CLOCK_CONTEXT: Final = "clock"
DEFAULT_CLOCK_BOUND: Final = ClockBound()


def _raise(errors: list[InitErrorDetails], title: str) -> None:
    """Raise the cross-field errors found, each at its own field (``data.3.low``)."""
    if errors:
        raise ValidationError.from_exception_data(title, errors)


def _error(reason: RejectReason, field: str, value: Any, message: str) -> InitErrorDetails:
    return InitErrorDetails(type=_refused(reason, message), loc=(field,), input=value)


# --- Field types ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Bounds:
    """The range of a numeric field, kept in its type so every stage reads the same numbers
    (the models through pydantic constraints, the Spark classification through
    :func:`number_bounds`)."""

    minimum: float
    exclusive_minimum: bool
    maximum: float = MAX_MAGNITUDE

    def admits(self, value: float) -> bool:
        above = value > self.minimum if self.exclusive_minimum else value >= self.minimum
        return above and value <= self.maximum

    def describe(self) -> str:
        low = "(" if self.exclusive_minimum else "["
        return f"{low}{self.minimum:g}, {self.maximum:g}]"

    def constraints(self) -> dict[str, float]:
        """As pydantic ``Field`` keyword arguments."""
        low = "gt" if self.exclusive_minimum else "ge"
        return {low: self.minimum, "le": self.maximum}


PRICE_BOUNDS: Final = Bounds(0.0, exclusive_minimum=True)
AMOUNT_BOUNDS: Final = Bounds(0.0, exclusive_minimum=False)
CHANGE_BOUNDS: Final = Bounds(MIN_CHANGE_PERCENT, exclusive_minimum=False)


# Text made only of these characters is blank (a missing id). A regular expression that Java
# (the stream job's rlike) and Python's re read alike: Python's str.isspace() also counts
# Unicode spaces, Spark's trim() only the ASCII space.
BLANK_TEXT: Final = "[ \\t\\n\\x0B\\f\\r]*"


def _not_blank(value: str) -> str:
    if re.fullmatch(BLANK_TEXT, value):
        raise _refused("missing_field", "is blank")
    return value


Text = Annotated[str, Field(min_length=1, max_length=MAX_TEXT_LENGTH), AfterValidator(_not_blank)]
Price = Annotated[float, PRICE_BOUNDS, Field(**PRICE_BOUNDS.constraints())]
Amount = Annotated[float, AMOUNT_BOUNDS, Field(**AMOUNT_BOUNDS.constraints())]
ChangePercent = Annotated[float, CHANGE_BOUNDS, Field(**CHANGE_BOUNDS.constraints())]


def number_bounds(model: type[BaseModel]) -> dict[str, Bounds]:
    """Wire name -> :class:`Bounds` of every bounded number field of ``model``."""
    found: dict[str, Bounds] = {}
    for name, info in model.model_fields.items():
        metadata = list(info.metadata)
        for arg in get_args(info.annotation):  # Optional[Annotated[float, Bounds, ...]]
            metadata += list(get_args(arg)[1:])
        for item in metadata:
            if isinstance(item, Bounds):
                found[info.alias or name] = item
    return found


# Every number is finite: pydantic refuses NaN and +-Infinity (also as "NaN" strings and 1e999).
_FINITE: Final = ConfigDict(allow_inf_nan=False)


class Tick(BaseModel):
    """One coin's market state as CoinGecko ``/coins/markets`` reports it, plus our envelope.

    ``observed_at`` is the event time: when the producer saw the row (one clock for every coin of a
    poll). ``last_updated`` is the source's own time of its last update, kept as a field: it may
    lag (CoinGecko updates illiquid coins less often) but may not lead ``observed_at`` by more
    than the clock-skew tolerance (reason ``source_time_ahead``). Both are ISO 8601 strings.
    """

    model_config = ConfigDict(extra="ignore", frozen=True, **_FINITE)

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
            raise _refused(
                "unknown_schema_version",
                f"schema version {value} is not {TICK_SCHEMA_VERSION}, the one this build reads",
            )
        return value

    @field_validator("observed_at")
    @classmethod
    def _iso_observed_at(cls, value: str) -> str:
        _timestamp(value)
        return value

    @field_validator("last_updated")
    @classmethod
    def _source_time_not_ahead(cls, value: str, info: ValidationInfo) -> str:
        source = _timestamp(value)
        observed = info.data.get("observed_at")
        if observed is not None:
            lead = (source - parse_timestamp(observed)).total_seconds()
            limit = ClockBound.of(info).max_skew_seconds
            if lead > limit:
                raise _refused(
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

    model_config = ConfigDict(extra="forbid", frozen=True, **_FINITE)

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
    def _iso_timestamp(cls, value: str | None) -> str | None:
        if value is not None:
            _timestamp(value)
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
                    _error(
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
                errors.append(_error("inconsistent", label, value, message))
        start, end = parse_timestamp(self.window_start), parse_timestamp(self.window_end)
        moment = parse_timestamp(self.timestamp)
        if start >= end:
            errors.append(
                _error("inconsistent", "window_end", self.window_end, "not after window_start")
            )
        elif not start <= moment < end:
            errors.append(
                _error(
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
                        _error(
                            "window_ahead",
                            field,
                            getattr(self, field),
                            f"{ahead:.0f} s ahead of the API's clock "
                            f"(tolerance {bound.max_skew_seconds:g} s)",
                        )
                    )
        _raise(errors, type(self).__name__)
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
