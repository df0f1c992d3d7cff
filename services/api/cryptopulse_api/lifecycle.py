"""Readiness, and the drain that turns it off before the server stops.

``/health`` (liveness) says the process is up. ``/ready`` says "send me clients": it is 503
while the replica fan-out is not yet positioned on the aggregates topic (``starting``) and from
the moment a stop begins (``draining``). On SIGTERM the order is: ``/ready`` turns 503 at once,
the server keeps serving for the drain delay (Kubernetes takes the pod out of its Service
endpoints meanwhile), then every WebSocket client is closed with 1001 "Server shutting down"
(browsers reconnect, through the Service, to another replica), then uvicorn stops.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from cryptopulse_api.hub import ConnectionHub
from cryptopulse_common.logs import event

log = logging.getLogger("cryptopulse.api")

GOING_AWAY = 1001
GOING_AWAY_REASON = "Server shutting down"


class Lifecycle:
    def __init__(self, hub: ConnectionHub) -> None:
        self._hub = hub
        self.draining = False
        # Whether the replica fan-out reads the topic yet; None when it is off.
        self.fanout_positioned: Callable[[], bool] | None = None

    @property
    def status(self) -> str:
        if self.draining:
            return "draining"
        if self.fanout_positioned is not None and not self.fanout_positioned():
            return "starting"
        return "ready"

    async def drain(self, delay: float) -> None:
        """Turn not-ready, keep serving for ``delay`` seconds, then close every client (1001)."""
        self.draining = True
        event(
            log,
            f"draining: /ready answers 503; closing WebSocket clients in {delay:g} s",
            clients=self._hub.client_count,
        )
        await asyncio.sleep(delay)
        await self.close_clients()

    async def close_clients(self) -> None:
        self.draining = True
        await self._hub.close_all(GOING_AWAY, GOING_AWAY_REASON)
