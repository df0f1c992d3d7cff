"""Pure DataFrame -> DataFrame transforms of the stream job (tested with a local SparkSession)."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from cryptopulse_common.contract import (
    AGGREGATE_SINK_FIELDS,
    TICK_EVENT_TIME_FIELD,
    TICK_ID_FIELD,
    TICK_PRICE_FIELD,
    TICK_SCHEMA_FIELD,
    TICK_SCHEMA_VERSION,
    TREND_BANDS,
    TREND_BELOW_BANDS,
    VOLATILITY_ABOVE_BANDS,
    VOLATILITY_BANDS,
    Aggregate,
)
from cryptopulse_stream.schema import tick_schema

EVENT_TIME = "event_time"
ISO_MILLIS = "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'"  # with spark.sql.session.timeZone=UTC

# Columns of a parsed tick, named after the wire fields they come from.
COIN_ID = TICK_ID_FIELD
PRICE = TICK_PRICE_FIELD
AGGREGATE_COLUMNS = tuple(
    name for name in Aggregate.model_fields if name not in AGGREGATE_SINK_FIELDS
)


CORRUPT_RECORD = "_corrupt_record"
ERROR = "error"
RAW_VALUE = "raw_value"
# An ISO 8601 timestamp must carry its zone: Z or +hh:mm / +hhmm.
_ZONE_SUFFIX = r"(Z|z|[+-][0-9]{2}:?[0-9]{2})$"


def classify_ticks(raw: DataFrame) -> DataFrame:
    """Kafka rows -> one row per message: the tick's columns, ``event_time``, and ``error``.

    ``error`` is null for a well-formed tick and otherwise says what was wrong, in words, so the
    dead-letter topic tells an operator why a message was refused.
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
            for name in ("topic", "partition", "offset", "timestamp")
            if name in raw.columns
        ),
    )
    columns = [c for c in parsed.columns if c != "tick"]
    flat = parsed.select(*columns, "tick.*")
    stamp = F.col(TICK_EVENT_TIME_FIELD)
    version = F.col(TICK_SCHEMA_FIELD)
    with_time = flat.withColumn(
        EVENT_TIME,
        F.when(stamp.rlike(_ZONE_SUFFIX), F.try_to_timestamp(stamp)),
    )
    corrupt = F.col(CORRUPT_RECORD).isNotNull()
    error = (
        # A well-formed row stops at the first test: the second JSON parse (get_json_object)
        # only runs for rows from_json already found corrupt.
        F.when(
            corrupt & F.get_json_object(F.col(RAW_VALUE), "$").isNull(),
            F.lit("not a JSON object"),
        )
        .when(corrupt, F.lit("field types do not match the tick schema"))
        .when(
            F.coalesce(version, F.lit(TICK_SCHEMA_VERSION)) != TICK_SCHEMA_VERSION,
            F.concat(F.lit("unknown schema version "), version.cast("string")),
        )
        .when(F.col(COIN_ID).isNull() | (F.trim(F.col(COIN_ID)) == ""), F.lit("missing id"))
        .when(F.col(PRICE).isNull(), F.lit(f"missing {PRICE}"))
        .when(F.col(PRICE) <= 0, F.lit(f"{PRICE} must be > 0"))
        .when(stamp.isNull(), F.lit(f"missing {TICK_EVENT_TIME_FIELD}"))
        .when(
            F.col(EVENT_TIME).isNull(),
            F.lit(f"{TICK_EVENT_TIME_FIELD} is not an ISO 8601 timestamp with a zone"),
        )
    )
    return with_time.withColumn(ERROR, error)


def parse_ticks(raw: DataFrame) -> DataFrame:
    """The well-formed ticks of ``raw``, each with its ``event_time``."""
    return classify_ticks(raw).where(F.col(ERROR).isNull())


def dead_letters(raw: DataFrame) -> DataFrame:
    """The malformed messages of ``raw``: the reason, the original text and where it came from."""
    classified = classify_ticks(raw).where(F.col(ERROR).isNotNull())
    origin = [F.col(c) for c in ("topic", "partition", "offset") if c in classified.columns]
    return classified.select(F.col(ERROR).alias("reason"), F.col(RAW_VALUE).alias("value"), *origin)


def volatility_label(change_24h: Column) -> Column:
    magnitude = F.abs(change_24h)
    bound, label = VOLATILITY_BANDS[0]
    expr = F.when(magnitude <= bound, label)
    for bound, label in VOLATILITY_BANDS[1:]:
        expr = expr.when(magnitude <= bound, label)
    return expr.otherwise(VOLATILITY_ABOVE_BANDS)


def trend_label(change_24h: Column) -> Column:
    bound, label = TREND_BANDS[0]
    expr = F.when(change_24h > bound, label)
    for bound, label in TREND_BANDS[1:]:
        expr = expr.when(change_24h > bound, label)
    return expr.otherwise(TREND_BELOW_BANDS)


def window_aggregates(
    ticks: DataFrame, window_seconds: int, slide_seconds: int = 0, watermark: str | None = None
) -> DataFrame:
    """Per coin and event-time window: OHLC, mean, count, latest 24h stats and labels.

    The output columns are the fields of :class:`Aggregate`, in its order, but for the ones the
    sink adds (``AGGREGATE_SINK_FIELDS``).
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
        F.max_by("price_change_percentage_24h", EVENT_TIME).alias("change_24h_raw"),
        F.max_by("total_volume", EVENT_TIME).alias("volume_24h"),
        F.max_by("market_cap", EVENT_TIME).alias("market_cap"),
        F.max(EVENT_TIME).alias("latest_event_time"),
    )
    change = F.coalesce(F.col("change_24h_raw"), F.lit(0.0))
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
    }
    missing = (set(Aggregate.model_fields) - set(AGGREGATE_SINK_FIELDS)) ^ set(columns)
    if missing:  # pragma: no cover - a contract change without a matching transform change
        raise RuntimeError(f"aggregate columns out of step with the contract: {sorted(missing)}")
    return grouped.select(*(columns[name].alias(name) for name in AGGREGATE_COLUMNS))
