"""Untrusted market data through the real stream job, on a real broker, to a real API and a
WebSocket client: while the issue's bad inputs flow (and while the API is away for a while), the
other coins keep arriving, every window complete; a coin whose source lags two minutes gets every
window; an unknown change stays unknown; each bad input is counted and found in the dead-letter
topic with its reason.

Inputs, from public bug reports of systems like ours (tests/support/strategies.py cites them): a
bare ``NaN`` price (the issue's literal message), ``"Infinity"`` as a string, ``1e999``, a
``last_updated`` a day ahead of ``observed_at``, an ``observed_at`` a day ahead of the broker (a
producer with a bad clock), a tick 45 s ahead that the stream job accepts but the API (a tighter
clock-skew tolerance) refuses, and a message that is not JSON.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from kafka import KafkaProducer
from prometheus_client import CollectorRegistry

from cryptopulse_api.app import create_app
from cryptopulse_api.settings import ApiSettings
from cryptopulse_common.contract import (
    DEAD_LETTER_TOPIC,
    TICKS_TOPIC,
    Aggregate,
    DeadLetter,
    format_timestamp,
    parse_timestamp,
)
from cryptopulse_local.kafka_broker import LocalKafka, free_port
from tests.conftest import started_broker
from tests.support.servers import running_server
from tests.support.stream_job import Client, Relay, metric, read_topic, start_driver, wait_for

pytestmark = pytest.mark.e2e

WINDOW_SECONDS = 10
ROUNDS = 70  # one tick per coin every 0.5 s: 35 s of market
GOOD = ("bitcoin", "ethereum")
LAGGING = "illiquid"  # its source's last_updated runs two minutes behind in every poll
LISTING = "new-listing"  # no 24 h change yet, and a price of 1.234e-08


def tick(coin: str, price: float, observed: datetime, **changes: Any) -> dict[str, Any]:
    return {
        "schema": 1,
        "id": coin,
        "symbol": coin[:4],
        "name": coin.title(),
        "current_price": price,
        "market_cap": price * 1e6,
        "total_volume": price * 1e4,
        "price_change_percentage_24h": 1.5,
        "high_24h": None,
        "low_24h": None,
        "last_updated": format_timestamp(observed - timedelta(seconds=1)),
        "observed_at": format_timestamp(observed),
        **changes,
    }


def round_of_ticks(index: int, observed: datetime) -> list[dict[str, Any]]:
    return [
        tick("bitcoin", 97_000.0 + index, observed),
        tick("ethereum", 3_400.0 - index / 10, observed),
        tick(
            LAGGING,
            0.25 + index / 1000,
            observed,
            last_updated=format_timestamp(observed - timedelta(minutes=2)),
        ),
        tick(LISTING, 1.234e-8, observed, price_change_percentage_24h=None),
    ]


def bad_messages(now: datetime) -> dict[str, tuple[bytes, str]]:
    """The issue's bad inputs and their siblings: message -> expected reason."""
    nan = (
        b'{"schema":1,"id":"bitcoin","symbol":"btc","name":"Bitcoin","current_price":NaN,'
        b'"last_updated":"%s","observed_at":"%s"}'
        % (format_timestamp(now).encode(), format_timestamp(now).encode())
    )
    day = timedelta(days=1)
    return {
        "nan": (nan, "non_finite_number"),
        "infinity": (
            orjson.dumps(tick("ethereum", 1.0, now, current_price="Infinity")),
            "non_finite_number",
        ),
        "overflow": (
            orjson.dumps(tick("ethereum", 1.0, now)).replace(
                b'"current_price":1.0', b'"current_price":1e999'
            ),
            "non_finite_number",
        ),
        "source_ahead": (
            orjson.dumps(tick("bitcoin", 1.0, now, last_updated=format_timestamp(now + day))),
            "source_time_ahead",
        ),
        "producer_clock_ahead": (
            orjson.dumps(tick("bitcoin", 1.0, now + day, last_updated=format_timestamp(now + day))),
            "observed_time_ahead",
        ),
        "not_json": (b"{this is not json", "not_json"),
    }


@pytest.fixture
def own_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalKafka]:
    with started_broker(tmp_path_factory.mktemp("untrusted-kafka")) as broker:
        yield broker


