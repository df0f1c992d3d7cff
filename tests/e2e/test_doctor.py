"""``cryptopulse doctor`` against the real local pipeline, one fault at a time.

One pipeline for the module (real broker, producer polling a local CoinGecko, Spark job, API
serving the dashboard), each stage its own process. Each test first waits until the doctor
passes, makes one fault (the broker, the producer, the stream job or the API stopped, CoinGecko
answering 429, a broker of an earlier run left on the port, the ticks topic deleted), checks
that the doctor fails, names that stage first and gives that fix, then removes the fault the way
the fix says and waits until the doctor passes again.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest
from kafka import KafkaAdminClient

from cryptopulse_common.contract import ALL_TOPICS, TICKS_TOPIC
from cryptopulse_local.settings import DASHBOARD_DIST
from tests.support.coingecko_fake import FakeCoinGecko, Reply, running_coingecko
from tests.support.doctor import DoctorRun, run_doctor, wait_until_doctor_passes
from tests.support.stages import CACHE_DIR, Stages, running_stages

pytestmark = pytest.mark.e2e

# Until the doctor passes: a restarted stream job needs its Spark session (20-60 s here, more
# on a loaded machine) and a first micro-batch.
RECOVERY_SECONDS = 300.0
# Retry-After of the scripted 429s: the producer waits this long between its attempts.
RETRY_AFTER_SECONDS = 3


@dataclass
class Pipeline:
    stages: Stages
    coingecko: FakeCoinGecko

    @property
    def env(self) -> dict[str, str]:
        return self.stages.env

    def doctor(self) -> DoctorRun:
        return run_doctor(self.env)

    def recovered(self) -> DoctorRun:
        return wait_until_doctor_passes(self.env, RECOVERY_SECONDS, self.stages.logs)

    def restart_what_died(self) -> list[str]:
        """Follow the doctor's fix for a stage that exited meanwhile: the stream job does not
        outlive a broker away for longer than its sink's 30 s flush of the aggregates topic,
        nor its topic deleted under a running query (the query fails and the job exits; a
        supervisor restarts it). Returns the stages started."""
        started = []
        run = self.doctor()
        for name in ("producer", "stream", "api"):
            process = self.stages.processes.get(name)
            if process is None or process.poll() is None:
                continue
            check = run.check(name)
            assert check["status"] == "fail", run.describe()
            assert f"cryptopulse {name}" in (check["fix"] or ""), run.describe()
            self.stages.start(name)
            started.append(name)
        return started


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    fake = FakeCoinGecko()
    with (
        running_coingecko(fake) as coingecko_url,
        running_stages(
            tmp_path_factory.mktemp("doctor"),
            PRODUCER_SOURCE="coingecko",
            COINGECKO_BASE_URL=coingecko_url,
            PRODUCER_INTERVAL_SECONDS="1",
            COINGECKO_BACKOFF_SECONDS="0.5",
            API_DASHBOARD_DIR=str(DASHBOARD_DIST),
        ) as stages,
    ):
        running = Pipeline(stages, fake)
        running.recovered()
        yield running


def assert_named(run: DoctorRun, check: str, *in_fix: str) -> dict[str, object]:
    """The doctor failed, and ``check`` is its first failure, with each of ``in_fix`` in the
    fix it gives."""
    assert run.code == 1, run.describe()
    assert run.report["ok"] is False, run.describe()
    assert run.first_failure == check, run.describe()
    found = run.check(check)
    assert found["status"] == "fail", run.describe()
    for text in in_fix:
        assert text in (found["fix"] or ""), run.describe()
    return found


def test_the_healthy_pipeline_passes_every_check(pipeline: Pipeline) -> None:
    run = pipeline.recovered()
    names = [check["name"] for check in run.report["checks"]]
    assert names == [
        "processes",
        "jars",
        "source",
        "kafka",
        "producer",
        "stream",
        "api",
        "websocket",
        "dashboard",
    ]
    assert {check["status"] for check in run.report["checks"]} <= {"pass", "warn"}, run.describe()
    assert run.check("source")["summary"].startswith("CoinGecko answers"), run.describe()
    assert run.check("websocket")["status"] == "pass", run.describe()


def test_coingecko_rate_limiting(pipeline: Pipeline) -> None:
    pipeline.recovered()
    pipeline.coingecko.script(
        *[Reply.rate_limited(retry_after=str(RETRY_AFTER_SECONDS)) for _ in range(1000)]
    )
    try:
        run = pipeline.doctor()
        found = assert_named(run, "source", "PRODUCER_INTERVAL_SECONDS", "COINGECKO_API_KEY")
        assert "rate limiting (429)" in str(found["summary"]), run.describe()
        assert f"wait {RETRY_AFTER_SECONDS}.0 s (Retry-After)" in str(found["summary"])
    finally:
        pipeline.coingecko.clear()
    pipeline.recovered()


def test_producer_stopped(pipeline: Pipeline) -> None:
    pipeline.recovered()
    pipeline.stages.stop("producer")
    run = pipeline.doctor()
    assert_named(run, "producer", "cryptopulse producer")
    pipeline.stages.start("producer")
    pipeline.recovered()


def test_api_stopped(pipeline: Pipeline) -> None:
    pipeline.recovered()
    pipeline.stages.stop("api")
    run = pipeline.doctor()
    assert_named(run, "api", "cryptopulse api")
    assert run.check("websocket")["status"] == "fail", run.describe()
    pipeline.stages.start("api")
    pipeline.recovered()


def test_stream_job_stopped(pipeline: Pipeline) -> None:
    pipeline.recovered()
    pipeline.stages.stop("stream")
    run = pipeline.doctor()
    assert_named(run, "stream", "cryptopulse stream")
    pipeline.stages.start("stream")
    pipeline.recovered()


def test_broker_stopped(pipeline: Pipeline) -> None:
    pipeline.recovered()
    pipeline.stages.kafka.stop()
    run = pipeline.doctor()
    assert_named(run, "kafka", "cryptopulse kafka")
    pipeline.stages.kafka.start(topics=ALL_TOPICS)
    pipeline.restart_what_died()
    pipeline.recovered()


ORPHAN_BROKER = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    from cryptopulse_common.contract import ALL_TOPICS
    from cryptopulse_local.kafka_broker import LocalKafka
    from cryptopulse_local.ownership import run_dir

    state, cache, port, controller = sys.argv[1:5]
    # As every broker was before the parent-death signal: it outlives this process.
    broker = LocalKafka(
        data_dir=Path(state) / "kafka", cache_dir=Path(cache), port=int(port),
        controller_port=int(controller), run_dir=run_dir(Path(state)), stop_with_parent=False,
    )
    broker.start(topics=ALL_TOPICS)
    print(broker.pid, flush=True)
    os._exit(0)
    """
)


