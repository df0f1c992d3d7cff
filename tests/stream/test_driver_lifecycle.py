"""The driver's start and stop as Kubernetes sees them.

- ``/health`` answers before the SparkSession exists ("starting", 200), so the driver pod is
  Ready, and its headless Service resolvable, before the session requests executors.
- The pod's preStop hook (``python -m cryptopulse_stream.stop``) runs the job's graceful stop
  when the job runs as the official image runs it: under ``spark-submit``, the Python process a
  child of the JVM, where a SIGTERM to the container reaches only the JVM.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pyspark
import pytest

from cryptopulse_local.kafka_broker import LocalKafka, free_port
from cryptopulse_local.spark_jars import spark_kafka_jars
from cryptopulse_stream.main import DriverHealth, main
from cryptopulse_stream.settings import StreamSettings
from tests.conftest import CACHE_DIR

REPO_ROOT = Path(__file__).resolve().parents[2]
STREAM_MAIN = REPO_ROOT / "services" / "stream" / "image" / "stream_main.py"


def test_health_answers_starting_while_the_session_starts(tmp_path: Path) -> None:
    port = free_port()
    pid_file = tmp_path / "stream.pid"
    settings = StreamSettings(stream_metrics_port=port, stream_pid_file=str(pid_file))
    building, seen = threading.Event(), {}

    def session_factory(_settings: StreamSettings) -> Any:
        building.set()
        deadline = time.monotonic() + 30
        while "health" not in seen and time.monotonic() < deadline:
            time.sleep(0.05)
        raise RuntimeError("no session in this test")

    def probe() -> None:
        building.wait(30)
        answer = httpx.get(f"http://127.0.0.1:{port}/health", timeout=10)
        seen["pid"] = pid_file.read_text().strip()
        seen["health"] = (answer.status_code, answer.json())

    prober = threading.Thread(target=probe, daemon=True)
    prober.start()
    handlers = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    try:
        with pytest.raises(RuntimeError, match="no session in this test"):
            main(settings, session_factory=session_factory)
    finally:
        signal.signal(signal.SIGTERM, handlers[0])
        signal.signal(signal.SIGINT, handlers[1])
    prober.join(10)
    status, body = seen["health"]
    assert status == 200
    assert body["status"] == "starting"
    assert seen["pid"] == str(os.getpid())
    assert not pid_file.exists()  # removed on the way out


def test_a_start_that_hangs_turns_unhealthy_after_the_timeout() -> None:
    now = [1000.0]
    health = DriverHealth(StreamSettings(stream_start_timeout_seconds=300), clock=lambda: now[0])
    now[0] += 299
    assert health()[0] is True
    now[0] += 2
    healthy, details = health()
    assert healthy is False
    assert "have not started after 301 s" in details["reason"]
    health.running(lambda: (True, {"queries_active": True}))
    assert health() == (True, {"queries_active": True})


def test_stop_without_a_running_job_succeeds(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "cryptopulse_stream.stop", "--pid-file", str(tmp_path / "none")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0
    assert "no stream job to stop" in result.stderr


@pytest.mark.e2e
def test_prestop_runs_the_graceful_stop_of_a_job_under_spark_submit(
    kafka_broker: LocalKafka, tmp_path: Path
) -> None:
    spark_submit = Path(pyspark.__file__).parent / "bin" / "spark-submit"
    pid_file, log_path = tmp_path / "stream.pid", tmp_path / "driver.log"
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_broker.bootstrap_servers,
        "STREAM_INGEST_URL": f"http://127.0.0.1:{free_port()}/ingest",
        "STREAM_CHECKPOINT_DIR": str(tmp_path / "checkpoints"),
        "STREAM_METRICS_PORT": str(free_port()),
        "STREAM_STARTING_OFFSETS": "latest",
        "STREAM_TRIGGER_SECONDS": "1",
        "STREAM_PID_FILE": str(pid_file),
        "STREAM_SPARK_JARS": "",
        "PYSPARK_PYTHON": sys.executable,
        "PYSPARK_DRIVER_PYTHON": sys.executable,
    }
    command = [
        str(spark_submit),
        "--master",
        "local[2]",
        "--jars",
        ",".join(str(jar) for jar in spark_kafka_jars(CACHE_DIR)),
        str(STREAM_MAIN),
    ]
    with log_path.open("wb") as log:
        submit = subprocess.Popen(
            command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + 300
        while "stream queries started" not in log_path.read_text(errors="replace"):
            assert submit.poll() is None, log_path.read_text(errors="replace")
            assert time.monotonic() < deadline, log_path.read_text(errors="replace")
            time.sleep(0.5)
        job_pid = int(pid_file.read_text())
        assert job_pid != submit.pid  # the Python job is the JVM's child, as in the image
        stop = subprocess.run(
            [sys.executable, "-m", "cryptopulse_stream.stop", "--timeout-seconds", "120"],
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert stop.returncode == 0, stop.stderr
        assert f"stream job {job_pid} stopped" in stop.stderr
        assert submit.wait(120) == 0
    finally:
        if submit.poll() is None:
            os.killpg(submit.pid, signal.SIGKILL)
            submit.wait(30)
    log = log_path.read_text(errors="replace")
    assert "received SIGTERM; stopping the queries" in log
    assert "stream queries stopped" in log
    assert not pid_file.exists()
