"""Start the whole local pipeline as `cryptopulse up` does, on free ports, for a test."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from cryptopulse_local.kafka_broker import free_port
from cryptopulse_local.processes import stop_process


@dataclass
class Pipeline:
    process: subprocess.Popen[str]
    api_url: str
    bootstrap_servers: str
    output: Path
    env: dict[str, str] = field(default_factory=dict)

    def log_tail(self, lines: int = 80) -> str:
        return "\n".join(self.output.read_text(errors="replace").splitlines()[-lines:])


@contextmanager
def running_pipeline(state: Path, **settings: str) -> Iterator[Pipeline]:
    """``cryptopulse up`` in a child process; ``settings`` are extra environment variables."""
    api_port, kafka_port = free_port(), free_port()
    env = {
        **os.environ,
        "CRYPTOPULSE_STATE_DIR": str(state),
        "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{kafka_port}",
        "KAFKA_CONTROLLER_PORT": str(free_port()),
        "API_PORT": str(api_port),
        "PRODUCER_METRICS_PORT": str(free_port()),
        "STREAM_METRICS_PORT": str(free_port()),
        "PRODUCER_INTERVAL_SECONDS": "0.5",
        **settings,
    }
    for name in ("STREAM_INGEST_URL", "STREAM_CHECKPOINT_DIR", "API_DASHBOARD_DIR"):
        env.pop(name, None)
    output = state / "up.out"
    with output.open("w") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "cryptopulse_local.cli", "up"],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            text=True,
        )
    running = Pipeline(
        process, f"http://127.0.0.1:{api_port}", f"127.0.0.1:{kafka_port}", output, env
    )
    try:
        yield running
    finally:
        stop_process(process, 120, signal.SIGINT)


def wait_healthy(pipeline: Pipeline, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pipeline.process.poll() is not None:
            raise RuntimeError("up exited early:\n" + pipeline.log_tail())
        try:
            if httpx.get(f"{pipeline.api_url}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError("the API never became healthy:\n" + pipeline.log_tail())
