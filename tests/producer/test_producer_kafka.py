"""The producer against a real local Kafka broker."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from prometheus_client import CollectorRegistry

from cryptopulse_common.contract import (
    DEFAULT_COIN_IDS,
    TICK_SCHEMA_FIELD,
    TICKS_TOPIC,
    TOPIC_CONFIGS,
    Tick,
)
from cryptopulse_local.kafka_broker import LocalKafka, free_port
from cryptopulse_producer.kafka_client import connect_producer, producer_config
from cryptopulse_producer.main import Producer, run
from cryptopulse_producer.metrics import DROP_REASONS, FETCH_OUTCOMES, ProducerMetrics
from cryptopulse_producer.publisher import OutgoingRecord, TickPublisher
from cryptopulse_producer.recording import EXAMPLE_RECORDING, read_recording
from cryptopulse_producer.settings import ProducerSettings
from cryptopulse_producer.simulate import SimulatedMarket
from cryptopulse_producer.topics import ensure_topic
from tests.conftest import CACHE_DIR
from tests.support.coingecko_fake import FakeCoinGecko, Reply, running_coingecko

pytestmark = pytest.mark.kafka

Offsets = dict[TopicPartition, int]


def end_offsets(bootstrap: str, topic: str = TICKS_TOPIC) -> Offsets:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
        offsets: Offsets = consumer.end_offsets(partitions)
        return offsets
    finally:
        consumer.close()


def read_topic(bootstrap: str, start: Offsets) -> list[Any]:
    """Every record from ``start`` to the topic's current end, by manual partition assignment."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        partitions = list(start)
        consumer.assign(partitions)
        for partition, offset in start.items():
            consumer.seek(partition, offset)
        end = consumer.end_offsets(partitions)
        records: list[Any] = []
        deadline = time.monotonic() + 60
        while any(consumer.position(p) < end[p] for p in partitions):
            assert time.monotonic() < deadline, "could not read the topic to its end"
            for batch in consumer.poll(timeout_ms=500).values():
                records += batch
        return records
    finally:
        consumer.close()


def settings_for(broker: LocalKafka, **values: Any) -> ProducerSettings:
    return ProducerSettings(
        kafka_bootstrap_servers=broker.bootstrap_servers,
        producer_metrics_port=0,
        **values,
    )


def test_simulated_ticks_arrive_keyed_by_coin_with_contract_fields(
    kafka_broker: LocalKafka,
) -> None:
    start = end_offsets(kafka_broker.bootstrap_servers)
    settings = settings_for(kafka_broker, producer_interval_seconds=0.05, producer_max_polls=3)
    assert run(settings, threading.Event()) == 0
    records = read_topic(kafka_broker.bootstrap_servers, start)
    assert len(records) == 30
    per_coin: dict[str, set[int]] = {}
    for record in records:
        wire = orjson.loads(record.value)
        assert wire[TICK_SCHEMA_FIELD] == 1  # versioned, for consumers to evolve
        tick = Tick.model_validate(wire)
        assert record.key.decode() == tick.id
        per_coin.setdefault(tick.id, set()).add(record.partition)
    assert set(per_coin) == set(DEFAULT_COIN_IDS)
    # Keyed by coin id: every coin's ticks stay in one partition, so they stay ordered.
    assert all(len(partitions) == 1 for partitions in per_coin.values())


def test_coingecko_rows_arrive_as_ticks_and_bad_rows_are_skipped_and_counted(
    kafka_broker: LocalKafka,
) -> None:
    fake = FakeCoinGecko()
    fake.script(Reply.spoiled())
    acknowledged: list[OutgoingRecord] = []
    registry = CollectorRegistry()
    start = end_offsets(kafka_broker.bootstrap_servers)
    with running_coingecko(fake) as url:
        settings = settings_for(
            kafka_broker,
            producer_source="coingecko",
            coingecko_base_url=url,
            producer_interval_seconds=0.05,
            producer_max_polls=2,
        )
        assert run(settings, threading.Event(), registry, acknowledged.append) == 0
    records = read_topic(kafka_broker.bootstrap_servers, start)
    # 10 coins twice, minus the 5 spoiled rows of the first answer.
    assert len(records) == len(acknowledged) == 15
    assert {(r.key, r.value) for r in records} == {(a.key, a.value) for a in acknowledged}
    rejected = {
        reason: registry.get_sample_value(
            "cryptopulse_producer_rows_rejected_total", {"reason": reason}
        )
        for reason in ("missing_field", "wrong_type", "out_of_range", "not_json")
    }
    assert rejected == {"missing_field": 2, "wrong_type": 2, "out_of_range": 1, "not_json": 2}
    assert registry.get_sample_value("cryptopulse_producer_ticks_sent_total") == 15
    served = {(row.get("id"), row.get("last_updated")): row for row in fake.served_rows}
    for record in records:
        wire = orjson.loads(record.value)
        assert record.key.decode() == wire["id"]
        row = served[(wire["id"], wire["last_updated"])]
        for name in ("symbol", "name", "current_price", "market_cap", "total_volume"):
            assert wire[name] == row[name], name
        for name in ("price_change_percentage_24h", "high_24h", "low_24h"):
            assert wire[name] == row[name], name
        assert wire["observed_at"] >= wire["last_updated"]


