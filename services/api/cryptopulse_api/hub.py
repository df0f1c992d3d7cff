"""WebSocket fan-out that no slow client can hurt.

A broadcast serialises its message once, into one WebSocket frame, and hands the same bytes to
every client. A client that can take them now (nothing queued, nothing in flight, its socket
below the high-water mark) gets them written straight to its socket; any other gets them in its
bounded outbound queue, which its own writer task drains as its socket allows. Nobody waits for
anybody: a client that stops reading holds up only itself.

- A client whose queue is full is conflated: its queued updates are replaced by one update that
  carries the latest state of every coin (a market dashboard needs the newest price, not every
  stale one). A client still behind ``max_lag`` seconds after its first conflation is dropped
  (``queue_overflow``).
- A client whose single send blocks longer than ``send_timeout`` (its socket buffers are full)
  is dropped (``send_timeout``). A watchdog task checks every client's send start time, so the
  hot path sets a float instead of arming a timer per send.
- A dropped client's connection is reset: a peer that does not read would otherwise keep the
  server's socket buffers, and the frames in them, for as long as it lives.
- A fan-out serves ``SLICE`` clients per event-loop iteration; between slices the loop polls its
  sockets, so an /ingest arriving during a fan-out to 10,000 clients waits for one slice, not
  for all. Fan-outs run one after another, so every client sees the updates in order.

Without direct access to the connection (another ASGI server, see ``connection.py``), every
frame goes through the queue and the ASGI ``send``, and drops close rather than reset.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from cryptopulse_api.connection import DirectConnection, text_frame
from cryptopulse_api.metrics import ApiMetrics
from cryptopulse_common.logs import event

log = logging.getLogger("cryptopulse.api.ws")

# Clients served per event-loop iteration.
SLICE = 500
# Idle writers wait on one future per group, shared: waking them costs WAKE_GROUPS futures, not
# one per client. A future per client and update would live until the next update, get promoted,
# and bring on Python's full collection (about a second at 10,000 clients) every few dozen updates.
WAKE_GROUPS = 64
# A close frame that has not gone out after this long (or the send timeout, if shorter) will
# not: the connection is reset instead, so a stop never waits on a stalled client.
CLOSE_TIMEOUT_SECONDS = 2.0


class Frame:
    """One message for many clients, built once: the WebSocket frame and the ASGI message."""

    __slots__ = ("message", "received_at", "wire")

    def __init__(self, text: str, received_at: float | None = None) -> None:
        self.wire = text_frame(text)
        self.message: dict[str, Any] = {"type": "websocket.send", "text": text}
        # time.perf_counter() when the batch arrived (/ingest or the topic); None for a snapshot.
        self.received_at = received_at


class Client:
    __slots__ = (
        "connection",
        "detached",
        "group",
        "lagging_since",
        "pending",
        "send_started",
        "websocket",
        "writer",
    )

    def __init__(
        self, websocket: WebSocket, connection: DirectConnection | None, group: int
    ) -> None:
        self.websocket = websocket
        self.connection = connection
        self.group = group
        self.pending: deque[Frame] = deque()
        self.writer: asyncio.Task[None] | None = None
        # loop.time() when the send in progress started; 0.0 when no send is in progress.
        self.send_started = 0.0
        # loop.time() of the first conflation since the queue was last empty; None if keeping up.
        self.lagging_since: float | None = None
        self.detached = False


class ConnectionHub:
    def __init__(
        self,
        metrics: ApiMetrics,
        *,
        queue_size: int,
        send_timeout: float,
        max_lag: float,
        state_update: Callable[[], str],
    ) -> None:
        self._metrics = metrics
        self._queue_size = queue_size
        self._send_timeout = send_timeout
        self._close_timeout = min(send_timeout, CLOSE_TIMEOUT_SECONDS)
        self._max_lag = max_lag
        self._state_update = state_update
        self._clients: set[Client] = set()
        # Fan-outs in progress or waiting: the frame, its listeners, and when it was written to
        # each client that took it straight away (observed once the fan-out is over).
        self._fanouts: deque[tuple[Frame, list[Client], list[float]]] = deque()
        self._idle: list[asyncio.Future[None] | None] = [None] * WAKE_GROUPS
        self._next_group = 0
        metrics.queued_messages.set_function(self.queued_messages)

    @property
    def client_count(self) -> int:
        return len(self._clients)

    def queued_messages(self) -> int:
        return sum(len(client.pending) for client in self._clients)

    def add(
        self, websocket: WebSocket, first: Frame, connection: DirectConnection | None = None
    ) -> Client:
        """Register an accepted client; ``first`` (the snapshot) is the first frame it gets."""
        client = Client(websocket, connection, self._next_group)
        self._next_group = (self._next_group + 1) % WAKE_GROUPS
        client.pending.append(first)
        client.writer = asyncio.get_running_loop().create_task(self._write_loop(client))
        self._clients.add(client)
        self._metrics.connections.set(len(self._clients))
        return client

    def remove(self, client: Client) -> None:
        """Forget a client that went away (its handler saw the disconnect)."""
        self._detach(client)

    def _detach(self, client: Client) -> None:
        if client.detached:
            return
        client.detached = True
        self._clients.discard(client)
        self._metrics.connections.set(len(self._clients))
        client.pending.clear()
        writer = client.writer
        if writer is not None and writer is not asyncio.current_task():
            writer.cancel()

    def broadcast(self, frame: Frame) -> int:
        """Send ``frame`` to every client, starting now; never waits. Returns the listeners."""
        listeners = list(self._clients)
        self._fanouts.append((frame, listeners, []))
        if len(self._fanouts) == 1:  # otherwise it starts when the one in progress ends
            self._serve(0)
        return len(listeners)

    def _serve(self, start: int) -> None:
        frame, listeners, written = self._fanouts[0]
        end = min(start + SLICE, len(listeners))
        try:
            self._deliver(frame, listeners[start:end], written)
        finally:
            loop = asyncio.get_running_loop()
            if end < len(listeners):
                loop.call_soon(self._serve, end)
            else:
                self._fanouts.popleft()
                if self._fanouts:
                    loop.call_soon(self._serve, 0)
                self._observe_written(frame, written)

    def _observe_written(self, frame: Frame, written: list[float]) -> None:
        """Record the latency of every direct write of a fan-out, once it is over: observing
        costs about a microsecond, which the last clients of a fan-out would otherwise wait."""
        received_at = frame.received_at
        if received_at is None:
            return
        observe = self._metrics.broadcast_latency.observe
        for at in written:
            observe(at - received_at)

    def _deliver(self, frame: Frame, clients: list[Client], written: list[float]) -> None:
        now = asyncio.get_running_loop().time()
        stamp = written.append
        clock = time.perf_counter
        wire = frame.wire
        wake: set[int] = set()
        state_frame: Frame | None = None
        conflated = 0
        for client in clients:
            if client.detached:
                continue
            pending = client.pending
            if not pending and not client.send_started:
                connection = client.connection
                if connection is not None and connection.ready():
                    try:
                        connection.write(wire)
                    except Exception as exc:
                        self.drop(client, "send_error", error=f"{type(exc).__name__}: {exc}")
                        continue
                    stamp(clock())
                    continue
                wake.add(client.group)  # its writer is idle: it waits for the socket, or sends
            if len(pending) < self._queue_size:
                pending.append(frame)
                continue
            if client.lagging_since is None:
                client.lagging_since = now
            elif now - client.lagging_since > self._max_lag:
                self.drop(client, "queue_overflow")
                continue
            if state_frame is None:
                state_frame = Frame(self._state_update(), frame.received_at)
            conflated += len(pending)
            pending.clear()
            pending.append(state_frame)
        if conflated:
            self._metrics.messages_conflated.inc(conflated)
        for group in wake:
            future = self._idle[group]
            if future is not None and not future.done():
                future.set_result(None)

    def _idle_future(self, group: int) -> asyncio.Future[None]:
        future = self._idle[group]
        if future is None or future.done():
            future = self._idle[group] = asyncio.get_running_loop().create_future()
        return future

    async def _write_loop(self, client: Client) -> None:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        pending = client.pending
        connection = client.connection
        send = client.websocket.send
        observe = self._metrics.broadcast_latency.observe
        try:
            while True:
                if not pending:
                    client.lagging_since = None
                    try:
                        await self._idle_future(client.group)
                    except asyncio.CancelledError:
                        if task.cancelling():
                            raise
                        # Not this writer: another one of its group was cancelled while
                        # waiting, which cancels the future they share.
                    continue
                frame = pending.popleft()
                if connection is not None:
                    if not connection.writable:
                        client.send_started = loop.time()
                        await connection.wait_writable()
                        client.send_started = 0.0
                    if not connection.open:
                        self._detach(client)  # closing or gone: its handler sees it too
                        return
                    connection.write(frame.wire)
                else:
                    client.send_started = loop.time()
                    await send(frame.message)
                    client.send_started = 0.0
                if frame.received_at is not None:
                    observe(time.perf_counter() - frame.received_at)
        except WebSocketDisconnect:
            self._detach(client)  # the peer went away; its handler sees the disconnect too
        except Exception as exc:
            self.drop(client, "send_error", error=f"{type(exc).__name__}: {exc}")

    def drop(self, client: Client, reason: str, **fields: Any) -> None:
        """Count, log and disconnect a client that cannot keep up."""
        if client.detached:
            return
        self._metrics.slow_clients_dropped.labels(reason).inc()
        peer = client.websocket.client
        event(
            log,
            f"dropping WebSocket client ({reason})",
            logging.WARNING,
            reason=reason,
            peer=f"{peer.host}:{peer.port}" if peer else "?",
            queued=len(client.pending),
            **fields,
        )
        self._detach(client)
        if client.connection is not None:
            client.connection.abort()
        else:  # no connection to reset: try a close frame, bounded in time
            asyncio.get_running_loop().create_task(self._close(client, 1008, "Too slow"))

    async def _close(self, client: Client, code: int, reason: str) -> None:
        if client.writer is not None:
            await asyncio.wait([client.writer])
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.websocket.close(code, reason), self._close_timeout)

    async def watch_send_timeouts(self) -> None:
        """Drop every client whose send in progress started more than the timeout ago."""
        loop = asyncio.get_running_loop()
        interval = min(self._send_timeout / 4, 0.25)
        while True:
            await asyncio.sleep(interval)
            deadline = loop.time() - self._send_timeout
            stuck = [c for c in self._clients if 0.0 < c.send_started < deadline]
            for client in stuck:
                self.drop(
                    client,
                    "send_timeout",
                    blocked_seconds=round(loop.time() - client.send_started, 3),
                )

    async def close_all(self, code: int, reason: str) -> int:
        """Close every client with ``code``; reset those whose close does not go out in time."""
        clients = list(self._clients)
        for client in clients:
            self._detach(client)
        if not clients:
            return 0
        loop = asyncio.get_running_loop()
        closing = {loop.create_task(self._close(c, code, reason)): c for c in clients}
        _done, stuck = await asyncio.wait(closing, timeout=self._close_timeout)
        for task in stuck:
            task.cancel()
            connection = closing[task].connection
            if connection is not None:
                connection.abort()
        event(log, f"closed {len(clients)} WebSocket clients ({code} {reason})", aborted=len(stuck))
        return len(clients)
