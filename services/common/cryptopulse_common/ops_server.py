"""A tiny HTTP server for a worker process's ``/health`` and ``/metrics`` (probes and Prometheus).

For processes that are not web servers themselves (the stream driver, the producer). It runs in
a daemon thread; ``health`` is called on every probe and returns ``(healthy, details)``.
``/livez`` answers 200 whenever the process can serve it: a liveness probe that checks the
process alone, for a worker whose ``/health`` is about its dependencies (the producer's says
whether Kafka acknowledges its ticks, which must not get it restarted while Kafka comes up).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

HealthCheck = Callable[[], tuple[bool, dict[str, Any]]]


class OpsServer:
    def __init__(
        self, host: str, port: int, registry: CollectorRegistry, health: HealthCheck
    ) -> None:
        registry_ref, health_ref = registry, health

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path == "/metrics":
                    self._send(200, generate_latest(registry_ref), CONTENT_TYPE_LATEST)
                elif path == "/livez":
                    self._send(200, b'{"status":"alive"}', "application/json")
                elif path in ("/health", "/healthz"):
                    healthy, details = health_ref()
                    body = {"status": "ok" if healthy else "unhealthy", **details}
                    self._send(
                        200 if healthy else 503, json.dumps(body).encode(), "application/json"
                    )
                else:
                    self._send(404, b'{"detail":"not found"}', "application/json")

            def _send(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # probes are not news
                return

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        port: int = self._server.server_address[1]
        return port

    def start(self) -> OpsServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