@contextmanager
def producer_in_thread(settings: ProducerSettings) -> Iterator[tuple[Producer, str]]:
    stop = threading.Event()
    producer = Producer(settings, stop, CollectorRegistry())
    outcome: list[int] = []
    thread = threading.Thread(target=lambda: outcome.append(producer.run()), daemon=True)
    thread.start()
    try:
        yield producer, f"http://127.0.0.1:{settings.producer_metrics_port}"
    finally:
        stop.set()
        thread.join(timeout=60)
        assert not thread.is_alive()
        assert outcome == [0]


def test_health_and_metrics_while_publishing(kafka_broker: LocalKafka) -> None:
    settings = settings_for(kafka_broker, producer_interval_seconds=0.1)
    settings = settings.model_copy(update={"producer_metrics_port": free_port()})
    with producer_in_thread(settings) as (producer, url):
        deadline = time.monotonic() + 60
        while True:
            assert time.monotonic() < deadline, "no tick acknowledged in time"
            sent = producer.metrics.registry.get_sample_value(
                "cryptopulse_producer_ticks_sent_total"
            )
            if sent:
                break
            time.sleep(0.1)
        health = httpx.get(f"{url}/health", timeout=5)
        assert health.status_code == 200
        body = health.json()
        assert body["status"] == "ok"
        assert body["source"] == "simulate"
        assert body["last_publish_age_seconds"] is not None
        text = httpx.get(f"{url}/metrics", timeout=5).text
    # Every label set exists before it first happens, so rate() works from the start.
    for outcome in FETCH_OUTCOMES:
        assert f'cryptopulse_producer_fetches_total{{outcome="{outcome}"}}' in text
    for reason in DROP_REASONS:
        assert f'cryptopulse_producer_ticks_dropped_total{{reason="{reason}"}}' in text
    for name in (
        "cryptopulse_producer_ticks_sent_total",
        "cryptopulse_producer_send_errors_total",
        "cryptopulse_producer_rate_limited_total",
        "cryptopulse_producer_rows_rejected_total",
        "cryptopulse_producer_fetch_duration_seconds_bucket",
        "cryptopulse_producer_last_publish_timestamp_seconds",
        "cryptopulse_producer_buffered_records",
    ):
        assert name in text, name


def test_health_turns_503_when_nothing_is_acknowledged_for_too_long(
    kafka_broker: LocalKafka,
) -> None:
    now = [1000.0]
    settings = settings_for(
        kafka_broker,
        producer_interval_seconds=2.0,
        producer_health_max_silent_intervals=5,
        producer_health_min_silent_seconds=0,
    )
    producer = Producer(settings, threading.Event(), clock=lambda: now[0])
    healthy, details = producer.health()
    assert not healthy  # not connected to Kafka yet: never Ready, however young
    assert details["reason"].startswith("not connected to Kafka yet")
    now[0] += 100
    publisher = producer._connect()
    assert publisher is not None
    try:
        healthy, _ = producer.health()
        assert healthy  # connected: within the allowed silence, counted from the connection
        now[0] += 10.5
        healthy, details = producer.health()
        assert not healthy
        assert details["reason"].startswith("no tick acknowledged by Kafka for 10 s (limit 10 s)")
    finally:
        publisher.close(5)


def test_missing_topic_is_created_with_partitions_and_retention(kafka_broker: LocalKafka) -> None:
    from kafka.admin import ConfigResource, ConfigResourceType

    topic = f"ticks-{uuid.uuid4().hex[:8]}"
    settings = settings_for(
        kafka_broker, producer_topic_partitions=4, producer_topic_retention_hours=2
    )
    assert ensure_topic(settings, topic, TOPIC_CONFIGS[TICKS_TOPIC]) is True
    assert ensure_topic(settings, topic) is False
    admin = KafkaAdminClient(bootstrap_servers=kafka_broker.bootstrap_servers)
    try:
        (described,) = admin.describe_topics([topic])
        assert len(described["partitions"]) == 4
        configs = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
        (by_name,) = [names[topic] for names in configs.values() if topic in names]
        assert "retention.ms" in by_name
        assert str(2 * 3600 * 1000) in str(by_name["retention.ms"])
        assert "LogAppendTime" in str(by_name["message.timestamp.type"])
    finally:
        admin.delete_topics([topic])
        admin.close()


