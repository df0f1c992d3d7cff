"""The stream job as a real driver process on a real broker: exactly-once to clients across a
driver killed mid-batch, aggregates equal to an independent computation, dead letters.

Between the driver and the API sits a small HTTP relay that can hold a response: the test lets a
batch reach the API (which broadcasts it), holds the driver's POST open, and kills the driver
(SIGKILL to its process group: Python and JVM, as a node failure would). Spark has not committed
that batch, so the restarted driver replays it with the same batch id, and the API must not
broadcast it again.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from prometheus_client import CollectorRegistry

from cryptopulse_api.app import create_app
from cryptopulse_api.settings import ApiSettings
from cryptopulse_common.contract import (
    DEAD_LETTER_TOPIC,
    format_timestamp,
)
from cryptopulse_local.kafka_broker import LocalKafka, free_port
from tests.conftest import started_broker
from tests.support.servers import running_server
from tests.support.stream_job import (
    Client,
    Relay,
    produce,
    produce_ticks,
    read_topic,
    start_driver,
    wait_for,
)

pytestmark = pytest.mark.e2e

WINDOW_SECONDS = 10
BASE = datetime(2026, 8, 10, 14, 0, tzinfo=UTC)
COINS = ("bitcoin", "ethereum", "solana")


def make_tick(coin: str, index: int) -> dict[str, Any]:
    """Tick ``index`` of ``coin``: one every 0.5 s of event time, prices that move."""
    at = format_timestamp(BASE + timedelta(milliseconds=500 * index))
    price = 100.0 + COINS.index(coin) * 1000 + (index * 7919 % 101) / 10
    return {
        "schema": 1,
        "id": coin,
        "symbol": coin[:3],
        "name": coin.title(),
        "current_price": price,
        "market_cap": price * 1e6,
        "total_volume": price * 1e4,
        "price_change_percentage_24h": (index % 13) - 6.0,
        "high_24h": None,
        "low_24h": None,
        "last_updated": at,
        "observed_at": at,
    }


def expected_windows(ticks: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    """OHLC, mean and count per coin and window, computed without Spark."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for t in ticks:
        moment = datetime.fromisoformat(t["last_updated"].replace("Z", "+00:00"))
        start = BASE + timedelta(
            seconds=(moment - BASE).total_seconds() // WINDOW_SECONDS * WINDOW_SECONDS
        )
        groups.setdefault((t["id"], format_timestamp(start)), []).append(t)
    result = {}
    for key, members in groups.items():
        members.sort(key=lambda t: t["last_updated"])
        prices = [t["current_price"] for t in members]
        result[key] = {
            "open": prices[0],
            "high": max(prices),
            "low": min(prices),
            "close": prices[-1],
            "samples": len(prices),
            "mean_price": sum(prices) / len(prices),
        }
    return result


@pytest.fixture
def own_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalKafka]:
    """A broker of this test's own: the session broker's topics carry other tests' ticks."""
    with started_broker(tmp_path_factory.mktemp("restart-kafka")) as broker:
        yield broker


@pytest.fixture
def api() -> Iterator[tuple[str, CollectorRegistry]]:
    registry = CollectorRegistry()
    with running_server(create_app(ApiSettings(), registry)) as url:
        yield url, registry


def test_driver_killed_mid_batch_resumes_with_every_window_once(
    own_broker: LocalKafka, api: tuple[str, CollectorRegistry], tmp_path: Path
) -> None:
    kafka_broker = own_broker
    api_url, registry = api
    relay = Relay(f"{api_url}/ingest")
    relay_server = relay.serve()
    relay_url = f"http://127.0.0.1:{relay_server.server_address[1]}/ingest"
    checkpoint, log = tmp_path / "checkpoint", tmp_path / "driver.log"
    ticks = [make_tick(coin, i) for i in range(180) for coin in COINS]  # 90 s of event time
    client = Client(api_url.replace("http", "ws") + "/ws")
    metrics_port = free_port()
    driver = start_driver(kafka_broker, relay_url, checkpoint, log, metrics_port, WINDOW_SECONDS)
    try:
        produce_ticks(kafka_broker, ticks[:150])
        wait_for(lambda: client.messages or client.error, "the first batch at the client")
        assert client.error is None

        relay.hold_next.set()
        produce_ticks(kafka_broker, ticks[150:300])
        wait_for(relay.holding.is_set, "a POST held by the relay")
        os.killpg(driver.pid, signal.SIGKILL)
        driver.wait(30)
        relay.release.set()
        delivered_before_restart = len(client.messages)

        driver = start_driver(
            kafka_broker, relay_url, checkpoint, log, metrics_port, WINDOW_SECONDS
        )
        bad = [
            b"definitely not json",
            orjson.dumps({**ticks[0], "current_price": "free"}),
            orjson.dumps({**ticks[0], "schema": 7}),
        ]
        produce(kafka_broker, bad, ["x", "y", "z"])
        produce_ticks(kafka_broker, ticks[300:])
        expected = expected_windows(ticks)

        def latest() -> dict[tuple[str, str], dict[str, Any]]:
            return {(r["coin_id"], r["window_start"]): r for r in client.records()}

        wait_for(
            lambda: all(
                latest().get(key, {}).get("samples") == value["samples"]
                for key, value in expected.items()
            ),
            "every window complete at the client",
        )

        for key, value in expected.items():
            record = latest()[key]
            for name in ("open", "high", "low", "close", "samples"):
                assert record[name] == value[name], (key, name)
            assert record["mean_price"] == pytest.approx(value["mean_price"])

        batches = [json.dumps(sorted(m, key=json.dumps), sort_keys=True) for m in client.messages]
        assert len(batches) == len(set(batches)), "a batch reached the client twice"
        assert len(client.messages) > delivered_before_restart
        assert registry.get_sample_value("cryptopulse_ingest_duplicates_total") >= 1

        dead = [json.loads(m.value) for m in read_topic(kafka_broker, DEAD_LETTER_TOPIC)]
        assert sorted((d["reason"], d["detail"]) for d in dead) == sorted(
            [
                ("not_json", "not a JSON object"),
                ("wrong_type", "field types do not match the tick schema"),
                (
                    "unknown_schema_version",
                    "schema: schema version 7 is not 1, the one this build reads",
                ),
            ]
        )
        assert {d["value"] for d in dead} == {b.decode() for b in bad}
        assert {d["origin"] for d in dead} == {"tick"}

        metrics = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics").text
        assert 'cryptopulse_stream_malformed_records_total{reason="not_json"} 1.0' in metrics
        assert httpx.get(f"http://127.0.0.1:{metrics_port}/health").status_code == 200

        driver.send_signal(signal.SIGTERM)
        assert driver.wait(90) == 0
    finally:
        client.close()
        relay.release.set()
        relay_server.shutdown()
        relay_server.server_close()
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)
            driver.wait()
