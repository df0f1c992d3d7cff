"""Start the local pipeline one stage at a time, on free ports, so a test can stop and restart one.

The same processes ``cryptopulse up`` runs (``python -m cryptopulse_local.cli <stage>`` with the
same environment), but each owned by the test: stop the API, keep the browser open, start the API
again on the same port. The broker runs from :class:`LocalKafka`, as ``up`` and the session
fixture run it.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from cryptopulse_common.contract import ALL_TOPICS
from cryptopulse_local.kafka_broker import LocalKafka, free_port
from cryptopulse_local.ownership import run_dir
from cryptopulse_local.processes import stop_process

CACHE_DIR = Path(os.environ.get("CRYPTOPULSE_CACHE_DIR", Path.home() / ".cache" / "cryptopulse"))
# Stop order (the reverse of start order): the producer flushes, the stream job stops its query.
STOP_ORDER = ("producer", "stream", "api")
STOP_TIMEOUT_SECONDS = {"producer": 30.0, "stream": 60.0, "api": 20.0}


@dataclass
class Stages:
    """The pipeline's stages for one test module; see :func:`running_stages`."""

    state: Path
    env: dict[str, str]
    kafka: LocalKafka
    api_port: int
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def log_path(self, name: str) -> Path:
        return self.state / "logs" / f"{name}.log"

    def log_tail(self, name: str, lines: int = 40) -> str:
        with contextlib.suppress(OSError):
            text = self.log_path(name).read_text(errors="replace")
            return f"--- {name} ---\n" + "\n".join(text.splitlines()[-lines:])
        return f"--- {name}: no log ---"

    def logs(self) -> str:
        return "\n".join(self.log_tail(name) for name in ("api", "stream", "producer"))

    def start(self, name: str) -> None:
        """Start ``cryptopulse <name>``; its output is appended to ``state/logs/<name>.log``."""
        running = self.processes.get(name)
        if running is not None and running.poll() is None:
            raise RuntimeError(f"{name} is already running (pid {running.pid})")
        self.log_path(name).parent.mkdir(parents=True, exist_ok=True)
        with self.log_path(name).open("ab") as sink:
            self.processes[name] = subprocess.Popen(
                [sys.executable, "-m", "cryptopulse_local.cli", name],
                env=self.env,
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def stop(self, name: str) -> int | None:
        """SIGTERM (a graceful stop), then SIGKILL if it hangs; returns the exit code."""
        process = self.processes.get(name)
        if process is None:
            return None
        stop_process(process, STOP_TIMEOUT_SECONDS[name])
        return process.returncode

    def assert_running(self, *names: str) -> None:
        for name in names:
            process = self.processes.get(name)
            if process is None or process.poll() is not None:
                code = None if process is None else process.returncode
                raise AssertionError(f"{name} is not running (exit {code}):\n{self.logs()}")

    def wait_api_healthy(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.assert_running("api")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.api_url}/health", timeout=1).status_code == 200:
                    return
            time.sleep(0.3)
        raise AssertionError(f"the API was not healthy within {timeout:.0f} s:\n{self.logs()}")

    def close(self) -> None:
        for name in STOP_ORDER:
            self.stop(name)
        self.kafka.stop()


@contextmanager
def running_stages(state: Path, **settings: str) -> Iterator[Stages]:
    """Kafka, then the API, the stream job and the producer, each its own process.

    ``settings`` are extra environment variables for every stage. The stream job retries an
    unavailable ``/ingest`` until it answers, so it outlives an API restart.
    """
    kafka = LocalKafka(
        data_dir=state / "kafka",
        cache_dir=CACHE_DIR,
        port=free_port(),
        controller_port=free_port(),
        run_dir=run_dir(state),
    )
    api_port = free_port()
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "CRYPTOPULSE_STATE_DIR": str(state),
        "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "KAFKA_CONTROLLER_PORT": str(kafka.controller_port),
        "API_PORT": str(api_port),
        "STREAM_INGEST_URL": f"http://127.0.0.1:{api_port}/ingest",
        "STREAM_CHECKPOINT_DIR": str(state / "checkpoints" / "stream"),
        "PRODUCER_METRICS_PORT": str(free_port()),
        "STREAM_METRICS_PORT": str(free_port()),
        "PRODUCER_INTERVAL_SECONDS": "0.5",
        **settings,
    }
    stages = Stages(state=state, env=env, kafka=kafka, api_port=api_port)
    try:
        kafka.start(topics=ALL_TOPICS)
        stages.start("api")
        stages.wait_api_healthy()
        stages.start("stream")
        stages.start("producer")
        yield stages
    finally:
        stages.close()