def test_the_broker_stamps_each_tick_whatever_time_the_producer_claims(
    kafka_broker: LocalKafka,
) -> None:
    """The ticks topic is LogAppendTime (the contract's TOPIC_CONFIGS, as the local broker
    creates it): a producer whose clock says 2099 cannot set the record timestamp the stream
    job bounds observed_at by (KAFKA-14991 shows producers sending such timestamps)."""
    start = end_offsets(kafka_broker.bootstrap_servers)
    producer = KafkaProducer(bootstrap_servers=kafka_broker.bootstrap_servers, acks="all")
    try:
        claimed = int(datetime(2099, 1, 1, tzinfo=UTC).timestamp() * 1000)
        producer.send(TICKS_TOPIC, key=b"clock", value=b"{}", timestamp_ms=claimed).get(30)
    finally:
        producer.close()
    before = time.time()
    (record,) = [r for r in read_topic(kafka_broker.bootstrap_servers, start) if r.key == b"clock"]
    assert record.timestamp_type == 1  # LogAppendTime
    assert abs(record.timestamp / 1000 - before) < 300


def test_sigterm_flushes_every_buffered_tick_before_exit(kafka_broker: LocalKafka) -> None:
    start = end_offsets(kafka_broker.bootstrap_servers)
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_broker.bootstrap_servers,
        "PRODUCER_METRICS_PORT": "0",
        "PRODUCER_INTERVAL_SECONDS": "0.1",
        "SIMULATE_COIN_COUNT": "200",
        # Long batching: at SIGTERM, records are certainly still waiting in the client.
        "PRODUCER_LINGER_MS": "5000",
    }
    lines: list[str] = []
    with subprocess.Popen(
        [sys.executable, "-m", "cryptopulse_local.cli", "producer"],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        assert process.stderr is not None
        try:
            for line in process.stderr:
                lines.append(line)
                if sum("+197 more" in seen for seen in lines) >= 5:  # five polls of 200 coins
                    break
            process.send_signal(signal.SIGTERM)
            lines += process.stderr.read().splitlines()
            assert process.wait(60) == 0
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    log = "\n".join(lines)
    assert "received SIGTERM; flushing and stopping" in log
    assert "every tick sent was acknowledged by Kafka" in log
    match = re.search(r"acknowledged=(\d+)", log)
    assert match is not None
    acknowledged = int(match.group(1))
    assert acknowledged >= 1000
    assert len(read_topic(kafka_broker.bootstrap_servers, start)) == acknowledged


def test_unreachable_broker_fails_after_bounded_logged_attempts() -> None:
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}",
        "PRODUCER_CONNECT_ATTEMPTS": "2",
        "PRODUCER_CONNECT_BACKOFF_SECONDS": "0.1",
        "PRODUCER_METRICS_PORT": "0",
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


def test_a_wedged_kafka_client_is_replaced_and_its_ticks_resent(kafka_broker: LocalKafka) -> None:
    config = producer_config(settings_for(kafka_broker))
    bootstrap = config.pop("bootstrap_servers")
    wedged = connect_producer(bootstrap, attempts=1, **config)
    assert wedged.partitions_for(TICKS_TOPIC)  # metadata known: sends go straight to its buffer
    # Wedge its real I/O thread as kafka-python 3.0.12 wedges after an outage (looping while it
    # waits for a producer id): it keeps running but neither sends nor expires anything.
    looping = threading.Event()

    def stuck() -> None:
        looping.set()
        time.sleep(0.01)

    wedged._sender.run_once = stuck
    wedged._sender.wakeup()  # out of its idle poll, into the loop
    assert looping.wait(30)
    registry = CollectorRegistry()
    delivered: list[OutgoingRecord] = []
    publisher = TickPublisher(
        wedged,
        ProducerMetrics(registry),
        on_delivered=delivered.append,
        reconnect=lambda: connect_producer(bootstrap, attempts=1, **config),
        stall_after_seconds=0.5,
    )
    start = end_offsets(kafka_broker.bootstrap_servers)
    ticks = SimulatedMarket(list(DEFAULT_COIN_IDS), seed=5).poll()
    publisher.publish(ticks)
    assert publisher.buffered == len(ticks)
    deadline = time.monotonic() + 30
    while not registry.get_sample_value("cryptopulse_producer_kafka_client_restarts_total"):
        assert time.monotonic() < deadline, "the wedged client was never replaced"
        time.sleep(0.2)
        publisher.publish([])  # each poll checks the client
    assert publisher.flush(30) == 0
    assert publisher.close(5) == 0
    assert registry.get_sample_value("cryptopulse_producer_kafka_client_restarts_total") == 1
    records = read_topic(kafka_broker.bootstrap_servers, start)
    expected = {(tick.id.encode(), orjson.dumps(tick.wire())) for tick in ticks}
    assert {(r.key, r.value) for r in records} == expected
    assert {(d.key, d.value) for d in delivered} == expected


