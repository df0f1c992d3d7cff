"""WebSocket fan-out that no slow client can hurt.

A broadcast serialises its message once and hands the same text to every client's bounded
outbound queue without waiting; each client has its own writer task that drains its queue onto
its socket. A client whose queue is full is conflated (its queued market state is replaced by
the newest), and a client whose single send blocks longer than the send timeout is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field

from starlette.websockets import WebSocket

from cryptopulse_api.metrics import ApiMetrics
from cryptopulse_common.logs import event

log = logging.getLogger("cryptopulse.api.ws")


@dataclass(frozen=True)
class Frame:
    text: str
    # time.perf_counter() when the ingest that made it arrived; None for a snapshot frame.
    received_at: float | None = None


@dataclass(eq=False)
class Client:
    websocket: WebSocket
    queue: asyncio.Queue[Frame]
    writer: asyncio.Task[None] | None = None
    closed: asyncio.Event = field(default_factory=asyncio.Event)


class ConnectionHub:
    def __init__(self, metrics: ApiMetrics, queue_size: int, send_timeout: float) -> None:
        self._metrics = metrics
        self._queue_size = queue_size
        self._send_timeout = send_timeout
        self._clients: set[Client] = set()

    @property
    def client_count(self) -> int:
        return len(self._clients)

    def add(self, websocket: WebSocket, first: Frame | None = None) -> Client:
        client = Client(websocket, asyncio.Queue(maxsize=self._queue_size))
        if first is not None:
            client.queue.put_nowait(first)
        client.writer = asyncio.create_task(self._write_loop(client))
        self._clients.add(client)
        self._metrics.connections.set(len(self._clients))
        return client

    def remove(self, client: Client) -> None:
        if client in self._clients:
            self._clients.discard(client)
            self._metrics.connections.set(len(self._clients))
        client.closed.set()

    def broadcast(self, frame: Frame) -> int:
        """Queue ``frame`` for every client; never waits. Returns the number of listeners."""
        for client in list(self._clients):
            try:
                client.queue.put_nowait(frame)
            except asyncio.QueueFull:
                # Conflate: a dashboard needs the newest market state, not every stale one.
                with contextlib.suppress(asyncio.QueueEmpty):
                    client.queue.get_nowait()
                self._metrics.messages_conflated.inc()
                client.queue.put_nowait(frame)
        return len(self._clients)

    async def _write_loop(self, client: Client) -> None:
        reason = "send_error"
        try:
            while True:
                frame = await client.queue.get()
                try:
                    await asyncio.wait_for(
                        client.websocket.send_text(frame.text), self._send_timeout
                    )
                except TimeoutError:
                    reason = "send_timeout"
                    raise
                if frame.received_at is not None:
                    latency = time.perf_counter() - frame.received_at
                    self._metrics.broadcast_latency.observe(latency)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._metrics.slow_clients_dropped.labels(reason).inc()
            event(
                log,
                "dropping WebSocket client",
                logging.WARNING,
                reason=reason,
                error=type(exc).__name__,
            )
            self.remove(client)
            with contextlib.suppress(Exception):
                await client.websocket.close(code=1011)

    async def close_all(self, code: int = 1001, reason: str = "Server shutting down") -> None:
        for client in list(self._clients):
            if client.writer is not None:
                client.writer.cancel()
            with contextlib.suppress(Exception):
                await client.websocket.close(code=code, reason=reason)
            self.remove(client)
