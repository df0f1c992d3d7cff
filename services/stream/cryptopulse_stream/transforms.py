"""Pure DataFrame -> DataFrame transforms of the stream job (tested with a local SparkSession).

The classification applies the contract's tick rules (``cryptopulse_common.contract``) to every
Kafka message, in the order the producer's mapping finds them: a message is either a tick with
finite, bounded values and a bounded event time, or a dead letter with a reason and a detail.

Event time is the producer's ``observed_at`` (one clock for every coin of a poll, so a coin whose
source updates less often is never behind the watermark); the source's ``last_updated`` is kept
and bounded by it, and ``observed_at`` itself is bounded by the Kafka record timestamp (the
broker's append time on the ticks topic), so no single message can move the watermark ahead of
what the system observed. See docs/contract.md.
"""

from __future__ import annotations

import functools
import operator

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from cryptopulse_common.contract import (
    AGGREGATE_SINK_FIELDS,
    BLANK_TEXT,
    DEFAULT_MAX_CLOCK_SKEW_SECONDS,
    MAX_TEXT_LENGTH,
    TICK_CHANGE_FIELD,
    TICK_EVENT_TIME_FIELD,
    TICK_ID_FIELD,
    TICK_PRICE_FIELD,
    TICK_REQUIRED_FIELDS,
    TICK_SCHEMA_FIELD,
    TICK_SCHEMA_VERSION,
    TICK_SOURCE_TIME_FIELD,
    TICK_TIMESTAMP_FIELDS,
    TIMESTAMP_END_MS,
    TIMESTAMP_MIN_MS,
    TIMESTAMP_PATTERN,
    TREND_BANDS,
    TREND_BELOW_BANDS,
    VOLATILITY_ABOVE_BANDS,
    VOLATILITY_BANDS,
    Aggregate,
    DeadLetter,
    RejectReason,
    Tick,
    number_bounds,
)
from cryptopulse_stream.schema import tick_schema

EVENT_TIME = "event_time"
SOURCE_TIME = "source_time"
ISO_MILLIS = "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'"  # with spark.sql.session.timeZone=UTC

# Columns of a parsed tick, named after the wire fields they come from.
COIN_ID = TICK_ID_FIELD
PRICE = TICK_PRICE_FIELD
AGGREGATE_COLUMNS = tuple(
    name for name in Aggregate.model_fields if name not in AGGREGATE_SINK_FIELDS
)
DEAD_LETTER_COLUMNS = tuple(DeadLetter.model_fields)

CORRUPT_RECORD = "_corrupt_record"
REASON = "reason"
DETAIL = "detail"
RAW_VALUE = "raw_value"
# True when the message parsed to nothing at all (empty, or a tombstone's null value).
UNPARSED = "_unparsed"
# The Kafka record timestamp (LogAppendTime on the ticks topic: the broker's clock).
KAFKA_TIMESTAMP = "timestamp"


def _not_one_object(corrupt: Column) -> Column:
    """True for a message that is not exactly one JSON object (RFC 8259: whitespace around it
    is allowed, nothing else): empty or null (a tombstone), another JSON value (``null``,
    ``42``, an array), text that is no JSON, or an object followed by more than whitespace.

    Spark's JSON reader (Jackson) reads the first value of a text and ignores what follows, so
    ``{tick}garbage`` parses as the tick and only the first tick of ``{tick}\\n{tick}`` would
    be seen. Only a message with a ``}`` followed by more than whitespace (in a tick, only a
    ``}`` inside a string, otherwise) is parsed a second time: as ``[message,0]``, which is an
    array of exactly two values only when the message is one JSON value. A JSON object that is
    no tick is ``corrupt`` with object keys (``wrong_type``, not this).
    """
    raw = F.col(RAW_VALUE)
    trailing = raw.rlike(r"\}[ \t\n\r]*[^ \t\n\r]") & ~F.json_array_length(
        F.concat(F.lit("["), raw, F.lit(",0]"))
    ).eqNullSafe(2)
    return F.col(UNPARSED) | (corrupt & F.json_object_keys(raw).isNull()) | trailing


