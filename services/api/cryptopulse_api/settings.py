"""API server settings (environment variables and ``cryptopulse api`` flags)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

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
    api_ws_queue_size: int = Field(
        default=16, ge=1, description="Messages queued per WebSocket client before conflation."
    )
    api_ws_send_timeout_seconds: float = Field(
        default=2.0, gt=0, description="A client whose single send blocks longer is dropped."
    )
    api_max_connections: int = Field(
        default=10_000, ge=1, description="WebSocket clients served at once."
    )
