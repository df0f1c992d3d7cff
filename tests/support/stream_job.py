"""The stream job as a real driver process on a real broker, and what its tests need around it:
an HTTP relay in front of the API that can hold or refuse a POST, a WebSocket client collecting
every update, and readers and writers of the topics."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from websockets.sync.client import connect

from cryptopulse_common.contract import MARKET_UPDATE_MESSAGE, TICKS_TOPIC
from cryptopulse_local.kafka_broker import LocalKafka, free_port


@dataclass
class Relay:
    """An HTTP relay to the API's /ingest that can hold the response of the next POST, or
    answer 503 without forwarding while ``unavailable`` is set (an API that is down)."""

    target: str
    hold_next: threading.Event = field(default_factory=threading.Event)
    holding: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    unavailable: threading.Event = field(default_factory=threading.Event)
    refused: int = 0  # POSTs answered 503

    def serve(self) -> ThreadingHTTPServer:
        relay = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if relay.unavailable.is_set():
                    relay.refused += 1
                    self._answer(503, b'{"detail": "unavailable"}')
                    return
                answer = httpx.post(
                    relay.target,
                    content=body,
                    headers={"content-type": "application/json"},
                    timeout=60,
                )
                if relay.hold_next.is_set():
                    relay.hold_next.clear()
                    relay.holding.set()
                    relay.release.wait(120)
                    return
                self._answer(answer.status_code, answer.content)

            def _answer(self, status: int, content: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

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

    def latest(self) -> dict[tuple[str, str], dict[str, Any]]:
        """The newest record of each (coin, window) received."""
        return {(r["coin_id"], r["window_start"]): r for r in self.records()}

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)


def wait_for(check: Callable[[], object], what: str, timeout: float = 180.0) -> None:
    """Poll ``check`` until it is true; a deadline, not a measurement (fails the test)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for: {what}")
        time.sleep(0.2)


def start_driver(
    kafka: LocalKafka,
    ingest_url: str,
    checkpoint: Path,
    log: Path,
    metrics_port: int,
    window_seconds: int = 10,
    **settings: str,
) -> subprocess.Popen[bytes]:
    """``cryptopulse stream`` in its own process group (SIGKILL reaches the JVM too);
    ``settings`` are extra environment variables."""
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "STREAM_INGEST_URL": ingest_url,
        "STREAM_CHECKPOINT_DIR": str(checkpoint),
        "STREAM_METRICS_PORT": str(metrics_port),
        "STREAM_TRIGGER_SECONDS": "1",
        "STREAM_DEAD_LETTER_TRIGGER_SECONDS": "1",
        "STREAM_WINDOW_SECONDS": str(window_seconds),
        "STREAM_WATERMARK_SECONDS": "5",
        "STREAM_STARTING_OFFSETS": "earliest",
        "STREAM_INGEST_TIMEOUT_SECONDS": "120",
        **settings,
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
    """Every record of ``topic`` up to its current end."""
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


def metric(metrics_port: int, line_prefix: str) -> float | None:
    """The value of the first line of the driver's /metrics starting with ``line_prefix``."""
    for line in httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10).text.splitlines():
        if line.startswith(line_prefix):
            return float(line.rsplit(" ", 1)[1])
    return None
