"""Slow clients hurt nobody: real sockets with a tiny receive buffer that never read (or read a
trickle), fed large batches until their buffers fill, against the real server process."""

from __future__ import annotations

import json
import re
import socket
import statistics
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from tests.api.conftest import ApiProcess, aggregate, api_process, ws_url

LARGE_BATCH_RECORDS = 2_000  # about 800 kB of JSON: a few fill every buffer of a stalled client


def batch(seq: int, records: int) -> dict[str, Any]:
    """A batch whose records all carry ``seq`` in ``samples``, so clients can tell batches apart."""
    return {"data": [aggregate(f"coin-{i}", 1.0 + i, samples=seq) for i in range(records)]}


class Reader:
    """A fast client: reads every message as it comes, on its own thread."""

    def __init__(self, url: str) -> None:
        self.types: list[str] = []
        self.batches: list[int] = []
        self.closed = threading.Event()
        self._ws: ClientConnection | None = None
        self._open = threading.Event()
        self._thread = threading.Thread(target=self._read, args=(url,), daemon=True)
        self._thread.start()
        assert self._open.wait(10), f"could not connect to {url}"

    def _read(self, url: str) -> None:
        with connect(url, max_size=None) as ws:
            self._ws = ws
            self._open.set()
            try:
                while True:
                    message = json.loads(ws.recv())
                    self.types.append(message["type"])
                    if message["type"] != "snapshot":
                        self.batches.append(message["data"][0]["samples"])
            except ConnectionClosed:
                self.closed.set()

    def close(self) -> None:
        assert self._ws is not None
        self._ws.close()
        self._thread.join(10)


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> float:
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout, f"{what}: not within {timeout} s"
        time.sleep(0.05)
    return time.monotonic() - started


def dropped(api: ApiProcess, reason: str) -> float:
    return api.sample("cryptopulse_ws_slow_clients_dropped_total", reason=reason)


def post(api: ApiProcess, client: httpx.Client, body: dict[str, Any]) -> float:
    started = time.perf_counter()
    response = client.post(f"{api.url}/ingest", json=body)
    assert response.status_code == 200, response.text
    return time.perf_counter() - started


def test_stalled_clients_are_dropped_within_the_timeout_and_fast_clients_get_every_batch(
    tmp_path: Path, stalled: Callable[[str], socket.socket]
) -> None:
    timeout, queue_size, stalled_count, batches = 1.0, 4, 5, 12
    with api_process(
        tmp_path,
        API_INGEST_MAX_BYTES=str(8 << 20),
        API_WS_SEND_TIMEOUT_SECONDS=str(timeout),
        API_WS_QUEUE_SIZE=str(queue_size),
        API_WS_MAX_LAG_SECONDS="60",
    ) as api:
        api.wait_ready()
        fast = [Reader(ws_url(api.url)) for _ in range(3)]
        for _ in range(stalled_count):
            stalled(ws_url(api.url))
        wait_until(
            lambda: api.sample("cryptopulse_ws_connections") == 3 + stalled_count, 10, "connect"
        )
        queued: list[float] = []
        with httpx.Client(timeout=30) as client:
            for seq in range(1, batches + 1):
                post(api, client, batch(seq, LARGE_BATCH_RECORDS))
                queued.append(api.sample("cryptopulse_ws_queued_messages"))
                time.sleep(0.1)
            # ~10 MB offered to each stalled client: far beyond its socket buffers, so each has
            # a send blocked by now, and it must be gone one timeout (plus a margin) later.
            dropped_after = wait_until(
                lambda: dropped(api, "send_timeout") == stalled_count,
                timeout + 3.0,
                "stalled clients dropped",
            )
            assert api.sample("cryptopulse_ws_connections") == 3
            post(api, client, batch(batches + 1, 10))
        wait_until(
            lambda: all(len(reader.batches) == batches + 1 for reader in fast), 20, "deliveries"
        )
        for reader in fast:
            assert reader.types[0] == "snapshot"
            assert reader.batches == list(range(1, batches + 2))  # every batch, in order
            assert not reader.closed.is_set()
            reader.close()
        # Bounded: at most queue_size messages per client were ever waiting.
        assert max(queued) <= queue_size * (3 + stalled_count)
        assert dropped(api, "queue_overflow") == 0
        assert dropped_after <= timeout + 3.0
        log = api.log()
        assert log.count("dropping WebSocket client (send_timeout)") == stalled_count
        # Each was dropped within the timeout plus the watchdog's period (and scheduling) of the
        # moment its send blocked, as the server measured it.
        blocked = [float(seconds) for seconds in re.findall(r"blocked_seconds=([0-9.]+)", log)]
        assert len(blocked) == stalled_count
        assert all(timeout <= seconds <= timeout + 1.0 for seconds in blocked), blocked


