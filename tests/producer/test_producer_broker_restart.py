"""A broker killed (SIGKILL) and restarted mid-run: no acknowledged tick is lost, drops are counted.

The test owns its broker (the session one must stay up for the other tests). While the broker is
down the producer keeps polling; kafka-python gives up on records after the delivery timeout
(3 s here), the producer takes them back and resends them; beyond its buffer bound it drops the
newest ticks and counts them. After the restart (same data directory and ports) every tick whose
future succeeded must be on the topic, and every tick the source produced must be accounted for:
acknowledged, or dropped and counted.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry

from cryptopulse_common.contract import TICKS_TOPIC
from cryptopulse_local.kafka_broker import LocalKafka, free_port
from cryptopulse_producer.main import Producer
from cryptopulse_producer.metrics import DROP_REASONS
from cryptopulse_producer.publisher import OutgoingRecord
from cryptopulse_producer.settings import ProducerSettings
from tests.conftest import CACHE_DIR
from tests.producer.test_producer_kafka import end_offsets, read_topic

pytestmark = [
    pytest.mark.e2e,
    # kafka-python 3.0.12 leaks the socket of every refused reconnect (kafka/net/inet.py
    # connect() raises without closing it); the garbage collector closes them, with a
    # ResourceWarning each. Collected at the end of this test, where the broker was away.
    pytest.mark.filterwarnings(
        "ignore:Exception ignored in. <socket.socket:pytest.PytestUnraisableExceptionWarning"
    ),
]

COINS = 20
INTERVAL = 0.2
BUFFER_BOUND = 400  # about 4 s of ticks: the outage outlasts it, so drops happen


@pytest.fixture(autouse=True)
def _collect_leaked_sockets() -> Iterator[None]:
    """Close kafka-python's leaked sockets (see pytestmark) within this test's own teardown,
    after every other fixture let go of what it held, rather than at the end of the session."""
    yield
    gc.collect()


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def health_status(url: str) -> int:
    return httpx.get(f"{url}/health", timeout=5).status_code


@dataclass
class Outcome:
    acknowledged: list[tuple[bytes, bytes]]
    on_topic: list[tuple[bytes, bytes]]
    samples: dict[tuple[str, str], float]
    exit_code: int | None

    def sample(self, name: str, reason: str = "") -> float:
        return self.samples.get((name, reason), 0.0)


def kill_and_restart_the_broker_under_the_producer(tmp_path: Path) -> Outcome:
    broker = LocalKafka(
        data_dir=tmp_path / "kafka",
        cache_dir=CACHE_DIR,
        port=free_port(),
        controller_port=free_port(),
        partitions=3,
    )
    broker.start(topics=[TICKS_TOPIC])
    try:
        start = end_offsets(broker.bootstrap_servers)
        settings = ProducerSettings(
            kafka_bootstrap_servers=broker.bootstrap_servers,
            producer_metrics_port=free_port(),
            producer_interval_seconds=INTERVAL,
            simulate_coin_count=COINS,
            producer_delivery_timeout_seconds=3,
            producer_buffer_max_records=BUFFER_BOUND,
            producer_health_max_silent_intervals=5,
            producer_health_min_silent_seconds=0,
        )
        url = f"http://127.0.0.1:{settings.producer_metrics_port}"
        acknowledged: list[OutgoingRecord] = []
        lock = threading.Lock()

        def on_delivered(record: OutgoingRecord) -> None:
            with lock:
                acknowledged.append(record)

        def acked() -> int:
            with lock:
                return len(acknowledged)

        registry = CollectorRegistry()

        def sample(name: str, **labels: str) -> float:
            return registry.get_sample_value(name, labels) or 0.0

        stop = threading.Event()
        producer = Producer(settings, stop, registry, on_delivered)
        exit_codes: list[int] = []
        thread = threading.Thread(target=lambda: exit_codes.append(producer.run()), daemon=True)
        thread.start()
        try:
            wait_until(lambda: acked() >= 5 * COINS, "ticks acknowledged before the crash")
            assert health_status(url) == 200

            broker.kill()
            broker.stop()  # after a kill: only closes the log file the broker wrote to
            at_crash = acked()
            # The producer keeps polling; Kafka's client gives up on the records after 3 s,
            # the producer holds them to resend; /health reports the silence.
            wait_until(
                lambda: sample("cryptopulse_producer_send_errors_total") > 0, "delivery failures"
            )
            wait_until(lambda: health_status(url) == 503, "/health to report the outage")
            wait_until(
                lambda: (
                    sample("cryptopulse_producer_ticks_dropped_total", reason="buffer_full") > 0
                ),
                "the buffer bound to be reached",
            )
            assert sample("cryptopulse_producer_buffered_records") <= BUFFER_BOUND

            broker.start()  # same data directory and ports: the log survives
            wait_until(lambda: acked() > at_crash + BUFFER_BOUND, "the buffered ticks resent")
            wait_until(lambda: health_status(url) == 200, "/health to recover")
        finally:
            stop.set()
            thread.join(timeout=90)
        assert not thread.is_alive()
        on_topic = read_topic(broker.bootstrap_servers, start)
    finally:
        broker.stop()
    samples = {  # by name and by the value of its one label (reason or outcome), if any
        (sample.name, sample.labels.get("reason") or sample.labels.get("outcome") or ""): (
            sample.value
        )
        for metric in registry.collect()
        for sample in metric.samples
    }
    return Outcome(
        [(record.key, record.value) for record in acknowledged],
        [(record.key, record.value) for record in on_topic],
        samples,
        exit_codes[0] if exit_codes else None,
    )


def test_broker_killed_and_restarted_loses_no_acknowledged_tick(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # As the producer configures logging: kafka-python's own records (one per refused
    # reconnect, each holding its exception and so its leaked socket) are not kept.
    caplog.set_level(logging.CRITICAL, logger="kafka")
    outcome = kill_and_restart_the_broker_under_the_producer(tmp_path)
    assert outcome.exit_code == 0
    acknowledged = set(outcome.acknowledged)
    # Every tick whose future succeeded is on the topic.
    assert acknowledged <= set(outcome.on_topic)
    assert len(acknowledged) == len(outcome.acknowledged)  # each tick acknowledged once
    # And every tick the source produced is accounted for: acknowledged or counted as dropped.
    produced = outcome.sample("cryptopulse_producer_fetches_total", "ok") * COINS
    dropped = sum(
        outcome.sample("cryptopulse_producer_ticks_dropped_total", reason)
        for reason in DROP_REASONS
    )
    assert outcome.sample("cryptopulse_producer_ticks_sent_total") == len(acknowledged)
    assert len(acknowledged) + dropped == produced
    assert outcome.sample("cryptopulse_producer_ticks_dropped_total", "shutdown") == 0
