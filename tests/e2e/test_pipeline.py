"""The whole local pipeline, started as `cryptopulse up` starts it, watched by a WebSocket client.

Real broker, real producer, real Spark job, real API: the test connects a WebSocket client,
waits until aggregates for all ten coins have arrived, then reads every tick the producer sent
straight from the topic and checks each aggregate's price against an independent min/max of the
ticks of its coin and window.
"""

from __future__ import annotations

import json
import signal
import time
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
from kafka import KafkaConsumer, TopicPartition
from websockets.sync.client import connect

from cryptopulse_common.contract import (
    DEFAULT_COIN_IDS,
    MARKET_UPDATE_MESSAGE,
    SNAPSHOT_MESSAGE,
    TICK_EVENT_TIME_FIELD,
    TICKS_TOPIC,
    Aggregate,
    parse_timestamp,
)
from tests.support.pipeline import Pipeline, running_pipeline, wait_healthy

pytestmark = pytest.mark.e2e

FIRST_DATA_TIMEOUT_SECONDS = 240


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    with running_pipeline(tmp_path_factory.mktemp("state")) as running:
        yield running


def collect_aggregates(pipeline: Pipeline) -> tuple[list[str], list[Aggregate]]:
    """Every message type seen and every aggregate received, until all coins have arrived."""
    types: list[str] = []
    received: list[Aggregate] = []
    deadline = time.monotonic() + FIRST_DATA_TIMEOUT_SECONDS
    ws_url = pipeline.api_url.replace("http://", "ws://") + "/ws"
    with connect(ws_url, open_timeout=10) as ws:
        while time.monotonic() < deadline:
            try:
                message = json.loads(ws.recv(timeout=5))
            except TimeoutError:
                assert pipeline.process.poll() is None, "up exited:\n" + pipeline.log_tail()
                continue
            types.append(message["type"])
            received += [Aggregate.model_validate(record) for record in message["data"]]
            updates = types.count(MARKET_UPDATE_MESSAGE)
            if {a.coin_id for a in received} >= set(DEFAULT_COIN_IDS) and updates >= 3:
                return types, received
    pytest.fail("aggregates for all coins did not arrive in time:\n" + pipeline.log_tail())


def read_ticks(bootstrap_servers: str) -> list[dict[str, Any]]:
    """Every tick on the topic up to its current end (the producer keeps producing meanwhile)."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap_servers, enable_auto_commit=False, group_id=None
    )
    try:
        partitions = [
            TopicPartition(TICKS_TOPIC, partition)
            for partition in consumer.partitions_for_topic(TICKS_TOPIC)
        ]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        end = consumer.end_offsets(partitions)
        ticks: list[dict[str, Any]] = []
        deadline = time.monotonic() + 60
        while any(consumer.position(p) < end[p] for p in partitions):
            assert time.monotonic() < deadline, "could not read the ticks topic to its end"
            for records in consumer.poll(timeout_ms=1000).values():
                ticks += [orjson.loads(record.value) for record in records]
        return ticks
    finally:
        consumer.close()


def test_aggregates_for_every_coin_reach_a_websocket_client(pipeline: Pipeline) -> None:
    wait_healthy(pipeline)
    types, aggregates = collect_aggregates(pipeline)
    assert types[0] == SNAPSHOT_MESSAGE
    assert {a.coin_id for a in aggregates} == set(DEFAULT_COIN_IDS)

    ticks = read_ticks(pipeline.bootstrap_servers)
    assert len(ticks) >= len(DEFAULT_COIN_IDS)
    prices: dict[tuple[str, str], list[float]] = defaultdict(list)
    for aggregate in aggregates:
        start, end = parse_timestamp(aggregate.window_start), parse_timestamp(aggregate.window_end)
        assert (end - start).total_seconds() == 30
        key = (aggregate.coin_id, aggregate.window_start)
        if key not in prices:
            prices[key] = [
                tick["current_price"]
                for tick in ticks
                if tick["id"] == aggregate.coin_id
                and start <= parse_timestamp(tick[TICK_EVENT_TIME_FIELD]) < end
            ]
        window_prices = prices[key]
        assert window_prices, f"no tick on the topic for {key}"
        assert min(window_prices) <= aggregate.price <= max(window_prices), key
        assert min(window_prices) <= aggregate.low <= aggregate.high <= max(window_prices), key
        assert aggregate.samples <= len(window_prices)


def test_the_dashboard_is_served_and_ctrl_c_stops_everything(pipeline: Pipeline) -> None:
    wait_healthy(pipeline)
    page = httpx.get(f"{pipeline.api_url}/", timeout=5)
    assert page.status_code == 200
    assert "Crypto Market Pulse" in page.text
    pipeline.process.send_signal(signal.SIGINT)
    assert pipeline.process.wait(120) == 0
    log = pipeline.output.read_text()
    for stage in ("producer", "stream", "api", "kafka"):
        assert f"■ {stage} stopped" in log
