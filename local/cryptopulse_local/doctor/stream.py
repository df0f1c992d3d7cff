"""The stream job: alive, progressing, its lag, sink, dead letters and watermark."""

from __future__ import annotations

import json
import time

from cryptopulse_common.contract import (
    DEAD_LETTER_TOPIC,
    TICKS_TOPIC,
)
from cryptopulse_local.doctor.kube_checks import error_lines
from cryptopulse_local.doctor.machine import foreign_holder_fix
from cryptopulse_local.doctor.probes import (
    CheckpointView,
    KafkaView,
    ProbeError,
    Sample,
    describe_age,
    health,
    log_tail,
    read_checkpoint,
    scrape,
)
from cryptopulse_local.doctor.report import Finding, combine
from cryptopulse_local.doctor.target import (
    DEAD_LETTERS_QUERY,
    HTTP_TIMEOUT_SECONDS,
    LAG_WARN_SECONDS,
    RESET_WATERMARK_COMMAND,
    WATERMARK_AHEAD_SECONDS,
    Baseline,
    LocalTarget,
    delta,
    first_sample,
    sample_window,
    second_after,
)
from cryptopulse_stream.recovery import AGGREGATES_QUERY

# The job's failure hint ends its last run's log, before Spark's shutdown warnings.
LOG_HINT_LINES = 20


def check_stream(target: LocalTarget, baseline: Baseline) -> Finding:
    """The stream job is alive and progressing: lag, last batch, sink errors, dead letters,
    watermark versus wall clock."""
    settings = target.stream
    checkpoint, checkpoint_evidence = _checkpoint(target)
    kafka: KafkaView | None = first_sample(baseline.kafka)
    lag = _lag(kafka, checkpoint)
    evidence = [*checkpoint_evidence]
    if lag is not None:
        evidence.append(f"lag: {lag} ticks behind the end of {TICKS_TOPIC}")
    ahead = _watermark_ahead(checkpoint)
    findings: list[Finding] = []
    if ahead is not None and ahead > WATERMARK_AHEAD_SECONDS:
        findings.append(_watermark_finding(ahead, target))
    try:
        state = health(f"{target.stream_url}/health", HTTP_TIMEOUT_SECONDS)
    except ProbeError as error:
        findings.append(_not_running(target, error))
        return combine([*findings, Finding.passed("", *evidence)], "")
    if state.body.get("status") == "starting":
        waited = state.body.get("seconds_starting", 0)
        findings.append(
            Finding.warned(
                f"the Spark session is starting ({waited} s so far)",
                "Wait: the first aggregates come 20-40 s after the start (longer on a busy "
                f"machine); {target.log('stream')} shows its progress.",
            )
        )
        return combine([*findings, Finding.passed("", *evidence)], "")
    if not state.ok:
        reason = state.body.get("reason") or state.body.get("error") or json.dumps(state.body)
        findings.append(
            Finding.failed(
                f"the stream job is unhealthy: {reason}",
                f"Its log ({target.log('stream')}) says why; restart it with `cryptopulse "
                "stream` once the cause is fixed (it resumes from its checkpoint).",
            )
        )
    first: Sample | None = first_sample(baseline.stream)
    window = sample_window(settings.stream_trigger_seconds)
    if first is not None:
        second_after(first.at, window)
    try:
        second = scrape(f"{target.stream_url}/metrics", HTTP_TIMEOUT_SECONDS)
    except ProbeError as error:
        findings.append(Finding.warned(f"no metrics: {error}", "See the stream job's log."))
        return combine([*findings, Finding.passed("", *evidence)], "")
    findings += _stream_metrics_findings(target, first, second, lag)
    findings.append(Finding.passed("", *evidence))
    return combine(findings, "alive and progressing")


def _checkpoint(target: LocalTarget) -> tuple[CheckpointView | None, list[str]]:
    try:
        view = read_checkpoint(target.checkpoint)
    except ProbeError as error:
        return None, [str(error)]
    if view is None:
        return None, [f"no micro-batch in {target.checkpoint} yet"]
    age = time.time() - view.written_at
    return view, [f"checkpoint: batch {view.batch} planned {describe_age(age)} ago"]


def _lag(kafka: KafkaView | None, checkpoint: CheckpointView | None) -> int | None:
    if kafka is None or checkpoint is None or not kafka.end_offsets:
        return None
    read = checkpoint.offsets.get(TICKS_TOPIC)
    if read is None:
        return None
    return sum(max(end - read.get(part, 0), 0) for part, end in kafka.end_offsets.items())


def _watermark_ahead(checkpoint: CheckpointView | None) -> float | None:
    """Seconds the checkpoint's watermark is ahead of the wall clock (negative: behind)."""
    if checkpoint is None or not checkpoint.watermark_ms:
        return None
    return checkpoint.watermark_ms / 1000 - time.time()