def start_orphan_broker(stages: Stages) -> int:
    """A broker of this state folder whose parent has exited: one an earlier run left."""
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            ORPHAN_BROKER,
            str(stages.state),
            str(CACHE_DIR),
            str(stages.kafka.port),
            str(stages.kafka.controller_port),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
    )
    return int(result.stdout.split()[-1])


def test_a_broker_left_by_an_earlier_run(pipeline: Pipeline) -> None:
    pipeline.recovered()
    pipeline.stages.kafka.stop()
    orphan = start_orphan_broker(pipeline.stages)
    try:
        run = pipeline.doctor()
        found = assert_named(run, "processes", f"kill {orphan}")
        assert "left running by an earlier run" in str(found["summary"]), run.describe()
        assert run.check("kafka")["status"] == "pass", run.describe()  # it answers, as Kafka
        os.kill(orphan, signal.SIGTERM)  # the fix the doctor gives
        psutil.Process(orphan).wait(60)
    finally:
        if psutil.pid_exists(orphan):
            os.kill(orphan, signal.SIGKILL)
    pipeline.stages.kafka.start(topics=ALL_TOPICS)
    pipeline.restart_what_died()
    pipeline.recovered()


def test_a_checkpoint_whose_watermark_is_far_ahead(pipeline: Pipeline) -> None:
    """The stream job's checkpoint as a tick stamped a day ahead leaves it: the watermark in
    its newest offset log entry (Spark's OffsetSeqLog: ``v1``, the batch metadata, the offsets)
    a day past the wall clock. The doctor's fix, ``cryptopulse reset-watermark``, cures it."""
    pipeline.recovered()
    pipeline.stages.stop("stream")
    offsets = Path(pipeline.env["STREAM_CHECKPOINT_DIR"]) / "window_aggregates" / "offsets"
    newest = max((p for p in offsets.iterdir() if p.name.isdigit()), key=lambda p: int(p.name))
    lines = newest.read_text().splitlines()
    metadata = json.loads(lines[1])
    metadata["batchWatermarkMs"] = int((time.time() + 86_400) * 1000)
    newest.write_text("\n".join([lines[0], json.dumps(metadata), *lines[2:]]))
    run = pipeline.doctor()
    found = assert_named(run, "stream", "cryptopulse reset-watermark")
    assert "the watermark is 24.0 h ahead of the wall clock" in str(found["summary"])
    subprocess.run(
        [sys.executable, "-m", "cryptopulse_local.cli", "reset-watermark"],
        env=pipeline.env,
        check=True,
        timeout=120,
    )
    pipeline.stages.start("stream")
    pipeline.recovered()


def test_ticks_topic_deleted(pipeline: Pipeline) -> None:
    pipeline.recovered()
    admin = KafkaAdminClient(bootstrap_servers=pipeline.stages.kafka.bootstrap_servers)
    try:
        admin.delete_topics([TICKS_TOPIC])
        deadline = time.monotonic() + 60
        while TICKS_TOPIC in admin.list_topics() and time.monotonic() < deadline:
            time.sleep(0.5)
    finally:
        admin.close()
    run = pipeline.doctor()
    found = assert_named(run, "kafka", "cryptopulse topics")
    assert f"topic {TICKS_TOPIC} is missing" in str(found["summary"]), run.describe()
    subprocess.run(
        [sys.executable, "-m", "cryptopulse_local.cli", "topics"],
        env=pipeline.env,
        check=True,
        timeout=120,
    )
    pipeline.restart_what_died()  # a query reading the deleted topic may have failed the job
    pipeline.recovered()
