"""The FastAPI application: ``POST /ingest``, WebSocket ``/ws``, snapshot and history, health,
readiness and metrics."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

import orjson
from fastapi import FastAPI, Query, Request, WebSocket
from fastapi.responses import PlainTextResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from pydantic import ValidationError

from cryptopulse_api.fanout import Fanout
from cryptopulse_api.hub import ConnectionHub, Frame
from cryptopulse_api.kafka_fanout import KafkaFanout
from cryptopulse_api.lifecycle import GOING_AWAY, GOING_AWAY_REASON, Lifecycle
from cryptopulse_api.market import POSTED, MarketState, RecentBatches
from cryptopulse_api.metrics import ApiMetrics
from cryptopulse_api.middleware import ServerMiddleware, connection_from_scope
from cryptopulse_api.openapi import INGEST_RESPONSES, METRICS_RESPONSES, ingest_request_body
from cryptopulse_api.settings import ApiSettings
from cryptopulse_common.contract import IngestRequest, reason_for
from cryptopulse_common.kafka_config import kafka_python_config
from cryptopulse_common.logs import event

log = logging.getLogger("cryptopulse.api")

POLICY_VIOLATION = 1008


def json_response(content: Any, status_code: int = 200, **headers: str) -> Response:
    return Response(
        orjson.dumps(content), status_code, headers or None, media_type="application/json"
    )


def bearer_token_matches(header: str | None, expected_digest: bytes) -> bool:
    """Constant-time check of ``Authorization: Bearer <token>``.

    Both sides are hashed first, so the comparison takes the same time whatever the length or
    content of what the client sent.
    """
    scheme, _, token = (header or "").partition(" ")
    if scheme.lower() != "bearer":
        token = ""
    digest = hashlib.sha256(token.strip().encode()).digest()
    return hmac.compare_digest(digest, expected_digest)


async def read_body(request: Request, limit: int) -> bytes | None:
    """The request body, or None as soon as it is known to exceed ``limit`` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return None
    return bytes(body)


