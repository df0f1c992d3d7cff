"""Pure ASGI middleware: request latency per route; direct access to each WebSocket connection."""

from __future__ import annotations

import time
from typing import Any

from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cryptopulse_api.connection import DirectConnection
from cryptopulse_api.metrics import ROUTES, ApiMetrics

CONNECTION_SCOPE_KEY = "cryptopulse.connection"
_KNOWN_ROUTES = frozenset(ROUTES)


def connection_from_scope(scope: Scope) -> DirectConnection | None:
    connection: DirectConnection | None = scope.get(CONNECTION_SCOPE_KEY)
    return connection


class ServerMiddleware:
    """Outermost middleware: it sees uvicorn's own ``send``.

    - HTTP: observes each request's latency, until its last body chunk is written, labelled by
      the route that served it (``other`` for paths no route matched, ``static`` for files).
    - WebSocket: caps the connection's kernel send buffer and hands the hub direct access to it
      (see ``connection.py``).
    """

    def __init__(self, app: ASGIApp, metrics: ApiMetrics, send_buffer_bytes: int) -> None:
        self.app = app
        self.metrics = metrics
        self.send_buffer_bytes = send_buffer_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            connection = DirectConnection.of(send)
            if connection is not None:
                connection.limit_send_buffer(self.send_buffer_bytes)
                scope[CONNECTION_SCOPE_KEY] = connection
            await self.app(scope, receive, send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        observed = False

        async def timed_send(message: Message) -> None:
            nonlocal observed
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                observed = True
                self._observe(scope, time.perf_counter() - started)

        try:
            await self.app(scope, receive, timed_send)
        finally:
            if not observed:
                self._observe(scope, time.perf_counter() - started)

    def _observe(self, scope: Scope, seconds: float) -> None:
        # Both labels come from a fixed set: a client cannot grow the series with odd paths.
        method: str = scope["method"]
        route: Any = scope.get("route")
        path = getattr(route, "path", None)
        if (method, path) in _KNOWN_ROUTES:
            labels = (method, path)
        elif isinstance(route, Mount) and method in ("GET", "HEAD"):
            labels = (method, "static")
        else:
            labels = ("other", "other")
        self.metrics.request_latency.labels(*labels).observe(seconds)
