"""The stream job's tick classification as it was before the contract bounded every value and
event time (commit 5510dba): eight checks, ``last_updated`` as event time. Only for the drain
benchmark's same-run baseline (``stream_bench --compare-classification``): it lets NaN, infinite
and future ticks through, which is what the current classification exists to stop."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from cryptopulse_common.contract import TICK_SCHEMA_VERSION
from cryptopulse_stream import main as stream_main
from cryptopulse_stream.schema import tick_schema
from cryptopulse_stream.transforms import (
    CORRUPT_RECORD,
    EVENT_TIME,
    RAW_VALUE,
    REASON,
    SOURCE_TIME,
)

_ZONE_SUFFIX = r"(Z|z|[+-][0-9]{2}:?[0-9]{2})$"


def classify_ticks(raw: DataFrame) -> DataFrame:
    text = F.col("value").cast("string")
    parsed = raw.select(
        text.alias(RAW_VALUE),
        F.from_json(
            text,
            tick_schema().add(CORRUPT_RECORD, "string"),
            {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": CORRUPT_RECORD},
        ).alias("tick"),
        *(F.col(name) for name in ("topic", "partition", "offset") if name in raw.columns),
    )
    columns = [c for c in parsed.columns if c != "tick"]
    flat = parsed.select(*columns, "tick.*")
    stamp = F.col("last_updated")
    version = F.col("schema")
    with_time = flat.withColumn(
        EVENT_TIME, F.when(stamp.rlike(_ZONE_SUFFIX), F.try_to_timestamp(stamp))
    ).withColumn(SOURCE_TIME, F.col(EVENT_TIME))
    corrupt = F.col(CORRUPT_RECORD).isNotNull()
    error = (
        F.when(
            corrupt & F.get_json_object(F.col(RAW_VALUE), "$").isNull(),
            F.lit("not a JSON object"),
        )
        .when(corrupt, F.lit("field types do not match the tick schema"))
        .when(
            F.coalesce(version, F.lit(TICK_SCHEMA_VERSION)) != TICK_SCHEMA_VERSION,
            F.concat(F.lit("unknown schema version "), version.cast("string")),
        )
        .when(F.col("id").isNull() | (F.trim(F.col("id")) == ""), F.lit("missing id"))
        .when(F.col("current_price").isNull(), F.lit("missing current_price"))
        .when(F.col("current_price") <= 0, F.lit("current_price must be > 0"))
        .when(stamp.isNull(), F.lit("missing last_updated"))
        .when(F.col(EVENT_TIME).isNull(), F.lit("last_updated is not an ISO 8601 timestamp"))
    )
    return with_time.withColumn(REASON, error)


def parse_ticks(raw: DataFrame, _max_skew_seconds: float = 0.0) -> DataFrame:
    return classify_ticks(raw).where(F.col(REASON).isNull())


def dead_letters(raw: DataFrame, _max_skew_seconds: float = 0.0) -> DataFrame:
    classified = classify_ticks(raw).where(F.col(REASON).isNotNull())
    origin = [F.col(c) for c in ("topic", "partition", "offset") if c in classified.columns]
    return classified.select(F.col(REASON), F.col(RAW_VALUE).alias("value"), *origin)


@contextmanager
def in_the_job() -> Iterator[None]:
    """``start_job`` builds its queries with the previous classification while inside."""
    saved: dict[str, Any] = {
        name: getattr(stream_main, name) for name in ("parse_ticks", "dead_letters")
    }
    setattr(stream_main, "parse_ticks", parse_ticks)  # noqa: B010 (patched for the bench only)
    setattr(stream_main, "dead_letters", dead_letters)  # noqa: B010
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(stream_main, name, value)
