"""The producer against a real local Kafka broker."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import uuid
from typing import Any

import orjson
import pytest
from kafka import KafkaConsumer

from cryptopulse_common.contract import DEFAULT_COIN_IDS, TICKS_TOPIC, Tick
from cryptopulse_local.kafka_broker import LocalKafka
from cryptopulse_producer.main import run
from cryptopulse_producer.settings import ProducerSettings

pytestmark = pytest.mark.kafka


def consume_all(bootstrap: str, topic: str, expected: int, timeout_ms: int = 20000) -> list[Any]:
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=f"test-{uuid.uuid4()}",
        consumer_timeout_ms=timeout_ms,
    )
    messages = []
    try:
        for message in consumer:
            messages.append(message)
            if len(messages) >= expected:
                break
    finally:
        consumer.close()
    return messages


def test_simulated_ticks_arrive_keyed_by_coin_with_contract_fields(
    kafka_broker: LocalKafka,
) -> None:
    settings = ProducerSettings(
        kafka_bootstrap_servers=kafka_broker.bootstrap_servers,
        producer_interval_seconds=0.05,
        producer_max_polls=3,
    )
    assert run(settings, threading.Event()) == 0
    messages = consume_all(kafka_broker.bootstrap_servers, TICKS_TOPIC, expected=30)
    assert len(messages) == 30
    per_partition: dict[str, set[int]] = {}
    for message in messages:
        tick = Tick.model_validate(orjson.loads(message.value))
        assert message.key.decode() == tick.id
        per_partition.setdefault(tick.id, set()).add(message.partition)
    assert set(per_partition) == set(DEFAULT_COIN_IDS)
    # Keyed by coin id: every coin's ticks stay in one partition, so they stay ordered.
    assert all(len(partitions) == 1 for partitions in per_partition.values())


def test_unreachable_broker_fails_after_bounded_logged_attempts() -> None:
    from cryptopulse_local.kafka_broker import free_port

    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}",
        "PRODUCER_CONNECT_ATTEMPTS": "2",
        "PRODUCER_CONNECT_BACKOFF_SECONDS": "0.1",
    }
    result = subprocess.run(
        [sys.executable, "-m", "cryptopulse_local.cli", "producer"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert "Attempt 1/2 failed: NoBrokersAvailable" in result.stderr
    assert "Attempt 2/2 failed: NoBrokersAvailable" in result.stderr
    assert "no Kafka broker answered" in result.stderr
