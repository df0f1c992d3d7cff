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
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from prometheus_client import CollectorRegistry
from websockets.sync.client import connect

from cryptopulse_api.app import create_app
from cryptopulse_api.settings import ApiSettings
from cryptopulse_common.contract import (
    DEAD_LETTER_TOPIC,
    MARKET_UPDATE_MESSAGE,
    TICKS_TOPIC,
    format_timestamp,
)
from cryptopulse_local.kafka_broker import LocalKafka, free_port
from tests.conftest import started_broker
from tests.support.servers import running_server

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


@dataclass
class Relay:
    """An HTTP relay to the API's /ingest that can hold the response of the next POST."""

    target: str
    hold_next: threading.Event = field(default_factory=threading.Event)
    holding: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)

    def serve(self) -> ThreadingHTTPServer:
        relay = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                answer = httpx.post(
                    relay.target, content=body, headers={"content-type": "application/json"}
                )
                if relay.hold_next.is_set():
                    relay.hold_next.clear()
                    relay.holding.set()
                    relay.release.wait(120)
                    return
                self.send_response(answer.status_code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            def log_message(self, format: str, *args: Any) -> None:
                return

        server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server


class Client:
    """A WebSocket client collecting every market_update, in a thread."""

    def __init__(self, url: str) -> None:
        self.messages: list[list[dict[str, Any]]] = []
        self.error: BaseException | None = None
        self._url = url
        self._stop = threading.Event()
        self._connected = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        if not self._connected.wait(30):
            raise RuntimeError(f"WebSocket client could not connect: {self.error!r}")

    def _run(self) -> None:
        try:
            with connect(self._url) as ws:
                self._connected.set()
                while not self._stop.is_set():
                    try:
                        message = json.loads(ws.recv(timeout=0.5))
                    except TimeoutError:
                        continue
                    if message["type"] == MARKET_UPDATE_MESSAGE:
                        self.messages.append(message["data"])
        except BaseException as error:  # surfaced by the test through .error
            self.error = error

    def records(self) -> list[dict[str, Any]]:
        return [record for batch in list(self.messages) for record in batch]

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)


def wait_for(check: Any, what: str, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for: {what}")
        time.sleep(0.2)


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


def start_driver(
    kafka: LocalKafka, relay_url: str, checkpoint: Path, log: Path, metrics_port: int
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "STREAM_INGEST_URL": relay_url,
        "STREAM_CHECKPOINT_DIR": str(checkpoint),
        "STREAM_METRICS_PORT": str(metrics_port),
        "STREAM_TRIGGER_SECONDS": "1",
        "STREAM_DEAD_LETTER_TRIGGER_SECONDS": "1",
        "STREAM_WINDOW_SECONDS": str(WINDOW_SECONDS),
        "STREAM_WATERMARK_SECONDS": "5",
        "STREAM_STARTING_OFFSETS": "earliest",
        "STREAM_INGEST_TIMEOUT_SECONDS": "120",
    }
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "cryptopulse_local.cli", "stream"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def produce(kafka: LocalKafka, values: list[bytes], keys: list[str]) -> None:
    producer = KafkaProducer(bootstrap_servers=kafka.bootstrap_servers, acks="all")
    try:
        for key, value in zip(keys, values, strict=True):
            producer.send(TICKS_TOPIC, key=key.encode(), value=value)
        producer.flush()
    finally:
        producer.close()


def produce_ticks(kafka: LocalKafka, ticks: list[dict[str, Any]]) -> None:
    produce(kafka, [orjson.dumps(t) for t in ticks], [t["id"] for t in ticks])


def read_topic(kafka: LocalKafka, topic: str) -> list[Any]:
    consumer = KafkaConsumer(bootstrap_servers=kafka.bootstrap_servers, group_id=None)
    try:
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        end = consumer.end_offsets(parts)
        messages: list[Any] = []
        while any(consumer.position(p) < end[p] for p in parts):
            for batch in consumer.poll(timeout_ms=1000).values():
                messages += batch
        return messages
    finally:
        consumer.close()


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
    driver = start_driver(kafka_broker, relay_url, checkpoint, log, metrics_port)
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

        driver = start_driver(kafka_broker, relay_url, checkpoint, log, metrics_port)
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
