"""Fast WebSocket clients for the fan-out benchmark: many connections in one process.

Each client is an asyncio protocol driving the ``websockets`` sans-I/O client (handshake, frame
parsing, pong replies), so one process holds thousands of connections.

What is measured is when a frame's bytes reach the client process: once open, ``data_received``
only stamps and keeps each chunk, and the chunks are parsed later, a slice of clients at a time
(every second, and before each report), each frame getting the time of the chunk that completed
it. Parsing on arrival would add, to the last clients of a fan-out, the time this process spends
parsing the frames of the others (two client processes share this machine's two cores with the
server); for the same reason parsing waits for a quiet moment, when no bytes have arrived for
``QUIET_SECONDS``, so it does not take CPU from a fan-out in progress. A chunk that starts with
a ping frame is parsed at once, so the pong goes back when a browser's would (deferred, the
pongs of thousands of clients would reach the server in one burst, right before a fan-out).
The batch a frame carries is read from the ``samples`` field the benchmark stamps on every
record. Times are ``time.perf_counter()`` (CLOCK_MONOTONIC: one clock for every process of the
machine).
"""

from __future__ import annotations

import asyncio
import contextlib
import resource
import time
from multiprocessing.connection import Connection
from typing import Any, cast

from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.http11 import Response
from websockets.uri import parse_uri

SAMPLES_KEY = b'"samples":'
PING_FRAME_START = b"\x89"  # FIN + opcode 0x9: an unfragmented ping
CONNECT_CONCURRENCY = 200
PARSE_SLICE = 100  # clients parsed per event-loop iteration
QUIET_SECONDS = 0.05  # no arrivals for this long: the fan-out is over, parsing can run


class Arrivals:
    """When this process last received bytes from the server (any client)."""

    last = 0.0

    @classmethod
    async def quiet(cls) -> None:
        # Polls a float data_received sets: an Event would cost a set() per chunk received.
        while (wait := cls.last + QUIET_SECONDS - time.perf_counter()) > 0:  # noqa: ASYNC110
            await asyncio.sleep(wait)


def batch_of(payload: bytes) -> int:
    """The batch number of an update (-1 for the snapshot)."""
    if payload.startswith(b'{"type":"snapshot"'):
        return -1
    start = payload.find(SAMPLES_KEY) + len(SAMPLES_KEY)
    end = start
    while payload[end] in b"0123456789":
        end += 1
    return int(payload[start:end])


class BenchClient(asyncio.Protocol):
    def __init__(self, url: str, opened: asyncio.Future[None]) -> None:
        self.protocol = ClientProtocol(parse_uri(url), max_size=None)
        self.opened = opened
        self.transport: asyncio.Transport | None = None
        self.received: list[tuple[int, float]] = []
        self.chunks: list[tuple[float, bytes]] = []
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.protocol.send_request(self.protocol.connect())
        self.transport.write(b"".join(self.protocol.data_to_send()))

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter()
        Arrivals.last = now
        self.chunks.append((now, data))
        if not self.opened.done() or data.startswith(PING_FRAME_START):
            self.parse()

    def parse(self) -> None:
        chunks, self.chunks = self.chunks, []
        for arrived, data in chunks:
            self.protocol.receive_data(data)
            self._handle(arrived)
        outgoing = self.protocol.data_to_send()  # pongs
        if outgoing and self.transport is not None and not self.closed:
            self.transport.write(b"".join(outgoing))

    def _handle(self, arrived: float) -> None:
        for event in self.protocol.events_received():
            if isinstance(event, Frame):
                if event.opcode is Opcode.TEXT:
                    self.received.append((batch_of(bytes(event.data)), arrived))
            elif isinstance(event, Response) and not self.opened.done():
                if event.status_code == 101:
                    self.opened.set_result(None)
                else:
                    self.opened.set_exception(ConnectionError(f"HTTP {event.status_code}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self.opened.done():
            self.opened.set_exception(exc or ConnectionError("closed during the handshake"))


async def open_client(url: str) -> BenchClient:
    loop = asyncio.get_running_loop()
    parsed = parse_uri(url)
    opened: asyncio.Future[None] = loop.create_future()
    client = BenchClient(url, opened)
    await loop.create_connection(lambda: client, parsed.host, parsed.port)
    await asyncio.wait_for(opened, 30)
    return client


async def open_clients(url: str, count: int) -> tuple[list[BenchClient], int]:
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
    clients: list[BenchClient] = []
    failures = 0

    async def open_one() -> None:
        nonlocal failures
        async with gate:
            for _attempt in range(5):
                try:
                    clients.append(await open_client(url))
                    return
                except (OSError, TimeoutError, ConnectionError):
                    await asyncio.sleep(0.2)
            failures += 1

    await asyncio.gather(*(open_one() for _ in range(count)))
    return clients, failures


async def parse_all(clients: list[BenchClient]) -> None:
    for start in range(0, len(clients), PARSE_SLICE):
        await Arrivals.quiet()  # also lets arrivals be stamped between slices
        for client in clients[start : start + PARSE_SLICE]:
            client.parse()
        await asyncio.sleep(0)


async def parse_every_second(clients: list[BenchClient]) -> None:
    while True:
        await asyncio.sleep(1.0)
        await parse_all(clients)


async def serve(url: str, count: int, pipe: Connection) -> None:
    """Open ``count`` clients, then answer the driver's commands until "stop"."""
    clients, failures = await open_clients(url, count)
    pipe.send(("open", len(clients), failures))
    loop = asyncio.get_running_loop()
    parser = loop.create_task(parse_every_second(clients))
    while True:
        command = await loop.run_in_executor(None, pipe.recv)
        if command in ("reset", "progress", "report"):
            await parse_all(clients)
        if command == "reset":  # forget the snapshot and the warm-up updates
            for client in clients:
                client.received = []
            pipe.send(("reset",))
        elif command == "progress":
            pipe.send(("progress", sum(len(client.received) for client in clients)))
        elif command == "report":
            closed = sum(client.closed for client in clients)
            pipe.send(("report", [client.received for client in clients], closed))
        elif command == "stop":
            parser.cancel()
            for client in clients:
                if client.transport is not None:
                    client.transport.abort()
            pipe.send(("stopped",))
            return


def run(url: str, count: int, pipe: Connection) -> None:
    """Entry point of a client process."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    runner: Any = asyncio.run
    with contextlib.suppress(ImportError):
        import uvloop

        runner = uvloop.run
    runner(serve(url, count, pipe))