def _whole(pattern: str) -> str:
    """``pattern`` matched against the whole text by rlike: Java's ``$`` would also match before
    a final line terminator (``\\n``, ``\\r``, U+0085, U+2028, U+2029), its ``\\z`` only at
    the very end, as Python's ``re.fullmatch``."""
    return f"^(?:{pattern})\\z"


# The contract's timestamp grammar and its blank text, matched against the whole text.
_WHOLE_TIMESTAMP = _whole(TIMESTAMP_PATTERN)
_WHOLE_BLANK = _whole(BLANK_TEXT)
_INFINITY = float("inf")


def _parsed_time(field: str) -> Column:
    """The time of ``field``, or null where the contract refuses it (``bad_timestamp``)."""
    stamp = F.col(field)
    moment = F.try_to_timestamp(stamp)
    millis = F.unix_micros(moment) / 1000
    return F.when(
        stamp.rlike(_WHOLE_TIMESTAMP) & (millis >= TIMESTAMP_MIN_MS) & (millis < TIMESTAMP_END_MS),
        moment,
    )


def _time_column(field: str) -> str:
    return EVENT_TIME if field == TICK_EVENT_TIME_FIELD else SOURCE_TIME


Rule = tuple[Column, RejectReason, Column]


def _field_rules() -> list[Rule]:
    """(condition, reason, detail) per tick field, in the model's field order."""
    bounds = number_bounds(Tick)
    rules: list[Rule] = []
    for name, info in Tick.model_fields.items():
        wire = info.alias or name
        column = F.col(wire)
        if wire == TICK_SCHEMA_FIELD:
            rules.append(
                (
                    F.coalesce(column, F.lit(TICK_SCHEMA_VERSION)) != TICK_SCHEMA_VERSION,
                    "unknown_schema_version",
                    F.concat(
                        F.lit(f"{wire}: schema version "),
                        column.cast("string"),
                        F.lit(f" is not {TICK_SCHEMA_VERSION}, the one this build reads"),
                    ),
                )
            )
        elif wire in bounds:
            limits = bounds[wire]
            above = (
                column > limits.minimum if limits.exclusive_minimum else column >= limits.minimum
            )
            rules += [
                (
                    F.isnan(column) | (F.abs(column) == _INFINITY),
                    "non_finite_number",
                    F.concat(F.lit(f"{wire}: "), column.cast("string"), F.lit(" is not finite")),
                ),
                (
                    column.isNotNull() & ~(above & (column <= limits.maximum)),
                    "out_of_range",
                    F.concat(
                        F.lit(f"{wire}: "),
                        column.cast("string"),
                        F.lit(f" is outside {limits.describe()}"),
                    ),
                ),
            ]
        elif wire in TICK_TIMESTAMP_FIELDS:
            rules.append(
                (
                    F.col(_time_column(wire)).isNull(),
                    "bad_timestamp",
                    F.concat(
                        F.lit(f"{wire}: "),
                        column,
                        F.lit(
                            " is not an RFC 3339 timestamp (2026-05-01T12:00:05.123Z, a zone Z or"
                            " +hh:mm) between 1970 and 9999"
                        ),
                    ),
                )
            )
        elif wire in TICK_REQUIRED_FIELDS:  # text
            rules += [
                (
                    F.length(column) > MAX_TEXT_LENGTH,
                    "out_of_range",
                    F.lit(f"{wire}: longer than {MAX_TEXT_LENGTH} characters"),
                ),
                (
                    column.rlike(_WHOLE_BLANK),
                    "missing_field",
                    F.lit(f"{wire}: is blank"),
                ),
            ]
    return rules


def _seconds_ahead(later: Column, earlier: Column) -> Column:
    return (F.unix_micros(later) - F.unix_micros(earlier)) / 1e6


