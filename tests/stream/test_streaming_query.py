"""The windowing query as a real streaming query: watermark, late data, window_open, listener.

Ticks arrive as files in a folder (Spark's file source), one file per micro-batch, so the test
controls exactly which ticks each batch sees; the sink posts to a real API server on uvicorn and
a real WebSocket client reads what a dashboard would.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from prometheus_client import CollectorRegistry
from websockets.sync.client import ClientConnection, connect

from cryptopulse_api.app import create_app
from cryptopulse_api.settings import ApiSettings
from cryptopulse_stream.metrics import ProgressListener, StreamMetrics
from cryptopulse_stream.sink import IngestSink
from cryptopulse_stream.transforms import parse_ticks, window_aggregates
from tests.stream.test_transforms import tick
from tests.support.dead_letters import CollectedDeadLetters
from tests.support.servers import running_server

pytestmark = pytest.mark.spark

WATERMARK_SECONDS = 10


def eventually(check: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"never happened: {what}")
        time.sleep(0.1)


@pytest.fixture
def api_url() -> Iterator[str]:
    with running_server(create_app(ApiSettings(), CollectorRegistry())) as url:
        yield url


class Feed:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.count = 0

    def write(self, *ticks: dict[str, Any]) -> None:
        self.count += 1
        lines = b"\n".join(orjson.dumps(t) for t in ticks) + b"\n"
        staging = self.folder.parent / f"batch-{self.count}.json"
        staging.write_bytes(lines)
        staging.rename(self.folder / staging.name)  # atomic: Spark never sees half a file


def updates(ws: ClientConnection, expected: int) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    for _ in range(expected):
        message = json.loads(ws.recv(timeout=60))
        assert message["type"] == "market_update"
        records += message["data"]
    return records


def test_watermark_drops_late_ticks_and_marks_closed_windows(
    spark: Any, tmp_path: Path, api_url: str
) -> None:
    feed = Feed(tmp_path / "in")
    feed.folder.mkdir()
    checkpoint = str(tmp_path / "checkpoint")
    registry = CollectorRegistry()
    metrics = StreamMetrics(registry)
    listener = ProgressListener(metrics)
    spark.streams.addListener(listener)
    sink = IngestSink(
        f"{api_url}/ingest",
        checkpoint_dir=checkpoint,
        metrics=metrics,
        watermark_delay_seconds=WATERMARK_SECONDS,
        dead_letters=CollectedDeadLetters(),
    )
    query = (
        window_aggregates(
            parse_ticks(spark.readStream.format("text").load(str(feed.folder))),
            window_seconds=30,
            watermark=f"{WATERMARK_SECONDS} seconds",
        )
        .writeStream.outputMode("update")
        .foreachBatch(sink)
        .option("checkpointLocation", checkpoint)
        .start()
    )
    with contextlib.ExitStack() as cleanup:
        cleanup.callback(sink.close)
        cleanup.callback(spark.streams.removeListener, listener)
        cleanup.callback(query.stop)
        ws = cleanup.enter_context(connect(api_url.replace("http", "ws") + "/ws"))
        assert json.loads(ws.recv(timeout=10))["type"] == "snapshot"

        feed.write(
            tick("bitcoin", 100.0, "2026-08-10T14:25:01Z"),
            tick("bitcoin", 105.0, "2026-08-10T14:25:10Z"),
        )
        query.processAllAvailable()
        [first] = updates(ws, 1)
        assert (first["window_start"], first["high"], first["window_open"]) == (
            "2026-08-10T14:25:00.000Z",
            105.0,
            True,
        )

        # 14:26:05 moves the watermark to 14:25:55: the 14:25:00 window is now closed.
        feed.write(tick("bitcoin", 110.0, "2026-08-10T14:26:05Z"))
        query.processAllAvailable()
        [second] = updates(ws, 1)
        assert (second["window_start"], second["window_open"]) == ("2026-08-10T14:26:00.000Z", True)

        # A tick for the closed window arrives late: dropped, counted, and nothing changes.
        feed.write(
            tick("bitcoin", 999.0, "2026-08-10T14:25:20Z"),
            tick("bitcoin", 111.0, "2026-08-10T14:26:10Z"),
        )
        query.processAllAvailable()
        [third] = updates(ws, 1)
        assert (third["window_start"], third["high"], third["samples"]) == (
            "2026-08-10T14:26:00.000Z",
            111.0,
            2,
        )
        eventually(
            lambda: registry.get_sample_value("cryptopulse_stream_late_rows_dropped_total") == 1,
            "late row counted",
        )

        # One batch spanning two windows: the watermark after it passes the first one's end.
        feed.write(
            tick("bitcoin", 112.0, "2026-08-10T14:26:20Z"),
            tick("bitcoin", 113.0, "2026-08-10T14:27:05Z"),
        )
        query.processAllAvailable()
        by_window = {r["window_start"]: r for r in updates(ws, 1)}
        assert by_window["2026-08-10T14:26:00.000Z"]["window_open"] is False
        assert by_window["2026-08-10T14:26:00.000Z"]["close"] == 112.0
        assert by_window["2026-08-10T14:27:00.000Z"]["window_open"] is True

    eventually(
        lambda: (
            registry.get_sample_value("cryptopulse_stream_input_rows_total", {"query": "unnamed"})
            == 7
        ),
        "7 rows read",
    )
    assert registry.get_sample_value("cryptopulse_stream_records_posted_total") == 5
    assert listener.last_progress_monotonic is not None
    assert (registry.get_sample_value("cryptopulse_stream_state_rows") or 0) >= 1
