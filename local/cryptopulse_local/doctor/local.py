"""The local pipeline's checks, in flow order: what ``cryptopulse up`` runs, read as it runs.

Each check reads what a stage exports (its ``/health`` and ``/metrics``, the broker's metadata
and end offsets, the stream job's checkpoint, the state folder's process records) and returns a
:class:`Finding`. Values that must *move* (a topic's end offsets, the stream job's counters, the
API's ingest counters) are sampled once when the run starts (:class:`Baseline`, in background
threads) and again when their check runs, so the waits overlap instead of adding up.

Which manual step of the original troubleshooting guide each check replaces: docs/doctor.md.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from cryptopulse_local.doctor.flow import check_kafka, check_producer, check_source
from cryptopulse_local.doctor.machine import check_jars, check_processes
from cryptopulse_local.doctor.report import CheckResult, Finding
from cryptopulse_local.doctor.runner import Check
from cryptopulse_local.doctor.serving import check_api, check_dashboard, check_websocket
from cryptopulse_local.doctor.stream import check_stream
from cryptopulse_local.doctor.target import (
    Baseline,
    LocalTarget,
)


def local_checks(
    target: LocalTarget, timeout_seconds: float
) -> tuple[list[Check], Callable[[], None]]:
    """The checks in flow order, and a function that releases what they share."""
    baseline = Baseline.start(target)
    trigger = target.stream.stream_trigger_seconds
    ws_wait = min(max(10.0, 4 * trigger), max(timeout_seconds - 2, 3.0))

    def check(
        name: str, stage: str, run: Callable[[Sequence[CheckResult]], Finding], title: str
    ) -> Check:
        return Check(name, stage, run, timeout_seconds, title)

    checks = [
        check(
            "processes", "processes", lambda _e: check_processes(target), "processes on the ports"
        ),
        check("jars", "jars", lambda _e: check_jars(target), "jars in the cache"),
        check("source", "producer", lambda _e: check_source(target, baseline), "market source"),
        check("kafka", "kafka", lambda _e: check_kafka(target, baseline), "Kafka and its topics"),
        check("producer", "producer", lambda e: check_producer(target, baseline, e), "producer"),
        check("stream", "stream", lambda _e: check_stream(target, baseline), "stream job"),
        check("api", "api", lambda e: check_api(target, baseline, e), "API"),
        check(
            "websocket", "api", lambda e: check_websocket(target, e, ws_wait), "WebSocket update"
        ),
        check("dashboard", "dashboard", lambda e: check_dashboard(target, e), "dashboard"),
    ]
    return checks, baseline.close
