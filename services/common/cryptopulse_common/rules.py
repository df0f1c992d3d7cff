"""The rules every record on the wire must pass, and the reason each refusal carries.

Bounds of numbers and text, the reason codes (and the mapping from pydantic's error types to
them), the clock-skew bound and its validation context, and the field types the models in
``cryptopulse_common.contract`` are built from. Import them from the contract: it re-exports
every name here, so a stage has one place to read the wire from. ``docs/contract.md`` lists each
rule with its reason and the metric that counts it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Final, Literal, get_args

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, ValidationInfo
from pydantic_core import InitErrorDetails, PydanticCustomError

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


def timestamp_or_refuse(value: str) -> datetime:
    try:
        return parse_timestamp(value)
    except ValueError:
        raise refused(
            "bad_timestamp", f"{value[:80]!r} is not an ISO 8601 timestamp with a time zone"
        ) from None


def refused(reason: RejectReason, message: str) -> PydanticCustomError:
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


def raise_field_errors(errors: list[InitErrorDetails], title: str) -> None:
    """Raise the cross-field errors found, each at its own field (``data.3.low``)."""
    if errors:
        raise ValidationError.from_exception_data(title, errors)


def field_error(reason: RejectReason, field: str, value: Any, message: str) -> InitErrorDetails:
    return InitErrorDetails(type=refused(reason, message), loc=(field,), input=value)


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


def not_blank(value: str) -> str:
    if re.fullmatch(BLANK_TEXT, value):
        raise refused("missing_field", "is blank")
    return value


Text = Annotated[str, Field(min_length=1, max_length=MAX_TEXT_LENGTH), AfterValidator(not_blank)]
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
FINITE: Final = ConfigDict(allow_inf_nan=False)
