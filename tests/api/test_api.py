"""The API server, served by a real uvicorn and exercised with real HTTP and WebSocket clients."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry
from websockets.sync.client import connect

from cryptopulse_api.app import create_app
from cryptopulse_api.settings import ApiSettings
from tests.support.servers import running_server


def aggregate(coin_id: str = "bitcoin", price: float = 97000.0, **changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "coin": coin_id[:3].upper(),
        "coin_id": coin_id,
        "name": coin_id.title(),
        "price": price,
        "open": price,
        "high": price,
        "low": price,
        "close": price,
        "mean_price": price,
        "samples": 1,
        "change_24h": 1.5,
        "volume_24h": 1e9,
        "market_cap": 1e12,
        "volatility": "Stable",
        "trend": "Stable",
        "window_start": "2026-08-10T14:25:00.000Z",
        "window_end": "2026-08-10T14:25:30.000Z",
        "timestamp": "2026-08-10T14:25:20.000Z",
    }
    record.update(changes)
    return record


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def api(registry: CollectorRegistry) -> Iterator[str]:
    with running_server(create_app(ApiSettings(), registry)) as url:
        yield url


def ws_url(base: str) -> str:
    return base.replace("http://", "ws://") + "/ws"


def test_health_and_metrics(api: str) -> None:
    assert httpx.get(f"{api}/health").json() == {"status": "ok"}
    metrics = httpx.get(f"{api}/metrics")
    assert metrics.status_code == 200
    assert "cryptopulse_ws_broadcast_latency_seconds_bucket" in metrics.text
    assert 'cryptopulse_ws_slow_clients_dropped_total{reason="send_timeout"} 0.0' in metrics.text


def test_ingest_answers_with_the_count_and_reaches_websocket_clients(
    api: str, registry: CollectorRegistry
) -> None:
    with connect(ws_url(api)) as ws:
        first = json.loads(ws.recv(timeout=5))
        assert first == {"type": "snapshot", "data": []}
        records = [aggregate("bitcoin"), aggregate("ethereum", 3400.0)]
        response = httpx.post(f"{api}/ingest", json={"data": records})
        assert response.status_code == 200
        assert response.json() == {"count": 2}
        update = json.loads(ws.recv(timeout=5))
    assert update == {"type": "market_update", "data": records}
    assert registry.get_sample_value("cryptopulse_ingest_records_total") == 2
    assert (
        registry.get_sample_value("cryptopulse_ingest_requests_total", {"status": "accepted"}) == 1
    )
    assert registry.get_sample_value("cryptopulse_ws_broadcast_latency_seconds_count") == 1


def test_new_client_starts_from_the_snapshot(api: str) -> None:
    httpx.post(f"{api}/ingest", json={"data": [aggregate("bitcoin", 1.0)]})
    httpx.post(
        f"{api}/ingest",
        json={"data": [aggregate("bitcoin", 2.0, timestamp="2026-08-10T14:25:25.000Z")]},
    )
    with connect(ws_url(api)) as ws:
        snapshot = json.loads(ws.recv(timeout=5))
    assert snapshot["type"] == "snapshot"
    assert [record["price"] for record in snapshot["data"]] == [2.0]
    assert httpx.get(f"{api}/api/snapshot").json()["data"] == snapshot["data"]


def test_bad_body_is_422_with_the_field_at_fault(api: str, registry: CollectorRegistry) -> None:
    response = httpx.post(f"{api}/ingest", json={"data": [aggregate(price=-1)]})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["data", 0, "price"]
    assert httpx.post(f"{api}/ingest", content=b"not json").status_code == 422
    assert (
        registry.get_sample_value("cryptopulse_ingest_requests_total", {"status": "invalid"}) == 2
    )


def test_legacy_message_type_for_original_dashboards() -> None:
    app = create_app(ApiSettings(api_update_message_type="aqi_update"), CollectorRegistry())
    with running_server(app) as url, connect(ws_url(url)) as ws:
        ws.recv(timeout=5)
        httpx.post(f"{url}/ingest", json={"data": [aggregate()]})
        assert json.loads(ws.recv(timeout=5))["type"] == "aqi_update"
