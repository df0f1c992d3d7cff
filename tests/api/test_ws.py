"""WebSocket /ws: snapshot first, legacy type, connection limit, origins, pings."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect
from websockets.typing import Origin

from cryptopulse_api.connection import DirectConnection
from tests.api.clients import stalled_client
from tests.api.conftest import Api, aggregate, on_the_wire, running_api, ws_url


def wait_for(condition: object, timeout: float = 10.0) -> None:
    assert callable(condition)
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def test_new_client_starts_from_the_snapshot_then_gets_updates(api: Api) -> None:
    httpx.post(f"{api.url}/ingest", json={"data": [aggregate("bitcoin", 1.0)]})
    newer = aggregate("bitcoin", 2.0, timestamp="2026-08-10T14:25:25.000Z")
    httpx.post(f"{api.url}/ingest", json={"data": [newer, aggregate("ethereum", 3.0)]})
    # An older window arriving late does not replace the newest state.
    httpx.post(
        f"{api.url}/ingest",
        json={"data": [aggregate("bitcoin", 0.5, window_start="2026-08-10T14:24:30.000Z")]},
    )
    with connect(ws_url(api.url)) as ws:
        snapshot = json.loads(ws.recv(timeout=5))
        assert snapshot["type"] == "snapshot"
        assert [(r["coin_id"], r["price"]) for r in snapshot["data"]] == [
            ("bitcoin", 2.0),
            ("ethereum", 3.0),
        ]
        assert httpx.get(f"{api.url}/api/snapshot").json() == snapshot
        ws.send("ping")  # the dashboard's heartbeat: read and ignored
        update = [aggregate("solana", 150.0)]
        httpx.post(f"{api.url}/ingest", json={"data": update})
        assert json.loads(ws.recv(timeout=5)) == {
            "type": "market_update",
            "data": on_the_wire(update),
        }


def test_legacy_message_type_for_original_dashboards() -> None:
    with running_api(api_update_message_type="aqi_update") as api, connect(ws_url(api.url)) as ws:
        assert json.loads(ws.recv(timeout=5))["type"] == "snapshot"
        httpx.post(f"{api.url}/ingest", json={"data": [aggregate()]})
        assert json.loads(ws.recv(timeout=5))["type"] == "aqi_update"


def test_clients_over_the_limit_are_accepted_then_closed_with_1008() -> None:
    with running_api(api_max_connections=2) as api:
        with connect(ws_url(api.url)) as first, connect(ws_url(api.url)) as second:
            first.recv(timeout=5)
            second.recv(timeout=5)
            # The handshake succeeds, then the close comes, with its reason.
            with connect(ws_url(api.url)) as third, pytest.raises(ConnectionClosed) as closed:
                third.recv(timeout=5)
            assert closed.value.rcvd is not None
            assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (
                1008,
                "Too many connections",
            )
            assert api.sample("cryptopulse_ws_connections_rejected_total", {"reason": "limit"}) == 1
            assert api.sample("cryptopulse_ws_connections") == 2
        wait_for(lambda: api.sample("cryptopulse_ws_connections") == 0)
        with connect(ws_url(api.url)) as again:  # room again once the others left
            assert json.loads(again.recv(timeout=5))["type"] == "snapshot"


def test_only_allowed_origins_may_connect() -> None:
    allowed = "https://dash.example, http://localhost:5173/"
    with running_api(api_ws_allowed_origins=allowed) as api:
        with pytest.raises(InvalidStatus) as refused:
            connect(ws_url(api.url), origin=Origin("https://evil.example"))
        assert refused.value.response.status_code == 403
        for origin in ("https://dash.example", "http://localhost:5173"):
            with connect(ws_url(api.url), origin=Origin(origin)) as ws:
                assert json.loads(ws.recv(timeout=5))["type"] == "snapshot"
        with connect(ws_url(api.url)) as ws:  # no Origin header: not a browser
            assert json.loads(ws.recv(timeout=5))["type"] == "snapshot"
        assert api.sample("cryptopulse_ws_connections_rejected_total", {"reason": "origin"}) == 1


def test_pings_close_a_peer_that_stopped_answering() -> None:
    with running_api(api_ws_ping_interval_seconds=0.3, api_ws_ping_timeout_seconds=0.3) as api:
        dead = stalled_client(ws_url(api.url))  # never reads, so never answers a ping
        with connect(ws_url(api.url)) as alive:  # answers pings from its background thread
            alive.recv(timeout=5)
            wait_for(lambda: api.sample("cryptopulse_ws_connections") == 2)
            wait_for(lambda: api.sample("cryptopulse_ws_connections") == 1, timeout=5)
            time.sleep(1.0)  # several more ping rounds: the live client stays
            assert api.sample("cryptopulse_ws_connections") == 1
            httpx.post(f"{api.url}/ingest", json={"data": [aggregate()]})
            assert json.loads(alive.recv(timeout=5))["type"] == "market_update"
        dead.close()


def test_the_server_as_configured_writes_frames_to_connections_directly(api: Api) -> None:
    """The hub writes one pre-built frame to every connection (connection.py) under the server
    ``cryptopulse api`` runs; this pins it, so an uvicorn upgrade that moves what it relies on
    fails here rather than quietly falling back to the slower ASGI path."""
    with connect(ws_url(api.url)) as ws:
        ws.recv(timeout=5)
        clients = list(api.app.state.hub._clients)
        assert [client.connection is not None for client in clients] == [True]


def test_without_direct_access_every_frame_goes_through_asgi(
    stalled: Callable[[str], socket.socket], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under a server whose connections the hub cannot reach (none runs here: uvicorn's other
    WebSocket protocols are wsproto, not installed, and a legacy one that no longer works with
    websockets 17), the behaviour is the same, through the ASGI send and close frames."""
    monkeypatch.setattr(DirectConnection, "of", classmethod(lambda cls, send: None))
    with (
        running_api(api_ws_send_timeout_seconds=0.5, api_ingest_max_bytes=8 << 20) as api,
        connect(ws_url(api.url), max_size=None) as ws,
    ):
        assert json.loads(ws.recv(timeout=5))["type"] == "snapshot"
        assert [c.connection for c in api.app.state.hub._clients] == [None]
        stuck = stalled(ws_url(api.url))
        for seq in range(1, 9):  # about 6 MB: the stalled client's buffers fill
            records = [aggregate(f"coin-{i}", samples=seq) for i in range(2_000)]
            httpx.post(f"{api.url}/ingest", json={"data": records}, timeout=30)
            assert json.loads(ws.recv(timeout=10))["data"][0]["samples"] == seq
        wait_for(
            lambda: (
                api.sample("cryptopulse_ws_slow_clients_dropped_total", {"reason": "send_timeout"})
                == 1
            )
        )
        assert api.sample("cryptopulse_ws_connections") == 1
        # Nothing could reset it: its connection stays until the peer goes.
        stuck.close()
