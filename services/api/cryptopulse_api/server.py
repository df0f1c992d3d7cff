"""Uvicorn, configured for the fan-out, with a stop that drains before it closes anything."""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
from types import FrameType
from typing import Any

import uvicorn
from starlette.types import ASGIApp

from cryptopulse_api.lifecycle import Lifecycle
from cryptopulse_api.settings import ApiSettings

# Clients only send the dashboard's "ping": a larger message closes the connection (1009).
CLIENT_MESSAGE_MAX_BYTES = 64 * 1024


class _ConnectionLines(logging.Filter):
    """Drops uvicorn's three lines per WebSocket connection (the HTTP access log is off too):
    with thousands of dashboards, they would be most of the log."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not (message.startswith("connection ") or '"WebSocket ' in message)


def quiet_connection_logs(level: str) -> None:
    if level.upper() != "DEBUG":
        logging.getLogger("uvicorn.error").addFilter(_ConnectionLines())


def server_config(app: ASGIApp, settings: ApiSettings, **overrides: Any) -> uvicorn.Config:
    options: dict[str, Any] = {
        "host": settings.api_host,
        "port": settings.api_port,
        # The protocol whose connections the hub writes to directly (connection.py).
        "ws": "websockets-sansio",
        "ws_ping_interval": settings.api_ws_ping_interval_seconds,
        "ws_ping_timeout": settings.api_ws_ping_timeout_seconds,
        # Every client gets the same pre-built frame: compression would be per client (its
        # own deflate context), costing CPU per client and frame. Dashboard updates are small.
        "ws_per_message_deflate": False,
        "ws_max_size": CLIENT_MESSAGE_MAX_BYTES,
        "lifespan": "on",
        "log_config": None,
        "access_log": False,
        "timeout_graceful_shutdown": 10,
    }
    options.update(overrides)
    return uvicorn.Config(app, **options)


class DrainingServer(uvicorn.Server):
    """A uvicorn server whose first SIGTERM or SIGINT drains before it stops.

    SIGTERM: ``/ready`` answers 503 at once, the server keeps serving for the drain delay, then
    closes every WebSocket client with 1001 and stops. SIGINT (Ctrl-C) does the same without the
    delay. A second signal stops at once; a third skips the graceful shutdown. The process exits
    0 after a drained stop (uvicorn would re-raise the signal).
    """

    def __init__(self, config: uvicorn.Config, lifecycle: Lifecycle, drain_delay: float) -> None:
        super().__init__(config)
        self._lifecycle = lifecycle
        self._drain_delay = drain_delay
        self._loop: asyncio.AbstractEventLoop | None = None
        self._drain_task: asyncio.Task[None] | None = None

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        await super().serve(sockets)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self._loop is None or self._lifecycle.draining:
            if self.should_exit:
                self.force_exit = True
            self.should_exit = True
            return
        self._lifecycle.draining = True  # readiness turns 503 here, before anything else
        delay = self._drain_delay if sig == signal.SIGTERM else 0.0
        self._loop.call_soon_threadsafe(self._start_drain, delay)

    def _start_drain(self, delay: float) -> None:
        assert self._loop is not None
        self._drain_task = self._loop.create_task(self._drain(delay))

    async def _drain(self, delay: float) -> None:
        try:
            await self._lifecycle.drain(delay)
        finally:
            self.should_exit = True