def test_bad_inputs_and_an_api_outage_cost_nothing_but_themselves(
    own_broker: LocalKafka, tmp_path: Path
) -> None:
    registry = CollectorRegistry()
    # The API's clock-skew tolerance is tighter than the stream job's: a tick 300 s ahead passes
    # the stream job and is refused at /ingest, so the sink's 422 path runs for real.
    api_settings = ApiSettings(max_clock_skew_seconds=30)
    with running_server(create_app(api_settings, registry)) as api_url:
        relay = Relay(f"{api_url}/ingest")
        relay_server = relay.serve()
        relay_url = f"http://127.0.0.1:{relay_server.server_address[1]}/ingest"
        client = Client(api_url.replace("http", "ws") + "/ws")
        metrics_port = free_port()
        driver = start_driver(
            own_broker,
            relay_url,
            tmp_path / "checkpoint",
            tmp_path / "driver.log",
            metrics_port,
            WINDOW_SECONDS,
            MAX_CLOCK_SKEW_SECONDS="600",
            # At least the clock-skew tolerance: a tick as far ahead as it admits must not make
            # on-time ticks late (docs/contract.md).
            STREAM_WATERMARK_SECONDS="600",
            STREAM_INGEST_BACKOFF_MAX_SECONDS="2",
        )
        producer = KafkaProducer(bootstrap_servers=own_broker.bootstrap_servers, acks="all")
        produced: list[dict[str, Any]] = []
        bad: dict[str, tuple[bytes, str]] = {}
        try:

            def send(value: bytes, key: str) -> None:
                producer.send(TICKS_TOPIC, key=key.encode(), value=value)

            def market(rounds: range, with_bad_inputs: bool = False) -> None:
                for index in rounds:
                    now = datetime.now(UTC)
                    for item in round_of_ticks(index, now):
                        produced.append(item)
                        send(orjson.dumps(item), item["id"])
                    if with_bad_inputs and index == rounds.start:
                        bad.update(bad_messages(now))
                        for name, (value, _reason) in bad.items():
                            send(value, name)
                    producer.flush()
                    time.sleep(0.5)

            market(range(ROUNDS // 2))
            wait_for(lambda: client.messages or client.error, "the first update at the client", 300)
            assert client.error is None

            # The API goes away while the market and the bad inputs keep flowing: the sink
            # waits, the driver stays healthy and says why it waits.
            relay.unavailable.set()
            # Accepted by the stream job (within its tolerance), refused by the API's.
            ahead = tick("skewed", 5.0, datetime.now(UTC) + timedelta(seconds=300))
            send(orjson.dumps(ahead), "skewed")
            market(range(ROUNDS // 2, ROUNDS), with_bad_inputs=True)
            wait_for(lambda: relay.refused >= 2, "the sink finding the API unavailable")
            health = httpx.get(f"http://127.0.0.1:{metrics_port}/health", timeout=10)
            assert health.status_code == 200
            assert health.json()["ingest"] == "unavailable"
            relay.unavailable.clear()

            expected = Counter((t["id"], window_of(t["observed_at"])) for t in produced)
            wait_for(
                lambda: all(
                    client.latest().get(key, {}).get("samples") == count
                    for key, count in expected.items()
                ),
                "every window of every good coin complete at the client",
                300,
            )
            latest = client.latest()
            for record in client.records():
                Aggregate.model_validate(record)
            coins = {coin for coin, _window in latest}
            assert coins == {*GOOD, LAGGING, LISTING}  # never "skewed", never a bad message
            for (coin, _window), record in latest.items():
                if coin == LISTING:
                    assert (record["change_24h"], record["volatility"], record["trend"]) == (
                        None,
                        None,
                        None,
                    )
                    assert record["price"] == 1.234e-8
                if coin == LAGGING:
                    lag = parse_timestamp(record["timestamp"]) - parse_timestamp(
                        record["last_updated"]
                    )
                    assert lag == timedelta(minutes=2)
            lagging_windows = {w for c, w in expected if c == LAGGING}
            assert lagging_windows == {w for c, w in latest if c == LAGGING}

            wait_for(
                lambda: len(dead_letters(own_broker)) >= len(bad) + 1,
                "every refused message on the dead-letter topic",
            )
            letters = dead_letters(own_broker)
            by_value = {letter.value: letter for letter in letters if letter.origin == "tick"}
            for name, (value, reason) in bad.items():
                assert by_value[value.decode()].reason == reason, name
                assert by_value[value.decode()].detail
            (refused,) = [letter for letter in letters if letter.origin == "aggregate"]
            assert refused.reason == "window_ahead"
            assert json.loads(refused.value)["coin_id"] == "skewed"

            for reason, count in Counter(reason for _v, reason in bad.values()).items():
                line = f'cryptopulse_stream_malformed_records_total{{reason="{reason}"}}'
                assert metric(metrics_port, line) == count, reason
            line = 'cryptopulse_stream_records_refused_total{reason="window_ahead"}'
            assert metric(metrics_port, line) == 1
            assert (metric(metrics_port, "cryptopulse_stream_sink_retries_total") or 0) >= 2
            assert (
                registry.get_sample_value(
                    "cryptopulse_ingest_records_refused_total", {"reason": "window_ahead"}
                )
                == 1
            )
            health = httpx.get(f"http://127.0.0.1:{metrics_port}/health", timeout=10)
            assert health.status_code == 200
            assert health.json()["ingest"] == "ok"
            print(
                f"\ndelivered {len(expected)} of {len(expected)} windows complete "
                f"({sum(expected.values())} ticks of {len(coins)} coins) while "
                f"{len(bad) + 1} bad inputs flowed and the API refused {relay.refused} POSTs "
                f"(503); dead letters: {Counter(letter.reason for letter in letters)}"
            )
            driver.send_signal(signal.SIGTERM)
            assert driver.wait(120) == 0
        finally:
            producer.close()
            client.close()
            relay.unavailable.clear()
            relay_server.shutdown()
            relay_server.server_close()
            if driver.poll() is None:
                os.killpg(driver.pid, signal.SIGKILL)
                driver.wait()


def window_of(stamp: str) -> str:
    moment = parse_timestamp(stamp)
    start = moment.timestamp() // WINDOW_SECONDS * WINDOW_SECONDS
    return format_timestamp(datetime.fromtimestamp(start, UTC))


def dead_letters(kafka: LocalKafka) -> list[DeadLetter]:
    return [DeadLetter.model_validate_json(m.value) for m in read_topic(kafka, DEAD_LETTER_TOPIC)]
