"""The stream job's Kafka lag: offsets from Spark's progress, end offsets from a real broker."""

from __future__ import annotations

import json
import time
import uuid
from types import SimpleNamespace
from typing import Any

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic
from prometheus_client import CollectorRegistry

from cryptopulse_common.metric_catalog import AGGREGATES_QUERY, DEAD_LETTERS_QUERY
from cryptopulse_local.kafka_broker import LocalKafka
from cryptopulse_stream.lag import KafkaLagMonitor, lag_by_query
from cryptopulse_stream.metrics import StreamMetrics, kafka_offsets

LAG = "cryptopulse_stream_kafka_lag_records"


def test_lag_is_end_minus_read_over_the_partitions_a_query_reported() -> None:
    ends = {0: 10, 1: 7, 2: 5}
    read = {AGGREGATES_QUERY: {0: 4, 1: 7}, DEAD_LETTERS_QUERY: {0: 10, 1: 9, 2: 5}}
    # Partition 2 is unknown to the first query; a read ahead of the broker's answer counts 0.
    assert lag_by_query(ends, read) == {AGGREGATES_QUERY: 6, DEAD_LETTERS_QUERY: 0}


def test_the_offsets_of_a_kafka_source_are_read_from_its_progress() -> None:
    kafka = SimpleNamespace(endOffset=json.dumps({"crypto_market_data": {"0": 42, "2": 7}}))
    files = SimpleNamespace(endOffset=json.dumps({"logOffset": 3}))  # a file source
    nothing = SimpleNamespace(endOffset=None)
    broken = SimpleNamespace(endOffset="{not json")
    assert kafka_offsets([kafka, files, nothing, broken]) == {0: 42, 2: 7}


class Offsets:
    def __init__(self, read: dict[str, dict[int, int]]) -> None:
        self.read = read

    def read_offsets(self) -> dict[str, dict[int, int]]:
        return self.read


@pytest.fixture
def topic(kafka_broker: LocalKafka) -> str:
    name = f"lag-{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=kafka_broker.bootstrap_servers)
    try:
        admin.create_topics([NewTopic(name, num_partitions=2, replication_factor=1)])
    finally:
        admin.close()
    producer = KafkaProducer(bootstrap_servers=kafka_broker.bootstrap_servers)
    try:
        for partition, count in ((0, 3), (1, 2)):
            for _ in range(count):
                producer.send(name, b"{}", partition=partition)
        producer.flush(30)
    finally:
        producer.close()
    return name


def consumer_of(broker: LocalKafka) -> Any:
    return KafkaConsumer(bootstrap_servers=broker.bootstrap_servers, group_id=None)


@pytest.mark.kafka
def test_the_monitor_exports_the_lag_the_broker_reports(
    kafka_broker: LocalKafka, topic: str
) -> None:
    registry = CollectorRegistry()
    metrics = StreamMetrics(registry)
    offsets = Offsets({AGGREGATES_QUERY: {0: 1, 1: 0}})
    monitor = KafkaLagMonitor(
        lambda: consumer_of(kafka_broker), topic, offsets, metrics.kafka_lag, 60
    )
    try:
        assert monitor.update() == {AGGREGATES_QUERY: 4}  # (3 - 1) + (2 - 0)
        assert registry.get_sample_value(LAG, {"query": AGGREGATES_QUERY}) == 4
        offsets.read = {AGGREGATES_QUERY: {0: 3, 1: 2}}
        assert monitor.update() == {AGGREGATES_QUERY: 0}
    finally:
        monitor.stop()


@pytest.mark.kafka
def test_the_thread_survives_a_broker_it_cannot_reach_and_recovers(
    kafka_broker: LocalKafka, topic: str
) -> None:
    registry = CollectorRegistry()
    metrics = StreamMetrics(registry)
    attempts = 0

    def connect() -> Any:
        nonlocal attempts
        attempts += 1
        if attempts <= 2:
            raise ConnectionError("no broker yet")
        return consumer_of(kafka_broker)

    monitor = KafkaLagMonitor(
        connect, topic, Offsets({AGGREGATES_QUERY: {0: 0, 1: 0}}), metrics.kafka_lag, 0.1
    ).start()
    try:
        deadline = time.monotonic() + 60
        while registry.get_sample_value(LAG, {"query": AGGREGATES_QUERY}) != 5:
            assert time.monotonic() < deadline, "the lag was never exported"
            time.sleep(0.1)
        assert attempts == 3
    finally:
        monitor.stop()