def test_ingest_latency_and_memory_do_not_grow_with_stalled_clients(
    tmp_path: Path, stalled: Callable[[str], socket.socket]
) -> None:
    queue_size, stalled_count = 4, 20
    with api_process(
        tmp_path,
        API_INGEST_MAX_BYTES=str(8 << 20),
        API_WS_SEND_TIMEOUT_SECONDS="60",  # they stay connected (and stalled) for the whole test
        API_WS_QUEUE_SIZE=str(queue_size),
        API_WS_MAX_LAG_SECONDS="60",
    ) as api:
        api.wait_ready()
        reader = Reader(ws_url(api.url))
        seq = 0
        with httpx.Client(timeout=30) as client:

            def small_batches(count: int) -> list[float]:
                nonlocal seq
                latencies = []
                for _ in range(count):
                    seq += 1
                    latencies.append(post(api, client, batch(seq, 10)))
                    time.sleep(0.02)
                return latencies

            small_batches(5)  # warm up
            without = small_batches(30)

            for _ in range(stalled_count):
                stalled(ws_url(api.url))
            wait_until(
                lambda: api.sample("cryptopulse_ws_connections") == 1 + stalled_count, 10, "connect"
            )
            for _ in range(8):  # fill every stalled client's buffers, then its queue
                seq += 1
                post(api, client, batch(seq, LARGE_BATCH_RECORDS))
            small_batches(queue_size + 1)
            wait_until(
                lambda: api.sample("cryptopulse_ws_messages_conflated_total") > 0, 10, "conflation"
            )
            rss_full = api.rss_bytes()
            with_stalled = small_batches(30)
            for _ in range(10):  # 8 MB more for each stalled client
                seq += 1
                post(api, client, batch(seq, LARGE_BATCH_RECORDS))
                assert api.sample("cryptopulse_ws_queued_messages") <= queue_size * (
                    1 + stalled_count
                )
            rss_after = api.rss_bytes()
        wait_until(lambda: len(reader.batches) == seq, 20, "deliveries")
        assert reader.batches == list(range(1, seq + 1))
        assert api.sample("cryptopulse_ws_connections") == 1 + stalled_count
        assert dropped(api, "send_timeout") == 0
        reader.close()
        # /ingest never waits on a client: its latency is the same with 20 stalled clients.
        assert statistics.median(with_stalled) <= 3 * statistics.median(without) + 0.020
        assert max(with_stalled) < 1.0  # the send timeout is 60 s: nothing waited on a client
        # Stalled clients hold at most queue_size shared frames each, not every batch sent.
        assert rss_after - rss_full < 64 << 20


def test_a_client_that_stays_behind_is_conflated_then_dropped(
    tmp_path: Path, stalled: Callable[[str], socket.socket]
) -> None:
    max_lag = 1.0
    with api_process(
        tmp_path,
        API_INGEST_MAX_BYTES=str(8 << 20),
        API_WS_SEND_TIMEOUT_SECONDS="30",  # each send completes: this client is slow, not stuck
        API_WS_QUEUE_SIZE="2",
        API_WS_MAX_LAG_SECONDS=str(max_lag),
    ) as api:
        api.wait_ready()
        trickle = stalled(ws_url(api.url))
        received = 0
        reset = threading.Event()

        def read_a_trickle() -> None:  # about 300 kB/s: slower than the updates come
            nonlocal received
            trickle.settimeout(30)
            while True:
                try:
                    chunk = trickle.recv(16_384)
                except OSError:  # reset by the server (or timed out)
                    break
                if not chunk:
                    break
                received += len(chunk)
                time.sleep(0.05)
            reset.set()

        threading.Thread(target=read_a_trickle, daemon=True).start()
        reader = Reader(ws_url(api.url))
        seq = 0
        with httpx.Client(timeout=30) as client:
            deadline = time.monotonic() + 20
            while not dropped(api, "queue_overflow"):
                assert time.monotonic() < deadline, "the lagging client was never dropped"
                seq += 1
                post(api, client, batch(seq, 500))
                time.sleep(0.05)
        assert api.sample("cryptopulse_ws_messages_conflated_total") > 0
        assert dropped(api, "send_timeout") == 0
        assert reset.wait(10), "the dropped client's connection was not closed"
        assert received > 0
        wait_until(lambda: len(reader.batches) == seq, 20, "deliveries")
        assert reader.batches == list(range(1, seq + 1))
        reader.close()


def test_the_send_buffer_bounds_what_a_stalled_client_holds(
    tmp_path: Path, stalled: Callable[[str], socket.socket]
) -> None:
    """With the kernel's autotuning, a stalled client would absorb about 4 MB before its sends
    block; with a 32 kB SO_SNDBUF it blocks (and is dropped) after some 100 kB."""
    with api_process(
        tmp_path,
        API_WS_SEND_BUFFER_BYTES=str(32 * 1024),
        API_WS_SEND_TIMEOUT_SECONDS="0.5",
    ) as api:
        api.wait_ready()
        stalled(ws_url(api.url))
        body = batch(1, 10)
        size = len(json.dumps(body))
        sent = 0
        with httpx.Client(timeout=30) as client:
            while not dropped(api, "send_timeout"):
                assert sent < 1024 * 1024, "the stalled client absorbed 1 MB without blocking"
                post(api, client, body)
                sent += size
                time.sleep(0.005)
        assert api.sample("cryptopulse_ws_connections") == 0
