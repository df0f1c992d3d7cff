"""API server settings (environment variables and ``cryptopulse api`` flags)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import Field

from cryptopulse_common.contract import ClockBound
from cryptopulse_common.ports import API_PORT, LOCALHOST
from cryptopulse_common.settings import CommonSettings

# MARKET_UPDATE_MESSAGE and LEGACY_UPDATE_MESSAGE of the contract (a unit test keeps them equal).
UpdateMessageType = Literal["market_update", "aqi_update"]


class ApiSettings(CommonSettings):
    api_host: str = Field(default=LOCALHOST, description="Interface the API server binds.")
    api_port: int = Field(default=API_PORT, description="Port of the API server.")
    api_dashboard_dir: str = Field(
        default="", description="Serve the built dashboard from this folder at / (empty = off)."
    )
    api_update_message_type: UpdateMessageType = Field(
        default="market_update",
        description="Type of update messages (aqi_update for dashboards of the original design).",
    )
    api_ingest_token: str = Field(
        default="",
        description="Bearer token POST /ingest requires (empty = no authentication).",
    )
    api_ingest_max_bytes: int = Field(
        default=1024 * 1024, ge=1, description="Largest /ingest body accepted; larger is 413."
    )
    api_dedupe_batches: int = Field(
        default=10_000,
        ge=1,
        description="Recent (source, batch_id) pairs remembered to drop repeated batches.",
    )
    api_history_windows: int = Field(
        default=120, ge=1, description="Windows per coin kept for GET /api/history."
    )
    api_max_coins: int = Field(
        default=1000,
        ge=1,
        description="Coins the market state holds at most (snapshot and history: about 120 kB "
        "each); records of further coins are not kept or broadcast and are counted.",
    )
    api_coin_idle_seconds: float = Field(
        default=600.0,
        gt=0,
        description="A coin whose newest window is this far behind the market's newest window is "
        "forgotten (measured in the market's own event time, so a stalled pipeline forgets "
        "nothing).",
    )
    api_max_connections: int = Field(
        default=10_000,
        ge=1,
        description="WebSocket clients served at once; more get 1008. Capped at start to the "
        "open-file limit less api_fd_reserve (the soft limit is first raised to the hard one).",
    )
    api_fd_reserve: int = Field(
        default=256,
        ge=0,
        description="File descriptors kept for everything but WebSocket clients (listening "
        "socket, Kafka and HTTP clients, files) when capping api_max_connections.",
    )
    api_ws_queue_size: int = Field(
        default=16, ge=1, description="Messages queued per WebSocket client before conflation."
    )
    api_ws_send_timeout_seconds: float = Field(
        default=2.0, gt=0, description="A client whose single send blocks longer is dropped."
    )
    api_ws_send_buffer_bytes: int = Field(
        default=128 * 1024,
        ge=0,
        description="Kernel send buffer of each WebSocket connection (SO_SNDBUF, doubled by "
        "Linux; 0 = autotuned up to 4 MB): bounds the memory a stalled client holds.",
    )
    api_ws_max_lag_seconds: float = Field(
        default=10.0,
        gt=0,
        description="A conflated client that has not caught up within this is dropped.",
    )
    api_ws_allowed_origins: str = Field(
        default="*",
        description="Origins allowed to open /ws, comma separated (* = any; requests without "
        "an Origin header, i.e. non-browser clients, are always allowed).",
    )
    api_ws_ping_interval_seconds: float = Field(
        default=20.0, gt=0, description="Seconds between WebSocket pings to each client."
    )
    api_ws_ping_timeout_seconds: float = Field(
        default=20.0, gt=0, description="A client that does not answer a ping in time is closed."
    )
    api_drain_delay_seconds: float = Field(
        default=2.0,
        ge=0,
        description="On SIGTERM: seconds /ready answers 503 before clients are closed (1001).",
    )
    api_fanout_from_kafka: bool = Field(
        default=False,
        description="Also broadcast the batches other replicas received, read from the "
        "aggregates topic (needs the broker at KAFKA_BOOTSTRAP_SERVERS).",
    )

    def clock(self) -> ClockBound:
        """The API's clock for the contract's ``window_ahead`` rule, read per request."""
        return ClockBound(now=datetime.now(UTC), max_skew_seconds=self.max_clock_skew_seconds)

    @property
    def allowed_origins(self) -> frozenset[str] | None:
        """The allowed origins, or None when any origin is."""
        origins = {item.strip().rstrip("/") for item in self.api_ws_allowed_origins.split(",")}
        origins.discard("")
        return None if not origins or "*" in origins else frozenset(origins)
