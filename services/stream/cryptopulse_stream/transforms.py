"""Pure DataFrame -> DataFrame transforms of the stream job (tested with a local SparkSession)."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from cryptopulse_common.contract import (
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


def parse_ticks(raw: DataFrame) -> DataFrame:
    """Kafka rows (``value`` bytes) -> one row per well-formed tick with an ``event_time``.

    A row that is not JSON, lacks the coin id, price or event time, has an unknown schema version
    or a timestamp that does not parse yields nothing here.
    """
    parsed = raw.select(
        F.from_json(F.col("value").cast("string"), tick_schema()).alias("tick")
    ).select("tick.*")
    with_time = parsed.withColumn(EVENT_TIME, F.try_to_timestamp(F.col(TICK_EVENT_TIME_FIELD)))
    return with_time.where(
        F.col(COIN_ID).isNotNull()
        & F.col(PRICE).isNotNull()
        & (F.col(PRICE) > 0)
        & F.col(EVENT_TIME).isNotNull()
        & (F.coalesce(F.col(TICK_SCHEMA_FIELD), F.lit(TICK_SCHEMA_VERSION)) == TICK_SCHEMA_VERSION)
    )


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

    The output columns are exactly the fields of :class:`Aggregate`, in its order.
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
    missing = set(Aggregate.model_fields) ^ set(columns)
    if missing:  # pragma: no cover - a contract change without a matching transform change
        raise RuntimeError(f"aggregate columns out of step with the contract: {sorted(missing)}")
    return grouped.select(*(columns[name].alias(name) for name in Aggregate.model_fields))
