"""Where refused messages and records go: the dead-letter topic, with the contract's reason.

Two writers: ``DeadLetterSink`` (a ``foreachBatch`` sink for the tick messages the
classification refused, written with Spark's Kafka writer) and ``KafkaDeadLetters`` (aggregate
records the sink's contract check or ``/ingest`` refused, through a kafka-python producer). Both
write :class:`~cryptopulse_common.contract.DeadLetter` JSON and count what they write.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any, Protocol

import orjson
from pydantic import ValidationError

from cryptopulse_common.contract import (
    DEAD_LETTER_TOPIC,
    Aggregate,
    DeadLetter,
    RejectReason,
    reason_for,
    refusals,
)
from cryptopulse_common.logs import event
from cryptopulse_stream.metrics import StreamMetrics

log = logging.getLogger("cryptopulse.stream.dead_letters")


class DeadLetterWriter(Protocol):
    def write(self, letters: list[DeadLetter]) -> None: ...


class KafkaDeadLetters:
    """Dead letters to the dead-letter topic through a kafka-python producer (acks=all); a
    letter about an aggregate is keyed by its coin id."""

    def __init__(self, producer: Any, flush_timeout: float = 30.0) -> None:
        self._producer = producer
        self._flush_timeout = flush_timeout

    def write(self, letters: list[DeadLetter]) -> None:
        for letter in letters:
            key = letter.topic or _coin_id(letter.value)
            self._producer.send(
                DEAD_LETTER_TOPIC, key=key.encode(), value=letter.model_dump_json().encode()
            )
        self._producer.flush(timeout=self._flush_timeout)


def _coin_id(value: str) -> str:
    try:
        record = orjson.loads(value)
    except orjson.JSONDecodeError:
        return "?"
    return str(record.get("coin_id", "?")) if isinstance(record, dict) else "?"


@dataclass(frozen=True)
class Refused:
    """A record the sink will not POST: the record, the reason, and in words."""

    record: dict[str, Any]
    reason: RejectReason
    detail: str

    def letter(self) -> DeadLetter:
        # Python's writer keeps a NaN as NaN (orjson would write null): the record as it was.
        value = json.dumps(self.record, separators=(",", ":"), default=str)
        return DeadLetter(reason=self.reason, detail=self.detail, origin="aggregate", value=value)


def check_records(records: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[Refused]]:
    """Split records into those that pass the contract and those that do not (with reasons)."""
    valid: list[dict[str, Any]] = []
    refused: list[Refused] = []
    for record in records:
        try:
            Aggregate.model_validate(record)
        except ValidationError as error:
            found = refusals(error)
            detail = "; ".join(r.describe() for r in found)
            refused.append(Refused(record, found[0].reason, f"contract: {detail}"))
        else:
            valid.append(record)
    return valid, refused


def refused_by_api(
    records: list[dict[str, Any]], body: bytes
) -> tuple[list[dict[str, Any]], list[Refused]]:
    """The records a 422 names (``loc: ["data", i, ...]``) with the API's reason, and the rest.

    A 422 that names no record (an envelope error: a version skew between sink and API) refuses
    them all with the API's words, so the job still goes on.
    """
    try:
        detail = orjson.loads(body).get("detail")
        items = [item for item in detail if isinstance(item, dict)]
    except (orjson.JSONDecodeError, AttributeError, TypeError):
        items = []
    by_index: dict[int, list[dict[str, Any]]] = {}
    for item in items:
        loc = item.get("loc") or []
        if (
            len(loc) >= 2
            and loc[0] == "data"
            and isinstance(loc[1], int)
            and 0 <= loc[1] < len(records)
        ):
            by_index.setdefault(loc[1], []).append(item)
    if not by_index:
        words = "; ".join(f"{item.get('loc')}: {item.get('msg')}" for item in items)
        reason = reason_for(str(items[0].get("type"))) if items else "wrong_type"
        text = words or body.decode(errors="replace")[:300]
        return [], [Refused(r, reason, f"/ingest refused the batch: {text}") for r in records]
    kept, refused = [], []
    for index, record in enumerate(records):
        found = by_index.get(index)
        if found is None:
            kept.append(record)
            continue
        words = "; ".join(
            ".".join(str(p) for p in item["loc"][2:]) + f": {item.get('msg')}" for item in found
        )
        reason = reason_for(str(found[0].get("type")))
        refused.append(Refused(record, reason, f"/ingest: {words}"))
    return kept, refused


class DeadLetterSink:
    """Writes refused tick messages, with the reason, to the dead-letter topic and counts them."""

    def __init__(self, kafka_options: dict[str, str], metrics: StreamMetrics) -> None:
        self._kafka_options = kafka_options
        self._metrics = metrics

    def __call__(self, batch: Any, batch_id: int) -> None:
        from pyspark.sql import functions as F

        batch.persist()
        try:
            counts = batch.groupBy("reason").count().collect()
            if not counts:
                return
            (
                batch.select(
                    F.col("topic").cast("string").alias("key"),
                    F.to_json(F.struct(*batch.columns)).alias("value"),
                )
                .write.format("kafka")
                .options(**self._kafka_options)
                .option("topic", DEAD_LETTER_TOPIC)
                .save()
            )
            for row in counts:
                self._metrics.malformed_records.labels(row["reason"]).inc(row["count"])
                event(
                    log,
                    f"sent {row['count']} refused ticks to {DEAD_LETTER_TOPIC}",
                    logging.WARNING,
                    reason=row["reason"],
                    batch=batch_id,
                )
        finally:
            batch.unpersist()
