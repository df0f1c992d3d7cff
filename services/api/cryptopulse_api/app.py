"""The FastAPI application: ``POST /ingest``, WebSocket ``/ws``, health, metrics, snapshot."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from pydantic import ValidationError

from cryptopulse_api.hub import ConnectionHub, Frame
from cryptopulse_api.metrics import ApiMetrics
from cryptopulse_api.settings import ApiSettings
from cryptopulse_common.contract import SNAPSHOT_MESSAGE, Aggregate, IngestRequest
from cryptopulse_common.logs import event

log = logging.getLogger("cryptopulse.api")


class MarketState:
    """The latest aggregate per coin (the snapshot a new client starts from)."""

    def __init__(self) -> None:
        self._latest: dict[str, Aggregate] = {}

    def apply(self, records: list[Aggregate]) -> None:
        for record in records:
            current = self._latest.get(record.coin_id)
            if current is None or (record.window_start, record.timestamp) >= (
                current.window_start,
                current.timestamp,
            ):
                self._latest[record.coin_id] = record

    def snapshot(self) -> list[dict[str, Any]]:
        return [self._latest[coin].model_dump() for coin in sorted(self._latest)]


def create_app(settings: ApiSettings, registry: CollectorRegistry | None = None) -> FastAPI:
    registry = registry or CollectorRegistry()
    metrics = ApiMetrics(registry)
    hub = ConnectionHub(metrics, settings.api_ws_queue_size, settings.api_ws_send_timeout_seconds)
    market = MarketState()

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        await hub.close_all()

    app = FastAPI(title="cryptopulse API", lifespan=lifespan)
    app.state.metrics = metrics
    app.state.hub = hub
    app.state.market = market

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/metrics")
    async def prometheus_metrics() -> Response:
        return PlainTextResponse(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/api/snapshot")
    async def snapshot() -> dict[str, Any]:
        return {"type": SNAPSHOT_MESSAGE, "data": market.snapshot()}

    @app.post("/ingest")
    async def ingest(request: Request) -> Response:
        received_at = time.perf_counter()
        try:
            payload = IngestRequest.model_validate_json(await request.body())
        except ValidationError as error:
            metrics.ingest_requests.labels("invalid").inc()
            detail = [
                {"loc": list(item["loc"]), "msg": item["msg"], "type": item["type"]}
                for item in error.errors(include_url=False)
            ]
            event(
                log,
                "/ingest rejected an invalid body",
                logging.WARNING,
                errors=len(detail),
                first=f"{detail[0]['loc']}: {detail[0]['msg']}",
            )
            return JSONResponse({"detail": detail}, status_code=422)
        count = len(payload.data)
        event(log, f"/ingest received: {count} records", batch_id=payload.batch_id)
        market.apply(payload.data)
        text = orjson.dumps(
            {
                "type": settings.api_update_message_type,
                "data": [record.model_dump() for record in payload.data],
            }
        ).decode()
        listeners = hub.broadcast(Frame(text, received_at))
        event(
            log,
            f"broadcast type={settings.api_update_message_type} records={count} "
            f"listeners={listeners}",
        )
        metrics.ingest_requests.labels("accepted").inc()
        metrics.ingest_records.inc(count)
        return JSONResponse({"count": count})

    @app.websocket("/ws")
    async def websocket(websocket: WebSocket) -> None:
        await websocket.accept()
        if hub.client_count >= settings.api_max_connections:
            metrics.connections_rejected.inc()
            await websocket.close(code=1008, reason="Too many connections")
            return
        first = Frame(orjson.dumps({"type": SNAPSHOT_MESSAGE, "data": market.snapshot()}).decode())
        client = hub.add(websocket, first)
        try:
            while True:
                await websocket.receive_text()  # clients may send pings; content is ignored
        except WebSocketDisconnect:
            pass
        finally:
            hub.remove(client)
            if client.writer is not None:
                client.writer.cancel()

    dashboard_dir = Path(settings.api_dashboard_dir) if settings.api_dashboard_dir else None
    if dashboard_dir is not None and (dashboard_dir / "index.html").exists():
        app.mount("/", StaticFiles(directory=dashboard_dir, html=True), name="dashboard")
    return app
