"""The doctor's runner and report, and the command against a pipeline that is not running.

The pipeline's faults one at a time, against real stages: tests/e2e/test_doctor.py.
"""

from __future__ import annotations

import io
import os
import threading
from collections.abc import Sequence
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest

from cryptopulse_local.doctor.probes import parse_metrics
from cryptopulse_local.doctor.report import CheckResult, Finding, Status, combine
from cryptopulse_local.doctor.runner import Check, run_checks
from cryptopulse_local.kafka_broker import free_port
from cryptopulse_producer.metrics import ProducerMetrics
from tests.support.doctor import run_doctor


def test_a_check_that_hangs_fails_with_its_timeout_and_the_run_goes_on() -> None:
    release = threading.Event()

    def hangs(_earlier: Sequence[CheckResult]) -> Finding:
        release.wait(30)
        return Finding.passed("late")

    def sees_earlier(earlier: Sequence[CheckResult]) -> Finding:
        return Finding.passed(f"after {[r.name for r in earlier]}")

    out = io.StringIO()
    report = run_checks(
        "local",
        "test",
        [Check("slow", "api", hangs, 0.3), Check("next", "api", sees_earlier, 5)],
        out,
        io.StringIO(),
    )
    release.set()
    slow, following = report.results
    assert slow.status is Status.FAIL
    assert slow.finding.summary == "no verdict within 0.3 s"
    assert "--check-timeout" in (slow.finding.fix or "")
    assert following.finding.summary == "after ['slow']"
    assert not report.ok
    assert report.as_json()["first_failure"] == "slow"
    assert "✗ slow" in out.getvalue()


def test_a_check_that_raises_fails_and_says_so() -> None:
    def breaks(_earlier: Sequence[CheckResult]) -> Finding:
        raise KeyError("status")

    report = run_checks("local", "test", [Check("odd", "api", breaks, 5)], None, io.StringIO())
    assert report.results[0].status is Status.FAIL
    assert "KeyError" in report.results[0].finding.summary


def test_combine_keeps_the_worst_and_every_piece_of_evidence() -> None:
    combined = combine(
        [
            Finding.passed("", "a"),
            Finding.warned("slow", "wait", "b"),
            Finding.failed("down", "start it", "c"),
            Finding.failed("gone", "start it", "d"),
        ],
        "fine",
    )
    assert combined.status is Status.FAIL
    assert combined.summary == "down; gone"
    assert combined.fix == "start it"
    assert combined.evidence == ("a", "b", "c", "d")
    assert combine([Finding.passed("", "a")], "fine").summary == "fine"


def test_metrics_are_read_as_a_stage_exports_them() -> None:
    metrics = ProducerMetrics(CollectorRegistry())
    metrics.fetches.labels("rate_limited").inc(2)
    metrics.ticks_sent.inc(40)
    sample = parse_metrics(generate_latest(metrics.registry).decode())
    assert sample.total("cryptopulse_producer_ticks_sent_total") == 40
    assert sample.get("cryptopulse_producer_fetches_total", outcome="rate_limited") == 2
    assert sample.by_label("cryptopulse_producer_fetches_total", "outcome")["ok"] == 0


def test_nothing_running_fails_at_kafka_first(tmp_path: Path) -> None:
    env = {
        "CRYPTOPULSE_STATE_DIR": str(tmp_path),
        "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}",
        "KAFKA_CONTROLLER_PORT": str(free_port()),
        "API_PORT": str(free_port()),
        "PRODUCER_METRICS_PORT": str(free_port()),
        "STREAM_METRICS_PORT": str(free_port()),
    }
    run = run_doctor({**os.environ, **env})
    assert run.code == 1
    assert run.first_failure == "kafka", run.describe()
    assert "cryptopulse kafka" in run.check("kafka")["fix"]
    for name in ("producer", "stream", "api"):
        assert run.check(name)["status"] == "fail", run.describe()
        assert f"cryptopulse {name}" in run.check(name)["fix"], run.describe()
    assert run.check("processes")["status"] == "pass", run.describe()
    assert run.check("source")["status"] == "pass", run.describe()


def test_kube_without_credentials_fails_with_what_to_set(tmp_path: Path) -> None:
    env = {**os.environ, "KUBECONFIG": str(tmp_path / "no-such-kubeconfig")}
    env.pop("KUBERNETES_SERVICE_HOST", None)
    run = run_doctor(env, "--kube")
    assert run.code == 1
    assert run.first_failure == "cluster", run.describe()
    assert "kubeconfig" in run.check("cluster")["fix"]