def test_sigterm_while_waiting_for_kafka_stops_at_once() -> None:
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}",
        "PRODUCER_CONNECT_ATTEMPTS": "5",
        "PRODUCER_CONNECT_BACKOFF_SECONDS": "600",  # without the signal: an hour of waiting
        "PRODUCER_CONNECT_BACKOFF_MAX_SECONDS": "600",
        "PRODUCER_METRICS_PORT": "0",
    }
    lines: list[str] = []
    with subprocess.Popen(
        [sys.executable, "-m", "cryptopulse_local.cli", "producer"],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        assert process.stderr is not None
        try:
            for line in process.stderr:
                lines.append(line)
                if "Attempt 1/5 failed: NoBrokersAvailable" in line:
                    break
            process.send_signal(signal.SIGTERM)
            lines += process.stderr.read().splitlines()
            assert process.wait(60) == 0
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    assert "stopped before Kafka answered" in "\n".join(lines)


def test_waits_for_kafka_until_it_comes_up_alive_but_not_ready(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """PRODUCER_CONNECT_ATTEMPTS=0 (the chart's): no broker for longer than the five attempts
    of the local default, /livez 200 and /health 503 meanwhile (un-Ready: "readiness on Kafka
    acks", so helm's --wait covers a cold start); then a broker starts on that
    address, the producer publishes, turns healthy, and SIGTERM still stops it cleanly."""
    port, metrics_port = free_port(), free_port()
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{port}",
        "PRODUCER_CONNECT_ATTEMPTS": "0",
        "PRODUCER_CONNECT_BACKOFF_SECONDS": "0.1",
        "PRODUCER_CONNECT_BACKOFF_MAX_SECONDS": "0.5",
        "PRODUCER_METRICS_PORT": str(metrics_port),
        "PRODUCER_INTERVAL_SECONDS": "0.5",
        # The health settings are the chart's (the defaults): /health must say 503 while no
        # broker answers however short the wait, not only after the allowed silence.
    }
    ops = f"http://127.0.0.1:{metrics_port}"
    lines: list[str] = []
    broker = LocalKafka(
        data_dir=tmp_path_factory.mktemp("late-kafka"),
        cache_dir=CACHE_DIR,
        port=port,
        controller_port=free_port(),
    )
    with subprocess.Popen(
        [sys.executable, "-m", "cryptopulse_local.cli", "producer"],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        assert process.stderr is not None
        try:
            for line in process.stderr:
                lines.append(line)
                if "Attempt 7/∞ failed: NoBrokersAvailable" in line:
                    break
            assert process.poll() is None, "".join(lines)
            assert httpx.get(f"{ops}/livez", timeout=10).status_code == 200
            assert httpx.get(f"{ops}/health", timeout=10).status_code == 503
            reader = threading.Thread(target=lambda: lines.extend(process.stderr or []))
            reader.daemon = True
            reader.start()
            broker.start(topics=[TICKS_TOPIC])
            deadline = time.monotonic() + 120
            while httpx.get(f"{ops}/health", timeout=10).status_code != 200:
                assert time.monotonic() < deadline, "".join(lines)
                assert process.poll() is None, "".join(lines)
                time.sleep(0.5)
            process.send_signal(signal.SIGTERM)
            assert process.wait(60) == 0
            reader.join(10)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            broker.stop()
    log = "".join(lines)
    assert "Attempt 6/∞ failed: NoBrokersAvailable; retrying in 0.5 s" in log
    assert "every tick sent was acknowledged by Kafka" in log


def test_replay_publishes_the_example_recording_and_stops(kafka_broker: LocalKafka) -> None:
    start = end_offsets(kafka_broker.bootstrap_servers)
    settings = settings_for(kafka_broker, producer_source="replay", replay_speed=0)
    assert run(settings, threading.Event()) == 0  # returns by itself at the recording's end
    records = read_topic(kafka_broker.bootstrap_servers, start)
    entries = read_recording(EXAMPLE_RECORDING)
    assert len(records) == len(entries) * len(DEFAULT_COIN_IDS)
    for record in records:
        tick = Tick.model_validate(orjson.loads(record.value))
        assert record.key.decode() == tick.id