def create_app(settings: ApiSettings, registry: CollectorRegistry | None = None) -> FastAPI:
    registry = registry or CollectorRegistry()
    metrics = ApiMetrics(registry)
    market = MarketState(
        settings.api_history_windows,
        settings.api_update_message_type,
        max_coins=settings.api_max_coins,
        idle_seconds=settings.api_coin_idle_seconds,
        on_forgotten=metrics.market_coins_forgotten.inc,
        on_over_limit=metrics.market_records_over_limit.inc,
    )
    metrics.market_coins.set_function(lambda: len(market))
    hub = ConnectionHub(
        metrics,
        queue_size=settings.api_ws_queue_size,
        send_timeout=settings.api_ws_send_timeout_seconds,
        max_lag=settings.api_ws_max_lag_seconds,
        state_update=market.state_update_text,
    )
    fanout = Fanout(
        market,
        hub,
        RecentBatches(settings.api_dedupe_batches),
        metrics,
        settings.api_update_message_type,
    )
    lifecycle = Lifecycle(hub)
    allowed_origins = settings.allowed_origins
    token_digest = (
        hashlib.sha256(settings.api_ingest_token.encode()).digest()
        if settings.api_ingest_token
        else None
    )

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        watchdog = loop.create_task(hub.watch_send_timeouts())
        kafka: KafkaFanout | None = None
        if settings.api_fanout_from_kafka:
            kafka = KafkaFanout(
                kafka_python_config(settings), loop, fanout.from_topic, metrics, settings.clock
            )
            lifecycle.fanout_positioned = kafka.positioned.is_set
            kafka.start()
        try:
            yield
        finally:
            if kafka is not None:
                await asyncio.to_thread(kafka.stop)
            await lifecycle.close_clients()
            watchdog.cancel()

    app = FastAPI(title="cryptopulse API", lifespan=lifespan)
    app.add_middleware(
        ServerMiddleware, metrics=metrics, send_buffer_bytes=settings.api_ws_send_buffer_bytes
    )
    app.state.metrics = metrics
    app.state.hub = hub
    app.state.market = market
    app.state.lifecycle = lifecycle

    @app.get("/health")
    async def health() -> Response:
        """Liveness: the process serves requests."""
        return json_response({"status": "ok"})

    @app.get("/ready")
    async def ready() -> Response:
        """Readiness: 503 while starting (fan-out not positioned) and while draining."""
        status = lifecycle.status
        return json_response({"status": status}, 200 if status == "ready" else 503)

    @app.get("/metrics", response_class=PlainTextResponse, responses=METRICS_RESPONSES)
    async def prometheus_metrics() -> Response:
        return PlainTextResponse(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/api/snapshot")
    async def snapshot() -> Response:
        """The latest aggregate per coin: the same bytes a WebSocket client receives first."""
        return Response(market.snapshot_text(), media_type="application/json")

    @app.get("/api/history")
    async def history(coin: Annotated[str, Query(min_length=1, max_length=200)]) -> Response:
        """The newest record of each recent window of ``coin``, oldest window first (an unknown
        coin has no windows: 200 with empty data)."""
        return json_response({"coin_id": coin, "data": market.history(coin)})

    @app.post(
        "/ingest",
        responses=INGEST_RESPONSES,
        openapi_extra={"requestBody": ingest_request_body()},
    )
    async def ingest(request: Request) -> Response:
        received_at = time.perf_counter()
        if token_digest is not None and not bearer_token_matches(
            request.headers.get("authorization"), token_digest
        ):
            metrics.ingest_requests.labels("unauthorized").inc()
            event(log, "/ingest refused: missing or wrong bearer token", logging.WARNING)
            return json_response(
                {"detail": "a valid 'Authorization: Bearer <API_INGEST_TOKEN>' is required"},
                401,
                **{"www-authenticate": "Bearer"},
            )
        body = await read_body(request, settings.api_ingest_max_bytes)
        if body is None:
            metrics.ingest_requests.labels("too_large").inc()
            limit = settings.api_ingest_max_bytes
            event(log, f"/ingest refused a body over {limit} bytes", logging.WARNING)
            return json_response(
                {"detail": f"body over {limit} bytes (API_INGEST_MAX_BYTES); send smaller batches"},
                413,
            )
        try:
            payload = IngestRequest.model_validate_json(body, context=settings.clock().context())
        except ValidationError as error:
            metrics.ingest_requests.labels("invalid").inc()
            metrics.count_refused(error)
            detail = [
                {
                    "loc": list(item["loc"]),
                    "msg": item["msg"],
                    "type": item["type"],
                    "reason": reason_for(item["type"]),
                }
                for item in error.errors(include_url=False)
            ]
            event(
                log,
                "/ingest rejected an invalid body",
                logging.WARNING,
                errors=len(detail),
                first=f"{detail[0]['loc']}: {detail[0]['msg']}",
            )
            return json_response({"detail": detail}, 422)
        count = len(payload.data)
        event(
            log,
            f"/ingest received: {count} records",
            batch_id=payload.batch_id,
            source=payload.source,
        )
        before, kept = fanout.accept(payload, POSTED)
        if before & POSTED:  # the sink sent it again (at-least-once)
            metrics.ingest_requests.labels("duplicate").inc()
            metrics.ingest_duplicates.inc()
            event(
                log,
                "repeated batch acknowledged, not broadcast again",
                batch_id=payload.batch_id,
                source=payload.source,
            )
            return json_response({"count": count, "duplicate": True})
        metrics.ingest_requests.labels("accepted").inc()
        metrics.ingest_records.inc(count)
        if before:  # the stream job published it first: broadcast from the topic already
            return json_response({"count": count})
        # Starts once this response is written (the handler does not yield before that).
        asyncio.get_running_loop().call_soon(fanout.broadcast, kept, received_at, "post")
        return json_response({"count": count})

    @app.websocket("/ws")
    async def websocket(websocket: WebSocket) -> None:
        origin = websocket.headers.get("origin")
        if (
            allowed_origins is not None
            and origin is not None
            and origin.rstrip("/") not in allowed_origins
        ):
            metrics.connections_rejected.labels("origin").inc()
            event(log, "WebSocket refused: origin not allowed", logging.WARNING, origin=origin)
            await websocket.close(code=POLICY_VIOLATION)  # before accept: HTTP 403
            return
        # Accept, then close: a close before accept reaches a browser as a bare 1006.
        await websocket.accept()
        if lifecycle.draining:
            metrics.connections_rejected.labels("draining").inc()
            await websocket.close(code=GOING_AWAY, reason=GOING_AWAY_REASON)
            return
        if hub.client_count >= settings.api_max_connections:
            metrics.connections_rejected.labels("limit").inc()
            event(
                log,
                "WebSocket refused: too many connections",
                logging.WARNING,
                limit=settings.api_max_connections,
            )
            await websocket.close(code=POLICY_VIOLATION, reason="Too many connections")
            return
        connection = connection_from_scope(websocket.scope)
        client = hub.add(websocket, Frame(market.snapshot_text()), connection)
        try:
            while True:  # client text (the dashboard's "ping") is read and ignored
                if (await websocket.receive())["type"] == "websocket.disconnect":
                    break
        finally:
            hub.remove(client)

    dashboard_dir = Path(settings.api_dashboard_dir) if settings.api_dashboard_dir else None
    if dashboard_dir is not None and (dashboard_dir / "index.html").exists():
        app.mount("/", StaticFiles(directory=dashboard_dir, html=True), name="dashboard")
    return app