def test_a_stream_job_stopped_on_old_windowing_state_is_told_to_reset_the_watermark(
    tmp_path: Path,
) -> None:
    """The stream job's last run stopped on windowing state an older build wrote: the doctor
    shows its log's error lines and gives the job's own fix (restarting alone fails again)."""
    from cryptopulse_stream.main import failure_hint

    error = (
        "[STREAM_FAILED] Query terminated with exception: [STATE_STORE_VALUE_SCHEMA_NOT_COMPATIBLE]"
    )
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "stream.log").write_text(
        f"00:48:36 [stream] ERROR   stream query failed: {error}\n"
        f"{failure_hint(error)}\n"
        "26/12/01 00:48:43 WARN DAGScheduler: Failed to cancel job group a3bf.\n"
    )
    env = {
        "CRYPTOPULSE_STATE_DIR": str(tmp_path),
        "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}",
        "KAFKA_CONTROLLER_PORT": str(free_port()),
        "API_PORT": str(free_port()),
        "PRODUCER_METRICS_PORT": str(free_port()),
        "STREAM_METRICS_PORT": str(free_port()),
    }
    run = run_doctor({**os.environ, **env})
    stream = run.check("stream")
    assert stream["status"] == "fail", run.describe()
    assert "cryptopulse reset-watermark" in stream["fix"], run.describe()
    assert any("STATE_STORE_VALUE_SCHEMA_NOT_COMPATIBLE" in line for line in stream["evidence"])
    # Without that hint in its log, the fix is to start it.
    (logs / "stream.log").write_text("00:48:36 [stream] ERROR   stream query failed: boom\n")
    run = run_doctor({**os.environ, **env})
    assert "cryptopulse reset-watermark" not in run.check("stream")["fix"], run.describe()
    assert "cryptopulse stream" in run.check("stream")["fix"], run.describe()


def test_kube_with_a_context_whose_cluster_does_not_answer_says_so_once(tmp_path: Path) -> None:
    """A kubeconfig whose current context points at a cluster that does not answer (a stopped
    kind cluster, the wrong context): one ``cluster`` failure naming the server and the context,
    with kubectl's commands to pick another; not every check failing as "a doctor bug"."""
    port = free_port()  # nothing listens there
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: stopped-kind\n"
        f"clusters:\n- name: stopped\n  cluster: {{server: 'https://127.0.0.1:{port}'}}\n"
        "contexts:\n- name: stopped-kind\n  context: {cluster: stopped, user: me}\n"
        "users:\n- name: me\n  user: {token: not-used}\n"
    )
    env = {**os.environ, "KUBECONFIG": str(kubeconfig)}
    env.pop("KUBERNETES_SERVICE_HOST", None)
    run = run_doctor(env, "--kube")
    assert run.code == 1
    assert [check["name"] for check in run.report["checks"]] == ["cluster"], run.describe()
    cluster = run.check("cluster")
    assert f"127.0.0.1:{port}" in cluster["summary"], run.describe()
    assert "stopped-kind" in cluster["summary"], run.describe()
    assert "kubectl config use-context" in cluster["fix"], run.describe()
    assert "doctor bug" not in cluster["fix"], run.describe()


def test_a_port_held_by_another_program_is_named_instead_of_start_it(tmp_path: Path) -> None:
    """Another program holds the API's and the broker's ports (an HTTP server, a socket that
    never answers): starting the stage, the fix before, fails with "port already in use".
    The fix names the holder and the setting that moves the pipeline off its port."""
    import socket
    import subprocess
    import sys

    api_port, kafka_port = free_port(), free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(api_port), "--bind", "127.0.0.1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    silent = socket.create_server(("127.0.0.1", kafka_port))
    try:
        from cryptopulse_local.kafka_broker import port_open

        for _ in range(300):  # the HTTP server binds its port (a deadline, not a measurement)
            if port_open("127.0.0.1", api_port):
                break
            threading.Event().wait(0.1)
        dist = tmp_path / "dist"
        dist.mkdir()
        (dist / "index.html").write_text("<script src='/a.js'></script>")
        env = {
            "CRYPTOPULSE_STATE_DIR": str(tmp_path),
            "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{kafka_port}",
            "KAFKA_CONTROLLER_PORT": str(free_port()),
            "API_PORT": str(api_port),
            "API_DASHBOARD_DIR": str(dist),
            "PRODUCER_METRICS_PORT": str(free_port()),
            "STREAM_METRICS_PORT": str(free_port()),
        }
        run = run_doctor({**os.environ, **env}, "--check-timeout", "40")
    finally:
        silent.close()
        server.terminate()
        server.wait(10)
    api, kafka = run.check("api"), run.check("kafka")
    assert api["status"] == "fail", run.describe()
    assert f"pid {server.pid}" in api["fix"], run.describe()
    assert "API_PORT" in api["fix"], run.describe()
    assert "Start it" not in api["fix"], run.describe()
    assert kafka["status"] == "fail", run.describe()
    assert f"pid {os.getpid()}" in kafka["fix"], run.describe()
    assert "KAFKA_BOOTSTRAP_SERVERS" in kafka["fix"], run.describe()
    assert "Start it" not in kafka["fix"], run.describe()


def test_the_api_is_started_as_up_starts_it(tmp_path: Path) -> None:
    """`cryptopulse api` alone does not serve the dashboard: the fix gives the dashboard folder
    `up` gives it, so that following it does not lead to a dashboard failure next."""
    dist = tmp_path / "dist"
    dist.mkdir()
    env = {
        "CRYPTOPULSE_STATE_DIR": str(tmp_path),
        "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}",
        "KAFKA_CONTROLLER_PORT": str(free_port()),
        "API_PORT": str(free_port()),
        "API_DASHBOARD_DIR": str(dist),
        "PRODUCER_METRICS_PORT": str(free_port()),
        "STREAM_METRICS_PORT": str(free_port()),
    }
    run = run_doctor({**os.environ, **env})
    assert f"`API_DASHBOARD_DIR={dist} cryptopulse api`" in run.check("api")["fix"], run.describe()
