"""Liveness, readiness, metrics text, and the drain on SIGTERM of the real server process."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.api.conftest import Api, aggregate, api_process, ws_url


def test_health_ready_and_metrics(api: Api) -> None:
    assert httpx.get(f"{api.url}/health").json() == {"status": "ok"}
    ready = httpx.get(f"{api.url}/ready")
    assert (ready.status_code, ready.json()) == (200, {"status": "ready"})
    metrics = httpx.get(f"{api.url}/metrics")
    assert metrics.status_code == 200
    for line in (
        "cryptopulse_ws_broadcast_latency_seconds_bucket",
        'cryptopulse_ws_slow_clients_dropped_total{reason="send_timeout"} 0.0',
        'cryptopulse_ws_slow_clients_dropped_total{reason="queue_overflow"} 0.0',
        "cryptopulse_ws_connections 0.0",
        'cryptopulse_ws_connections_rejected_total{reason="limit"} 0.0',
        "cryptopulse_ws_messages_conflated_total 0.0",
        "cryptopulse_ws_queued_messages 0.0",
        'cryptopulse_ingest_requests_total{status="accepted"} 0.0',
        "cryptopulse_ingest_records_total 0.0",
        "cryptopulse_ingest_duplicates_total 0.0",
        'cryptopulse_fanout_kafka_messages_total{status="broadcast"} 0.0',
        'cryptopulse_http_request_duration_seconds_bucket{le="0.005",method="POST",route="/ingest"}',
    ):
        assert line in metrics.text


def test_sigterm_turns_not_ready_then_drains_then_closes_clients_with_1001(
    tmp_path: Path,
) -> None:
    drain = 2.0
    with api_process(tmp_path, API_DRAIN_DELAY_SECONDS=str(drain)) as api:
        api.wait_ready()
        with connect(ws_url(api.url)) as ws:
            ws.recv(timeout=5)
            api.process.send_signal(signal.SIGTERM)
            signalled = time.monotonic()
            ready = httpx.get(f"{api.url}/ready", timeout=5)
            assert (ready.status_code, ready.json()) == (503, {"status": "draining"})
            assert time.monotonic() - signalled < drain / 2
            # Still serving while Kubernetes takes the pod out of the Service endpoints:
            assert httpx.get(f"{api.url}/health").json() == {"status": "ok"}
            httpx.post(f"{api.url}/ingest", json={"data": [aggregate()]})
            assert json.loads(ws.recv(timeout=5))["type"] == "market_update"
            # A client arriving now is told to go elsewhere (accepted, then 1001).
            with connect(ws_url(api.url)) as late, pytest.raises(ConnectionClosed) as turned:
                late.recv(timeout=5)
            assert turned.value.rcvd is not None
            assert turned.value.rcvd.code == 1001
            with pytest.raises(ConnectionClosed) as closed:
                ws.recv(timeout=drain + 10)
            closed_after = time.monotonic() - signalled
        assert closed.value.rcvd is not None
        assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (1001, "Server shutting down")
        assert closed_after >= drain * 0.9
        assert api.process.wait(15) == 0
        log = api.log()
        assert "draining: /ready answers 503" in log
        assert "closed 1 WebSocket clients (1001 Server shutting down)" in log
