"""The kafka-python producer the publisher drives: its configuration, connecting, abandoning."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from cryptopulse_common.kafka_config import kafka_python_config
from cryptopulse_common.logs import event
from cryptopulse_producer.settings import ProducerSettings

log = logging.getLogger(__name__)

# send() waits this long at most for topic metadata, so an outage never stalls the poll loop.
MAX_BLOCK_MS = 2000
# Reconnect to a restarted broker within a few seconds (kafka-python's default backs off to 30 s).
RECONNECT_BACKOFF_MAX_MS = 2000
CONNECT_TIMEOUT_MS = 5000


class BrokerUnavailableError(RuntimeError):
    pass


class ConnectInterruptedError(RuntimeError):
    """The producer was told to stop while it waited to retry the broker."""


def producer_config(settings: ProducerSettings) -> dict[str, Any]:
    """kafka-python producer settings: durable (acks=all, idempotent), batched and compressed."""
    delivery_ms = int(settings.producer_delivery_timeout_seconds * 1000)
    return {
        **kafka_python_config(settings),  # bootstrap servers, TLS and SASL
        "client_id": "cryptopulse-producer",
        "acks": "all",
        "enable_idempotence": True,
        "compression_type": None
        if settings.producer_compression == "none"
        else settings.producer_compression,
        "linger_ms": settings.producer_linger_ms,
        "batch_size": settings.producer_batch_bytes,
        "delivery_timeout_ms": delivery_ms,
        # kafka-python requires delivery_timeout_ms >= request_timeout_ms + linger_ms.
        "request_timeout_ms": max(
            1000, min(30_000, (delivery_ms - settings.producer_linger_ms) // 2)
        ),
        "max_block_ms": MAX_BLOCK_MS,
        "reconnect_backoff_max_ms": RECONNECT_BACKOFF_MAX_MS,
        "bootstrap_timeout_ms": CONNECT_TIMEOUT_MS,
    }


def connect_producer(
    bootstrap_servers: str,
    attempts: int = 5,
    backoff_seconds: float = 2.0,
    wait: Callable[[float], bool] | None = None,
    backoff_max_seconds: float = 30.0,
    **config: Any,
) -> Any:
    """A KafkaProducer, retrying a broker that is not up yet with logged attempts.

    ``attempts`` 0 retries until ``wait`` says stop (on Kubernetes, where Kafka may come up
    minutes after the producer). The wait before attempt N+1 is ``backoff_seconds * N``, at
    most ``backoff_max_seconds``. ``wait`` sleeps between attempts and returns True to stop
    (``threading.Event.wait``): then :class:`ConnectInterruptedError`. After ``attempts``
    failures: :class:`BrokerUnavailableError`. Each failure is logged as ``Attempt N/M failed:
    NoBrokersAvailable`` (``N/∞`` when unbounded), the words operators search for.
    """
    from kafka import KafkaProducer
    from kafka.errors import KafkaError, KafkaTimeoutError

    config = {
        "bootstrap_servers": bootstrap_servers,
        "bootstrap_timeout_ms": CONNECT_TIMEOUT_MS,
        **config,
    }
    of = str(attempts) if attempts else "∞"
    attempt = 0
    while not attempts or attempt < attempts:
        attempt += 1
        try:
            return KafkaProducer(**config)
        except KafkaTimeoutError:
            # kafka-python 3 reports an unreachable bootstrap as a timeout (2.x raised
            # NoBrokersAvailable); say it the way operators know it.
            reason = "NoBrokersAvailable"
        except KafkaError as exc:
            reason = type(exc).__name__
        last = bool(attempts) and attempt >= attempts
        delay = min(backoff_seconds * attempt, backoff_max_seconds)
        event(
            log,
            f"Attempt {attempt}/{of} failed: {reason}"
            + ("" if last else f"; retrying in {delay:g} s"),
            logging.WARNING,
            bootstrap=bootstrap_servers,
        )
        if last:
            break
        if wait is None:
            time.sleep(delay)
        elif wait(delay):
            raise ConnectInterruptedError("stopped while waiting for Kafka")
    raise BrokerUnavailableError(
        f"no Kafka broker answered at {bootstrap_servers} after {attempts} attempts; "
        "start one with `cryptopulse kafka` or set KAFKA_BOOTSTRAP_SERVERS"
    )


def close_producer(producer: Any, timeout: float) -> None:
    """Close ``producer``, giving up on what it has not sent after ``timeout`` s.

    kafka-python's ``close()`` flushes first and raises while records are still unsent (broker
    away), leaving its I/O thread running; then its I/O thread is stopped without sending, which
    fails the futures of every record it still holds.
    """
    from kafka.errors import KafkaTimeoutError

    try:
        producer.close(timeout=timeout)
    except KafkaTimeoutError:
        sender = getattr(producer, "_sender", None)
        if sender is not None:
            sender.force_close()
