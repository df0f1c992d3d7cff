"""The original design's fan-out, reproduced as the fan-out benchmark's baseline. Not for use.

As in the original ``backend/api_server/app.py`` (see the troubleshooting guide): ``/ingest``
starts one ``asyncio.create_task(manager.broadcast_json(...))`` per request and answers at once;
the broadcast walks the clients one after another, each send (``send_json``: serialised per
client) wrapped in ``asyncio.wait_for(..., 2)``, and drops a client whose send failed or timed
out. Two changes, both for the benchmark only: no 10-connection limit (the benchmark connects
thousands), and ``/stats`` reports how many clients were dropped.

It runs under the same uvicorn settings as the real server (``server_config``), so the two differ
only in their fan-out.

Usage: .venv/bin/python -m bench.fanout_baseline PORT
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import uvicorn
from fastapi import FastAPI, WebSocket, WebSocketDisconnect
from pydantic import BaseModel
from starlette.types import Receive, Scope, Send

from cryptopulse_api.connection import DirectConnection
from cryptopulse_api.server import server_config
from cryptopulse_api.settings import ApiSettings

SEND_TIMEOUT_SECONDS = 2


class IngestPayload(BaseModel):
    data: list[dict[str, Any]]


class ConnectionManager:
    def __init__(self) -> None:
        self._connections: set[WebSocket] = set()
        self.dropped = 0

    async def connect(self, websocket: WebSocket) -> None:
        await websocket.accept()
        self._connections.add(websocket)

    def disconnect(self, websocket: WebSocket) -> None:
        self._connections.discard(websocket)

    async def broadcast_json(self, message: dict[str, Any]) -> None:
        for websocket in list(self._connections):
            try:
                await asyncio.wait_for(websocket.send_json(message), timeout=SEND_TIMEOUT_SECONDS)
            except Exception:
                if websocket in self._connections:
                    self.dropped += 1
                self.disconnect(websocket)


manager = ConnectionManager()
app = FastAPI()
background: set[asyncio.Task[None]] = set()


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/stats")
async def stats() -> dict[str, int]:
    return {"dropped": manager.dropped, "connections": len(manager._connections)}


@app.post("/ingest")
async def ingest(payload: IngestPayload) -> dict[str, int]:
    task = asyncio.create_task(
        manager.broadcast_json({"type": "market_update", "data": payload.data})
    )
    background.add(task)
    task.add_done_callback(background.discard)
    return {"count": len(payload.data)}


@app.websocket("/ws")
async def websocket_endpoint(websocket: WebSocket) -> None:
    await manager.connect(websocket)
    try:
        while True:
            await websocket.receive_text()
    except WebSocketDisconnect:
        manager.disconnect(websocket)


class SendBuffer:
    """Gives every WebSocket connection the real server's kernel send buffer."""

    def __init__(self, size: int) -> None:
        self.size = size

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            connection = DirectConnection.of(send)
            if connection is not None:
                connection.limit_send_buffer(self.size)
        await app(scope, receive, send)


def main(port: int, send_buffer: int) -> None:
    settings = ApiSettings(api_port=port, log_level="WARNING")
    uvicorn.Server(server_config(SendBuffer(send_buffer), settings, log_level="warning")).run()


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 0)
