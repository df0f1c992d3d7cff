"""Real API servers for the tests: uvicorn in a thread (with an injected registry), or the real
``python -m cryptopulse_api.main`` process (for signals, memory and several replicas)."""

from __future__ import annotations

import os
import resource
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from cryptopulse_api.app import create_app
from cryptopulse_api.server import server_config
from cryptopulse_api.settings import ApiSettings
from cryptopulse_common.contract import Aggregate
from cryptopulse_local.kafka_broker import free_port
from cryptopulse_local.processes import stop_process
from tests.api.clients import stalled_client
from tests.support.servers import serving


def aggregate(coin_id: str = "bitcoin", price: float = 97000.0, **changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "coin": coin_id[:3].upper(),
        "coin_id": coin_id,
        "name": coin_id.title(),
        "price": price,
        "open": price,
        "high": price,
        "low": price,
        "close": price,
        "mean_price": price,
        "samples": 1,
        "change_24h": 1.5,
        "volume_24h": 1e9,
        "market_cap": 1e12,
        "volatility": "Stable",
        "trend": "Stable",
        "window_start": "2026-08-10T14:25:00.000Z",
        "window_end": "2026-08-10T14:25:30.000Z",
        "timestamp": "2026-08-10T14:25:20.000Z",
    }
    record.update(changes)
    return record


def on_the_wire(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The records as the server sends them back (every contract field, defaults filled in)."""
    return [Aggregate.model_validate(record).model_dump() for record in records]


def ws_url(base: str) -> str:
    return base.replace("http://", "ws://") + "/ws"


@dataclass
class Api:
    url: str
    app: FastAPI
    registry: CollectorRegistry

    def sample(self, name: str, labels: dict[str, str] | None = None) -> float:
        value = self.registry.get_sample_value(name, labels or {})
        assert value is not None, f"no sample {name}{labels or ''}"
        return value


@contextmanager
def running_api(settings: ApiSettings | None = None, **changes: Any) -> Iterator[Api]:
    """``create_app`` served by uvicorn, configured as ``cryptopulse api`` configures it, in a
    thread of the test process. ``changes`` are settings, or else uvicorn options."""
    fields = {key: value for key, value in changes.items() if key in ApiSettings.model_fields}
    server_options = {key: value for key, value in changes.items() if key not in fields}
    settings = (settings or ApiSettings()).model_copy(update=fields)
    registry = CollectorRegistry()
    app = create_app(settings, registry)
    port = free_port()
    with serving(server_config(app, settings, host="127.0.0.1", port=port, **server_options)):
        yield Api(f"http://127.0.0.1:{port}", app, registry)


@pytest.fixture
def api() -> Iterator[Api]:
    with running_api() as running:
        yield running


@pytest.fixture
def stalled() -> Iterator[Callable[[str], socket.socket]]:
    """Opens stalled clients (``clients.stalled_client``); closes them all after the test."""
    opened: list[socket.socket] = []

    def open_one(url: str) -> socket.socket:
        opened.append(stalled_client(url))
        return opened[-1]

    yield open_one
    for sock in opened:
        sock.close()


@dataclass
class ApiProcess:
    """``python -m cryptopulse_api.main``, as its container runs it."""

    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def metrics(self) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
        text = httpx.get(f"{self.url}/metrics", timeout=5).text
        return {
            (sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        }

    def sample(self, name: str, **labels: str) -> float:
        return self.metrics()[(name, frozenset(labels.items()))]

    def rss_bytes(self) -> int:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise RuntimeError("no VmRSS")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, "the API exited:\n" + self.log()
            try:
                if httpx.get(f"{self.url}/ready", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError("the API never became ready:\n" + self.log())


def open_file_limit(soft: int, hard: int) -> Callable[[], None]:
    """A ``preexec_fn`` starting the child with ``RLIMIT_NOFILE`` (soft, hard), as a container
    runtime would (containerd 2.x: soft 1024 under a much higher hard limit)."""

    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))

    return apply


@contextmanager
def api_process(
    log_dir: Path, nofile: tuple[int, int] | None = None, **env: str
) -> Iterator[ApiProcess]:
    port = free_port()
    log_path = log_dir / f"api-{port}.log"
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("API_", "KAFKA_", "LOG_"))
    }
    environment.update({"API_PORT": str(port), "API_DRAIN_DELAY_SECONDS": "0", **env})
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "cryptopulse_api.main"],
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=open_file_limit(*nofile) if nofile else None,
        )
    running = ApiProcess(f"http://127.0.0.1:{port}", process, log_path)
    try:
        yield running
    finally:
        stop_process(process, 30)
