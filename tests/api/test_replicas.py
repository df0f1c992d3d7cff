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


def batch(price: float, batch_id: str) -> dict[str, Any]:
    """A one-record batch; a higher price is a later tick of the same window."""
    moment = f"2026-08-10T14:25:{int(price) + 10:02d}.000Z"
    return {
        "data": [aggregate(price=price, timestamp=moment)],
        "batch_id": batch_id,
        "source": "stream",
    }


def wait_for_outcomes(api: ApiProcess, expected: dict[str, float]) -> None:
    deadline = time.monotonic() + 30
    while kafka_outcomes(api) != expected:
        assert time.monotonic() < deadline, (kafka_outcomes(api), expected)
        time.sleep(0.1)


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
            # replicas by the topic (the order the stream job uses: POST, then publish what was
            # accepted); batch 2 only by the topic; batch 3 by the topic first, then by POST to
            # A. A batch whose window is in 2099 is refused on the topic as at /ingest.
            both = batch(1.0, "query:1")
            assert httpx.post(f"{a.url}/ingest", json=both).json() == {"count": 1}
            publish(producer, both)
            publish(producer, batch(2.0, "query:2"))
            producer.send(AGGREGATES_TOPIC, key=b"junk", value=b'{"data": "not a list"}')
            producer.flush(timeout=10)
            future = batch(4.0, "query:future")
            future["data"][0].update(
                window_start="2099-01-01T00:00:00.000Z",
                window_end="2099-01-01T00:00:30.000Z",
                timestamp="2099-01-01T00:00:10.000Z",
            )
            publish(producer, future)
            published_first = batch(3.0, "query:3")
            publish(producer, published_first)
            wait_for_outcomes(a, {"broadcast": 2, "duplicate": 1, "invalid": 2})
            # Already broadcast from the topic: accepted, not broadcast again, not a repeat.
            assert httpx.post(f"{a.url}/ingest", json=published_first).json() == {"count": 1}
            wait_for_outcomes(b, {"broadcast": 3, "duplicate": 0, "invalid": 2})
            on_a, on_b = drain(ws_a), drain(ws_b)
        # Batches on different partitions may come in either order; each comes once.
        assert on_a[0]["data"][0]["price"] == 1.0  # the POST: broadcast at once
        for received in (on_a, on_b):
            assert sorted((m["type"], m["data"][0]["price"]) for m in received) == [
                ("market_update", 1.0),
                ("market_update", 2.0),
                ("market_update", 3.0),
            ]
        assert a.sample("cryptopulse_ingest_duplicates_total") == 0
        assert a.sample("cryptopulse_ingest_requests_total", status="accepted") == 2
        for api in (a, b):
            snapshot = httpx.get(f"{api.url}/api/snapshot").json()
            assert [record["price"] for record in snapshot["data"]] == [3.0]
        assert "broadcast type=market_update records=1 listeners=1" in b.log()
        assert "origin=kafka" in b.log()
        assert "skipping an invalid batch on crypto_market_aggregates" in b.log()
        for api in (a, b):
            assert (
                api.sample("cryptopulse_ingest_records_refused_total", reason="window_ahead") == 1
            )
