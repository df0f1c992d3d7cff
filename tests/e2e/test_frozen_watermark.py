"""A frozen watermark in a real checkpoint, and ``cryptopulse reset-watermark`` curing it.

A driver running an older build's rules (a clock-skew tolerance of months, as before ticks were
bounded) takes one tick a day ahead: its watermark jumps a day, every later tick is dropped as
late, and the watermark is in the checkpoint, so a restart would not recover (Spark's watermark
only moves forward; laminardb/laminardb#388 describes the same freeze from one future-dated
event). The documented command moves the checkpoint aside, keeps the offsets it had reached, and
the next driver aggregates again from there: the ticks after the reset, and only those.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from cryptopulse_api.app import create_app
from cryptopulse_api.settings import ApiSettings
from cryptopulse_common.contract import TICKS_TOPIC, format_timestamp, parse_timestamp
from cryptopulse_local.kafka_broker import LocalKafka, free_port
from cryptopulse_stream.recovery import AGGREGATES_QUERY, starting_offsets_file
from tests.conftest import started_broker
from tests.support.servers import running_server
from tests.support.stream_job import Client, metric, produce_ticks, start_driver, wait_for

pytestmark = pytest.mark.e2e

WINDOW_SECONDS = 10
# An older build's rules: no bound worth the name on how far ahead a tick may be.
OLD_RULES = {"MAX_CLOCK_SKEW_SECONDS": str(90 * 24 * 3600)}


def tick(price: float, observed: datetime) -> dict[str, Any]:
    stamp = format_timestamp(observed)
    return {
        "schema": 1,
        "id": "bitcoin",
        "symbol": "btc",
        "name": "Bitcoin",
        "current_price": price,
        "last_updated": stamp,
        "observed_at": stamp,
    }


def market(kafka: LocalKafka, rounds: int, price: float) -> list[dict[str, Any]]:
    ticks = []
    for index in range(rounds):
        ticks.append(tick(price + index, datetime.now(UTC)))
        produce_ticks(kafka, ticks[-1:])
        time.sleep(0.25)
    return ticks


@pytest.fixture
def own_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalKafka]:
    with started_broker(tmp_path_factory.mktemp("frozen-kafka")) as broker:
        yield broker


def stop(driver: subprocess.Popen[bytes]) -> None:
    driver.send_signal(signal.SIGTERM)
    try:
        driver.wait(120)
    finally:
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)
            driver.wait()


def test_reset_watermark_unfreezes_a_real_checkpoint_keeping_its_offsets(
    own_broker: LocalKafka, tmp_path: Path
) -> None:
    checkpoints = tmp_path / "checkpoints"
    log = tmp_path / "driver.log"
    metrics_port = free_port()
    with running_server(create_app(ApiSettings(), CollectorRegistry())) as api_url:
        client = Client(api_url.replace("http", "ws") + "/ws")
        ingest = f"{api_url}/ingest"
        driver = start_driver(
            own_broker, ingest, checkpoints, log, metrics_port, WINDOW_SECONDS, **OLD_RULES
        )
        try:
            market(own_broker, 8, 100.0)
            wait_for(client.records, "the first window at the client", 300)

            # One tick a day ahead: the old rules let it through and the watermark jumps.
            produce_ticks(own_broker, [tick(1.0, datetime.now(UTC) + timedelta(days=1))])
            frozen_lag = "cryptopulse_stream_watermark_lag_seconds"
            wait_for(
                lambda: (metric(metrics_port, frozen_lag) or 0) < -3600,
                "the watermark a day ahead of the wall clock",
                300,
            )
            dropped_before = metric(metrics_port, "cryptopulse_stream_late_rows_dropped_total")
            late = market(own_broker, 6, 200.0)
            # Spark counts late rows after partial aggregation (one per coin and window), so
            # the later ticks show as at least one more dropped row, and none reaches a client.
            wait_for(
                lambda: (
                    (metric(metrics_port, "cryptopulse_stream_late_rows_dropped_total") or 0)
                    > (dropped_before or 0)
                ),
                "the later ticks dropped as late",
                300,
            )
            late_prices = {t["current_price"] for t in late}
            assert not late_prices & {r["price"] for r in client.records()}
        finally:
            stop(driver)

        environment = {
            **{k: v for k, v in os.environ.items() if not k.startswith("STREAM_")},
            "STREAM_CHECKPOINT_DIR": str(checkpoints),
        }
        reset = subprocess.run(
            [sys.executable, "-m", "cryptopulse_local.cli", "reset-watermark"],
            env=environment,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert reset.returncode == 0, reset.stderr
        assert "moved the aggregation checkpoint aside" in reset.stdout
        assert "Lost: the partial state of windows still open" in reset.stdout
        stamp = re.search(r"watermark was (\S+),", reset.stdout)
        assert stamp, reset.stdout
        assert datetime.fromisoformat(stamp.group(1)) > datetime.now(UTC) + timedelta(hours=23)
        (frozen,) = checkpoints.glob(f"{AGGREGATES_QUERY}.frozen-*")
        assert (frozen / "offsets").is_dir()  # moved aside, not deleted
        assert not (checkpoints / AGGREGATES_QUERY).exists()
        offsets = json.loads(starting_offsets_file(checkpoints).read_text())
        assert set(offsets) == {TICKS_TOPIC}
        assert sum(offsets[TICKS_TOPIC].values()) >= 8 + 1 + len(late)

        again = subprocess.run(
            [sys.executable, "-m", "cryptopulse_local.cli", "reset-watermark"],
            env=environment,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert again.returncode == 1
        assert "nothing to reset" in again.stderr

        seen = len(client.records())
        driver = start_driver(own_broker, ingest, checkpoints, log, metrics_port, WINDOW_SECONDS)
        try:
            fresh = market(own_broker, 12, 300.0)
            expected = Counter(window_of(t["observed_at"]) for t in fresh)
            wait_for(
                lambda: all(
                    latest_after(client, seen).get(window, {}).get("samples") == count
                    for window, count in expected.items()
                ),
                "the ticks after the reset aggregated, and only those",
                300,
            )
            # The late ticks the frozen job dropped were before the kept offsets: not read again.
            assert {r["price"] for r in client.records()[seen:]} <= {
                t["current_price"] for t in fresh
            }
            assert (
                0 <= (metric(metrics_port, "cryptopulse_stream_watermark_lag_seconds") or 0) < 3600
            )
            print(
                f"\nfrozen watermark a day ahead, {len(late)} ticks dropped as late; after "
                f"reset-watermark {sum(expected.values())} ticks in {len(expected)} windows "
                f"aggregated from offsets {offsets}"
            )
        finally:
            stop(driver)
            client.close()


def window_of(stamp: str) -> str:
    start = parse_timestamp(stamp).timestamp() // WINDOW_SECONDS * WINDOW_SECONDS
    return format_timestamp(datetime.fromtimestamp(start, UTC))


def latest_after(client: Client, seen: int) -> dict[str, dict[str, Any]]:
    return {record["window_start"]: record for record in client.records()[seen:]}