def classify_ticks(
    raw: DataFrame, max_skew_seconds: float = DEFAULT_MAX_CLOCK_SKEW_SECONDS
) -> DataFrame:
    """Kafka rows -> one row per message: the tick's columns, ``event_time`` (observed_at),
    ``source_time`` (last_updated), ``reason`` and ``detail``.

    ``reason`` is null for a tick that passes every rule and otherwise the contract's reason
    code; ``detail`` says in words which field was wrong and how, so the dead-letter topic tells
    an operator what to fix. With a Kafka ``timestamp`` column, observed_at may be at most
    ``max_skew_seconds`` ahead of it (a file source has none: that rule is then skipped).
    """
    text = F.col("value").cast("string")
    parsed = raw.select(
        text.alias(RAW_VALUE),
        F.from_json(
            text,
            tick_schema().add(CORRUPT_RECORD, "string"),
            {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": CORRUPT_RECORD},
        ).alias("tick"),
        *(
            F.col(name)
            for name in ("topic", "partition", "offset", KAFKA_TIMESTAMP)
            if name in raw.columns
        ),
    )
    columns = [c for c in parsed.columns if c != "tick"]
    flat = parsed.select(*columns, F.col("tick").isNull().alias(UNPARSED), "tick.*")
    with_time = flat.withColumn(EVENT_TIME, _parsed_time(TICK_EVENT_TIME_FIELD)).withColumn(
        SOURCE_TIME, _parsed_time(TICK_SOURCE_TIME_FIELD)
    )
    corrupt = F.col(CORRUPT_RECORD).isNotNull()
    missing = [F.col(name).isNull() for name in TICK_REQUIRED_FIELDS]
    source_lead = _seconds_ahead(F.col(SOURCE_TIME), F.col(EVENT_TIME))
    rules: list[Rule] = [
        # A well-formed row stops at the first test: the second JSON parse (get_json_object)
        # only runs for rows from_json already found corrupt.
        (_not_one_object(corrupt), "not_json", F.lit("not a JSON object")),
        (corrupt, "wrong_type", F.lit("field types do not match the tick schema")),
        (
            functools.reduce(operator.or_, missing),
            "missing_field",
            F.concat_ws(
                ", ",
                *(F.when(m, F.lit(n)) for m, n in zip(missing, TICK_REQUIRED_FIELDS, strict=True)),
            ),
        ),
        *_field_rules(),
        (
            source_lead > max_skew_seconds,
            "source_time_ahead",
            F.concat(
                F.lit(f"{TICK_SOURCE_TIME_FIELD}: "),
                F.round(source_lead).cast("long").cast("string"),
                F.lit(f" s ahead of {TICK_EVENT_TIME_FIELD} (tolerance {max_skew_seconds:g} s)"),
            ),
        ),
    ]
    if KAFKA_TIMESTAMP in raw.columns:
        observed_lead = _seconds_ahead(F.col(EVENT_TIME), F.col(KAFKA_TIMESTAMP))
        rules.append(
            (
                observed_lead > max_skew_seconds,
                "observed_time_ahead",
                F.concat(
                    F.lit(f"{TICK_EVENT_TIME_FIELD}: "),
                    F.round(observed_lead).cast("long").cast("string"),
                    F.lit(
                        f" s ahead of the Kafka record timestamp (tolerance {max_skew_seconds:g} s)"
                    ),
                ),
            )
        )
    first, *rest = rules
    reason = F.when(first[0], F.lit(first[1]))
    detail = F.when(first[0], first[2])
    for condition, code, words in rest:
        reason = reason.when(condition, F.lit(code))
        detail = detail.when(condition, words)
    return with_time.withColumn(REASON, reason).withColumn(DETAIL, detail)


def parse_ticks(
    raw: DataFrame, max_skew_seconds: float = DEFAULT_MAX_CLOCK_SKEW_SECONDS
) -> DataFrame:
    """The ticks of ``raw`` that pass every rule, each with its ``event_time``."""
    return classify_ticks(raw, max_skew_seconds).where(F.col(REASON).isNull())


def dead_letters(
    raw: DataFrame, max_skew_seconds: float = DEFAULT_MAX_CLOCK_SKEW_SECONDS
) -> DataFrame:
    """The refused messages of ``raw`` as :class:`DeadLetter` rows (origin ``tick``): the
    reason, the detail, the original text and where it came from."""
    classified = classify_ticks(raw, max_skew_seconds).where(F.col(REASON).isNotNull())
    values: dict[str, Column] = {
        "reason": F.col(REASON),
        "detail": F.col(DETAIL),
        "origin": F.lit("tick"),
        "value": F.col(RAW_VALUE),
    }
    for name, kind in (("topic", "string"), ("partition", "int"), ("offset", "long")):
        values[name] = F.col(name) if name in classified.columns else F.lit(None).cast(kind)
    return classified.select(*(values[name].alias(name) for name in DEAD_LETTER_COLUMNS))


def volatility_label(change_24h: Column) -> Column:
    """The contract's volatility band of ``change_24h``; null when the change is unknown."""
    magnitude = F.abs(change_24h)
    bound, label = VOLATILITY_BANDS[0]
    expr = F.when(change_24h.isNull(), F.lit(None)).when(magnitude <= bound, label)
    for bound, label in VOLATILITY_BANDS[1:]:
        expr = expr.when(magnitude <= bound, label)
    return expr.otherwise(VOLATILITY_ABOVE_BANDS)


def trend_label(change_24h: Column) -> Column:
    """The contract's trend band of ``change_24h``; null when the change is unknown."""
    expr = F.when(change_24h.isNull(), F.lit(None))
    for bound, label in TREND_BANDS:
        expr = expr.when(change_24h > bound, label)
    return expr.otherwise(TREND_BELOW_BANDS)


def window_aggregates(
    ticks: DataFrame, window_seconds: int, slide_seconds: int = 0, watermark: str | None = None
) -> DataFrame:
    """Per coin and event-time window: OHLC, mean, count, latest 24h stats and labels.

    The output columns are the fields of :class:`Aggregate`, in its order, but for the ones the
    sink adds (``AGGREGATE_SINK_FIELDS``). A change the source does not know stays null, and so
    do its labels.
    """
    source = ticks.withWatermark(EVENT_TIME, watermark) if watermark else ticks
    duration = f"{window_seconds} seconds"
    window = (
        F.window(EVENT_TIME, duration, f"{slide_seconds} seconds")
        if slide_seconds
        else F.window(EVENT_TIME, duration)
    )
    grouped = source.groupBy(window.alias("window"), F.col(COIN_ID)).agg(
        F.max_by("symbol", EVENT_TIME).alias("symbol"),
        F.max_by("name", EVENT_TIME).alias("name"),
        F.min_by(PRICE, EVENT_TIME).alias("open"),
        F.max(PRICE).alias("high"),
        F.min(PRICE).alias("low"),
        F.max_by(PRICE, EVENT_TIME).alias("close"),
        F.avg(PRICE).alias("mean_price"),
        F.count(F.lit(1)).alias("samples"),
        F.max_by(TICK_CHANGE_FIELD, EVENT_TIME).alias("change_24h"),
        F.max_by("total_volume", EVENT_TIME).alias("volume_24h"),
        F.max_by("market_cap", EVENT_TIME).alias("market_cap"),
        F.max(EVENT_TIME).alias("latest_event_time"),
        F.max(SOURCE_TIME).alias("latest_source_time"),
    )
    change = F.col("change_24h")
    columns: dict[str, Column] = {
        "coin": F.upper(F.col("symbol")),
        "coin_id": F.col(COIN_ID),
        "name": F.coalesce(F.col("name"), F.lit("")),
        "price": F.col("close"),
        "open": F.col("open"),
        "high": F.col("high"),
        "low": F.col("low"),
        "close": F.col("close"),
        "mean_price": F.col("mean_price"),
        "samples": F.col("samples"),
        "change_24h": change,
        "volume_24h": F.col("volume_24h"),
        "market_cap": F.col("market_cap"),
        "volatility": volatility_label(change),
        "trend": trend_label(change),
        "window_start": F.date_format(F.col("window.start"), ISO_MILLIS),
        "window_end": F.date_format(F.col("window.end"), ISO_MILLIS),
        "timestamp": F.date_format(F.col("latest_event_time"), ISO_MILLIS),
        "last_updated": F.date_format(F.col("latest_source_time"), ISO_MILLIS),
    }
    missing = (set(Aggregate.model_fields) - set(AGGREGATE_SINK_FIELDS)) ^ set(columns)
    if missing:  # pragma: no cover - a contract change without a matching transform change
        raise RuntimeError(f"aggregate columns out of step with the contract: {sorted(missing)}")
    return grouped.select(*(columns[name].alias(name) for name in AGGREGATE_COLUMNS))