def _not_running(target: LocalTarget, error: ProbeError) -> Finding:
    """The stream job does not answer: the error lines of its last run's log as evidence, and
    when that run stopped on windowing state an older build wrote (the job's own hint names
    `cryptopulse reset-watermark`), that command as the fix, since a restart fails again."""
    log = target.log("stream")
    tail = log_tail(log)
    evidence = [f"log: {line}" for line in error_lines(tail)]
    if any(RESET_WATERMARK_COMMAND in line for line in tail[-LOG_HINT_LINES:]):
        fix = (
            f"Its last run stopped on windowing state an older build wrote ({log}): run "
            f"`{RESET_WATERMARK_COMMAND}` (keeps the place in the topic), then start it: "
            "`cryptopulse stream` (or restart `make up`)."
        )
    else:
        fix = foreign_holder_fix(
            target, target.stream.stream_metrics_port, "STREAM_METRICS_PORT"
        ) or (
            "Start it: `cryptopulse stream` in another terminal (or restart `make up`); the "
            f"first aggregates come 20-40 s later. Its log is {log}."
        )
    return Finding.failed(f"the stream job is not running: {error}", fix, *evidence)


def _watermark_finding(ahead: float, target: LocalTarget) -> Finding:
    return Finding.failed(
        f"the watermark is {describe_age(ahead)} ahead of the wall clock: every window stays "
        "open (no final aggregates) until then",
        f"A tick stamped in the future moved it; watermarks never go back. Stop the stream job, "
        f"run `{RESET_WATERMARK_COMMAND}` (moves the checkpoint aside, keeps the place in the "
        "topic), then start it again.",
        f"checkpoint: {target.checkpoint}",
    )


def _stream_metrics_findings(
    target: LocalTarget, first: Sample | None, second: Sample, lag: int | None
) -> list[Finding]:
    findings: list[Finding] = []
    settings = target.stream
    last = second.get("cryptopulse_stream_last_progress_timestamp_seconds")
    evidence = []
    if last:
        quiet = time.time() - last
        evidence.append(f"last progress {quiet:.1f} s ago")
        if quiet > max(30.0, 10 * settings.stream_trigger_seconds):
            findings.append(
                Finding.failed(
                    f"no micro-batch progress for {describe_age(quiet)}",
                    f"A batch is stuck (a sink waiting on the API, or Spark itself); see "
                    f"{target.log('stream')}.",
                )
            )
    rows = second.get("cryptopulse_stream_input_rows_total", query=AGGREGATES_QUERY) or 0.0
    evidence.append(f"input rows {rows:.0f}")
    posted = second.total("cryptopulse_stream_records_posted_total")
    evidence.append(f"records posted to /ingest {posted:.0f}")
    lag_rate = second.get("cryptopulse_stream_input_rows_per_second", query=AGGREGATES_QUERY)
    if lag is not None and lag_rate and lag / lag_rate > LAG_WARN_SECONDS and lag > 1000:
        findings.append(
            Finding.warned(
                f"{lag} ticks behind, about {describe_age(lag / lag_rate)} of input",
                "It is catching up or too slow for the input: see docs/benchmarks/stream.md for "
                "STREAM_SHUFFLE_PARTITIONS and STREAM_MAX_OFFSETS_PER_TRIGGER.",
            )
        )
    watermark_lag = second.get("cryptopulse_stream_watermark_lag_seconds")
    if watermark_lag is not None and watermark_lag < -WATERMARK_AHEAD_SECONDS:
        findings.append(_watermark_finding(-watermark_lag, target))
    elif watermark_lag is not None and watermark_lag:
        evidence.append(f"watermark {watermark_lag:.0f} s behind the wall clock")
    if first is not None:
        retries = delta(first, second, "cryptopulse_stream_sink_retries_total")
        errors = delta(first, second, "cryptopulse_stream_sink_errors_total")
        if retries or errors:
            findings.append(
                Finding.warned(
                    f"POSTs to {settings.stream_ingest_url} are failing ({retries:.0f} retries, "
                    f"{errors:.0f} failed batches in {second.at - first.at:.1f} s)",
                    "The API does not accept them: see the api check; the job retries, and Spark "
                    "replays a failed batch, so nothing is lost meanwhile.",
                )
            )
    malformed = second.total("cryptopulse_stream_malformed_records_total")
    dead_rows = second.get("cryptopulse_stream_input_rows_total", query=DEAD_LETTERS_QUERY)
    if malformed and dead_rows:
        share = malformed / dead_rows
        evidence.append(f"dead letters {malformed:.0f} ({share:.2%} of messages)")
        if share > 0.01:
            findings.append(
                Finding.warned(
                    f"{share:.1%} of the messages are malformed ({malformed:.0f} dead letters)",
                    f"Read their reasons on {DEAD_LETTER_TOPIC}; the producer validates ticks, so "
                    "another writer publishes to the ticks topic.",
                )
            )
    else:
        evidence.append(f"dead letters {malformed:.0f}")
    findings.append(Finding.passed("", *evidence))
    return findings
