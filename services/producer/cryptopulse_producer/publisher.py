"""Publish ticks to Kafka: keyed by coin id so each coin's ticks stay ordered in one partition."""

from __future__ import annotations

import logging
import time
from typing import Any

import orjson

from cryptopulse_common.contract import TICKS_TOPIC, Tick
from cryptopulse_common.logs import event

log = logging.getLogger(__name__)


class BrokerUnavailableError(RuntimeError):
    pass


def connect_producer(
    bootstrap_servers: str, attempts: int = 5, backoff_seconds: float = 2.0, **overrides: Any
) -> Any:
    """A KafkaProducer, retrying a broker that is not up yet with logged, bounded attempts."""
    from kafka import KafkaProducer
    from kafka.errors import KafkaError, KafkaTimeoutError

    config: dict[str, Any] = {
        "bootstrap_servers": bootstrap_servers,
        "acks": "all",
        "enable_idempotence": True,
        "compression_type": "gzip",
        "linger_ms": 20,
        "bootstrap_timeout_ms": 5000,
        "client_id": "cryptopulse-producer",
    }
    config.update(overrides)
    for attempt in range(1, attempts + 1):
        try:
            return KafkaProducer(**config)
        except KafkaTimeoutError:
            # kafka-python 3 reports an unreachable bootstrap as a timeout (2.x raised
            # NoBrokersAvailable); say it the way operators know it.
            reason = "NoBrokersAvailable"
        except KafkaError as exc:
            reason = type(exc).__name__
        event(
            log,
            f"Attempt {attempt}/{attempts} failed: {reason}",
            logging.WARNING,
            bootstrap=bootstrap_servers,
        )
        if attempt < attempts:
            time.sleep(backoff_seconds * attempt)
    raise BrokerUnavailableError(
        f"no Kafka broker answered at {bootstrap_servers} after {attempts} attempts; "
        "start one with `cryptopulse kafka` or set KAFKA_BOOTSTRAP_SERVERS"
    )


class TickPublisher:
    def __init__(self, producer: Any, topic: str = TICKS_TOPIC) -> None:
        self._producer = producer
        self._topic = topic

    def publish(self, ticks: list[Tick]) -> list[Any]:
        return [
            self._producer.send(self._topic, key=tick.id.encode(), value=orjson.dumps(tick.wire()))
            for tick in ticks
        ]

    def flush(self, timeout: float | None = None) -> None:
        self._producer.flush(timeout=timeout)

    def close(self, timeout: float = 10.0) -> None:
        self._producer.close(timeout=timeout)
