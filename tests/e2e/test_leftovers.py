"""Nothing outlives a killed ``cryptopulse up``, and what an earlier run left is stopped.

Today's bug, as the issue reports it: after ``up`` is killed its broker keeps running in its own
session and the next ``make up`` fails with "port 9092 is already in use".
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from cryptopulse_local.kafka_broker import free_port, port_open
from cryptopulse_local.ownership import live_processes, run_dir, wait_gone
from tests.e2e.test_doctor import ORPHAN_BROKER
from tests.support.doctor import run_doctor
from tests.support.pipeline import running_pipeline
from tests.support.stages import CACHE_DIR

pytestmark = pytest.mark.e2e

# A stage stops on SIGTERM within its own bounds: the stream job's grace and stop timeout (10 +
# 30 s by default), the producer's flush (20 s).
STOP_DEADLINE_SECONDS = 90.0
START_DEADLINE_SECONDS = 240.0


def wait_for(what: str, done: Callable[[], bool], timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if done():
            return
        time.sleep(0.5)
    pytest.fail(f"{what} not within {timeout:.0f} s:\n" + log.read_text(errors="replace")[-4000:])


def test_a_killed_up_leaves_nothing_running(tmp_path: Path) -> None:
    with running_pipeline(tmp_path) as pipeline:
        env = pipeline.env
        records = run_dir(tmp_path)

        def every_stage_recorded() -> bool:
            names = {live.record.name for live in live_processes(records)}
            return {"up", "kafka", "api", "stream", "producer"} <= names

        wait_for(
            "every stage recorded", every_stage_recorded, START_DEADLINE_SECONDS, pipeline.output
        )
        stream_port = int(env["STREAM_METRICS_PORT"])
        wait_for(
            "the stream driver serving /health",
            lambda: port_open("127.0.0.1", stream_port),
            START_DEADLINE_SECONDS,
            pipeline.output,
        )
        children = [live.record for live in live_processes(records) if live.record.name != "up"]
        pipeline.process.send_signal(signal.SIGKILL)  # no handler runs: only the kernel acts
        pipeline.process.wait()
        for record in children:
            try:
                process = psutil.Process(record.pid)
            except psutil.NoSuchProcess:
                continue  # gone already
            assert wait_gone(process, STOP_DEADLINE_SECONDS), (
                f"{record.describe()} outlived the killed up"
            )
        ports = [int(pipeline.bootstrap_servers.rsplit(":", 1)[1]), int(env["API_PORT"])]
        assert not [port for port in ports if port_open("127.0.0.1", port)]
        run = run_doctor(env)
        assert run.check("processes")["status"] == "pass", run.describe()
        assert run.first_failure == "kafka", run.describe()


def test_the_next_broker_stops_one_an_earlier_run_left(tmp_path: Path) -> None:
    port, controller = free_port(), free_port()
    orphan = int(
        subprocess.run(
            [
                sys.executable,
                "-c",
                ORPHAN_BROKER,
                str(tmp_path),
                str(CACHE_DIR),
                str(port),
                str(controller),
            ],
            capture_output=True,
            text=True,
            timeout=180,
            check=True,
        ).stdout.split()[-1]
    )
    env = {
        **os.environ,
        "CRYPTOPULSE_STATE_DIR": str(tmp_path),
        "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{port}",
        "KAFKA_CONTROLLER_PORT": str(controller),
    }
    output = tmp_path / "kafka.out"
    with output.open("w") as sink:
        broker = subprocess.Popen(
            [sys.executable, "-m", "cryptopulse_local.cli", "kafka"],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for(
            "the new broker up",
            lambda: "Kafka is up" in output.read_text(),
            START_DEADLINE_SECONDS,
            output,
        )
        text = output.read_text()
        assert f"stopping kafka (pid {orphan}" in text
        assert "left running by an earlier run" in text
        assert not psutil.pid_exists(orphan) or wait_gone(psutil.Process(orphan), 5)
        assert port_open("127.0.0.1", port)
    finally:
        broker.send_signal(signal.SIGINT)
        broker.wait(60)
        if psutil.pid_exists(orphan):
            os.kill(orphan, signal.SIGKILL)
