"""Two API replicas share every update through the aggregates topic of a real Kafka broker."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from kafka import KafkaProducer
from websockets.sync.client import ClientConnection, connect

from cryptopulse_common.contract import AGGREGATES_TOPIC
from cryptopulse_local.kafka_broker import LocalKafka
from tests.api.conftest import ApiProcess, aggregate, api_process, ws_url

pytestmark = pytest.mark.kafka


@pytest.fixture
def producer(kafka_broker: LocalKafka) -> Iterator[KafkaProducer]:
    kafka = KafkaProducer(bootstrap_servers=kafka_broker.bootstrap_servers, acks="all")
    try:
        yield kafka
    finally:
        kafka.close()


def publish(producer: KafkaProducer, body: dict[str, Any]) -> None:
    """What the stream job does with every batch besides POSTing it."""
    producer.send(AGGREGATES_TOPIC, key=body["batch_id"].encode(), value=orjson.dumps(body))
    producer.flush(timeout=10)


def kafka_outcomes(api: ApiProcess) -> dict[str, float]:
    return {
        status: api.sample("cryptopulse_fanout_kafka_messages_total", status=status)
        for status in ("broadcast", "duplicate", "invalid")
    }


def drain(ws: ClientConnection, quiet: float = 1.0) -> list[dict[str, Any]]:
    """Every message that arrives until none has for ``quiet`` seconds."""
    messages = []
    while True:
        try:
            messages.append(json.loads(ws.recv(timeout=quiet)))
        except TimeoutError:
            return messages


def test_clients_of_both_replicas_get_every_batch_exactly_once(
    kafka_broker: LocalKafka, producer: KafkaProducer, tmp_path: Path
) -> None:
    env = {
        "API_FANOUT_FROM_KAFKA": "true",
        "KAFKA_BOOTSTRAP_SERVERS": kafka_broker.bootstrap_servers,
    }
    with api_process(tmp_path, **env) as a, api_process(tmp_path, **env) as b:
        a.wait_ready()  # ready = positioned at the end of every partition of the topic
        b.wait_ready()
        with connect(ws_url(a.url)) as ws_a, connect(ws_url(b.url)) as ws_b:
            assert json.loads(ws_a.recv(timeout=5))["type"] == "snapshot"
            assert json.loads(ws_b.recv(timeout=5))["type"] == "snapshot"

            # Batch 1 reaches replica A by POST (the load balancer picked it) and both
            # replicas by the topic; batch 2 only by the topic.
            both = {"data": [aggregate(price=1.0)], "batch_id": "query:1", "source": "stream"}
            assert httpx.post(f"{a.url}/ingest", json=both).json() == {"count": 1}
            publish(producer, both)
            newer = aggregate(price=2.0, timestamp="2026-08-10T14:25:25.000Z")
            only_topic = {"data": [newer], "batch_id": "query:2", "source": "stream"}
            publish(producer, only_topic)
            producer.send(AGGREGATES_TOPIC, key=b"junk", value=b'{"data": "not a list"}')
            producer.flush(timeout=10)

            deadline = time.monotonic() + 30
            while not (
                kafka_outcomes(a) == {"broadcast": 1, "duplicate": 1, "invalid": 1}
                and kafka_outcomes(b) == {"broadcast": 2, "duplicate": 0, "invalid": 1}
            ):
                assert time.monotonic() < deadline, (kafka_outcomes(a), kafka_outcomes(b))
                time.sleep(0.1)
            on_a, on_b = drain(ws_a), drain(ws_b)
        assert [(m["type"], m["data"][0]["price"]) for m in on_a] == [
            ("market_update", 1.0),
            ("market_update", 2.0),
        ]
        # Batches on different partitions may come in either order; each comes once.
        assert sorted((m["type"], m["data"][0]["price"]) for m in on_b) == [
            ("market_update", 1.0),
            ("market_update", 2.0),
        ]
        for api in (a, b):
            snapshot = httpx.get(f"{api.url}/api/snapshot").json()
            assert [record["price"] for record in snapshot["data"]] == [2.0]
        assert "broadcast type=market_update records=1 listeners=1" in b.log()
        assert "origin=kafka" in b.log()
        assert "skipping an invalid batch on crypto_market_aggregates" in b.log()
